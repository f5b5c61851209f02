/**
 * Scheduled refreshes (node-cron): each KubeApp with a `refresh` schedule is
 * redeployed at its live version onto a fresh cluster, through the command
 * core (recorded as surface 'schedule'). The deploy's thread goes to the
 * refresh channel, so the Slack reporter announces it there.
 *
 * Overlap policy: never two at once. node-cron's `noOverlap` skips a tick while
 * the previous tick's callback runs, and the core skips (and records) a refresh
 * while the app is locked or already deploying.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { KubeApp } from '../kubeapps/index.js';

export interface Schedules {
  /** The armed schedules: app, cron expression, time zone, next run. */
  list(): { app: string; schedule: string; timezone: string; next: Date | null }[];
  /** Runs one app's tick now, as its cron would (tests drive ticks this way instead of waiting for them). */
  tick(app: string): void;
  stop(): Promise<void>;
}

export function startSchedules(opts: { apps: ReadonlyMap<string, KubeApp>; core: CommandCore; logger: Logger }): Schedules {
  const log = opts.logger.child({ component: 'schedules' });
  const tasks: { app: KubeApp; task: ScheduledTask }[] = [];
  const tick = (app: KubeApp): void => {
    const refresh = app.refresh!;
    const result = opts.core.refresh(app.name, `schedule ${refresh.schedule} ${refresh.timezone}`);
    log.info({ app: app.name, status: result.status, message: result.message }, 'scheduled refresh');
  };
  for (const app of opts.apps.values()) {
    const refresh = app.refresh;
    if (!refresh) continue;
    if (!cron.validate(refresh.schedule)) {
      log.error({ app: app.name, schedule: refresh.schedule }, 'refresh schedule is not a valid cron expression; not armed');
      continue;
    }
    const task = cron.schedule(
      refresh.schedule,
      () => tick(app),
      { name: `refresh:${app.name}`, timezone: refresh.timezone, noOverlap: true },
    );
    tasks.push({ app, task });
  }
  return {
    list: () =>
      tasks.map(({ app, task }) => ({ app: app.name, schedule: app.refresh!.schedule, timezone: app.refresh!.timezone, next: task.getNextRun() })),
    tick(name) {
      const entry = tasks.find((t) => t.app.name === name);
      if (!entry) throw new Error(`no armed schedule for ${name}`);
      tick(entry.app);
    },
    async stop() {
      for (const { task } of tasks) await task.destroy();
    },
  };
}
