/**
 * Reads at the seed's scale: 60 apps, 100k deploys, 1M events (BENCH_QUICK: a
 * tenth). The store is seeded with plain INSERTs in one transaction (the
 * repositories' own write paths would take minutes for 100k deploys and are
 * not what is measured), then the real server is started on that file
 * (startKubecontrol, sandbox provider on a ManualClock so nothing moves) and
 * every read is called through its owner: DeploysRepo/EventsRepo (history,
 * one deploy's events), the command core (`status`, as a command: it is
 * recorded), ConsoleRepo (store/console.ts: search by version, prefix, person,
 * the fleet's and DORA's statements) and createConsoleReads (console/reads.ts:
 * each page's reads as the pages call them). No ANALYZE is run: a production
 * database has none. EXPLAIN QUERY PLAN of each statement is printed beside it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createConsoleReads } from '../console/reads.js';
import { ManualClock } from '../deployer/clock.js';
import { existingReadStatements, type NamedStatement } from '../store/console.js';
import { Store } from '../store/index.js';
import { loadConfig } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { startKubecontrol } from '../system/compose.js';
import { appName, fleetApps, PEOPLE } from './fleet.js';
import { percentiles, type Percentiles } from './lib.js';

const MIN = 60_000;
const DAY = 1440 * MIN;

export interface ReadRow {
  readonly label: string;
  readonly what: string;
  readonly lat: Percentiles;
  readonly target: number;
  readonly plan: string;
  readonly rows?: number;
}

export interface ReadsReport {
  readonly apps: number;
  readonly deploys: number;
  readonly events: number;
  readonly steps: number;
  readonly seedMs: number;
  readonly fileMiB: number;
  readonly rows: ReadRow[];
}

/** Version of an app's k-th deploy: 1.0.0, 1.0.1, … 1.0.9, 1.1.0, … (10 patches per minor, 100 minors per major). */
const versionOf = (k: number): string => `${1 + Math.floor(k / 1000)}.${Math.floor(k / 10) % 100}.${k % 10}`;
/** A small deterministic PRNG (mulberry32): the same data set every run, without the correlations of modular arithmetic. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ENDS = ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'succeeded', 'rejected', 'succeeded', 'cancelled', 'succeeded', 'timed_out'] as const;

function seed(path: string, apps: number, deploys: number, eventsPer: number, start: number): { steps: number; end: number } {
  const store = Store.open(path, { now: () => start });
  const db = store.db;
  const insDeploy = db.prepare(
    `INSERT INTO deploys (id, app, version, strategy, kind, state, requested_by, requested_by_name, surface, provider, created_at, started_at, finished_at, updated_at, to_cluster, endpoint, thread_channel)
     VALUES (@id, @app, @version, @strategy, @kind, @state, @by, @byName, @surface, 'sandbox', @created, @started, @finished, @updated, @cluster, @endpoint, @channel)`,
  );
  const insStep = db.prepare('INSERT INTO steps (deploy_id, name, state, started_at, finished_at, detail) VALUES (?, ?, ?, ?, ?, ?)');
  const insEvent = db.prepare('INSERT INTO events (deploy_id, at, kind, step, level, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insEnv = db.prepare(
    `INSERT INTO environments (app, name, provider, created_by, state, version, endpoint, created_at, updated_at, live_since) VALUES (?, ?, 'sandbox', ?, 'live', ?, ?, ?, ?, ?)`,
  );
  const perApp = new Array<number>(apps).fill(0);
  const lastSuccess = new Map<number, { id: number; version: string; cluster: string; at: number }>();
  const every = (730 * DAY) / deploys; // two years of history
  let steps = 0;
  let at = start;
  const rnd = random(15);
  store.tx(() => {
    for (let id = 1; id <= deploys; id++) {
      at = start + Math.round(id * every);
      const a = Math.floor(rnd() * apps);
      const k = perApp[a]!++;
      const strategy = id % 4 === 0 ? 'rolling' : 'blue-green';
      const active = id > deploys - 3; // the last few are still running
      const state = active ? 'building' : ENDS[Math.floor(rnd() * ENDS.length)]!;
      const person = PEOPLE[Math.floor(rnd() * PEOPLE.length)]!;
      const slack = person.startsWith('U0');
      const finished = active ? null : at + 20 * MIN;
      const cluster = `${appName(a)}-${id}`;
      insDeploy.run({
        id,
        app: appName(a),
        version: versionOf(k),
        strategy,
        kind: id % 50 === 0 ? 'rollback' : id % 37 === 0 ? 'refresh' : 'deploy',
        state,
        by: person,
        byName: slack ? 'Carol' : id % 3 === 0 ? person[0]!.toUpperCase() + person.slice(1) : null,
        surface: slack ? 'slack' : 'cli',
        created: at,
        started: at + 1000,
        finished,
        updated: finished ?? at,
        cluster,
        endpoint: `${cluster}.elb.sandbox.local`,
        channel: `#team-${a}`,
      });
      const names = strategy === 'rolling' ? ['build', 'update-images'] : ['build', 'provision', 'deploy', 'approval', 'cutover', 'teardown'];
      names.forEach((n, i) => {
        const ok = state === 'succeeded' || i < names.length - 2;
        insStep.run(id, n, active ? (i === 0 ? 'running' : 'pending') : ok ? 'succeeded' : i === names.length - 2 ? 'failed' : 'skipped', at + i * 60_000, active ? null : at + (i + 1) * 60_000, null);
        steps++;
      });
      for (let e = 0; e < eventsPer; e++) {
        const data = e === 0 ? JSON.stringify({ actor: person, surface: 'cli', commandId: id }) : e === 1 && id % 20 === 0 ? JSON.stringify({ plan: ['+ cluster', '~ dns'] }) : null;
        insEvent.run(id, at + e * 30_000, e === 0 ? 'command' : e === eventsPer - 1 ? 'state' : 'progress', e === 0 ? null : names[e % names.length]!, 'info', `event ${e} of deploy ${id}: [sandbox] something happened on ${cluster}`, data);
      }
      if (state === 'succeeded' && strategy === 'blue-green') lastSuccess.set(a, { id, version: versionOf(k), cluster, at: finished! });
    }
    for (const [a, s] of lastSuccess) insEnv.run(appName(a), s.cluster, s.id, s.version, `${s.cluster}.elb.sandbox.local`, s.at, s.at, s.at);
  });
  store.close();
  return { steps, end: at };
}

/** p-percentiles of `fn` over `runs` calls (after `warm` calls), each call given its iteration number. */
function time(fn: (i: number) => unknown, runs: number, warm = Math.min(200, runs)): { lat: Percentiles; rows?: number } {
  let rows: number | undefined;
  for (let i = 0; i < warm; i++) fn(i);
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = fn(i + warm);
    t.push(performance.now() - t0);
    if (i === 0) rows = Array.isArray(r) ? r.length : r && typeof r === 'object' && 'rows' in r && Array.isArray((r as { rows: unknown[] }).rows) ? (r as { rows: unknown[] }).rows.length : undefined;
  }
  return { lat: percentiles(t), rows };
}

