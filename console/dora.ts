/**
 * The DORA figures of an app, as pure arithmetic over its deploy rows (store/console.ts `doraRows`).
 *
 * DORA's four keys (DevOps Research and Assessment, "Accelerate"; Google's Four Keys,
 * github.com/dora-team/fourkeys METRICS.md):
 * - deployment frequency: how often an organization successfully releases to production;
 * - lead time for changes: the median time for a commit to be deployed into production;
 * - change failure rate: the share of deployments that cause a failure in production (one that
 *   needs a rollback or a fix);
 * - time to restore service: for a failure, the median time between the deployment that caused it
 *   and the restoration.
 *
 * kubecontrol knows deploys, not commits or incidents. Here is what each word means in this file:
 *
 * - **Change**: a deploy of kind `deploy` or `rollback` that reached production or tried to, and ended:
 *   it `succeeded`; it `failed` (at any step: it tried); or it was `cancelled` after its cutover step
 *   succeeded (a blue/green flipped back within its drain: it served). Not changes: `rejected`,
 *   `timed_out`, `cancelled` before a cutover (production was never touched), deploys not ended yet,
 *   and every other kind: a `refresh` is the live version again on a fresh cluster — maintenance, not
 *   a change (counting nightly refreshes would make every scheduled app a daily deployer).
 * - **Went live** (`liveAt`): a blue/green when its cutover step succeeded (DNS moved to it); a rolling
 *   update when it succeeded. A blue/green with no recorded cutover step uses its finish.
 * - **Change time**: when it went live; a failed change that never did, when it failed (`finishedAt`).
 *   A change belongs to the window [from, to) — and to a daily bucket, a UTC day — by its change time.
 * - **Replacement** of a change D: the next change of the same app after D (a higher id: an app runs one
 *   deploy at a time, in order) that succeeded.
 * - **Failed change**: one that ended `failed`; one **flipped back** (cancelled after its cutover: the
 *   rollback within the drain); one **rolled back** (it succeeded and its replacement is a `rollback`);
 *   one **rolled forward within its drain** (it succeeded, and its replacement is a `deploy` requested
 *   after it went live and before it finished, i.e. while it was still draining and tearing down its
 *   predecessor — only a blue/green has that interval). A change whose replacement is not known yet is
 *   counted as good: a report says what is known when it is asked.
 *
 * The figures over [from, to):
 * - **deploys** (deployment frequency): succeeded changes that went live in the window;
 *   `deploysPerDay` is that over the window's length in days (24 h each).
 * - **lead time**: for each of those deploys, went live − requested (`createdAt`). `median` is the middle
 *   value (the mean of the two middle ones for an even count); `p90` the nearest rank, the value at
 *   rank ⌈0.9·n⌉ of the sorted times. Null without deploys.
 * - **change failure rate**: failed changes / changes, both in the window. Null without changes.
 * - **time to restore**: for each failed change in the window, from when it hurt — a failed one when it
 *   failed, the others when they went live — to when a good version served again: a flipped-back one
 *   at its flip back (its `finishedAt`); the others when their replacement went live. Median over those
 *   restored; failures not restored yet are listed but not in the median. Null when none is restored.
 * - **daily**: one bucket per UTC day the window touches, oldest first: `deploys` and their median lead
 *   time, `changes` and `failed` (failed changes), each by the day of its change time.
 */
import type { DoraReport } from './model.js';
import type { DoraRow } from '../store/index.js';

export const DAY_MS = 86_400_000;

/** When a deploy went live (see above), or null if it never did. */
export function liveAt(r: DoraRow): number | null {
  if (r.state === 'succeeded') return r.strategy === 'blue-green' ? (r.cutoverAt ?? r.finishedAt) : r.finishedAt;
  // Cancelled after its cutover: flipped back within the drain, after it had served.
  if (r.state === 'cancelled' && r.cutoverAt !== null) return r.cutoverAt;
  return null;
}

/** Whether a deploy row is a change (see above). */
export function isChange(r: DoraRow): boolean {
  if (r.kind !== 'deploy' && r.kind !== 'rollback') return false;
  if (r.state === 'succeeded' || r.state === 'failed') return r.finishedAt !== null;
  return r.state === 'cancelled' && r.cutoverAt !== null && r.finishedAt !== null;
}

/** How a change failed. */
export type FailureKind = 'failed' | 'flipped_back' | 'rolled_back' | 'rolled_forward';

/** A change and what became of it. */
export interface Change {
  readonly row: DoraRow;
  /** Its change time: when it went live, else when it failed. */
  readonly at: number;
  /** When it went live; null if it never did. */
  readonly liveAt: number | null;
  readonly failure: FailureKind | null;
  /** The change that replaced it (see above), if known. */
  readonly replacedBy: DoraRow | null;
  /** A failed change: when it started to hurt, and when a good version served again (null: not yet). */
  readonly hurtAt: number | null;
  readonly restoredAt: number | null;
}

