/**
 * Ack latency of `/kubeapp`, open loop, from a separate process.
 *
 * Three processes: this one (the fake Slack Web API and response_urls, the
 * bookkeeping), the server (bench/ack-server.ts: the real kubecontrol with its
 * Bolt app, or the floor), and the load generator (bench/ack-load.ts). For each
 * run, rate and case a fresh server is started, warmed up at the case's rate,
 * then measured; its CPU is read from inside it (process.cpuUsage over IPC)
 * before and after the measured period. Runs alternate the order of the cases
 * (floor first, then floor last), and each figure is the median of the runs.
 *
 * Cases: `help`; a refused deploy (someone who may not deploy the app: the
 * refusal is recorded); an accepted deploy (command, deploy row and first event
 * in one transaction, then the deploy joins the line and its thread card is
 * posted to Slack); and the floor.
 */
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { FakeSlack } from '../test/fakes/slack-api.js';
import { ALICE, BOB, CAROL, DAVE, MALLORY } from '../test/fakes/slack-harness.js';
import type { LoadJob, LoadResult } from './ack-load.js';
import { forkBench, median, percentiles, type BenchChild, type Percentiles } from './lib.js';

const SECRET = 'bench-signing-secret-0123456789abcdef';

export type AckCase = 'floor' | 'help' | 'refused' | 'accepted';
export const CASES: readonly AckCase[] = ['floor', 'help', 'refused', 'accepted'];
export const CASE_LABEL: Record<AckCase, string> = {
  floor: 'floor: minimal Bolt app, 1 WAL insert + ack',
  help: '`help`',
  refused: '`deploy` refused (not a deployer; refusal recorded)',
  accepted: '`deploy` accepted (unique version, queued, card posted)',
};

/** What each case sends, as whom, and a piece of the answer it must get. */
const JOBS: Record<AckCase, Pick<LoadJob, 'text' | 'userId' | 'expect'>> = {
  floor: { text: 'deploy search-svc v{i}', userId: CAROL, expect: 'recorded: deploy search-svc' },
  help: { text: 'help', userId: CAROL, expect: 'deploy' },
  refused: { text: 'deploy search-svc v{i}', userId: MALLORY, expect: 'may not deploy' },
  accepted: { text: 'deploy search-svc v{i}', userId: CAROL, expect: 'queued' },
};

export interface AckSample {
  readonly run: number;
  readonly rate: number;
  readonly case: AckCase;
  readonly lat: Percentiles;
  readonly errors: number;
  readonly errorKinds: LoadResult['errors'];
  readonly examples: string[];
  /** Server CPU during the measured period, in % of one core. */
  readonly cpu: number;
  /** Server CPU milliseconds per request. */
  readonly cpuPerRequest: number;
  readonly rssAfter: number;
  /** The server's event loop delay during the measured period (ms): p99 and max. */
  readonly loopP99: number;
  readonly loopMax: number;
  readonly sendLagP99: number;
  readonly sent: number;
}

export interface AckOptions {
  readonly runs: number;
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Write a --cpu-prof of every kubecontrol server here. */
  readonly cpuProfDir?: string;
  readonly cases?: readonly AckCase[];
  readonly log?: (line: string) => void;
}

async function stop(c: BenchChild, type = 'stopped'): Promise<void> {
  if (c.proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.send({ type: 'stop' });
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 15_000);
  await Promise.race([c.next(type).catch(() => undefined), exited]);
  await exited;
  clearTimeout(timer);
}

type Cpu = { usage: NodeJS.CpuUsage; rss: number; loopP99: number; loopMax: number };

