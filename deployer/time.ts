/** Abortable waiting, shared by the pipeline, the clock and the adapters. */
import { AbortReason, InfraError } from './errors.js';

/** The signal's reason as an Error: what a cancelled or timed-out wait rejects with. */
export function reasonOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortReason('cancelled', typeof reason === 'string' ? reason : 'aborted');
}

/**
 * An InfraError that names what was stopped and why (`<what> aborted: <reason>`):
 * `timed_out` when the signal's reason is a step timeout, else `aborted`.
 */
export function abortedError(what: string, signal?: AbortSignal, detail = ''): InfraError {
  const reason: unknown = signal?.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
  const code = reason instanceof AbortReason && reason.kind === 'timeout' ? 'timed_out' : 'aborted';
  return new InfraError(code, `${what} aborted: ${why}${detail}`, { cause: reason });
}

/**
 * Resolves after `ms`, or rejects as soon as `signal` aborts: with the signal's
 * reason, or, when `what` names the wait, with an `abortedError(what)`.
 */
export function sleep(ms: number, signal?: AbortSignal, what?: string): Promise<void> {
  const aborted = (): Error => (what ? abortedError(what, signal) : reasonOf(signal!));
  if (signal?.aborted) return Promise.reject(aborted());
  // setTimeout fires at once for delays past 2^31-1 ms; such a wait is "forever": only an abort ends it.
  if (ms > 2_147_483_647) return abortable(new Promise<void>(() => {}), signal).catch(() => Promise.reject(aborted()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles like `promise`, or rejects as soon as `signal` aborts (the promise itself is not stopped). */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Formats a duration for people: 850ms, 12.3s, 4m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
