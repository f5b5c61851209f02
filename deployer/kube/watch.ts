/**
 * Following Kubernetes objects by watch (never by polling): stricter than the
 * client's own Watch: `unknown` objects, watched again when the server ends a
 * watch, a limit on failures in a row, and coded errors with `{ cause }`.
 */
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { InfraError, errorMessage } from '../errors.js';
import { kubeFailure } from './api-errors.js';

/** `<what> aborted: <reason><detail>`, coded `aborted`, the signal's reason as cause. */
export function abortedWait(what: string, signal: AbortSignal, detail = ''): InfraError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
  return new InfraError('aborted', `${what} aborted: ${why}${detail}`, { cause: reason });
}

/** What `watchUntil` needs. */
export interface WatchUntilOptions<T> {
  readonly kubeConfig: () => Promise<KubeConfig>;
  /** The collection's path, e.g. `/apis/apps/v1/namespaces/x/deployments`. */
  readonly path: string;
  readonly query: Record<string, string>;
  /** The answer, undefined to go on watching; throwing ends the wait with that error. */
  readonly check: (type: string, obj: KubernetesObject) => T | undefined;
  readonly signal: AbortSignal;
  /** Names the wait in errors, e.g. "rollout of search-svc 1.4.2 on search-svc-7". */
  readonly what: string;
  /** Appended to the abort error (e.g. the pods' state when a rollout is cancelled). */
  readonly onAbort: () => Promise<string>;
  /** Pause before a watch that ended with an error (or at once) is opened again, ms. */
  readonly rewatchDelayMs: number;
  /**
   * Called before the watch is opened again (not before the first time): the
   * answer when a fresh read already has it, else the query to watch with
   * (e.g. a newer resourceVersion: an old one may be compacted away and
   * answered 410 Gone forever). Without it the same query is used again.
   */
  readonly refresh?: () => Promise<{ answer: T } | { query: Record<string, string> }>;
}

/**
 * Opens a watch on `path` and resolves with `check`'s first non-undefined
 * answer; `check` throwing rejects. The watch is opened again when the server
 * closes it (a fresh watch starts with the current state as ADDED events).
 * Rejects `aborted` when `signal` aborts, `provider_failed` after six failures in a row.
 */
export function watchUntil<T>(opts: WatchUntilOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
      controller?.abort();
      fn();
    };
    const onAbort = (): void => {
      controller?.abort();
      void opts.onAbort().then(
        (detail) => finish(() => reject(abortedWait(opts.what, opts.signal, detail))),
        () => finish(() => reject(abortedWait(opts.what, opts.signal))),
      );
    };
    let query = opts.query;
    let opened = false;
    const open = async (): Promise<void> => {
      if (settled) return;
      try {
        if (opened && opts.refresh) {
          const fresh = await opts.refresh();
          if (settled) return;
          if ('answer' in fresh) return finish(() => resolve(fresh.answer));
          query = fresh.query;
        }
        opened = true;
        const kc = await opts.kubeConfig();
        const openedAt = Date.now();
        const c = await new Watch(kc).watch(
          opts.path,
          query,
          (type: string, obj: unknown) => {
            if (settled) return;
            if (type === 'ERROR') return; // e.g. 410 Gone: the watch ends and is opened again
            failures = 0;
            try {
              const v = opts.check(type, obj as KubernetesObject);
              if (v !== undefined) finish(() => resolve(v));
            } catch (err) {
              finish(() => reject(err));
            }
          },
          (err: unknown) => {
            if (settled || opts.signal.aborted) return;
            // The server closed the watch (normal after its timeout) or the connection broke: watch again.
            if (err) failures += 1;
            if (failures > 5) {
              return finish(() => reject(new InfraError('provider_failed', `watching ${opts.what} failed: ${errorMessage(err)}`, { cause: err })));
            }
            // At once after a normal server timeout; a watch that keeps ending at once is not hammered.
            const quick = Date.now() - openedAt < 1000;
            timer = setTimeout(() => void open(), err || quick ? opts.rewatchDelayMs : 0);
          },
        );
        controller = c;
        if (settled) c.abort();
      } catch (err) {
        failures += 1;
        if (failures > 5) return finish(() => reject(kubeFailure(`watch of ${opts.what}`, err)));
        timer = setTimeout(() => void open(), opts.rewatchDelayMs);
      }
    };
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    void open();
  });
}
