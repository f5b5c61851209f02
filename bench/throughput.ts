/**
 * Deployer throughput: 200 blue/green deploys across 50 apps (4 each, accepted
 * interleaved, all at once) on the sandbox with zero simulated delay (scale 0:
 * every simulated wait is a zero-length timer), through the real server
 * (startKubecontrol with KubeApps generated in memory) and the command core.
 * Each deploy is approved by bob the moment it asks. Measured: deploys per
 * second (first accept → last deploy ended), the concurrency cap (the deployer's
 * running phases, sampled at every event and every millisecond), per-app order
 * (each app's deploys leave `queued` in the order accepted, and none starts
 * before the one before it ended), and peak RSS of the process.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runAfterAck } from '../commands/core.js';
import { loadConfig } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { startKubecontrol } from '../system/compose.js';
// What `npm start` (system/main.ts) loads besides the composition root — the Slack surface, even with Slack off —
// so that the RSS measured here is the server's as npm start runs it (≈ 20 MB under tsx).
import '../bot/index.js';
import '../system/server-file.js';
import { isTerminal } from '../store/index.js';
import { appName, fleetApps } from './fleet.js';
import { forkBench, rssSampler, until } from './lib.js';

export interface ThroughputReport {
  readonly deploys: number;
  readonly apps: number;
  readonly concurrency: number;
  readonly wallMs: number;
  readonly perSecond: number;
  readonly maxRunning: number;
  readonly samples: number;
  readonly orderKept: boolean;
  readonly orderProblems: string[];
  readonly outcomes: Record<string, number>;
  readonly peakRss: number;
  readonly rssBefore: number;
  readonly events: number;
}

/** Runs the measurement in a process of its own (as the server would run), so its RSS is the server's alone. */
export async function measureThroughputInChild(opts: { deploys?: number; apps?: number } = {}): Promise<ThroughputReport> {
  const c = forkBench('throughput.ts', ['child', JSON.stringify(opts)], { execArgv: ['--expose-gc'] });
  const { report } = await c.next<{ report: ThroughputReport }>('report');
  await c.exited;
  return report;
}

export async function measureThroughput(opts: { deploys?: number; apps?: number; log?: (l: string) => void } = {}): Promise<ThroughputReport> {
  const log = opts.log ?? (() => undefined);
  const nApps = opts.apps ?? 50;
  const total = opts.deploys ?? 200;
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-throughput-'));
  const config = { ...loadConfig({}), port: 0, host: '127.0.0.1', dbPath: join(dir, 'k.db'), sandboxScale: 0, logLevel: 'silent' };
  const k = await startKubecontrol(config, { logger: createLogger('silent'), apps: fleetApps(nApps) });
  // The server as started, before any deploy: what it costs to be up.
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const rss = rssSampler(10);

  let maxRunning = 0;
  let samples = 0;
  const sample = (): void => {
    samples++;
    maxRunning = Math.max(maxRunning, k.deployer.load.running);
  };
  const sampler = setInterval(sample, 1);
  /** Per deploy: when it left `queued`, and when it ended. */
  const left = new Map<number, number>();
  const ended = new Map<number, number>();
  let events = 0;
  k.store.feed.on('appended', (e) => {
    events++;
    sample();
    if (e.kind !== 'state') return;
    const d = k.store.deploys.get(e.deployId)!;
    if (d.state !== 'queued' && !left.has(d.id)) left.set(d.id, performance.now());
    if (isTerminal(d.state) && !ended.has(d.id)) ended.set(d.id, performance.now());
    if (d.state === 'awaiting_approval') {
      // Approved from outside the listener, as a person would: after the event has been announced.
      setImmediate(() => runAfterAck(k.core.execute({ actor: { id: 'bob' }, surface: 'cli', input: ['approve', String(d.id)] }) as never));
    }
  });

  const ids: { id: number; app: string }[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const app = appName(i % nApps);
    const r = k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['deploy', app, `t${i}`] });
    if (r instanceof Promise || r.kind !== 'deploy_queued') throw new Error(`deploy ${i} was not accepted: ${JSON.stringify(r)}`);
    ids.push({ id: r.deploy.id, app });
    runAfterAck(r);
  }
  await until('every deploy to end', () => ids.every(({ id }) => ended.has(id) && k.store.deploys.get(id)!.cleanup !== 'pending'), 600_000, 2);
  const wallMs = performance.now() - t0;
  clearInterval(sampler);
  const peakRss = rss.stop();

  const outcomes: Record<string, number> = {};
  for (const { id } of ids) {
    const s = k.store.deploys.get(id)!.state;
    outcomes[s] = (outcomes[s] ?? 0) + 1;
  }
  // Per app: left `queued` in the order accepted, and each after the one before it ended.
  const orderProblems: string[] = [];
  for (let a = 0; a < nApps; a++) {
    const mine = ids.filter((d) => d.app === appName(a)).map((d) => d.id);
    for (let j = 1; j < mine.length; j++) {
      const prev = mine[j - 1]!;
      const cur = mine[j]!;
      if (!(left.get(cur)! >= ended.get(prev)!)) orderProblems.push(`${appName(a)}: #${cur} started before #${prev} ended`);
      if (!(left.get(cur)! >= left.get(prev)!)) orderProblems.push(`${appName(a)}: #${cur} started before #${prev}`);
    }
  }
  await k.close();
  log(`  ${total} deploys in ${(wallMs / 1000).toFixed(2)} s (${((1000 * total) / wallMs).toFixed(1)}/s), max running ${maxRunning} of ${config.concurrency}, order ${orderProblems.length ? 'BROKEN' : 'kept'}, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (${(rssBefore / 2 ** 20).toFixed(0)} MiB once started), ${JSON.stringify(outcomes)}`);
  return {
    deploys: total,
    apps: nApps,
    concurrency: config.concurrency,
    wallMs,
    perSecond: (1000 * total) / wallMs,
    maxRunning,
    samples,
    orderKept: orderProblems.length === 0,
    orderProblems: orderProblems.slice(0, 5),
    outcomes,
    peakRss,
    rssBefore,
    events,
  };
}

if (process.argv[2] === 'child' && process.send) {
  const report = await measureThroughput(JSON.parse(process.argv[3] ?? '{}') as { deploys?: number; apps?: number });
  process.send({ type: 'report', report }, () => process.exit(0));
}
