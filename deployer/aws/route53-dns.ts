/**
 * The Dns port over Amazon Route 53: an alias A record to the app's network
 * load balancer (a CNAME only for a target that is not a load balancer), and
 * the health check before a cutover: the load balancer active with every
 * target healthy (ELBv2), then an HTTP check through it — or, for an internal
 * load balancer that kubecontrol cannot reach, through the cluster's API server.
 */
import { get as httpsGet } from 'node:https';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  waitUntilResourceRecordSetsChanged,
  type Change,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { InfraError, asInfraError, errorMessage } from '../errors.js';
import { checkUntilHealthy, type HealthRetry } from '../health.js';
import type { ClusterRef, Dns, DnsRecord, HealthCheckSpec, Progress } from '../ports.js';
import { abortError, call, pollingFor, waiterFailure, waiterOptions, type AwsClientsFor, type WaiterDelays, type WaitPolling } from './clients.js';
import { bareHost, elbRegionOf, type ElbLoadBalancers, type FoundLoadBalancer } from './load-balancers.js';
import { missingSetting, placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** The subset of `fetch` the health check uses (tests point it at a local server). */
export type FetchLike = (url: string, init: { signal: AbortSignal; redirect: 'manual' }) => Promise<{ status: number; statusText: string }>;

/** How the health check retries. @default 8 attempts, 2 s doubling to 15 s, 5 s per request */
export type { HealthRetry } from '../health.js';

/** A GET through the cluster's API server to a Service (KubeWorkloads.proxyGet). */
export type ProxyGet = (cmd: { cluster: ClusterRef; namespace: string; service: string; port: number; path: string; signal?: AbortSignal }) => Promise<{ status: number }>;

/** What a Route53Dns needs. */
export interface Route53DnsOptions {
  readonly clients: AwsClientsFor;
  /** The account's hosted zone, for apps that name none. */
  readonly settings: AwsSettings;
  /** Finds a target's load balancer (alias target, readiness before the health check). */
  readonly loadBalancers: ElbLoadBalancers;
  /** The health check of an internal load balancer's app, through the cluster's API server. */
  readonly proxyGet?: ProxyGet;
  /** Route 53's INSYNC waiter delays (seconds), one setting for all waits (tests). @default `waitPolling`'s */
  readonly waiterDelays?: WaiterDelays;
  /** @default WAIT_POLLING['dns-change'] (clients.ts): 1 s doubling to 5 s */
  readonly waitPolling?: WaitPolling;
  /** @default 900 */
  readonly maxWaitSeconds?: number;
  /** @default globalThis.fetch for http, node:https for https (see `defaultFetch`) */
  readonly fetch?: FetchLike;
  readonly healthRetry?: HealthRetry;
}

/** `name.` → `name`, lowercase (Route 53 returns names fully qualified). */
const bare = (n: string | undefined): string => (n ?? '').replace(/\.$/, '').toLowerCase();

/** Record types that cannot stay next to the app's alias A or CNAME: all of them are replaced. */
const REPLACED = new Set(['CNAME', 'A', 'AAAA']);

/** A record's target: a CNAME's value or an alias's DNS name (without `dualstack.`). */
function targetOf(r: ResourceRecordSet): string | undefined {
  if (r.Type === 'CNAME') return bare(r.ResourceRecords?.[0]?.Value) || undefined;
  if ((r.Type === 'A' || r.Type === 'AAAA') && r.AliasTarget?.DNSName) return bareHost(r.AliasTarget.DNSName);
  return undefined;
}

/** Whether `r` already is the record kubecontrol would write (type, routing, target, TTL / alias settings). */
function same(r: ResourceRecordSet, want: ResourceRecordSet): boolean {
  if (r.Type !== want.Type || r.SetIdentifier !== undefined) return false;
  if (want.AliasTarget) {
    return !!r.AliasTarget && bare(r.AliasTarget.DNSName) === bare(want.AliasTarget.DNSName) && r.AliasTarget.HostedZoneId === want.AliasTarget.HostedZoneId && r.AliasTarget.EvaluateTargetHealth === true;
  }
  return !r.AliasTarget && r.TTL === want.TTL && r.ResourceRecords?.length === 1 && bare(r.ResourceRecords[0]?.Value) === bare(want.ResourceRecords?.[0]?.Value);
}

/**
 * The health check's default client: `fetch` for http; for https, node's own
 * client with certificate-name verification off. Why: TLS ends at the NLB with
 * the ACM certificate of the app's DNS name, and the check must go to the
 * NLB's own hostname (the record does not point there yet), which the
 * certificate does not name. The check proves the TLS listener answers and the
 * app behind it is healthy; the certificate itself was validated by ACM.
 */
export const defaultFetch: FetchLike = (url, init) => {
  if (!url.startsWith('https:')) return fetch(url, init);
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { signal: init.signal, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '' });
    });
    req.on('error', (err) => reject(new Error(errorMessage(err), { cause: err })));
  });
};

