/**
 * Kubernetes versions on EKS: which ones EKS can create now, which one is the
 * default (the newest in standard support), and what an app's version is
 * heading for. EKS is asked (`DescribeClusterVersions`); the built-in calendar
 * is only the fallback of callers that cannot ask it. Time always comes from
 * the caller (`now`), never from the system clock here.
 */
import { paginateDescribeClusterVersions, type ClusterVersionInformation, type EKSClient } from '@aws-sdk/client-eks';
import type { ClusterSpec } from '../ports.js';
import { awsError } from './clients.js';
import {
  calendarVersions,
  compareVersions,
  DAY_MS as DAY,
  EKS_CALENDAR,
  endOfDay as endOf,
  newestStandard,
  statusAt,
  WARN_DAYS,
  type KubernetesVersion,
  type SupportStatus,
} from '../kubernetes-versions.js';

// The calendar and its arithmetic are provider-neutral (the sandbox simulates EKS with them).
export { calendarVersions, compareVersions, EKS_CALENDAR, newestStandard, statusAt, WARN_DAYS, type SupportStatus };

/** One Kubernetes minor version as EKS offers it. */
export type EksVersion = KubernetesVersion;

const day = (d: Date | undefined): string => (d ? d.toISOString().slice(0, 10) : '');

/** One `DescribeClusterVersions` answer as an EksVersion; its status from EKS, else from its dates at `now`. */
function fromEks(v: ClusterVersionInformation, now: number): EksVersion | undefined {
  if (!v.clusterVersion) return undefined;
  const dates = { version: v.clusterVersion, endOfStandardSupport: day(v.endOfStandardSupportDate), endOfExtendedSupport: day(v.endOfExtendedSupportDate) };
  const legacy: Record<string, SupportStatus> = { 'standard-support': 'STANDARD_SUPPORT', 'extended-support': 'EXTENDED_SUPPORT', unsupported: 'UNSUPPORTED' };
  const status = (v.versionStatus as SupportStatus | undefined) ?? (v.status ? legacy[v.status] : undefined) ?? statusAt(dates, now);
  return { ...dates, status };
}

/** Every version EKS lists for `eks`'s region (`includeAll`: unsupported ones too, so that they can be named). */
export async function describeEksVersions(eks: EKSClient, now: number, signal?: AbortSignal): Promise<EksVersion[]> {
  const out: EksVersion[] = [];
  try {
    for await (const page of paginateDescribeClusterVersions({ client: eks }, { clusterType: 'eks', includeAll: true })) {
      for (const v of page.clusterVersions ?? []) {
        const e = fromEks(v, now);
        if (e) out.push(e);
      }
    }
  } catch (err) {
    throw awsError('EKS', 'DescribeClusterVersions', err, signal);
  }
  return out;
}

/** What `checkVersion` found about one app's version. */
export interface VersionCheck {
  /** The version a cluster would be created with. */
  readonly version?: string;
  readonly problem?: string;
  readonly warning?: string;
}

/**
 * Whether the app's cluster can be created with its version, and whether that
 * version is about to leave standard support (within WARN_DAYS of `now`).
 */
export function checkVersion(cmd: { app: string; cluster: Pick<ClusterSpec, 'kubernetesVersion' | 'supportType'>; versions: readonly EksVersion[]; now: number }): VersionCheck {
  const { app, cluster, versions, now } = cmd;
  const newest = newestStandard(versions);
  const use = newest ? `use ${newest.version} (the newest in standard support, until ${newest.endOfStandardSupport})` : 'EKS lists no version in standard support';
  const wanted = cluster.kubernetesVersion;
  if (wanted === undefined) {
    if (!newest) return { problem: `${app}: aws.kubernetesVersion is unset and EKS lists no version in standard support to default to` };
    return { version: newest.version };
  }
  const field = `${app}: aws.kubernetesVersion ${wanted}`;
  const v = versions.find((x) => x.version === wanted);
  if (!v) return { problem: `${field} cannot be created on EKS: EKS does not offer it; ${use}` };
  if (v.status === 'UNSUPPORTED') {
    return { problem: `${field} cannot be created on EKS: its extended support ended ${v.endOfExtendedSupport}; ${use}` };
  }
  const extended = cluster.supportType === 'EXTENDED';
  if (v.status === 'EXTENDED_SUPPORT' && !extended) {
    return {
      problem: `${field} left standard support on ${v.endOfStandardSupport}: set aws.supportType 'EXTENDED' to run it at the extended-support rate (until ${v.endOfExtendedSupport}), or ${use}`,
    };
  }
  const daysLeft = (end: string): number => Math.ceil((endOf(end) - now) / DAY);
  if (v.status === 'EXTENDED_SUPPORT') {
    const left = daysLeft(v.endOfExtendedSupport);
    const soon = left <= WARN_DAYS ? `; it ends in ${left} days and EKS then upgrades the cluster` : '';
    return { version: wanted, warning: `${field} is in extended support (billed at the extended-support rate) until ${v.endOfExtendedSupport}${soon}; ${use}` };
  }
  const left = daysLeft(v.endOfStandardSupport);
  if (left <= WARN_DAYS) {
    const then = extended ? 'extended support (billed at the extended-support rate) follows' : 'EKS then upgrades clusters still on it';
    return { version: wanted, warning: `${field} leaves standard support on ${v.endOfStandardSupport} (in ${left} days; ${then}); ${use}` };
  }
  return { version: wanted };
}

/** What an EksVersions needs. */
export interface EksVersionsOptions {
  /** The EKS client of a region. */
  readonly eks: (region: string) => EKSClient;
  /** Epoch ms: the provider's clock. */
  readonly now: () => number;
}

/**
 * The versions of each region, asked of EKS once (at preflight, or at the
 * first cluster created if preflight did not run) and kept for the process.
 */
export class EksVersions {
  private readonly cache = new Map<string, Promise<EksVersion[]>>();
  /** What each region answered, once it did (read synchronously by `known`). */
  private readonly answered = new Map<string, EksVersion[]>();

  constructor(private readonly opts: EksVersionsOptions) {}

  /** The versions of `region`, asked once. A failed ask is not kept: the next one asks again. */
  list(region: string, signal?: AbortSignal): Promise<EksVersion[]> {
    let p = this.cache.get(region);
    if (!p) {
      p = describeEksVersions(this.opts.eks(region), this.opts.now(), signal);
      this.cache.set(region, p);
      p.then(
        (versions) => void this.answered.set(region, versions),
        () => this.cache.delete(region),
      );
    }
    return p;
  }

  /**
   * What EKS answered for `region` (at preflight, or since), without asking: the
   * command core reads it on the ack path, which waits for nothing. Before EKS has
   * answered: the built-in calendar at `now`, said as such by `fromEks`.
   */
  known(region: string): { versions: readonly EksVersion[]; fromEks: boolean } {
    const versions = this.answered.get(region);
    return versions ? { versions, fromEks: true } : { versions: calendarVersions(this.opts.now()), fromEks: false };
  }

  /** The version a cluster of `spec` gets: its own, else the newest in standard support. */
  async resolve(cmd: { spec: Pick<ClusterSpec, 'kubernetesVersion'>; region: string; signal?: AbortSignal }): Promise<EksVersion | undefined> {
    const versions = await this.list(cmd.region, cmd.signal);
    return cmd.spec.kubernetesVersion === undefined ? newestStandard(versions) : versions.find((v) => v.version === cmd.spec.kubernetesVersion);
  }

  now(): number {
    return this.opts.now();
  }
}