/** Every change among `rows` (any order), oldest first, with its failure and restore worked out. */
export function changesOf(rows: readonly DoraRow[]): Change[] {
  const changes = [...rows].filter(isChange).sort((a, b) => a.id - b.id);
  // The replacement of each change: the next succeeded change of its app, found walking back once.
  const replacements: (DoraRow | null)[] = new Array<DoraRow | null>(changes.length).fill(null);
  const nextSucceeded = new Map<string, DoraRow>();
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i]!;
    replacements[i] = nextSucceeded.get(c.app) ?? null;
    if (c.state === 'succeeded') nextSucceeded.set(c.app, c);
  }
  return changes.map((row, i): Change => {
    const live = liveAt(row);
    const replacedBy = replacements[i]!;
    const replacementLive = replacedBy ? liveAt(replacedBy) : null;
    let failure: FailureKind | null = null;
    if (row.state === 'failed') failure = 'failed';
    else if (row.state === 'cancelled') failure = 'flipped_back';
    else if (replacedBy?.kind === 'rollback') failure = 'rolled_back';
    else if (replacedBy?.kind === 'deploy' && live !== null && row.finishedAt !== null && replacedBy.createdAt >= live && replacedBy.createdAt < row.finishedAt) {
      failure = 'rolled_forward';
    }
    const at = live ?? row.finishedAt!;
    const hurtAt = failure === null ? null : failure === 'failed' ? row.finishedAt! : live!;
    const restoredAt = failure === null ? null : failure === 'flipped_back' ? row.finishedAt! : replacementLive;
    return { row, at, liveAt: live, failure, replacedBy, hurtAt, restoredAt };
  });
}

/** The middle value (the mean of the two middle ones for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The nearest-rank percentile `p` (0 < p ≤ 1): the value at rank ⌈p·n⌉ of the sorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(p * s.length))) - 1]!;
}

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC of the day of `ms`. */
export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Every UTC day [from, to) touches, oldest first. */
export function utcDays(from: number, to: number): string[] {
  const days: string[] = [];
  for (let d = startOfUtcDay(from); d < to; d += DAY_MS) days.push(utcDay(d));
  return days;
}

/** The DORA report of `app` over [from, to) from its deploy rows (any superset of what the window needs). */
export function doraReport(app: string, from: number, to: number, rows: readonly DoraRow[]): DoraReport {
  if (!(to > from)) throw new RangeError(`a DORA window must end after it starts (from ${from}, to ${to})`);
  const inWindow = (t: number): boolean => t >= from && t < to;
  const changes = changesOf(rows.filter((r) => r.app === app)).filter((c) => inWindow(c.at));
  const deploys = changes.filter((c) => c.row.state === 'succeeded');
  const leadTime = (c: Change): number => c.liveAt! - c.row.createdAt;
  const leadTimes = deploys.map(leadTime);
  const failed = changes.filter((c) => c.failure !== null);
  const restores = failed.filter((c) => c.restoredAt !== null).map((c) => c.restoredAt! - c.hurtAt!);
  const restoreMedian = median(restores);
  // Each change put in its day's bucket once, by the day's number since the window's first (a day per
  // change, not every change per day: 90 days of 200 changes was 54,000 dates formatted).
  const first = startOfUtcDay(from);
  const buckets = utcDays(from, to).map((day) => ({ day, deploys: [] as number[], changes: 0, failed: 0 }));
  for (const c of changes) {
    const b = buckets[Math.floor((c.at - first) / DAY_MS)]!;
    b.changes++;
    if (c.failure !== null) b.failed++;
    if (c.row.state === 'succeeded') b.deploys.push(leadTime(c));
  }
  const daily = buckets.map((b) => ({
    day: b.day,
    deploys: b.deploys.length,
    changes: b.changes,
    failed: b.failed,
    leadTimeMedianMs: median(b.deploys),
  }));
  return {
    app,
    from,
    to,
    deploys: deploys.length,
    deploysPerDay: deploys.length / ((to - from) / DAY_MS),
    leadTimeMs: leadTimes.length ? { median: median(leadTimes)!, p90: percentile(leadTimes, 0.9)! } : null,
    changeFailureRate: changes.length ? failed.length / changes.length : null,
    failedChanges: failed.length,
    changes: changes.length,
    timeToRestoreMs: restoreMedian === null ? null : { median: restoreMedian, count: restores.length },
    failures: failed.map((c) => ({
      id: c.row.id,
      version: c.row.version,
      how: c.failure!,
      at: c.hurtAt!,
      restoredAt: c.restoredAt,
      replacedBy: c.failure === 'flipped_back' ? null : (c.replacedBy?.id ?? null),
    })),
    daily,
  };
}