/**
 * Points a record (`record.name`) at a cluster's load balancer with an alias A
 * record (EvaluateTargetHealth), replacing in the same atomic batch every CNAME,
 * A and AAAA record at that name (simple, weighted or alias; TXT, MX and
 * others stay), and waits for Route 53 to report the change INSYNC. The hosted
 * zone is the record's `placement.hostedZoneId`, else the settings'.
 */
export class Route53Dns implements Dns {
  constructor(private readonly opts: Route53DnsOptions) {}

  private zone(record: DnsRecord): { route53: Route53Client; zoneId: string; region: string } {
    const where = placement(record.placement, this.opts.settings);
    if (!where.hostedZoneId) throw missingSetting(record.app, 'hostedZoneId', 'KUBECONTROL_HOSTED_ZONE_ID', 'Route 53 hosted zone');
    return { route53: this.opts.clients(where.region).route53, zoneId: where.hostedZoneId, region: where.region };
  }

  /** Every record set at the record's name (any type), page by page: record sets are sorted by name, then type. */
  private async recordsAt(record: DnsRecord, signal?: AbortSignal): Promise<ResourceRecordSet[]> {
    const { route53, zoneId } = this.zone(record);
    const name = bare(record.name);
    const out: ResourceRecordSet[] = [];
    let next: { StartRecordName: string; StartRecordType?: ListResourceRecordSetsCommandOutput['NextRecordType']; StartRecordIdentifier?: string } = { StartRecordName: record.name };
    for (;;) {
      const page = await call(
        'Route53',
        'ListResourceRecordSets',
        () => route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 100, ...next }), { abortSignal: signal }),
        signal,
      );
      const sets = page.ResourceRecordSets ?? [];
      out.push(...sets.filter((r) => bare(r.Name) === name));
      if (!page.IsTruncated || sets.some((r) => bare(r.Name) !== name) || !page.NextRecordName || bare(page.NextRecordName) !== name) return out;
      next = {
        StartRecordName: page.NextRecordName,
        ...(page.NextRecordType ? { StartRecordType: page.NextRecordType } : {}),
        ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}),
      };
    }
  }

  /** The record's current target: a simple record's first, else any (weighted) one's. */
  private static previousOf(records: readonly ResourceRecordSet[]): string | undefined {
    const candidates = records.filter((r) => REPLACED.has(r.Type ?? '') && targetOf(r) !== undefined);
    const pick = candidates.find((r) => r.SetIdentifier === undefined) ?? candidates[0];
    return pick ? targetOf(pick) : undefined;
  }

  async current({ record, signal }: { record: DnsRecord; signal?: AbortSignal }): Promise<string | undefined> {
    return Route53Dns.previousOf(await this.recordsAt(record, signal));
  }

  /** The load balancer a target names, undefined when it is not an ELB hostname; refuses an ELB hostname no load balancer has. */
  private async loadBalancerOf(target: string, signal?: AbortSignal): Promise<FoundLoadBalancer | undefined> {
    const region = elbRegionOf(target);
    if (!region) return undefined;
    const lb = await this.opts.loadBalancers.find({ hostname: target, region, signal });
    if (!lb) throw new InfraError('not_found', `no load balancer in ${region} has the DNS name ${bareHost(target)}`);
    return lb;
  }

  async checkHealth(cmd: HealthCheckSpec & { target: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { port, path, target, tls, progress, signal } = cmd;
    // The load balancer first: an NLB takes minutes to provision and its targets
    // to pass health checks; an HTTP check before that only burns its retries.
    const region = elbRegionOf(target);
    const lb = region ? await this.opts.loadBalancers.waitReady({ hostname: target, region, progress, signal }) : undefined;
    if (cmd.loadBalancer === 'internal' || lb?.scheme === 'internal') return this.checkThroughApiServer(cmd);

    const scheme = tls ? 'https' : 'http';
    // A target with its own port (tests, local) is used as it is.
    const host = target.includes(':') || port === (tls ? 443 : 80) ? target : `${target}:${port}`;
    const url = `${scheme}://${host}${path}`;
    const fetchFn: FetchLike = this.opts.fetch ?? defaultFetch;
    await this.probe(`health check GET ${url}`, `health check of ${url}`, { url }, progress, signal, async (s) => {
      const res = await fetchFn(url, { signal: s, redirect: 'manual' });
      return { status: res.status, problem: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
    });
  }

  /**
   * An internal load balancer answers only inside its VPC: the app's Service is
   * checked through the new cluster's API server (its service proxy), which
   * kubecontrol reaches as it reaches the rest of the cluster.
   */
  private async checkThroughApiServer(cmd: HealthCheckSpec & { target: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { app, port, path, cluster, progress, signal } = cmd;
    const proxyGet = this.opts.proxyGet;
    if (!proxyGet || !cluster) {
      throw new InfraError(
        'misconfigured',
        `the load balancer of ${app} is internal and cannot be reached from kubecontrol; its health check goes through the cluster's API server, ` +
          `which needs ${!cluster ? "the new cluster's name in the health check" : 'the Kubernetes service proxy (proxyGet)'}`,
      );
    }
    const what = `health check GET ${path} of service ${app}:${port} through the API server of ${cluster.name}`;
    await this.probe(what, what, { cluster: cluster.name, service: app, port, path }, progress, signal, async (s) => {
      const res = await proxyGet({ cluster, namespace: app, service: app, port, path, signal: s });
      return { status: res.status, problem: `HTTP ${res.status}` };
    });
  }

  private async probe(
    what: string,
    abortLabel: string,
    data: Record<string, unknown>,
    progress: Progress,
    signal: AbortSignal | undefined,
    probe: (s: AbortSignal) => Promise<{ status: number; problem: string }>,
  ): Promise<void> {
    await checkUntilHealthy({
      what,
      abortLabel,
      retry: this.opts.healthRetry,
      defaults: { attempts: 8, minMs: 2000, maxMs: 15000 },
      data,
      progress,
      signal,
      probe,
      describeError: (err) => {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return cause?.code ?? cause?.message ?? errorMessage(err);
      },
    }).catch((err: unknown) => {
      if (signal?.aborted) throw abortError(abortLabel, signal, err);
      throw asInfraError(err, 'unhealthy');
    });
  }

  async pointRecord({ record, target, progress, signal }: { record: DnsRecord; target: string; progress: Progress; signal?: AbortSignal }): Promise<{ previous: string | undefined }> {
    const apex = record.zone !== undefined && bare(record.name) === bare(record.zone);
    const looksLikeLb = elbRegionOf(target) !== undefined;
    // A CNAME can never sit at a zone apex (it would hide the SOA and NS records): refused before anything changes.
    if (apex && !looksLikeLb) throw apexRefusal(record, target);
    const { route53, zoneId } = this.zone(record);
    const lb = await this.loadBalancerOf(target, signal);
    const records = await this.recordsAt(record, signal);
    if (!lb && records.some((r) => r.Type === 'SOA')) throw apexRefusal(record, target);
    const previous = Route53Dns.previousOf(records);

    const want: ResourceRecordSet = lb
      ? {
          Name: record.name,
          Type: 'A',
          // An alias answers with the load balancer's addresses (no second lookup, no charge, allowed at the apex).
          // ELB alias targets are named `dualstack.<dns name>` (as the Route 53 console and CDK write them),
          // in the load balancer's own CanonicalHostedZoneId; EvaluateTargetHealth follows its targets' health.
          AliasTarget: { DNSName: `dualstack.${lb.dnsName}`, HostedZoneId: lb.canonicalHostedZoneId, EvaluateTargetHealth: true },
        }
      : { Name: record.name, Type: 'CNAME', TTL: record.ttlSeconds, ResourceRecords: [{ Value: target }] };

    const replaced = records.filter((r) => REPLACED.has(r.Type ?? ''));
    const changes: Change[] = [];
    if (replaced.length === 1 && same(replaced[0]!, want)) {
      // Already there (a resumed cutover): an identical UPSERT gives a change to wait for; Route 53
      // applies changes in order, so once it is INSYNC the earlier one that made the record is too.
      progress(`${record.name} already points at ${bareHost(target)}; making sure Route 53 is in sync`, { name: record.name, target });
      changes.push({ Action: 'UPSERT', ResourceRecordSet: want });
    } else {
      // One atomic batch: every CNAME, A and AAAA at the name goes, exactly as listed (a DELETE must match
      // the record set), except a simple record of the new type, which the UPSERT replaces.
      for (const r of replaced) {
        if (r.Type === want.Type && r.SetIdentifier === undefined) continue;
        changes.push({ Action: 'DELETE', ResourceRecordSet: r });
      }
      changes.push({ Action: 'UPSERT', ResourceRecordSet: want });
    }
    const out = await call(
      'Route53',
      'ChangeResourceRecordSets',
      () =>
        route53.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ChangeBatch: { Comment: `kubecontrol: ${record.app} -> ${bareHost(target)}`, Changes: changes },
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    const kind = lb ? 'alias A record' : 'CNAME';
    const gone = changes.filter((c) => c.Action === 'DELETE').map((c) => `${c.ResourceRecordSet!.Type}${c.ResourceRecordSet!.SetIdentifier ? ` (${c.ResourceRecordSet!.SetIdentifier})` : ''}`);
    progress(
      `pointed ${record.name} at ${bareHost(target)} with an ${kind} (was ${previous ?? 'nothing'}${gone.length ? `; replaced ${gone.join(', ')}` : ''}); waiting for Route 53 to be INSYNC`,
      { name: record.name, target, previous, change: out.ChangeInfo?.Id, type: want.Type },
    );
    if (out.ChangeInfo?.Id && out.ChangeInfo.Status !== 'INSYNC') {
      try {
        await waitUntilResourceRecordSetsChanged(waiterOptions(route53, pollingFor('dns-change', this.opts), this.opts.maxWaitSeconds ?? 900, signal), {
          Id: out.ChangeInfo.Id,
        });
      } catch (err) {
        throw waiterFailure(`Route 53 change ${out.ChangeInfo.Id} of ${record.name} to be INSYNC`, err, signal);
      }
    }
    progress(`${record.name} → ${bareHost(target)} is INSYNC`, { name: record.name, target });
    return { previous };
  }
}

function apexRefusal(record: DnsRecord, target: string): InfraError {
  return new InfraError(
    'misconfigured',
    `${record.app}: dns.name ${record.name} is the zone apex, where a CNAME is not allowed, and ${target} is not a load balancer an alias record can point at`,
  );
}
