/**
 * The DORA arithmetic (console/dora.ts) on a hand-written week of one app's deploys, with every
 * case the definitions name: a rollback, a roll-forward within a drain, a flip back, a failure and
 * its restore, a refresh, and rejected / cancelled / timed-out deploys that are not changes. The
 * same week is then built through the store's real repositories on a ManualClock and read back
 * through the console's reads (store/console.ts doraRows: the cutover step, refreshes left out,
 * the first change after the window), which must give the same numbers.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../deployer/clock.js';
import { changesOf, doraReport, median, percentile, utcDays } from '../console/dora.js';
import { createConsoleReads } from '../console/reads.js';
import { Store, type DeployKind, type DeployState, type DoraRow } from '../store/index.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Monday 2026-11-23 00:00 UTC: the window is that week, [from, to). */
const T0 = Date.UTC(2026, 10, 23);
const at = (day: number, hour: number, minute = 0): number => T0 + day * DAY + hour * HOUR + minute * MIN;
const from = T0;
const to = T0 + 7 * DAY;

type End = 'succeeded' | 'failed' | 'rejected' | 'cancelled' | 'timed_out' | 'flipped_back';
interface Spec {
  readonly id: number;
  readonly version: string;
  readonly strategy: 'blue-green' | 'rolling';
  readonly kind?: DeployKind;
  readonly created: number;
  /** When it left the queue (default: created). */
  readonly started?: number;
  readonly cutover?: number;
  readonly finished: number;
  readonly end: End;
}

/** The week, in id order. */
const WEEK: readonly Spec[] = [
  // Requested on Sunday, went live on Monday (its cutover): in the window by when it went live. Lead 60 min.
  { id: 1, version: 'v1', strategy: 'blue-green', created: at(-1, 23, 30), cutover: at(0, 0, 30), finished: at(0, 1), end: 'succeeded' },
  // Went live, later replaced by a rollback (#4): a failed change. Lead 40 min; restored when #4 went live (150 min).
  { id: 2, version: 'v2', strategy: 'blue-green', created: at(1, 9), cutover: at(1, 9, 40), finished: at(1, 10), end: 'succeeded' },
  // Rejected at approval: never touched production, not a change.
  { id: 3, version: 'v3', strategy: 'blue-green', created: at(1, 11), finished: at(1, 11, 20), end: 'rejected' },
  // The rollback (rolling): a change that went live. Lead 10 min.
  { id: 4, version: 'v1', strategy: 'rolling', kind: 'rollback', created: at(1, 12), finished: at(1, 12, 10), end: 'succeeded' },
  // Live at 09:30, draining until 10:00; #6 was requested at 09:45, within the drain: rolled forward. Lead 30 min; restored at #6's cutover (60 min).
  { id: 5, version: 'v5', strategy: 'blue-green', created: at(2, 9), cutover: at(2, 9, 30), finished: at(2, 10), end: 'succeeded' },
  // The roll-forward, which waited for #5 to finish. Lead 45 min.
  { id: 6, version: 'v6', strategy: 'blue-green', created: at(2, 9, 45), started: at(2, 10), cutover: at(2, 10, 30), finished: at(2, 11), end: 'succeeded' },
  // Failed at its build: a failed change (it tried); restored when #9 went live (115 min).
  { id: 7, version: 'v7', strategy: 'blue-green', created: at(3, 9), finished: at(3, 9, 20), end: 'failed' },
  // Cancelled before any cutover: not a change.
  { id: 8, version: 'v8', strategy: 'blue-green', created: at(3, 10), finished: at(3, 10, 5), end: 'cancelled' },
  // A rolling update that went live (it restores #7). Lead 15 min.
  { id: 9, version: 'v9', strategy: 'rolling', created: at(3, 11), finished: at(3, 11, 15), end: 'succeeded' },
  // Cut over at 09:30, flipped back within its drain at 09:50: a failed change, restored by the flip back (20 min).
  { id: 10, version: 'v10', strategy: 'blue-green', created: at(4, 9), cutover: at(4, 9, 30), finished: at(4, 9, 50), end: 'flipped_back' },
  // A scheduled refresh of the live version: maintenance, not a change (and not #9's replacement).
  { id: 11, version: 'v9', strategy: 'blue-green', kind: 'refresh', created: at(5, 3), cutover: at(5, 3, 20), finished: at(5, 3, 40), end: 'succeeded' },
  // Approval timed out: not a change.
  { id: 12, version: 'v12', strategy: 'blue-green', created: at(5, 9), finished: at(5, 10), end: 'timed_out' },
  // Went live on Sunday; rolled back the next Monday (#14, after the window): failed, restored 940 min later.
  { id: 13, version: 'v13', strategy: 'blue-green', created: at(6, 9), cutover: at(6, 9, 30), finished: at(6, 10), end: 'succeeded' },
  // After the window: only tells that #13 was rolled back.
  { id: 14, version: 'v6', strategy: 'rolling', kind: 'rollback', created: at(7, 1), finished: at(7, 1, 10), end: 'succeeded' },
];

