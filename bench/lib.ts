/**
 * Small helpers shared by the benchmarks: percentiles, formatting, the
 * machine's description, and a sampler of this process's memory.
 * Nothing here asserts anything: the bench reports, it does not judge.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem, type as osType } from 'node:os';

export const quick = process.env.BENCH_QUICK === '1';

/** The value at quantile q (0..1) of an ascending array (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), p999: quantile(s, 0.999), max: s[s.length - 1] ?? NaN };
}

export function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds with a precision that suits their size. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v < 0.1) return `${(v * 1000).toFixed(0)} µs`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v.toFixed(1)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

export function ratio(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(2)}×` : '–';
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** ✅ when `ok`, ❌ otherwise; '–' when there is nothing to judge. */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? '–' : ok ? 'met' : '**missed**';
}

/** The machine, as the os module sees it. */
export function machine(): string {
  const c = cpus();
  const models = [...new Set(c.map((x) => x.model.trim()))].join(', ');
  const load = loadavg().map((l) => l.toFixed(2)).join(' / ');
  return (
    `${c.length} × ${models || 'unknown CPU'} (${c[0]?.speed ?? '?'} MHz), ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free), ` +
    `${osType()} ${release()}, Node ${process.version} ${process.platform}/${process.arch}; load average at start ${load} (1/5/15 min)`
  );
}

/** Samples `process.memoryUsage().rss` every `everyMs` until stopped; returns the peak. */
export function rssSampler(everyMs = 20): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

/** Resolves once `pred` holds, polling every `everyMs`; rejects after `timeoutMs`. */
export async function until(what: string, pred: () => boolean, timeoutMs = 120_000, everyMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface BenchChild {
  readonly proc: ChildProcess;
  /** Resolves with the next IPC message of this type; rejects if the child exits first. */
  next<T>(type: string): Promise<T>;
  readonly exited: Promise<number | null>;
}

/** Forks bench/<script> under tsx with an IPC channel; stdout to /dev/null when `quiet`. */
export function forkBench(script: string, args: string[], opts: { quiet?: boolean; execArgv?: string[]; env?: Record<string, string> } = {}): BenchChild {
  const out = opts.quiet ? openSync('/dev/null', 'w') : 'inherit';
  const proc = fork(new URL(script, import.meta.url).pathname, args, {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...opts.env },
    stdio: ['ignore', out, 'inherit', 'ipc'],
  });
  const waiting = new Map<string, { resolve: (m: unknown) => void; reject: (e: Error) => void }[]>();
  proc.on('message', (m: { type: string }) => waiting.get(m.type)?.shift()?.resolve(m));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      for (const [type, list] of waiting) for (const w of list.splice(0)) w.reject(new Error(`${script} exited (${code}) while waiting for ${type}`));
      resolve(code);
    }),
  );
  return {
    proc,
    exited,
    next<T>(type: string): Promise<T> {
      if (proc.exitCode !== null) return Promise.reject(new Error(`${script} has exited`));
      return new Promise<T>((resolve, reject) => {
        const list = waiting.get(type) ?? [];
        list.push({ resolve: resolve as (m: unknown) => void, reject });
        waiting.set(type, list);
      });
    },
  };
}
