/**
 * A stateful Route 53 hosted zone behind aws-sdk-client-mock (the real SDK
 * client, waiter and exception classes), refusing what Route 53 refuses:
 * a CNAME where any other record exists at that name, a CNAME at the zone
 * apex, a CREATE of a record set that exists, a DELETE that does not match the
 * record set exactly, an alias to an ELB whose HostedZoneId is not that load
 * balancer's zone (or to a load balancer that does not exist), a simple record
 * where weighted ones of the same name and type exist (and the reverse). A
 * batch is all or nothing. A change is PENDING, then INSYNC after `syncLooks`
 * GetChange calls.
 */
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  NoSuchChange,
  NoSuchHostedZone,
  type Change,
  type ChangeResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandInput,
  type ResourceRecordSet,
  type Route53ClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-route-53';
import type { AwsStub } from 'aws-sdk-client-mock';
import { NLB_ZONE_IDS, type FakeLoadBalancers } from './aws-load-balancers.js';

const meta = { $metadata: { httpStatusCode: 400 } };

/** `Name` fully qualified and lowercase, as Route 53 stores it. */
const fqdn = (n: string | undefined): string => `${(n ?? '').replace(/\.$/, '').toLowerCase()}.`;
/** Route 53 lists names in the order of their labels read right to left. */
const sortKey = (n: string): string => fqdn(n).slice(0, -1).split('.').reverse().join('\u0001');
const key = (r: ResourceRecordSet): string => `${fqdn(r.Name)}|${r.Type}|${r.SetIdentifier ?? ''}`;
const label = (r: ResourceRecordSet): string => `[name='${fqdn(r.Name)}', type='${r.Type}'${r.SetIdentifier ? `, set-identifier='${r.SetIdentifier}'` : ''}]`;

/** A record set as Route 53 compares it: every field that DELETE must match. */
function canonical(r: ResourceRecordSet): string {
  return JSON.stringify({
    n: fqdn(r.Name),
    t: r.Type,
    s: r.SetIdentifier ?? null,
    w: r.Weight ?? null,
    ttl: r.AliasTarget ? null : (r.TTL ?? null),
    v: (r.ResourceRecords ?? []).map((x) => x.Value).sort(),
    a: r.AliasTarget ? { d: fqdn(r.AliasTarget.DNSName), z: r.AliasTarget.HostedZoneId, e: r.AliasTarget.EvaluateTargetHealth } : null,
  });
}

interface Zone {
  readonly id: string;
  /** The apex, fully qualified. */
  readonly name: string;
  records: ResourceRecordSet[];
}

export interface FakeRoute53Options {
  /** GetChange calls a change answers PENDING before INSYNC. @default 1 */
  readonly syncLooks?: number;
  /** Record sets per ListResourceRecordSets page when the caller asks for more. @default 300 (Route 53's maximum) */
  readonly pageSize?: number;
  /** Where alias targets are checked (ELB DNS names must exist there). */
  readonly loadBalancers?: FakeLoadBalancers;
}

/** The fake: installs itself on the mock (call `install()` again after `mock.reset()`). */
export class FakeRoute53 {
  readonly zones = new Map<string, Zone>();
  /** Every accepted batch's changes, in order (tests assert what was asked). */
  readonly batches: Change[][] = [];
  private readonly changes = new Map<string, { looksLeft: number }>();
  private nextFailure: Error | undefined;
  private seq = 0;

  constructor(
    private readonly route53: AwsStub<ServiceInputTypes, ServiceOutputTypes, Route53ClientResolvedConfig>,
    private readonly opts: FakeRoute53Options = {},
  ) {
    this.install();
  }

  /** A hosted zone with its SOA and NS records. */
  addZone(id: string, name: string, records: ResourceRecordSet[] = []): void {
    const apex = fqdn(name);
    this.zones.set(id, {
      id,
      name: apex,
      records: [
        { Name: apex, Type: 'NS', TTL: 172800, ResourceRecords: [{ Value: 'ns-1.awsdns-01.org.' }] },
        { Name: apex, Type: 'SOA', TTL: 900, ResourceRecords: [{ Value: 'ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400' }] },
        ...records.map((r) => ({ ...r, Name: fqdn(r.Name) })),
      ],
    });
  }