const rowOf = (s: Spec): DoraRow => ({
  id: s.id,
  app: 'web',
  version: s.version,
  kind: s.kind ?? 'deploy',
  strategy: s.strategy,
  state: s.end === 'flipped_back' ? 'cancelled' : s.end,
  requestedBy: 'carol',
  createdAt: s.created,
  finishedAt: s.finished,
  cutoverAt: s.cutover ?? null,
});

/** What the week must give, worked out by hand from the definitions. */
function expectTheWeek(report: ReturnType<typeof doraReport>): void {
  // Changes by when they went live (or failed): #1 #2 #4 #5 #6 #7 #9 #10 #13. Failed: #2 #5 #7 #10 #13.
  expect(report.changes).toBe(9);
  expect(report.failedChanges).toBe(5);
  expect(report.changeFailureRate).toBe(5 / 9);
  // Deploys that went live in the window: #1 #2 #4 #5 #6 #9 #13, over 7 days.
  expect(report.deploys).toBe(7);
  expect(report.deploysPerDay).toBe(1);
  // Lead times 60 40 10 30 45 15 30 min → sorted 10 15 30 30 40 45 60: median 30, p90 (rank ⌈6.3⌉ = 7) 60.
  expect(report.leadTimeMs).toEqual({ median: 30 * MIN, p90: 60 * MIN });
  // Restores 150 60 115 20 940 min → median 115.
  expect(report.timeToRestoreMs).toEqual({ median: 115 * MIN, count: 5 });
  expect(report.failures).toEqual([
    { id: 2, version: 'v2', how: 'rolled_back', at: at(1, 9, 40), restoredAt: at(1, 12, 10), replacedBy: 4 },
    { id: 5, version: 'v5', how: 'rolled_forward', at: at(2, 9, 30), restoredAt: at(2, 10, 30), replacedBy: 6 },
    { id: 7, version: 'v7', how: 'failed', at: at(3, 9, 20), restoredAt: at(3, 11, 15), replacedBy: 9 },
    { id: 10, version: 'v10', how: 'flipped_back', at: at(4, 9, 30), restoredAt: at(4, 9, 50), replacedBy: null },
    { id: 13, version: 'v13', how: 'rolled_back', at: at(6, 9, 30), restoredAt: at(7, 1, 10), replacedBy: 14 },
  ]);
  expect(report.daily).toEqual([
    { day: '2026-11-23', deploys: 1, changes: 1, failed: 0, leadTimeMedianMs: 60 * MIN },
    { day: '2026-11-24', deploys: 2, changes: 2, failed: 1, leadTimeMedianMs: 25 * MIN },
    { day: '2026-11-25', deploys: 2, changes: 2, failed: 1, leadTimeMedianMs: 37.5 * MIN },
    { day: '2026-11-26', deploys: 1, changes: 2, failed: 1, leadTimeMedianMs: 15 * MIN },
    { day: '2026-11-27', deploys: 0, changes: 1, failed: 1, leadTimeMedianMs: null },
    { day: '2026-11-28', deploys: 0, changes: 0, failed: 0, leadTimeMedianMs: null },
    { day: '2026-11-29', deploys: 1, changes: 1, failed: 1, leadTimeMedianMs: 30 * MIN },
  ]);
}

describe('the DORA arithmetic on a known week', () => {
  const rows = WEEK.map(rowOf);

  it('counts, rates, lead and restore times and daily buckets as defined', () => {
    expectTheWeek(doraReport('web', from, to, rows));
  });

  it('does not depend on the order of the rows, and ignores other apps', () => {
    const other = rows.map((r) => ({ ...r, id: r.id + 100, app: 'other', state: 'failed' as DeployState }));
    expectTheWeek(doraReport('web', from, to, [...rows].reverse().concat(other)));
  });

  it('a change whose replacement is not known yet counts as good', () => {
    // Without #14 nothing says #13 was rolled back.
    const report = doraReport('web', from, to, rows.filter((r) => r.id !== 14));
    expect(report.failedChanges).toBe(4);
    expect(report.changeFailureRate).toBe(4 / 9);
    expect(report.timeToRestoreMs).toEqual({ median: (60 + 115) / 2 * MIN, count: 4 });
  });

  it('a failure not restored yet is listed, and not in the median', () => {
    const report = doraReport('web', at(3, 0), at(3, 10), rows.filter((r) => r.id <= 8));
    expect(report.failures).toEqual([{ id: 7, version: 'v7', how: 'failed', at: at(3, 9, 20), restoredAt: null, replacedBy: null }]);
    expect(report.timeToRestoreMs).toBeNull();
    expect(report.changeFailureRate).toBe(1);
    expect(report.leadTimeMs).toBeNull();
    expect(report.deploys).toBe(0);
  });

  it('a window without changes has no rates, and a bucket per day it touches', () => {
    const report = doraReport('web', at(5, 12), at(6, 6), rows);
    expect(report).toMatchObject({ deploys: 0, changes: 0, changeFailureRate: null, leadTimeMs: null, timeToRestoreMs: null, failures: [] });
    expect(report.daily.map((d) => d.day)).toEqual(['2026-11-28', '2026-11-29']);
    expect(report.deploysPerDay).toBe(0);
  });

  it('a rolling update has no drain, so the next deploy never rolls it forward', () => {
    const rolling: DoraRow[] = [
      { ...rowOf(WEEK[8]!), id: 1 },
      { ...rowOf(WEEK[8]!), id: 2, version: 'v9b', createdAt: at(3, 11, 5), finishedAt: at(3, 11, 30) },
    ];
    expect(changesOf(rolling).map((c) => c.failure)).toEqual([null, null]);
  });

  it('refuses a window that ends before it starts', () => {
    expect(() => doraReport('web', to, from, rows)).toThrow(RangeError);
  });

  it('median, nearest-rank percentile and UTC days', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(percentile([5], 0.9)).toBe(5);
    expect(utcDays(at(0, 23), at(2, 0))).toEqual(['2026-11-23', '2026-11-24']);
    expect(utcDays(at(0, 23), at(2, 0, 1))).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
  });
});

