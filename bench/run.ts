/**
 * `npm run bench`: measures what users feel and writes BENCHMARKS.md.
 *
 *  1. a full sandbox blue/green deploy at the default time scale (critical path, approval excluded)
 *  2. the command core's record-then-answer path over HTTP (what the CLI waits for)
 *  3. history reads on 100k deploys / 1M events, with their query plans
 *
 * Timings are reported, never asserted. `BENCH_QUICK=1` shrinks the data set.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { startKubecontrol, type Kubecontrol } from '../system/compose.js';
import { formatDuration } from '../deployer/time.js';
import { Store } from '../store/index.js';
import { measureAckLatency } from './ack-latency.js';

const quick = process.env.BENCH_QUICK === '1';
const out: string[] = [];
const log = (line = ''): void => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const fmt = (ms: number): string => `${ms.toFixed(ms < 1 ? 3 : 1)} ms`;

async function start(scale: number): Promise<Kubecontrol> {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-bench-'));
  return startKubecontrol(
    { ...loadConfig({}), port: 0, dbPath: join(dir, 'k.db'), sandboxScale: scale, logLevel: 'silent' },
    { logger: createLogger('silent') },
  );
}

async function post(url: string, as: string, args: string[]): Promise<{ deploy?: { id: number } }> {
  const res = await fetch(`${url}/api/commands`, { method: 'POST', headers: { 'x-kubecontrol-user': as }, body: JSON.stringify({ args }) });
  return (await res.json()) as { deploy?: { id: number } };
}

function waitState(k: Kubecontrol, id: number, state: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      const d = k.store.deploys.get(id)!;
      if (d.state === state && d.cleanup !== 'pending') {
        k.store.feed.off('appended', check);
        resolve();
      }
    };
    k.store.feed.on('appended', check);
    check();
  });
}

async function fullDeploy(): Promise<void> {
  const scale = 0.005;
  log(`## 1. Full sandbox blue/green deploy (KUBECONTROL_SANDBOX_SCALE=${scale}, the default)`);
  log('');
  log('Two deploys of search-svc in a row (the second also drains and tears down the first cluster); approval is given the moment it is asked for.');
  log('');
  log('| deploy | queued → awaiting approval | approval → succeeded | total (approval wait excluded) | build ∥ provision overlap |');
  log('|---|---|---|---|---|');
  const k = await start(scale);
  for (const version of ['b1', 'b2']) {
    const t0 = performance.now();
    const { deploy } = await post(k.url, 'carol', ['deploy', 'search-svc', version]);
    await waitState(k, deploy!.id, 'awaiting_approval');
    const t1 = performance.now();
    await post(k.url, 'bob', ['approve', String(deploy!.id)]);
    await waitState(k, deploy!.id, 'succeeded');
    const t2 = performance.now();
    const steps = k.store.deploys.steps(deploy!.id);
    const build = steps.find((s) => s.name === 'build')!;
    const prov = steps.find((s) => s.name === 'provision')!;
    const overlap = Math.max(0, Math.min(build.finishedAt!, prov.finishedAt!) - Math.max(build.startedAt!, prov.startedAt!));
    log(`| ${version} | ${formatDuration(t1 - t0)} | ${formatDuration(t2 - t1)} | ${formatDuration(t2 - t0)} | ${formatDuration(overlap)} |`);
  }
  await k.close();
  log('');
  log('At scale 1 the same simulated timings are ≈ 12 min (EKS) + 4 min (node group) ∥ 3 min (build), 1.5 min rollout + 1 min load balancer, 45 s DNS sync, a 2-min drain and ≈ 14 min of teardown.');
  log('');
}

async function commandLatency(): Promise<void> {
  log('## 2. Command round trip over HTTP (record in SQLite, then answer)');
  log('');
  const k = await start(0.001);
  const n = quick ? 300 : 2000;
  const rows: string[] = [];
  for (const [label, as, args] of [
    ['`history search-svc` (read + record)', 'carol', ['history', 'search-svc']],
    ['`deplyo …` typo (refusal recorded)', 'carol', ['deplyo', 'search-svc', 'v1']],
    ['`deploy` by a stranger (refusal recorded)', 'mallory', ['deploy', 'search-svc', 'v1']],
  ] as const) {
    for (let i = 0; i < 50; i++) await post(k.url, as, [...args]);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await post(k.url, as, [...args]);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${label} | ${n} | ${fmt(percentile(times, 50))} | ${fmt(percentile(times, 99))} |`);
  }
  // Accepting a deploy: the command row, the deploy row and its first event in one transaction, then enqueue.
  const times: number[] = [];
  const deploys = quick ? 100 : 300;
  for (let i = 0; i < deploys; i++) {
    const t = performance.now();
    await post(k.url, 'carol', ['deploy', 'search-svc', `load-${i}`]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  rows.push(`| \`deploy\` accepted and queued (record + enqueue) | ${deploys} | ${fmt(percentile(times, 50))} | ${fmt(percentile(times, 99))} |`);
  await k.close();
  log('| command | n | p50 | p99 |');
  log('|---|---|---|---|');
  for (const r of rows) log(r);
  log('');
}

async function ackLatency(): Promise<void> {
  const rate = quick ? 100 : 200;
  const seconds = quick ? 2 : 3;
  log(`## 4. Slack: ack latency of \`/kubeapp\` (signed HTTP into the real Bolt app, ${rate} commands/s for ${seconds} s per case)`);
  log('');
  log('Open loop, measured by the client in the same process. The baseline is a minimal Bolt app that does one SQLite insert, then `ack()`.');
  log('');
  for (const line of await measureAckLatency({ rate, seconds })) log(line);
  log('');
}

function historyReads(): void {
  const deploys = quick ? 10_000 : 100_000;
  const eventsPer = 10;
  log(`## 3. History reads on ${deploys.toLocaleString('en')} deploys / ${(deploys * eventsPer).toLocaleString('en')} events`);
  log('');
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-bench-'));
  const store = Store.open(join(dir, 'big.db'));
  const apps = Array.from({ length: 50 }, (_, i) => `app-${i}`);
  const states = ['succeeded', 'succeeded', 'succeeded', 'failed', 'rejected', 'cancelled'];
  const t0 = performance.now();
  const insertDeploy = store.db.prepare(
    `INSERT INTO deploys (app, version, strategy, state, requested_by, surface, provider, created_at, updated_at, finished_at, to_cluster)
     VALUES (?, ?, 'blue-green', ?, 'carol', 'cli', 'sandbox', ?, ?, ?, ?)`,
  );
  const insertEvent = store.db.prepare("INSERT INTO events (deploy_id, at, kind, message) VALUES (?, ?, 'progress', ?)");
  store.tx(() => {
    for (let i = 1; i <= deploys; i++) {
      const at = 1_700_000_000_000 + i * 60_000;
      insertDeploy.run(apps[i % apps.length], `v${i}`, states[i % states.length], at, at, at + 600_000, `cluster-${i}`);
      for (let e = 0; e < eventsPer; e++) insertEvent.run(i, at + e * 1000, `progress line ${e} of deploy ${i}`);
    }
  });
  log(`Seeded in ${formatDuration(performance.now() - t0)}.`);
  log('');
  const measure = (label: string, sql: string, fn: () => unknown): string => {
    for (let i = 0; i < 200; i++) fn();
    const runs = quick ? 500 : 2000;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      fn();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sqlParams(sql)) as { detail: string }[]).map((p) => p.detail).join('; ');
    return `| ${label} | ${fmt(percentile(times, 50))} | ${fmt(percentile(times, 99))} | ${plan} |`;
  };
  const sqlParams = (sql: string): unknown[] => Array.from({ length: (sql.match(/\?/g) ?? []).length }, (_, i) => (i === 0 ? 'app-7' : 10));
  log('| query | p50 | p99 | plan |');
  log('|---|---|---|---|');
  log(measure('`history app --limit 10`', 'SELECT * FROM deploys WHERE app = ? ORDER BY id DESC LIMIT ?', () => store.deploys.history('app-7', 10)));
  log(measure("live version (last succeeded)", "SELECT * FROM deploys WHERE app = ? AND state = 'succeeded' ORDER BY id DESC LIMIT 1", () => store.deploys.lastSucceeded('app-7')));
  log(measure('events of one deploy', 'SELECT * FROM events WHERE deploy_id = ? AND id > ? ORDER BY id LIMIT 1000', () => store.events.after(deploys / 2, 0)));
  log(measure('active deploys (status)', "SELECT * FROM deploys WHERE state NOT IN ('succeeded','failed','rejected','timed_out','cancelled') ORDER BY id", () => store.deploys.active()));
  store.close();
  log('');
}

const started = performance.now();
log('# kubecontrol benchmarks');
log('');
log(`Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}${quick ? ' (BENCH_QUICK: reduced sizes)' : ''}.`);
log('Figures are medians/percentiles of one run on a shared machine: compare them, do not treat them as limits.');
log('');
await fullDeploy();
await commandLatency();
historyReads();
await ackLatency();
log(`_Bench took ${formatDuration(performance.now() - started)}._`);
writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), `${out.join('\n')}\n`);
process.exit(0);
