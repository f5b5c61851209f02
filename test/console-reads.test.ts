/**
 * The console's reads (console/reads.ts) on a real SQLite file:
 * - an app's history with each filter, combined, across page boundaries, prefix versions;
 * - the search box: the three phrases of the issue and the odd ones, answered through the store;
 * - the fleet rows and a deploy's page on a running server (live, draining, locked, active apps),
 *   what serves each app read from the command core's `status`.
 * Data is built through the store's repositories (or the real commands), time on a ManualClock.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../deployer/clock.js';
import { loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import { createConsoleReads, cronInWords, hardwareText, nextRefreshFrom, slackThreadUrl } from '../console/reads.js';
import { parseSearch, vocabularyOf } from '../console/search.js';
import type { ConsoleReads } from '../console/model.js';
import { Store, type DeployState } from '../store/index.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { blueGreen, deploy, state } from './helpers/clock-flow.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Monday 2026-11-16 00:00 UTC: last week; this week starts on Monday 2026-11-23. */
const W1 = Date.UTC(2026, 10, 16);
const t = (day: number, hour = 0, minute = 0): number => W1 + day * DAY + hour * HOUR + minute * MIN;

type End = 'succeeded' | 'failed' | 'rejected' | 'cancelled' | 'timed_out' | 'building' | 'queued';
interface Row {
  readonly at: number;
  readonly app: string;
  readonly version: string;
  readonly by: string;
  readonly name?: string;
  readonly end: End;
}

/** Two weeks of three apps; ids 1…18 in this order. "Now" is Thursday 2026-11-26 12:00 UTC. */
const ROWS: readonly Row[] = [
  { at: t(0, 9), app: 'search-svc', version: 'v100', by: 'carol', end: 'succeeded' }, // 1
  { at: t(0, 10), app: 'web-frontend', version: 'v100', by: 'alice', end: 'succeeded' }, // 2
  { at: t(1, 9), app: 'search-svc', version: 'v11', by: 'carol', end: 'failed' }, // 3
  { at: t(1, 11), app: 'search-svc', version: 'v12', by: 'U0BOB0001', name: 'Bob', end: 'succeeded' }, // 4
  { at: t(2, 9), app: 'search-svc', version: 'v12.1', by: 'carol', end: 'rejected' }, // 5
  { at: t(3, 9), app: 'cache-worker', version: 'v120', by: 'erin', end: 'succeeded' }, // 6
  { at: t(4, 9), app: 'search-svc', version: 'v120', by: 'alice', end: 'succeeded' }, // 7
  { at: t(5, 9), app: 'search-svc', version: 'v123', by: 'carol', end: 'timed_out' }, // 8
  { at: t(6, 23, 59), app: 'web-frontend', version: 'v123', by: 'dave', end: 'succeeded' }, // 9: Sunday, last minute of last week
  { at: t(7, 0), app: 'search-svc', version: 'v123', by: 'carol', end: 'succeeded' }, // 10: Monday 00:00, this week
  { at: t(7, 9), app: 'search-svc', version: 'v129', by: 'U0BOB0001', name: 'Bob', end: 'failed' }, // 11
  { at: t(8, 9), app: 'search-svc', version: 'v13', by: 'alice', end: 'cancelled' }, // 12
  { at: t(9, 9), app: 'search-svc', version: 'v130', by: 'carol', end: 'failed' }, // 13: yesterday
  { at: t(9, 10), app: 'web-frontend', version: 'v12', by: 'dave', end: 'failed' }, // 14: yesterday
  { at: t(9, 23, 30), app: 'cache-worker', version: 'v121', by: 'erin', end: 'succeeded' }, // 15: yesterday
  { at: t(10, 0, 10), app: 'search-svc', version: 'v1', by: 'carol', end: 'succeeded' }, // 16: today
  { at: t(10, 9), app: 'search-svc', version: 'v124', by: 'carol', end: 'building' }, // 17: running
  { at: t(10, 10), app: 'web-frontend', version: 'v125', by: 'alice', end: 'queued' }, // 18: queued
];
const NOW = t(10, 12);