describe('the same week through the store', () => {
  const clock = new ManualClock(at(-2, 0));
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'kubecontrol-dora-')), 'k.db'), { now: () => clock.now() });
  afterAll(() => store.close());

  /** Walks a deploy's life through the store's repositories, each change at its time on the clock. */
  async function build(specs: readonly Spec[]): Promise<void> {
    const BG: DeployState[] = ['queued', 'building', 'provisioning', 'deploying', 'awaiting_approval', 'cutting_over'];
    const actions: { t: number; seq: number; run: () => void }[] = [];
    let seq = 0;
    const ids = new Map<number, number>();
    const move = (s: Spec, path: readonly DeployState[], patch = {}): void => {
      for (let i = 1; i < path.length; i++) expect(store.deploys.transition(ids.get(s.id)!, [path[i - 1]!], path[i]!, i === path.length - 1 ? patch : {})).toBe(true);
    };
    for (const s of specs) {
      const add = (t: number, run: () => void): void => void actions.push({ t, seq: seq++, run });
      add(s.created, () => {
        const d = store.deploys.create({ app: 'web', version: s.version, strategy: s.strategy, kind: s.kind, requestedBy: 'carol', surface: 'cli', provider: 'sandbox' });
        ids.set(s.id, d.id);
      });
      const started = s.started ?? s.created;
      const done = { finishedAt: s.finished };
      add(started, () => {
        store.deploys.step(ids.get(s.id)!, 'build', 'running');
        if (s.end === 'failed' || s.end === 'cancelled') return move(s, ['queued', 'building']);
        if (s.strategy === 'rolling') return move(s, ['queued', 'building', 'deploying']);
        if (s.end === 'rejected' || s.end === 'timed_out') return move(s, BG.slice(0, 5));
        move(s, BG);
        store.deploys.step(ids.get(s.id)!, 'cutover', 'running');
      });
      if (s.cutover !== undefined) {
        add(s.cutover, () => {
          store.deploys.step(ids.get(s.id)!, 'cutover', 'succeeded');
          move(s, ['cutting_over', 'tearing_down']);
        });
      }
      add(s.finished, () => {
        const id = ids.get(s.id)!;
        if (s.end === 'failed') {
          store.deploys.step(id, 'build', 'failed');
          return move(s, ['building', 'failed'], done);
        }
        if (s.end === 'cancelled') return move(s, ['building', 'cancelled'], done);
        if (s.end === 'rejected' || s.end === 'timed_out') return move(s, ['awaiting_approval', s.end], done);
        if (s.end === 'flipped_back') return move(s, ['tearing_down', 'cancelled'], done);
        move(s, [s.strategy === 'rolling' ? 'deploying' : 'tearing_down', 'succeeded'], done);
      });
    }
    for (const a of actions.sort((x, y) => x.t - y.t || x.seq - y.seq)) {
      await clock.advance(a.t - clock.now());
      a.run();
    }
  }

  it('gives the same numbers from the rows the store reads', async () => {
    await build(WEEK);
    // A deploy still running (not a change yet), and another app's failures, change nothing.
    store.deploys.create({ app: 'web', version: 'v15', strategy: 'blue-green', requestedBy: 'carol', surface: 'cli', provider: 'sandbox' });
    const other = store.deploys.create({ app: 'api', version: 'v1', strategy: 'rolling', requestedBy: 'carol', surface: 'cli', provider: 'sandbox' });
    store.deploys.transition(other.id, ['queued'], 'failed', { finishedAt: clock.now() });

    const rows = store.console.doraRows('web', from, to);
    // #1 … #13 but the refresh (#11), and #14 (after the window) as the change that followed.
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14]);
    expect(rows.find((r) => r.id === 5)).toMatchObject({ cutoverAt: at(2, 9, 30), finishedAt: at(2, 10), state: 'succeeded' });
    expect(rows.find((r) => r.id === 9)).toMatchObject({ cutoverAt: null });

    const reads = createConsoleReads({ store, apps: new Map(), core: { view: () => { throw new Error('not used'); } }, status: () => [] });
    expectTheWeek(reads.dora('web', from, to));
  });
});
