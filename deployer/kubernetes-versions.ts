/**
 * Kubernetes minor versions and their support calendar, provider-neutral: the
 * aws provider asks EKS (`deployer/aws/versions.ts`, DescribeClusterVersions)
 * and falls back to this calendar; the sandbox simulates EKS with it. Pure:
 * time always comes from the caller (`now`).
 */

/** Where a version stands at one moment. */
export type SupportStatus = 'STANDARD_SUPPORT' | 'EXTENDED_SUPPORT' | 'UNSUPPORTED';

/** One Kubernetes minor version as a provider offers it. */
export interface KubernetesVersion {
  /** e.g. '1.35'. */
  readonly version: string;
  readonly status: SupportStatus;
  /** The day standard support ends, `YYYY-MM-DD`. */
  readonly endOfStandardSupport: string;
  /** The day extended support ends (no new clusters after it), `YYYY-MM-DD`. */
  readonly endOfExtendedSupport: string;
}

/**
 * EKS's published calendar (standard support ~14 months after release, extended
 * 12 more). Kept current with each release; used where EKS cannot be asked, and by the sandbox.
 */
export const EKS_CALENDAR: readonly Omit<KubernetesVersion, 'status'>[] = [
  { version: '1.35', endOfStandardSupport: '2027-03-27', endOfExtendedSupport: '2028-03-27' },
  { version: '1.34', endOfStandardSupport: '2026-12-02', endOfExtendedSupport: '2027-12-02' },
  { version: '1.33', endOfStandardSupport: '2026-07-29', endOfExtendedSupport: '2027-07-29' },
  { version: '1.32', endOfStandardSupport: '2026-03-23', endOfExtendedSupport: '2027-03-23' },
  { version: '1.31', endOfStandardSupport: '2025-11-26', endOfExtendedSupport: '2026-11-26' },
];

export const DAY_MS = 86_400_000;
/** How long before the end of standard support a warning is given. */
export const WARN_DAYS = 60;

/** The end of day `date` (UTC): support lasts through the whole day the calendar names. */
export const endOfDay = (date: string): number => Date.parse(`${date}T00:00:00Z`) + DAY_MS;

/** The status of a calendar entry at `now` (epoch ms). */
export function statusAt(v: Omit<KubernetesVersion, 'status'>, now: number): SupportStatus {
  if (now < endOfDay(v.endOfStandardSupport)) return 'STANDARD_SUPPORT';
  if (now < endOfDay(v.endOfExtendedSupport)) return 'EXTENDED_SUPPORT';
  return 'UNSUPPORTED';
}

/** The built-in calendar as EKS would answer at `now`. */
export function calendarVersions(now: number): KubernetesVersion[] {
  return EKS_CALENDAR.map((v) => ({ ...v, status: statusAt(v, now) }));
}

/** `1.9` < `1.10`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The newest version in standard support: the default of apps that name none. */
export function newestStandard(versions: readonly KubernetesVersion[]): KubernetesVersion | undefined {
  return [...versions].filter((v) => v.status === 'STANDARD_SUPPORT').sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** Whole days from `now` to the end of day `date` (rounded up). */
export function daysUntil(date: string, now: number): number {
  return Math.ceil((endOfDay(date) - now) / DAY_MS);
}

/** What `status` says of a cluster's Kubernetes version: its support, and a warning within WARN_DAYS of its end. */
export interface VersionSupport {
  readonly version: string;
  readonly status: SupportStatus | 'UNKNOWN';
  /** The day standard support ends, when the version is known. */
  readonly endOfStandardSupport: string | null;
  /** Days left of standard support (negative once over), when known. */
  readonly daysLeft: number | null;
  /** Set within WARN_DAYS of the end of standard support, or after it. */
  readonly warning: string | null;
}

/** The support of `version` among `versions` at `now`; `app` names what to upgrade in the warning. */
export function supportOf(app: string, version: string, versions: readonly KubernetesVersion[], now: number): VersionSupport {
  const v = versions.find((x) => x.version === version);
  if (!v) return { version, status: 'UNKNOWN', endOfStandardSupport: null, daysLeft: null, warning: null };
  const daysLeft = daysUntil(v.endOfStandardSupport, now);
  const newest = newestStandard(versions);
  const to = newest && compareVersions(newest.version, version) > 0 ? ` to ${newest.version}` : '';
  let warning: string | null = null;
  if (v.status !== 'STANDARD_SUPPORT') {
    warning = `Kubernetes ${version} left standard support on ${v.endOfStandardSupport}: \`upgrade ${app}\`${to}`;
  } else if (daysLeft <= WARN_DAYS) {
    warning = `Kubernetes ${version} leaves standard support on ${v.endOfStandardSupport} (in ${daysLeft} day${daysLeft === 1 ? '' : 's'}): \`upgrade ${app}\`${to}`;
  }
  return { version, status: v.status, endOfStandardSupport: v.endOfStandardSupport, daysLeft, warning };
}

/**
 * Whether an app's live cluster may be upgraded to `target` (unset: the newest
 * in standard support): a version the provider offers, in standard support,
 * and not older than the live cluster's (`live`, when known). Returns the
 * version to use, or the problem naming app, field and value.
 */
export function upgradeTarget(cmd: {
  app: string;
  target?: string;
  live?: string | null;
  versions: readonly KubernetesVersion[];
}): { ok: true; version: KubernetesVersion } | { ok: false; problem: string } {
  const { app, target, live, versions } = cmd;
  const newest = newestStandard(versions);
  const use = newest ? `use ${newest.version} (the newest in standard support, until ${newest.endOfStandardSupport})` : 'no version is in standard support';
  if (target === undefined) {
    if (!newest) return { ok: false, problem: `${app}: there is no Kubernetes version in standard support to upgrade to` };
    if (live && compareVersions(newest.version, live) < 0) {
      return { ok: false, problem: `${app}: the newest version in standard support (${newest.version}) is older than the live cluster's ${live}; downgrades are refused` };
    }
    return { ok: true, version: newest };
  }
  const field = `${app}: --kubernetes ${target}`;
  const v = versions.find((x) => x.version === target);
  if (!v) {
    const offered = [...versions].filter((x) => x.status !== 'UNSUPPORTED').map((x) => x.version).sort(compareVersions);
    return { ok: false, problem: `${field} is not a version the provider offers (${offered.join(', ') || 'none'}); ${use}` };
  }
  if (v.status === 'UNSUPPORTED') return { ok: false, problem: `${field} is no longer supported (its extended support ended ${v.endOfExtendedSupport}); ${use}` };
  if (v.status === 'EXTENDED_SUPPORT') {
    return { ok: false, problem: `${field} is out of standard support (it ended ${v.endOfStandardSupport}; extended support until ${v.endOfExtendedSupport}); ${use}` };
  }
  if (live && compareVersions(target, live) < 0) {
    return { ok: false, problem: `${field} is older than the live cluster's Kubernetes ${live}: downgrades are refused; ${use}` };
  }
  return { ok: true, version: v };
}