export async function measureReads(opts: { quick: boolean; log?: (l: string) => void }): Promise<ReadsReport> {
  const log = opts.log ?? (() => undefined);
  const apps = 60;
  const deploys = opts.quick ? 10_000 : 100_000;
  const eventsPer = 10;
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-reads-'));
  const path = join(dir, 'reads.db');
  const start = Date.UTC(2024, 10, 30);
  const t0 = performance.now();
  const { steps, end } = seed(path, apps, deploys, eventsPer, start);
  const seedMs = performance.now() - t0;
  log(`  seeded ${deploys} deploys, ${deploys * eventsPer} events, ${steps} steps in ${(seedMs / 1000).toFixed(1)} s`);

  // The real server on that file; a ManualClock so that the running deploys stay where they are.
  const clock = new ManualClock(end + 60 * MIN);
  const k = await startKubecontrol({ ...loadConfig({}), port: 0, host: '127.0.0.1', dbPath: path, logLevel: 'silent' }, { logger: createLogger('silent'), apps: fleetApps(apps), clock });
  const store = k.store;
  const reads = createConsoleReads({ store, apps: k.apps, core: k.core, status: () => k.core.statuses() });
  const now = clock.now();
  const runs = opts.quick ? 300 : 2000;
  const app = (i: number): string => appName((i * 17) % apps);
  const id = (i: number): number => 1 + ((i * 7919) % (deploys - 10));
  const versions = (i: number): string => versionOf((i * 31) % Math.floor(deploys / apps));
  const minor = (i: number): string => `1.${(i * 7) % 100}.`;

  const statements = new Map<string, NamedStatement>([...store.console.statements(), ...existingReadStatements(store)].map((s) => [s.name, s]));
  const planOf = (name: string, values: Record<string, unknown>, positional: unknown[] = []): string => {
    const s = statements.get(name);
    if (!s) return `(no statement ${name})`;
    const named = [...new Set([...s.sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
    const args = named.length ? [Object.fromEntries(named.map((p) => [p, values[p] ?? null]))] : positional;
    return (store.db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
  };
  const v = { app: 'app-07', version: '1.42.7', lo: '1.42.', hi: '1.42/', person: 'carol', state: 'failed', limit: 26, from: now - 30 * DAY, to: now, after: deploys - 100, apps: JSON.stringify([...k.apps.keys()]) };
  const statusPlan = `${planOf('environments.liveWithLastSuccessStmt', v)} ‖ ${planOf('deploys.activeStmt', v)} ‖ locks read whole`;

  const rows: ReadRow[] = [];
  const add = (label: string, what: string, target: number, plan: string, r: { lat: Percentiles; rows?: number }): void => {
    rows.push({ label, what, target, plan, lat: r.lat, rows: r.rows });
    log(`  ${label.padEnd(44)} p50 ${r.lat.p50.toFixed(3)} p99 ${r.lat.p99.toFixed(3)} ms (${r.rows ?? '-'} rows)`);
  };

  // The CLI's and Slack's reads.
  add('`history APP` (10 newest)', 'DeploysRepo.history', 1, planOf('deploys.historyStmt', {}, ['app-07', 10]), time((i) => store.deploys.history(app(i), 10), runs));
  add('`status` (all 60 apps; a recorded command)', "CommandCore.execute(['status'])", 1, statusPlan, time(() => k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['status'] }), runs));
  add('status of all apps, not recorded (console)', 'CommandCore.statuses', 1, 'as `status`', time(() => k.core.statuses(), runs));
  add('`status APP` (a recorded command)', "CommandCore.execute(['status', APP])", 1, `${planOf('environments.liveStmt', v, ['app-07'])} ‖ ${planOf('deploys.lastSuccessStmt', v, ['app-07'])}`, time((i) => k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['status', app(i)] }), runs));
  add("one deploy's events (10)", 'EventsRepo.after', 1, planOf('events.afterStmt', {}, [id(1), 0, 1000]), time((i) => store.events.after(id(i), 0), runs));
  // The search box's reads, straight on ConsoleRepo.
  add('search: version, exact (1.42.7: 60 rows)', 'ConsoleRepo.find {version: exact}', 1, planOf('find version:exact', v), time((i) => store.console.find({ version: { exact: versions(i) } }), runs));
  add('search: version prefix (1.42.*: 600 rows)', 'ConsoleRepo.find {version: prefix}', 2, planOf('find version:prefix', v), time((i) => store.console.find({ version: { prefix: minor(i) } }), runs));
  add('search: version prefix, broad (1.4*: 6,600 rows)', 'ConsoleRepo.find {version: prefix}', 2, planOf('find version:prefix', { ...v, lo: '1.4', hi: '1.5' }), time(() => store.console.find({ version: { prefix: '1.4' } }), runs));
  add('search: person (carol, any case)', 'ConsoleRepo.find {person}', 1, planOf('find person', v), time((i) => store.console.find({ person: i % 2 ? 'carol' : 'Grace' }), runs));
  add('search: person, next page', 'ConsoleRepo.find {person, before}', 1, planOf('find person+before', { ...v, before: deploys / 2 }), time((i) => store.console.find({ person: 'carol', before: deploys - ((i * 97) % deploys) }), runs));
  // Each console page, through createConsoleReads as the pages call it.
  add('fleet page (60 apps: status + newest ended + unfinished)', 'ConsoleReads.fleet', 1, `status ‖ ${planOf('lastEndedOf', v)} ‖ ${planOf('active', v)}`, time(() => reads.fleet(now), runs));
  add('app page: history, first page', 'ConsoleReads.history {app}', 1, planOf('find app', v), time((i) => reads.history({ app: app(i) }), runs));
  add('app page: history, page 20', 'ConsoleReads.history {app, before}', 1, planOf('find app+before', { ...v, before: deploys / 2 }), time((i) => reads.history({ app: app(i), before: deploys - 20 * 25 * apps }), runs));
  add('app page: history by person', 'ConsoleReads.history {app, person}', 1, planOf('find app+person', v), time((i) => reads.history({ app: app(i), person: 'carol' }), runs));
  add('app page: history by outcome (failed)', 'ConsoleReads.history {app, outcome}', 1, planOf('find app+outcome:unsuccessful', v), time((i) => reads.history({ app: app(i), outcome: 'failed' }), runs));
  add('app page: history by version prefix', 'ConsoleReads.history {app, version*}', 2, planOf('find app+version:prefix', v), time((i) => reads.history({ app: app(i), version: `${minor(i)}*` }), runs));
  add('app page: history, last 7 days', 'ConsoleReads.history {app, from, to}', 1, planOf('find app+from+to+narrow', { ...v, from: now - 7 * DAY }), time((i) => reads.history({ app: app(i), from: now - 7 * DAY, to: now }), runs));
  add('app page: DORA, 30 days', 'ConsoleReads.dora', 1, `${planOf('doraRows', v)} ‖ ${planOf('nextLive', v)}`, time((i) => reads.dora(app(i), now - 30 * DAY, now), runs));
  add('app page: DORA, 90 days', 'ConsoleReads.dora', 1, planOf('doraRows', { ...v, from: now - 90 * DAY }), time((i) => reads.dora(app(i), now - 90 * DAY, now), runs));
  add('deploy page (view, events, resources, plan)', 'ConsoleReads.deployPage', 1, `${planOf('events.afterStmt', {}, [id(1), 0, 1000])} ‖ ${planOf('eventWithPlan', v, [id(1)])}`, time((i) => reads.deployPage(id(i)), runs));
  add('search box: "1.42.7"', 'ConsoleReads.search', 1, 'as version exact', time(() => reads.search('1.42.7', now), runs));
  add('search box: "what did carol deploy this week"', 'ConsoleReads.search', 1, planOf('find person+from+to+narrow', v), time(() => reads.search('what did carol deploy this week', now), runs));
  add('search box: "failed yesterday"', 'ConsoleReads.search', 1, planOf('find outcome:unsuccessful+from+to+narrow', v), time(() => reads.search('failed yesterday', now), runs));
  add('search box: "app-07 v1.4*"', 'ConsoleReads.search', 2, planOf('find app+version:prefix', v), time(() => reads.search('app-07 1.4*', now), runs));

  const { size } = (await import('node:fs')).statSync(path);
  await k.close();
  return { apps, deploys, events: deploys * eventsPer, steps, seedMs, fileMiB: size / 2 ** 20, rows };
}