const PATHS: Record<End, readonly DeployState[]> = {
  succeeded: ['queued', 'building', 'deploying', 'succeeded'],
  failed: ['queued', 'building', 'failed'],
  rejected: ['queued', 'building', 'provisioning', 'deploying', 'awaiting_approval', 'rejected'],
  timed_out: ['queued', 'building', 'provisioning', 'deploying', 'awaiting_approval', 'timed_out'],
  cancelled: ['queued', 'cancelled'],
  building: ['queued', 'building'],
  queued: ['queued'],
};

let apps: ReadonlyMap<string, KubeApp>;
let store: Store;
let reads: ConsoleReads;
const clock = new ManualClock(W1);

beforeAll(async () => {
  const loaded = await loadKubeApps();
  expect(loaded.problems).toEqual([]);
  apps = new Map(loaded.apps.map((a) => [a.name, a]));
  store = Store.open(join(mkdtempSync(join(tmpdir(), 'kubecontrol-console-')), 'k.db'), { now: () => clock.now() });
  for (const r of ROWS) {
    await clock.advance(r.at - clock.now());
    const d = store.deploys.create({ app: r.app, version: r.version, strategy: 'rolling', requestedBy: r.by, requestedByName: r.name ?? null, surface: 'cli', provider: 'sandbox' });
    const path = PATHS[r.end];
    for (let i = 1; i < path.length; i++) {
      const last = i === path.length - 1 && ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'].includes(r.end);
      expect(store.deploys.transition(d.id, [path[i - 1]!], path[i]!, last ? { finishedAt: clock.now() + 10 * MIN } : {})).toBe(true);
    }
    if (r.end === 'building') store.deploys.step(d.id, 'build', 'running');
  }
  await clock.advance(NOW - clock.now());
  reads = createConsoleReads({ store, apps, core: { view: () => { throw new Error('not used'); } }, status: () => [] });
});
afterAll(() => store.close());

const ids = (rows: readonly { id: number }[]): number[] => rows.map((r) => r.id);
const hitIds = (q: string): number[] => {
  const r = reads.search(q, clock.now());
  expect(r.problem).toBeUndefined();
  return r.hits.map((h) => h.deploy.id);
};