  /** The record sets at `name` (any type), as stored. */
  at(zoneId: string, name: string): ResourceRecordSet[] {
    return (this.zones.get(zoneId)?.records ?? []).filter((r) => fqdn(r.Name) === fqdn(name));
  }

  /** The next ChangeResourceRecordSets fails with `err` (a change rejected for a reason the rules here do not model). */
  failNextChange(err: Error): void {
    this.nextFailure = err;
  }

  install(): void {
    const r53 = this.route53;
    r53.on(ListResourceRecordSetsCommand).callsFake((input: ListResourceRecordSetsCommandInput) => {
      const zone = this.zone(input.HostedZoneId);
      const sorted = [...zone.records].sort(
        (a, b) => sortKey(a.Name!).localeCompare(sortKey(b.Name!)) || a.Type!.localeCompare(b.Type!) || (a.SetIdentifier ?? '').localeCompare(b.SetIdentifier ?? ''),
      );
      let from = 0;
      if (input.StartRecordName) {
        const start = sortKey(input.StartRecordName);
        from = sorted.findIndex(
          (r) =>
            sortKey(r.Name!).localeCompare(start) > 0 ||
            (sortKey(r.Name!) === start &&
              (!input.StartRecordType ||
                r.Type!.localeCompare(input.StartRecordType) > 0 ||
                (r.Type === input.StartRecordType && (r.SetIdentifier ?? '').localeCompare(input.StartRecordIdentifier ?? '') >= 0))),
        );
        if (from < 0) from = sorted.length;
      }
      const size = Math.min(input.MaxItems ?? 300, this.opts.pageSize ?? 300);
      const page = sorted.slice(from, from + size);
      const next = sorted[from + size];
      return {
        ResourceRecordSets: page.map((r) => structuredClone(r)),
        IsTruncated: next !== undefined,
        MaxItems: size,
        ...(next ? { NextRecordName: next.Name, NextRecordType: next.Type, ...(next.SetIdentifier ? { NextRecordIdentifier: next.SetIdentifier } : {}) } : {}),
      };
    });

    r53.on(ChangeResourceRecordSetsCommand).callsFake((input: ChangeResourceRecordSetsCommandInput) => {
      const zone = this.zone(input.HostedZoneId);
      if (this.nextFailure) {
        const err = this.nextFailure;
        this.nextFailure = undefined;
        throw err;
      }
      const changes = input.ChangeBatch?.Changes ?? [];
      if (!changes.length) throw new InvalidChangeBatch({ message: 'ChangeBatch must contain at least one change', messages: [], ...meta });
      // All or nothing: applied to a copy, kept only when every change and the result are valid.
      let records = zone.records.map((r) => structuredClone(r));
      const errors: string[] = [];
      for (const c of changes) {
        // Stored as Route 53 stores it: names (and alias targets) fully qualified and lowercase.
        const rr = { ...structuredClone(c.ResourceRecordSet!), Name: fqdn(c.ResourceRecordSet?.Name) };
        if (rr.AliasTarget) rr.AliasTarget = { ...rr.AliasTarget, DNSName: fqdn(rr.AliasTarget.DNSName) };
        const existing = records.find((r) => key(r) === key(rr));
        errors.push(...this.validate(zone, rr));
        if (c.Action === 'CREATE') {
          if (existing) errors.push(`Tried to create resource record set ${label(rr)} but it already exists`);
          else records.push(rr);
        } else if (c.Action === 'DELETE') {
          if (!existing) errors.push(`Tried to delete resource record set ${label(rr)} but it was not found`);
          else if (canonical(existing) !== canonical(rr)) errors.push(`Tried to delete resource record set ${label(rr)} but the values provided do not match the current values`);
          else records = records.filter((r) => r !== existing);
        } else if (c.Action === 'UPSERT') {
          records = records.filter((r) => r !== existing);
          records.push(rr);
        } else {
          errors.push(`Unknown action ${String(c.Action)}`);
        }
      }
      errors.push(...conflicts(zone, records));
      if (errors.length) throw new InvalidChangeBatch({ message: `[${errors.join(', ')}]`, messages: errors, ...meta });
      zone.records = records;
      this.batches.push(changes.map((c) => structuredClone(c)));
      const id = `/change/C${String(++this.seq).padStart(12, '0')}`;
      this.changes.set(id, { looksLeft: this.opts.syncLooks ?? 1 });
      return { ChangeInfo: { Id: id, Status: 'PENDING', SubmittedAt: new Date(0), Comment: input.ChangeBatch?.Comment } };
    });

    r53.on(GetChangeCommand).callsFake((input: { Id?: string }) => {
      const id = (input.Id ?? '').startsWith('/change/') ? input.Id! : `/change/${input.Id}`;
      const c = this.changes.get(id);
      if (!c) throw new NoSuchChange({ message: `A change with the specified change ID does not exist: ${id}`, ...meta });
      const status = c.looksLeft-- > 0 ? 'PENDING' : 'INSYNC';
      return { ChangeInfo: { Id: id, Status: status, SubmittedAt: new Date(0) } };
    });
  }