export async function measureAck(opts: AckOptions): Promise<AckSample[]> {
  const log = opts.log ?? (() => undefined);
  const fake = await FakeSlack.start({
    users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol', [DAVE]: 'Dave', [MALLORY]: 'Mallory' },
    groups: { 'search-team': [DAVE] },
    channels: { '#search-team': 'C0SEARCH', '#web': 'C0WEB0001' },
  });
  const env = { BENCH_SLACK_API: fake.apiUrl, BENCH_SECRET: SECRET };
  const load = forkBench('ack-load.ts', []);
  await load.next('ready');
  const samples: AckSample[] = [];
  const cases = opts.cases ?? CASES;
  if (opts.cpuProfDir) mkdirSync(opts.cpuProfDir, { recursive: true });
  try {
    for (let run = 1; run <= opts.runs; run++) {
      // Alternate: floor first in odd runs, last in even runs.
      const order = run % 2 ? [...cases] : [...cases].reverse();
      for (const rate of opts.rates) {
        for (const c of order) {
          const mode = c === 'floor' ? 'floor' : 'kubecontrol';
          const prof = opts.cpuProfDir && mode === 'kubecontrol' ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
          const server = forkBench('ack-server.ts', [mode], { env, quiet: true, execArgv: prof });
          const { url } = await server.next<{ url: string }>('ready');
          const job = (seconds: number): LoadJob => ({ url, secret: SECRET, rate, seconds, responseUrl: fake.responseUrl(`bench-${run}-${rate}-${c}`), deadlineMs: 3000, ...JOBS[c] });
          // Warm-up at the same rate (JIT, caches, connections), not counted.
          load.proc.send({ type: 'job', job: job(opts.warmupSeconds) });
          await load.next('done');
          server.proc.send({ type: 'cpu' });
          const before = await server.next<Cpu>('cpu');
          const t0 = performance.now();
          load.proc.send({ type: 'job', job: job(opts.seconds) });
          const { result } = await load.next<{ result: LoadResult }>('done');
          server.proc.send({ type: 'cpu' });
          const after = await server.next<Cpu>('cpu');
          const wall = performance.now() - t0;
          await stop(server);
          const cpuMs = (after.usage.user - before.usage.user + after.usage.system - before.usage.system) / 1000;
          const errors = result.errors.status + result.errors.wrong + result.errors.late + result.errors.network;
          const sample: AckSample = {
            run,
            rate,
            case: c,
            lat: percentiles(result.latencies),
            errors,
            errorKinds: result.errors,
            examples: result.examples,
            cpu: (100 * cpuMs) / wall,
            cpuPerRequest: cpuMs / result.sent,
            rssAfter: after.rss,
            loopP99: after.loopP99,
            loopMax: after.loopMax,
            sendLagP99: result.sendLag.p99,
            sent: result.sent,
          };
          samples.push(sample);
          log(
            `  run ${run} ${String(rate).padStart(3)}/s ${c.padEnd(8)} p50 ${sample.lat.p50.toFixed(2)} p99 ${sample.lat.p99.toFixed(2)} p99.9 ${sample.lat.p999.toFixed(2)} max ${sample.lat.max.toFixed(1)} ms · errors ${errors} · cpu ${sample.cpu.toFixed(0)}% (${sample.cpuPerRequest.toFixed(2)} ms/request) · loop delay p99 ${sample.loopP99.toFixed(1)} max ${sample.loopMax.toFixed(1)} ms · gen lag p99 ${result.sendLag.p99.toFixed(2)} ms${errors ? ` · ${result.examples.join(' | ')}` : ''}`,
          );
        }
      }
    }
  } finally {
    await stop(load, 'never');
    await fake.close();
  }
  return samples;
}

/** The median over runs of each figure, per rate and case; ratios per run against that run's floor, then their median. */
export function summarise(samples: readonly AckSample[]): {
  rate: number;
  case: AckCase;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
  cpu: number;
  cpuPerRequest: number;
  loopMax: number;
  p99Ratio: number;
  p50Ratio: number;
  runs: number;
  p99s: number[];
}[] {
  const out = [];
  const rates = [...new Set(samples.map((s) => s.rate))];
  for (const rate of rates) {
    for (const c of CASES) {
      const mine = samples.filter((s) => s.rate === rate && s.case === c);
      if (!mine.length) continue;
      const floorOf = (run: number): AckSample | undefined => samples.find((s) => s.rate === rate && s.case === 'floor' && s.run === run);
      const ratios = (f: (s: AckSample) => number): number[] => mine.map((s) => f(s) / (floorOf(s.run) ? f(floorOf(s.run)!) : NaN));
      out.push({
        rate,
        case: c,
        p50: median(mine.map((s) => s.lat.p50)),
        p99: median(mine.map((s) => s.lat.p99)),
        p999: median(mine.map((s) => s.lat.p999)),
        max: median(mine.map((s) => s.lat.max)),
        errors: median(mine.map((s) => s.errors)),
        cpu: median(mine.map((s) => s.cpu)),
        cpuPerRequest: median(mine.map((s) => s.cpuPerRequest)),
        loopMax: median(mine.map((s) => s.loopMax)),
        p99Ratio: median(ratios((s) => s.lat.p99)),
        p50Ratio: median(ratios((s) => s.lat.p50)),
        runs: mine.length,
        p99s: mine.map((s) => s.lat.p99),
      });
    }
  }
  return out;
}