describe('an app’s history', () => {
  it('newest first, one page at a time; the last page says there is no next one', () => {
    const all = [17, 16, 13, 12, 11, 10, 8, 7, 5, 4, 3, 1];
    const p1 = reads.history({ app: 'search-svc', limit: 5 });
    expect(ids(p1.rows)).toEqual(all.slice(0, 5));
    expect(p1.nextBefore).toBe(11);
    const p2 = reads.history({ app: 'search-svc', limit: 5, before: p1.nextBefore! });
    expect(ids(p2.rows)).toEqual(all.slice(5, 10));
    const p3 = reads.history({ app: 'search-svc', limit: 5, before: p2.nextBefore! });
    expect(ids(p3.rows)).toEqual([3, 1]);
    expect(p3.nextBefore).toBeNull();
    // A page exactly as long as what is left: no next page (not an empty one).
    expect(reads.history({ app: 'search-svc', limit: 12 })).toMatchObject({ nextBefore: null });
    expect(ids(reads.history({ app: 'search-svc', limit: 12 }).rows)).toEqual(all);
    const p = reads.history({ app: 'search-svc', limit: 11 });
    expect(p.nextBefore).toBe(3);
    expect(ids(reads.history({ app: 'search-svc', limit: 11, before: 3 }).rows)).toEqual([1]);
    // 25 by default, 100 at most, 1 at least.
    expect(reads.history({ app: 'search-svc' }).rows).toHaveLength(12);
    expect(reads.history({ app: 'search-svc', limit: 0 }).rows).toHaveLength(1);
  });

  it('by version: exactly, or by prefix (v12* is v12, v12.1, v120… but not v13 or v1)', () => {
    expect(ids(reads.history({ app: 'search-svc', version: 'v123' }).rows)).toEqual([10, 8]);
    expect(ids(reads.history({ app: 'search-svc', version: 'v12*' }).rows)).toEqual([17, 11, 10, 8, 7, 5, 4]);
    expect(ids(reads.history({ app: 'search-svc', version: 'v12.*' }).rows)).toEqual([5]);
    expect(ids(reads.history({ app: 'search-svc', version: 'v1' }).rows)).toEqual([16]);
    expect(ids(reads.history({ app: 'search-svc', version: '*' }).rows)).toHaveLength(12);
    expect(reads.history({ app: 'search-svc', version: 'v9*' }).rows).toEqual([]);
  });

  it('by person: the id, or the name shown, in any case', () => {
    expect(ids(reads.history({ app: 'search-svc', person: 'carol' }).rows)).toEqual([17, 16, 13, 10, 8, 5, 3, 1]);
    expect(ids(reads.history({ app: 'search-svc', person: 'U0BOB0001' }).rows)).toEqual([11, 4]);
    expect(ids(reads.history({ app: 'search-svc', person: 'Bob' }).rows)).toEqual([11, 4]);
    // Whole, in any case.
    expect(ids(reads.history({ app: 'search-svc', person: 'bob' }).rows)).toEqual([11, 4]);
    expect(ids(reads.history({ app: 'search-svc', person: 'CAROL' }).rows)).toEqual([17, 16, 13, 10, 8, 5, 3, 1]);
    expect(reads.history({ app: 'search-svc', person: 'car' }).rows).toEqual([]);
    expect(reads.history({ app: 'search-svc', person: 'dave' }).rows).toEqual([]);
  });

  it('by outcome, or not ended yet', () => {
    expect(ids(reads.history({ app: 'search-svc', outcome: 'failed' }).rows)).toEqual([13, 11, 3]);
    expect(ids(reads.history({ app: 'search-svc', outcome: 'succeeded' }).rows)).toEqual([16, 10, 7, 4, 1]);
    expect(ids(reads.history({ app: 'search-svc', outcome: 'active' }).rows)).toEqual([17]);
    expect(ids(reads.history({ app: 'web-frontend', outcome: 'active' }).rows)).toEqual([18]);
  });

  it('by when it was requested: from inclusive, to exclusive', () => {
    expect(ids(reads.history({ app: 'search-svc', from: t(7), to: t(10) }).rows)).toEqual([13, 12, 11, 10]);
    expect(ids(reads.history({ app: 'search-svc', from: t(10) }).rows)).toEqual([17, 16]);
    expect(ids(reads.history({ app: 'search-svc', to: t(1, 11) }).rows)).toEqual([3, 1]);
  });

  it('filters combined, and paged', () => {
    expect(ids(reads.history({ app: 'search-svc', person: 'carol', outcome: 'failed', from: t(7) }).rows)).toEqual([13]);
    expect(ids(reads.history({ app: 'search-svc', person: 'carol', version: 'v12*' }).rows)).toEqual([17, 10, 8, 5]);
    const p1 = reads.history({ app: 'search-svc', version: 'v12*', limit: 3 });
    expect([ids(p1.rows), p1.nextBefore]).toEqual([[17, 11, 10], 10]);
    const p2 = reads.history({ app: 'search-svc', version: 'v12*', limit: 3, before: 10 });
    expect([ids(p2.rows), p2.nextBefore]).toEqual([[8, 7, 5], 5]);
    const p3 = reads.history({ app: 'search-svc', version: 'v12*', limit: 3, before: 5 });
    expect([ids(p3.rows), p3.nextBefore]).toEqual([[4], null]);
    expect(ids(reads.history({ app: 'web-frontend', person: 'dave', from: t(7) }).rows)).toEqual([14]);
  });
});