  private zone(id: string | undefined): Zone {
    const z = this.zones.get((id ?? '').replace(/^\/?hostedzone\//, ''));
    if (!z) throw new NoSuchHostedZone({ message: `No hosted zone found with ID: ${id}`, ...meta });
    return z;
  }

  /** What Route 53 refuses about one record set on its own. */
  private validate(zone: Zone, r: ResourceRecordSet): string[] {
    const out: string[] = [];
    if (!fqdn(r.Name).endsWith(zone.name)) out.push(`RRSet with DNS name ${fqdn(r.Name)} is not permitted in zone ${zone.name}`);
    if (r.AliasTarget) {
      if (r.TTL !== undefined || r.ResourceRecords?.length) out.push(`Alias RRSet ${label(r)} cannot have a TTL or resource records`);
      if (r.AliasTarget.EvaluateTargetHealth === undefined) out.push('EvaluateTargetHealth is required for an alias target');
      const target = fqdn(r.AliasTarget.DNSName).replace(/^dualstack\./, '').slice(0, -1);
      const region = /\.elb\.([a-z0-9-]+)\.amazonaws\.com$/.exec(target)?.[1];
      if (region) {
        const lb = this.opts.loadBalancers?.byDnsName(target);
        if (!lb || r.AliasTarget.HostedZoneId !== NLB_ZONE_IDS[region]) {
          out.push(
            `Tried to create an alias that targets ${fqdn(r.AliasTarget.DNSName)}, type ${r.Type} in zone ${r.AliasTarget.HostedZoneId}, but the alias target name does not lie within the target zone`,
          );
        }
      }
    } else {
      if (r.TTL === undefined) out.push(`Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=?, Name=${fqdn(r.Name)}, Type=${r.Type}]`);
      if (!r.ResourceRecords?.length) out.push(`RRSet ${label(r)} has no resource records`);
      if (r.Type === 'CNAME' && (r.ResourceRecords?.length ?? 0) > 1) out.push(`RRSet of type CNAME with DNS name ${fqdn(r.Name)} has more than one value`);
    }
    return out;
  }
}

/** What Route 53 refuses about the record sets at one name together. */
function conflicts(zone: Zone, records: readonly ResourceRecordSet[]): string[] {
  const out: string[] = [];
  const names = new Set(records.map((r) => fqdn(r.Name)));
  for (const name of names) {
    const here = records.filter((r) => fqdn(r.Name) === name);
    for (const c of here.filter((r) => r.Type === 'CNAME')) {
      if (name === zone.name) out.push(`RRSet of type CNAME with DNS name ${name} is not permitted at apex in zone ${zone.name}`);
      else if (here.some((r) => r !== c && (r.Type !== 'CNAME' || !c.SetIdentifier || !r.SetIdentifier))) {
        out.push(`RRSet of type CNAME with DNS name ${name} is not permitted as it conflicts with other records with the same DNS name in zone ${zone.name}`);
      }
    }
    for (const type of new Set(here.map((r) => r.Type))) {
      const same = here.filter((r) => r.Type === type);
      const weighted = same.filter((r) => r.SetIdentifier !== undefined);
      if (weighted.length && weighted.length !== same.length) {
        out.push(`RRSet with DNS name ${name}, type ${type} cannot be created as other RRSets exist with the same name and type (a non-weighted set cannot coexist with weighted sets)`);
      }
    }
  }
  return out;
}
