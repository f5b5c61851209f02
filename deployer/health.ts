/**
 * The health check before a cutover, shared by the Dns adapters: probe the new
 * target until it answers 2xx/3xx, with exponential backoff and a per-request
 * timeout, reporting each failed attempt as progress.
 */
import type { Progress } from './ports.js';
import { abortedError, sleep } from './time.js';

/** How a health check retries. Each adapter has its own defaults. */
export interface HealthRetry {
  readonly attempts?: number;
  /** First pause between attempts, ms; doubles up to maxMs. */
  readonly minMs?: number;
  readonly maxMs?: number;
  /** Per-request timeout, ms. @default 5000 */
  readonly timeoutMs?: number;
}

/** One probe's answer: its HTTP status and how to describe a bad one. */
export interface ProbeAnswer {
  readonly status: number;
  /** e.g. "HTTP 503 Service Unavailable: no endpoints". */
  readonly problem: string;
}

/**
 * Probes until healthy; rejects after the last attempt with what was wrong, or
 * with an AbortError named `abortLabel` when `signal` aborts.
 */
export async function checkUntilHealthy(opts: {
  /** Names the check in progress lines, e.g. "health check GET http://host/healthz". */
  readonly what: string;
  /** Names it in an abort. @default what */
  readonly abortLabel?: string;
  readonly retry: HealthRetry | undefined;
  readonly defaults: Required<Omit<HealthRetry, 'timeoutMs'>>;
  /** Extra data on each progress event (the url or target). */
  readonly data: Record<string, unknown>;
  readonly progress: Progress;
  readonly signal?: AbortSignal;
  readonly probe: (signal: AbortSignal) => Promise<ProbeAnswer>;
  /** Describes a probe that threw (no answer at all). */
  readonly describeError: (err: unknown) => string;
}): Promise<void> {
  const { what, progress, signal } = opts;
  const abortLabel = opts.abortLabel ?? what;
  const attempts = opts.retry?.attempts ?? opts.defaults.attempts;
  const maxMs = opts.retry?.maxMs ?? opts.defaults.maxMs;
  let delay = opts.retry?.minMs ?? opts.defaults.minMs;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (signal?.aborted) throw abortedError(abortLabel, signal);
    const timeout = AbortSignal.timeout(opts.retry?.timeoutMs ?? 5000);
    try {
      const res = await opts.probe(signal ? AbortSignal.any([signal, timeout]) : timeout);
      if (res.status >= 200 && res.status < 400) {
        progress(`${what}: ${res.status}`, { ...opts.data, status: res.status, attempt });
        return;
      }
      last = res.problem;
    } catch (err) {
      if (signal?.aborted) throw abortedError(abortLabel, signal);
      last = timeout.aborted ? 'no answer (timeout)' : opts.describeError(err);
    }
    progress(`${what}: ${last} (attempt ${attempt}/${attempts})`, { ...opts.data, attempt });
    if (attempt < attempts) {
      await sleep(delay, signal, abortLabel);
      delay = Math.min(delay * 2, maxMs);
    }
  }
  throw new Error(`${what} failed after ${attempts} attempts: ${last}`);
}