describe('the search box', () => {
  it('“what did carol deploy this week”: carol, Monday to Sunday', () => {
    const r = reads.search('what did carol deploy this week', clock.now());
    expect(r.understood).toBe('Deploys of every app, requested by carol, requested this week (2026-11-23 to 2026-11-29, UTC).');
    expect(r.hits.map((h) => h.deploy.id)).toEqual([17, 16, 13, 10]);
    expect(r.hits.map((h) => h.why)).toEqual(Array(4).fill('carol, this week'));
  });

  it('“what failed yesterday”', () => {
    const r = reads.search('what failed yesterday?', clock.now());
    expect(r.understood).toBe('Deploys of every app, that failed, requested yesterday (2026-11-25, UTC).');
    expect(r.hits.map((h) => [h.deploy.id, h.why])).toEqual([
      [14, 'failed yesterday'],
      [13, 'failed yesterday'],
    ]);
  });

  it('“which deploys put v123 anywhere”: that version in every app', () => {
    const r = reads.search('which deploys put v123 anywhere', clock.now());
    expect(r.understood).toBe('Deploys of every app, version v123.');
    expect(r.hits.map((h) => [h.deploy.id, h.deploy.app, h.why])).toEqual([
      [10, 'search-svc', 'version v123'],
      [9, 'web-frontend', 'version v123'],
      [8, 'search-svc', 'version v123'],
    ]);
  });

  it('versions by prefix, across apps', () => {
    expect(hitIds('v12*')).toEqual([18, 17, 15, 14, 11, 10, 9, 8, 7, 6, 5, 4]);
    expect(reads.search('v12*', clock.now()).understood).toBe('Deploys of every app, versions starting v12.');
    expect(hitIds('version v12.1')).toEqual([5]);
  });

  it('time phrases: weeks from Monday, days in UTC, ISO dates, since', () => {
    expect(hitIds('last week')).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(hitIds('today')).toEqual([18, 17, 16]);
    expect(hitIds('2026-11-17')).toEqual([4, 3]);
    expect(hitIds('since 2026-11-25')).toEqual([18, 17, 16, 15, 14, 13]);
    expect(hitIds("carol's deploys in the last 7 days")).toEqual([17, 16, 13, 10, 8]);
    expect(reads.search('last 7 days', clock.now()).understood).toBe('Deploys of every app, requested last 7 days (2026-11-20 to 2026-11-26, UTC).');
    expect(reads.search('2026-11-17', clock.now()).understood).toBe('Deploys of every app, requested on 2026-11-17 (UTC).');
  });

  it('apps, outcomes, people in any case, and “by” for anyone', () => {
    expect(hitIds('search-svc running')).toEqual([17]);
    expect(hitIds('running')).toEqual([18, 17]);
    expect(hitIds('queued')).toEqual([18, 17]);
    expect(hitIds('timed out last week')).toEqual([8]);
    expect(hitIds('CAROL FAILED')).toEqual([13, 3]);
    expect(hitIds('u0bob0001')).toEqual([11, 4]);
    expect(hitIds('by Bob')).toEqual([11, 4]);
    expect(reads.search('by Bob', clock.now()).hits[0]!.why).toBe('U0BOB0001 (Bob)');
    expect(hitIds('search-svc v123 carol')).toEqual([10, 8]);
    expect(hitIds('rejected')).toEqual([5]);
    expect(hitIds('web-frontend')).toEqual([18, 14, 9, 2]);
    expect(reads.search('web-frontend', clock.now(), 2).hits).toHaveLength(2);
  });

  it('says what it does not understand, with examples', () => {
    const unknown = reads.search('banana split yesterday', clock.now());
    expect(unknown.hits).toEqual([]);
    expect(unknown.problem).toMatch(/^I don't know “banana”, “split”: not an app, a person any app lists, a version, an outcome or a time\. Try “v123”, “v12\*”, “carol this week”/);
    expect(reads.search('', clock.now()).problem).toMatch(/^Search by app, version, person, outcome or time: try “v123”/);
    expect(reads.search('what did', clock.now()).problem).toMatch(/^Search by app/);
    expect(reads.search('failed succeeded', clock.now()).problem).toMatch(/^One of each at a time: an outcome \(succeeded\) comes after another/);
    expect(reads.search('v12 v13', clock.now()).problem).toMatch(/a version \(v13\)/);
    expect(reads.search('last 400 days', clock.now()).problem).toMatch(/“last 400 days \(1 to 366 days\)”/);
    expect(reads.search('2026-02-30', clock.now()).problem).toMatch(/“2026-02-30”/);
    expect(reads.search('*', clock.now()).problem).toMatch(/“\*”/);
    expect(reads.search('123', clock.now()).problem).toMatch(/“123”/);
  });

  it('weeks start on Monday, in UTC', () => {
    const vocab = vocabularyOf(apps);
    const sunday = Date.UTC(2026, 10, 29, 23, 59);
    const monday = Date.UTC(2026, 10, 30, 0, 0);
    const week = (text: string, now: number): [string, string] => {
      const p = parseSearch(text, now, vocab);
      if (!p.ok) throw new Error(p.problem);
      return [new Date(p.filter.time!.from).toISOString(), new Date(p.filter.time!.to).toISOString()];
    };
    expect(week('this week', sunday)).toEqual(['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z']);
    expect(week('last week', sunday)).toEqual(['2026-11-16T00:00:00.000Z', '2026-11-23T00:00:00.000Z']);
    expect(week('this week', monday)).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    expect(week('yesterday', monday)).toEqual(['2026-11-29T00:00:00.000Z', '2026-11-30T00:00:00.000Z']);
    expect(week('last 1 day', monday)).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
  });
});

describe('small pieces', () => {
  it('hardware and schedules in words', () => {
    expect(hardwareText(apps.get('web-frontend')!.hardware)).toBe('nodes 2–10 × m7g.large|c7g.large, spot arm64');
    expect(hardwareText(apps.get('cache-worker')!.hardware)).toBe('fargate');
    expect(hardwareText(apps.get('search-svc')!.hardware)).toMatch(/^auto: .+, ≤\d+ nodes, (on-demand|spot) (amd64|arm64)$/);
    expect(['0 3 * * *', '30 2 * * 1', '0 9 * * 1-5', '15 * * * *', '*/10 * * * *', '0 0 3 * * *', '0 3 1 * *'].map(cronInWords)).toEqual([
      'every day at 03:00',
      'every Monday at 02:30',
      'Monday to Friday at 09:00',
      'every hour at :15',
      'every 10 minutes',
      'every day at 03:00',
      '0 3 1 * *',
    ]);
  });

  it('a Slack thread link needs a channel id and a thread ts', () => {
    expect(slackThreadUrl({ channel: 'C0SEARCH1', ts: '1764493200.000100' }, { threadChannel: '#search-team', threadTs: null })).toBe('https://slack.com/archives/C0SEARCH1/p1764493200000100');
    expect(slackThreadUrl(undefined, { threadChannel: 'C0SEARCH1', threadTs: '1764493200.000100' })).toBe('https://slack.com/archives/C0SEARCH1/p1764493200000100');
    expect(slackThreadUrl(undefined, { threadChannel: '#search-team', threadTs: null })).toBeNull();
    expect(slackThreadUrl(undefined, { threadChannel: '#search-team', threadTs: '1764493200.000100' })).toBeNull();
  });
});

describe('the fleet and a deploy’s page, on a running server', () => {
  const serverClock = new ManualClock();
  let h: Harness;
  let live: number;
  let draining: number;
  let running: number;
  let fleetReads: ConsoleReads;

  beforeAll(async () => {
    h = await startHarness({}, { clock: serverClock });
    live = await blueGreen(h, serverClock, 'search-svc', 'v1');
    // v2 cut over and drains v1's cluster: live is v2, v1 drains.
    draining = await deploy(h, 'carol', 'search-svc', 'v2', '--strategy', 'blue-green');
    await serverClock.runUntil(() => state(h, draining) === 'awaiting_approval');
    expect((await h.cmd('bob', 'approve', String(draining))).status).toBe(200);
    await serverClock.runUntil(() => state(h, draining) === 'tearing_down');
    await serverClock.advance(10);
    expect((await h.cmd('dave', 'lock', 'web-frontend', 'release', 'freeze')).status).toBe(200);
    running = await deploy(h, 'erin', 'cache-worker', 'v7');
    await serverClock.runUntil(() => h.k.store.deploys.steps(running).some((s) => s.state === 'running'));
    fleetReads = createConsoleReads({
      store: h.k.store,
      apps: h.k.apps,
      core: h.k.core,
      status: () => h.k.core.statuses(),
      nextRefresh: nextRefreshFrom(h.k.schedules),
    });
  }, 60_000);
  afterAll(() => h?.close());

  it('one row per app, with what status says serves it, drains, holds it and runs', () => {
    const rows = fleetReads.fleet(serverClock.now());
    expect(rows.map((r) => r.app)).toEqual([...h.k.apps.keys()]);
    const by = new Map(rows.map((r) => [r.app, r]));

    const search = by.get('search-svc')!;
    expect(search.live).toMatchObject({ version: 'v2', deployId: draining });
    expect(search.draining).toMatchObject({ version: 'v1', deployId: draining, rollback: true });
    expect(search.active).toEqual([expect.objectContaining({ id: draining, version: 'v2', state: 'tearing_down', step: 'teardown', requestedBy: 'carol' })]);
    expect(search.lastDeploy).toMatchObject({ id: live, version: 'v1', state: 'succeeded', requestedBy: 'carol', kind: 'deploy' });
    expect(search.lock).toBeNull();
    expect(search.nextRefresh).toMatchObject({ schedule: 'every day at 03:00', cron: '0 3 * * *', timezone: 'UTC', at: expect.any(Number) });
    expect(search).toMatchObject({ strategy: 'blue-green', capacity: 'auto' });

    const web = by.get('web-frontend')!;
    expect(web.lock).toMatchObject({ lockedBy: 'dave', reason: 'release freeze' });
    expect(web).toMatchObject({ live: null, lastDeploy: null, active: [], hardware: 'nodes 2–10 × m7g.large|c7g.large, spot arm64', spot: true, arch: 'arm64', minNodes: 2, maxNodes: 10 });
    expect(web.nextRefresh).toBeNull();

    const cache = by.get('cache-worker')!;
    expect(cache).toMatchObject({ hardware: 'fargate', capacity: 'fargate', live: null, lastDeploy: null, lock: null });
    expect(cache.active).toHaveLength(1);
    const a = cache.active[0]!;
    expect(a).toMatchObject({ id: running, version: 'v7', requestedBy: 'erin' });
    expect(a.step).toMatch(/^(build|provision)( \+ (build|provision))?$/);
    const d = h.k.store.deploys.get(running)!;
    expect(a.elapsedMs).toBe(serverClock.now() - (d.startedAt ?? d.createdAt));
    expect(cache.nextRefresh).toMatchObject({ schedule: 'every day at 02:30', cron: '30 2 * * *' });
  });

  it('reading the fleet records no command: a page view is not something anyone asked kubecontrol to do', () => {
    const before = h.k.store.db.prepare('SELECT count(*) AS n FROM commands').get() as { n: number };
    fleetReads.fleet(serverClock.now());
    fleetReads.fleet(serverClock.now());
    expect(h.k.store.db.prepare('SELECT count(*) AS n FROM commands').get()).toEqual(before);
  });

  it('a deploy’s page: the core’s view, every event, the ledger, the approval, the thread, the plan', () => {
    const page = fleetReads.deployPage(draining)!;
    expect(page.deploy).toMatchObject({ id: draining, app: 'search-svc', version: 'v2', state: 'tearing_down' });
    expect(page.deploy.steps.find((s) => s.name === 'cutover')).toMatchObject({ state: 'succeeded' });
    expect(page.events.length).toBeGreaterThan(5);
    expect(page.events.map((e) => e.id)).toEqual([...page.events.map((e) => e.id)].sort((x, y) => x - y));
    expect(page.events[0]).toMatchObject({ kind: 'command' });
    expect(page.resources.length).toBeGreaterThan(0);
    expect(page.resources.every((r) => r.deployId === draining)).toBe(true);
    expect(page.approval).toMatchObject({ decision: 'approved', actor: 'bob' });
    expect(page.slackUrl).toBeNull();
    expect(page.plan).toBeNull();

    h.k.store.slack.create(draining, 'C0SEARCH1', '1764493200.000100');
    expect(fleetReads.deployPage(draining)!.slackUrl).toBe('https://slack.com/archives/C0SEARCH1/p1764493200000100');
    h.k.store.events.append({ deployId: live, kind: 'progress', message: 'plan', data: { plan: ['create cluster search-svc-1', 'change DNS search.example.com'] } });
    expect(fleetReads.deployPage(live)!.plan).toEqual(['create cluster search-svc-1', 'change DNS search.example.com']);
    expect(fleetReads.deployPage(99_999)).toBeUndefined();
  });

  it('history and DORA through the same reads', () => {
    expect(fleetReads.history({ app: 'search-svc' }).rows.map((d) => d.id)).toEqual([draining, live]);
    const report = fleetReads.dora('search-svc', serverClock.now() - DAY, serverClock.now() + 1);
    // v1 went live; v2 has not ended yet (it drains), so it is not a change yet.
    expect(report).toMatchObject({ deploys: 1, changes: 1, failedChanges: 0, changeFailureRate: 0 });
  });
});
