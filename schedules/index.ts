/**
 * Scheduled refreshes: each KubeApp with a `refresh` schedule is redeployed at
 * its live version onto a fresh cluster, through the command core
 * (`CommandCore.refresh`, recorded as surface 'schedule', each tick in
 * store.schedules). The deploy's thread goes to the refresh channel, where the
 * Slack announcer (bot/schedule-announcer.ts) announces it from the store.
 *
 * Time is the injected Clock's: for each app the next run is computed
 * (schedules/cron.ts), a clock timer is set for it, and re-armed after it
 * fires — so tests drive ticks by advancing a ManualClock. A timer is never set
 * further than `MAX_TIMER_MS` ahead (real timers cannot wait longer than ~24.8
 * days); when it fires early the schedule simply re-arms.
 *
 * Each tick is worked out from the store, not from the timer: the ticks between
 * the last one reached (`store.schedules` `lastPlannedAt`) and now. One on time
 * is a tick; ticks that passed while kubecontrol was down (found at start, or
 * after a timer fired late) are missed: the newest runs once if it is still
 * within the app's `refresh.catchUpMinutes`, else it is recorded as skipped —
 * the channel is told either way.
 *
 * Overlap policy (the core's): never two refreshes of an app at once, nor a
 * refresh beside another deploy of it; a tick meanwhile is skipped and says why.
 */
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { CommandResult } from '../commands/results.js';
import type { Clock, Timer } from '../deployer/clock.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import { cronInWords, nextRun, runsBetween } from './cron.js';

export { cronInWords, localTime, nextRun, runsBetween, scheduleWarnings } from './cron.js';

/** A timer is set at most this far ahead; one that fires before the run re-arms. */
export const MAX_TIMER_MS = 6 * 3_600_000;
/** A tick noticed up to this long after it is on time; later, it was missed (kubecontrol was down or asleep). */
export const ON_TIME_MS = 60_000;

/** One armed schedule, as `list()` gives it (the console's fleet page reads `next`). */
export interface ScheduleEntry {
  readonly app: string;
  /** The cron expression as written. */
  readonly schedule: string;
  readonly timezone: string;
  /** The next run; null when it never runs again. */
  readonly next: Date | null;
  /** The schedule in words with its zone: "every day at 03:00 Europe/Dublin". */
  readonly words: string;
  /** Where it is announced. */
  readonly channel: string;
  /** Paused by an owner: its ticks are skipped. */
  readonly paused: boolean;
  readonly autoCutover: 'when-healthy' | 'never';
  readonly catchUpMinutes: number;
}

export interface Schedules {
  /** The armed schedules: app, cron expression, time zone, next run, and how each is set up. */
  list(): ScheduleEntry[];
  /** Runs one app's tick now, as its timer would (planned for now). */
  tick(app: string): CommandResult;
  stop(): Promise<void>;
}

export interface SchedulesOptions {
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly core: Pick<CommandCore, 'refresh'>;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Arms every app's schedule on the clock. First works out, per app, what was
 * missed while kubecontrol was down (and catches up or skips it): call it once
 * the deployer has resumed what the previous process left.
 */
export function startSchedules(opts: SchedulesOptions): Schedules {
  const { store, clock, core } = opts;
  const log = opts.logger.child({ component: 'schedules' });
  const timers = new Map<string, Timer>();
  const armed: KubeApp[] = [];
  let stopped = false;

  const trigger = (app: KubeApp): string => `schedule ${app.refresh!.schedule} ${app.refresh!.timezone}`;

  const logResult = (app: KubeApp, result: CommandResult): void => {
    log.info({ app: app.name, status: result.status, message: result.message }, `scheduled refresh of ${app.name}: ${result.message}`);
  };

  /** The ticks of `app` that are due: between the last one reached and now. */
  const due = (app: KubeApp): void => {
    const r = app.refresh!;
    const now = clock.now();
    const last = store.schedules.state(app.name)?.lastPlannedAt;
    if (last === null || last === undefined) {
      // First time armed on this database: nothing before now can have been missed.
      store.schedules.markPlanned(app.name, now);
      return;
    }
    const { runs, more } = runsBetween(r.schedule, r.timezone, last, now);
    const newest = runs.at(-1);
    if (newest === undefined) return;
    if (now - newest <= ON_TIME_MS) {
      logResult(app, core.refresh(app.name, { plannedAt: newest, trigger: trigger(app) }));
      return;
    }
    const catchUp = now - newest <= r.catchUpMinutes * 60_000;
    log.warn(
      { app: app.name, plannedAt: new Date(newest).toISOString(), missed: runs.length, catchUp },
      `the refresh of ${app.name} planned for ${new Date(newest).toISOString()} was missed while kubecontrol was down: ${catchUp ? 'running it now (within its catch-up window)' : 'skipped (outside its catch-up window)'}`,
    );
    logResult(app, core.refresh(app.name, { plannedAt: newest, trigger: trigger(app), missed: { count: runs.length, more, catchUp } }));
  };

  const arm = (app: KubeApp): void => {
    if (stopped) return;
    const r = app.refresh!;
    const now = clock.now();
    const next = nextRun(r.schedule, r.timezone, now);
    if (next === null) {
      log.warn({ app: app.name, schedule: r.schedule }, `the refresh schedule of ${app.name} never runs again; not armed`);
      return;
    }
    timers.set(
      app.name,
      clock.setTimer(() => {
        timers.delete(app.name);
        if (stopped) return;
        try {
          due(app);
        } catch (err) {
          log.error({ err, app: app.name }, `the scheduled refresh of ${app.name} failed`);
        }
        arm(app);
      }, Math.min(next - now, MAX_TIMER_MS)),
    );
  };

  for (const app of opts.apps.values()) {
    if (!app.refresh) continue;
    armed.push(app);
    try {
      due(app);
    } catch (err) {
      log.error({ err, app: app.name }, `could not work out the missed refreshes of ${app.name}`);
    }
    arm(app);
  }

  return {
    list: () =>
      armed.map((app) => {
        const r = app.refresh!;
        const next = nextRun(r.schedule, r.timezone, clock.now());
        return {
          app: app.name,
          schedule: r.schedule,
          timezone: r.timezone,
          next: next === null ? null : new Date(next),
          words: cronInWords(r.schedule, r.timezone),
          channel: r.channel,
          paused: !!store.schedules.state(app.name)?.pausedBy,
          autoCutover: r.autoCutover,
          catchUpMinutes: r.catchUpMinutes,
        };
      }),
    tick(name) {
      const app = armed.find((a) => a.name === name);
      if (!app) throw new Error(`no armed schedule for ${name}`);
      const result = core.refresh(app.name, { plannedAt: clock.now(), trigger: trigger(app) });
      logResult(app, result);
      return result;
    },
    async stop() {
      stopped = true;
      for (const t of timers.values()) t.cancel();
      timers.clear();
    },
  };
}
