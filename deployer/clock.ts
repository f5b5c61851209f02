/**
 * Time, injected. The deployer, the sandbox, approval deadlines and the store's
 * timestamps all read time through a Clock, so tests drive it (ManualClock)
 * instead of waiting for it: no test sleeps or asserts a duration.
 */
import { reasonOf, sleep } from './time.js';

/** A pending timer; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `ms` (never before). */
  setTimer(fn: () => void, ms: number): Timer;
  /** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** `sleep` on top of any clock's timers. */
function sleepOn(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(reasonOf(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(reasonOf(signal!));
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Real time. Timers past 2^31-1 ms (setTimeout's limit) wait forever: only an abort ends them. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    if (ms > 2_147_483_647) return { cancel() {} };
    const t = setTimeout(fn, Math.max(0, ms));
    // A pending timer (an approval deadline, a drain) must not keep a stopping process alive.
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  // An awaited wait is work in progress: its timer is ref'd (time.ts), unlike setTimer's.
  sleep: (ms, signal) => sleep(ms, signal),
};

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told. `advance(ms)` fires every timer due
 * within `ms`, in order, letting promise chains settle between timers, so a
 * whole pipeline runs deterministically in a few milliseconds of real time.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = Date.UTC(2026, 10, 30, 9, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: ManualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Lets every promise chain and I/O callback that is ready run (no time passes). */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Moves time forward by `ms`, firing each due timer in order and settling after each. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await this.settle();
    for (;;) {
      const next = this.live()[0];
      if (!next || next.at > until) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.fn();
      await this.settle();
    }
    this.current = until;
    await this.settle();
  }

  /**
   * Fires timers one at a time until `done()` holds; throws after `maxTimers`
   * timers (a pipeline that never gets there is a failing test, not a hang).
   */
  async runUntil(done: () => boolean, maxTimers = 10_000): Promise<void> {
    await this.settle();
    for (let fired = 0; !done(); fired++) {
      let next = this.live()[0];
      // No timer due: what is left may be real I/O (an HTTP answer in flight). Give it a moment of real time.
      for (let tries = 0; !next && !done() && tries < 2000; tries++) {
        await new Promise<void>((r) => setTimeout(r, 5));
        next = this.live()[0];
      }
      if (done()) return;
      if (!next) throw new Error('ManualClock.runUntil: no timer left and the condition does not hold');
      if (fired >= maxTimers) throw new Error(`ManualClock.runUntil: the condition does not hold after ${maxTimers} timers`);
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.fn();
      await this.settle();
    }
  }

  private live(): ManualTimer[] {
    this.timers = this.timers.filter((t) => !t.cancelled);
    return this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}
