/** The Dns port over Amazon Route 53, plus an HTTP health check through the new target. */
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  waitUntilResourceRecordSetsChanged,
  type Change,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { asInfraError, errorMessage } from '../errors.js';
import { checkUntilHealthy, type HealthRetry } from '../health.js';
import type { Dns, DnsRecord, HealthCheckSpec, Progress } from '../ports.js';
import { abortError, call, waiterFailure, waiterOptions, type AwsClientsFor, type WaiterDelays } from './clients.js';
import { missingSetting, placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** The subset of `fetch` the health check uses (tests point it at a local server). */
export type FetchLike = (url: string, init: { signal: AbortSignal; redirect: 'manual' }) => Promise<{ status: number; statusText: string }>;

/** How the health check retries. @default 8 attempts, 2 s doubling to 15 s, 5 s per request */
export type { HealthRetry } from '../health.js';

/** What a Route53Dns needs. */
export interface Route53DnsOptions {
  readonly clients: AwsClientsFor;
  /** The account's hosted zone, for apps that name none. */
  readonly settings: AwsSettings;
  /** Route 53's INSYNC waiter delays (seconds). @default the SDK's (30 s) */
  readonly waiterDelays?: WaiterDelays;
  /** @default 900 */
  readonly maxWaitSeconds?: number;
  /** @default globalThis.fetch */
  readonly fetch?: FetchLike;
  readonly healthRetry?: HealthRetry;
}

/** `name.` → `name`, lowercase (Route 53 returns names fully qualified). */
const bare = (n: string | undefined): string => (n ?? '').replace(/\.$/, '').toLowerCase();

/** The record's current target: a CNAME's value or an alias A record's DNS name. */
function targetOf(r: ResourceRecordSet): string | undefined {
  if (r.Type === 'CNAME') return bare(r.ResourceRecords?.[0]?.Value) || undefined;
  if (r.Type === 'A' && r.AliasTarget?.DNSName) return bare(r.AliasTarget.DNSName).replace(/^dualstack\./, '');
  return undefined;
}

/**
 * Points a record (`record.name`) at a cluster's load balancer with a CNAME
 * (TTL `record.ttlSeconds`), replacing an alias A record if one is there, and
 * waits for Route 53 to report the change INSYNC. The hosted zone is the
 * record's `placement.hostedZoneId`, else the settings'.
 */
export class Route53Dns implements Dns {
  constructor(private readonly opts: Route53DnsOptions) {}

  private zone(record: DnsRecord): { route53: Route53Client; zoneId: string } {
    const where = placement(record.placement, this.opts.settings);
    if (!where.hostedZoneId) throw missingSetting(record.app, 'hostedZoneId', 'KUBECONTROL_HOSTED_ZONE_ID', 'Route 53 hosted zone');
    return { route53: this.opts.clients(where.region).route53, zoneId: where.hostedZoneId };
  }

  /** The record's CNAME or alias A record set, if any. */
  private async find(record: DnsRecord, signal?: AbortSignal): Promise<ResourceRecordSet | undefined> {
    const { route53, zoneId } = this.zone(record);
    const out = await call(
      'Route53',
      'ListResourceRecordSets',
      () =>
        route53.send(
          // Record sets are sorted by name then type: starting at the name, A and CNAME come first.
          new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: record.name, MaxItems: 5 }),
          { abortSignal: signal },
        ),
      signal,
    );
    return (out.ResourceRecordSets ?? []).find((r) => bare(r.Name) === bare(record.name) && targetOf(r) !== undefined);
  }

  async current({ record, signal }: { record: DnsRecord; signal?: AbortSignal }): Promise<string | undefined> {
    const r = await this.find(record, signal);
    return r ? targetOf(r) : undefined;
  }

  async checkHealth({ port, path, target, progress, signal }: HealthCheckSpec & { target: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    // A target with its own port (tests, local) is used as it is.
    const host = target.includes(':') || port === 80 ? target : `${target}:${port}`;
    const url = `http://${host}${path}`;
    const fetchFn: FetchLike = this.opts.fetch ?? ((u, init) => fetch(u, init));
    await checkUntilHealthy({
      what: `health check GET ${url}`,
      abortLabel: `health check of ${url}`,
      retry: this.opts.healthRetry,
      defaults: { attempts: 8, minMs: 2000, maxMs: 15000 },
      data: { url },
      progress,
      signal,
      probe: async (s) => {
        const res = await fetchFn(url, { signal: s, redirect: 'manual' });
        return { status: res.status, problem: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
      },
      describeError: (err) => {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return cause?.code ?? cause?.message ?? errorMessage(err);
      },
    }).catch((err: unknown) => {
      if (signal?.aborted) throw abortError(`health check of ${url}`, signal, err);
      throw asInfraError(err, 'unhealthy');
    });
  }

  async pointRecord({ record, target, progress, signal }: { record: DnsRecord; target: string; progress: Progress; signal?: AbortSignal }): Promise<{ previous: string | undefined }> {
    const { route53, zoneId } = this.zone(record);
    const existing = await this.find(record, signal);
    const previous = existing ? targetOf(existing) : undefined;
    if (previous === bare(target) && existing?.Type === 'CNAME') {
      progress(`${record.name} already points at ${target}`, { name: record.name, target });
      return { previous };
    }
    const changes: Change[] = [];
    // A name cannot carry an A alias and a CNAME: replace the alias in the same (atomic) batch.
    if (existing?.Type === 'A') changes.push({ Action: 'DELETE', ResourceRecordSet: existing });
    changes.push({
      Action: 'UPSERT',
      ResourceRecordSet: { Name: record.name, Type: 'CNAME', TTL: record.ttlSeconds, ResourceRecords: [{ Value: target }] },
    });
    const out = await call(
      'Route53',
      'ChangeResourceRecordSets',
      () =>
        route53.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ChangeBatch: { Comment: `kubecontrol: ${record.app} -> ${target}`, Changes: changes },
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    progress(`pointed ${record.name} at ${target} (was ${previous ?? 'nothing'}); waiting for Route 53 to be INSYNC`, {
      name: record.name,
      target,
      previous,
      change: out.ChangeInfo?.Id,
    });
    if (out.ChangeInfo?.Id && out.ChangeInfo.Status !== 'INSYNC') {
      try {
        await waitUntilResourceRecordSetsChanged(waiterOptions(route53, this.opts.waiterDelays, this.opts.maxWaitSeconds ?? 900, signal), {
          Id: out.ChangeInfo.Id,
        });
      } catch (err) {
        throw waiterFailure(`Route 53 change ${out.ChangeInfo.Id} of ${record.name} to be INSYNC`, err, signal);
      }
    }
    progress(`${record.name} → ${target} is INSYNC`, { name: record.name, target });
    return { previous };
  }
}
