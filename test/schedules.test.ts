/**
 * Scheduled refreshes through the real server on a ManualClock: the schedules
 * tick from the injected clock, so each test advances the clock to a tick and
 * the pipeline runs on the sandbox at real durations (scale 1) in
 * milliseconds. The policy (skipped while locked, paused, deploying, or while
 * the previous refresh runs), pause/resume, the `schedules` verb, the health
 * verdict of the automatic cutover, and missed runs after a restart.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { runCli } from '../cli/run.js';
import type { ScheduleView } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { defineKubeApp, type KubeApp, type KubeAppProps } from '../kubeapps/index.js';
import type { ScheduleRunRecord } from '../store/index.js';
import { blueGreen, ended, state } from './helpers/clock-flow.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

/** `kubecontrol ARGS` against the harness's server, in-process through the CLI's entry (runCli); it must exit 0. */
async function cli(h: Harness, ...args: string[]): Promise<{ stdout: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--url', h.url, ...args], { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return { stdout };
}
const MINUTE = 60_000;
/** The ManualClock's default start: Monday 30 November 2026, 09:00 UTC. */
const START = Date.UTC(2026, 10, 30, 9, 0, 0);

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => {});
});

function app(name: string, refresh: KubeAppProps['refresh'], extra: Partial<KubeAppProps> = {}): KubeApp {
  return defineKubeApp({
    name,
    image: { repository: name },
    pods: { containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] },
    owners: ['alice'],
    deployers: ['carol'],
    approvers: ['bob'],
    channel: '#nightly',
    refresh,
    ...extra,
  });
}

async function start(clock: ManualClock, apps: readonly KubeApp[], dbPath?: string): Promise<Harness> {
  const h = await startHarness({ sandboxScale: 1, ...(dbPath ? { dbPath } : {}) }, { clock, apps });
  open.push(h);
  return h;
}

/** Moves the clock to `at`, firing every timer due on the way (ticks included). */
async function advanceTo(clock: ManualClock, at: number): Promise<void> {
  await clock.advance(at - clock.now());
}

const runs = (h: Harness, appName: string): ScheduleRunRecord[] => h.k.store.schedules.runs(appName, 100).reverse();
const lastRun = (h: Harness, appName: string): ScheduleRunRecord => h.k.store.schedules.lastRun(appName)!;

async function schedules(h: Harness, as = 'dave', ...rest: string[]): Promise<ScheduleView[]> {
  const { status, body } = await h.cmd(as, 'schedules', ...rest);
  expect(status).toBe(200);
  return (body as unknown as { schedules: ScheduleView[] }).schedules;
}

describe('a nightly refresh ticks from the injected clock', () => {
  it('skips while never deployed, then refreshes the live version onto a fresh cluster, cutting over on its own because every health check passed', async () => {
    const clock = new ManualClock(START);
    const h = await start(clock, [app('nightly-svc', { schedule: '0 3 * * *', timezone: 'Europe/Dublin', channel: '#platform-announce' })]);
    const [before] = await schedules(h);
    expect(before).toMatchObject({
      app: 'nightly-svc',
      cron: '0 3 * * *',
      words: 'every day at 03:00 Europe/Dublin',
      timezone: 'Europe/Dublin',
      next: '2026-12-01T03:00:00.000Z',
      channel: '#platform-announce',
      autoCutover: 'when-healthy',
      catchUpMinutes: 0,
      paused: null,
      last: null,
      warning: null,
    });
    // The console's fleet page reads list(): `next` stays a Date; the new fields are added beside it.
    expect(h.k.schedules.list()).toEqual([expect.objectContaining({ app: 'nightly-svc', schedule: '0 3 * * *', timezone: 'Europe/Dublin', next: new Date('2026-12-01T03:00:00.000Z'), words: 'every day at 03:00 Europe/Dublin', paused: false })]);

    // Nothing is live yet: the tick is skipped and says why, recorded as a command of the schedule.
    await advanceTo(clock, Date.UTC(2026, 11, 1, 3));
    expect(lastRun(h, 'nightly-svc')).toMatchObject({ outcome: 'skipped', reason: 'refresh of nightly-svc skipped: it has never been deployed', plannedAt: Date.UTC(2026, 11, 1, 3) });
    expect(h.k.store.commands.recent(5).find((c) => c.surface === 'schedule')).toMatchObject({ actor: 'schedule', verb: 'refresh', app: 'nightly-svc', outcome: 'refused', message: 'refresh of nightly-svc skipped: it has never been deployed' });

    const first = await blueGreen(h, clock, 'nightly-svc', 'v5');
    await advanceTo(clock, Date.UTC(2026, 11, 2, 3));
    const tick = lastRun(h, 'nightly-svc');
    expect(tick).toMatchObject({ outcome: 'started', plannedAt: Date.UTC(2026, 11, 2, 3), missed: 0, channel: '#platform-announce', night: '2026-12-01' });
    const refresh = tick.deployId!;
    await clock.runUntil(() => ended(h, refresh));
    const done = h.k.core.view(refresh);
    expect(done).toMatchObject({ state: 'succeeded', version: 'v5', kind: 'refresh', requestedBy: 'schedule', surface: 'schedule', threadChannel: '#platform-announce', fromCluster: `nightly-svc-${first}` });
    // The automatic approval stands on a health verdict, and says so.
    expect(done.approval).toMatchObject({ decision: 'approved', actor: 'schedule' });
    expect(done.approval!.reason).toMatch(/^every health check passed \(nightly-svc-\d+ answers \/healthz through its load balancer\)$/);
    const events = h.k.store.events.after(refresh, 0, 500).map((e) => e.message);
    expect(events.some((m) => m.startsWith('health verdict for an automatic cutover: [sandbox] GET http://'))).toBe(true);
    expect(undeleted(h, first)).toEqual([]);
    expect(h.k.store.environments.live('nightly-svc')).toMatchObject({ name: `nightly-svc-${refresh}`, version: 'v5' });

    const [after] = await schedules(h, 'dave', 'nightly-svc');
    expect(after!.next).toBe('2026-12-03T03:00:00.000Z');
    expect(after!.last).toMatchObject({ outcome: 'started', deployId: refresh, state: 'succeeded', missed: false, plannedAt: Date.UTC(2026, 11, 2, 3) });
  }, 30_000);

  it('skips (and records why) while never deployed, deploying, locked, paused, or while the previous refresh runs; pause and resume are the owners’', async () => {
    const clock = new ManualClock(START);
    const h = await start(clock, [app('busy-svc', { schedule: '*/10 * * * *' })]);

    await advanceTo(clock, START + 10 * MINUTE);
    expect(lastRun(h, 'busy-svc').reason).toBe('refresh of busy-svc skipped: it has never been deployed');

    // A blue/green of ~40 minutes (waiting for its approval included): the ticks meanwhile are skipped.
    const first = await blueGreen(h, clock, 'busy-svc', 'v1');
    expect(runs(h, 'busy-svc').some((r) => r.outcome === 'skipped' && new RegExp(`^refresh of busy-svc skipped: deploy #${first} \\(v1\\) is (queued|building|provisioning|deploying|awaiting approval|cutting over|tearing down)$`).test(r.reason ?? ''))).toBe(true);

    // Locked.
    expect((await h.cmd('carol', 'lock', 'busy-svc', 'db migration')).status).toBe(200);
    const next = (): number => h.k.schedules.list()[0]!.next!.getTime();
    await advanceTo(clock, next());
    expect(lastRun(h, 'busy-svc').reason).toMatch(/^refresh of busy-svc skipped: locked by carol since 2026-11-30 \d\d:\d\d UTC: “db migration”$/);
    expect((await h.cmd('carol', 'unlock', 'busy-svc')).status).toBe(200);

    // Paused: owners only, recorded with who and why, shown by `schedules`.
    const refused = await h.cmd('carol', 'pause', 'busy-svc', 'not mine');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ status: 'refused', code: 'forbidden' });
    expect(refused.body.message).toBe('carol may not pause busy-svc: that needs an owner (alice).');
    const paused = await h.cmd('alice', 'pause', 'busy-svc', 'black friday freeze');
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ kind: 'pause', app: 'busy-svc', paused: { by: 'alice', reason: 'black friday freeze', since: clock.now() } });
    expect(paused.body.message).toBe('busy-svc\'s refresh (every 10 minutes) is paused: “black friday freeze”. Its ticks are skipped until `resume busy-svc`.');
    expect(h.k.store.commands.recent(1)[0]).toMatchObject({ actor: 'alice', verb: 'pause', app: 'busy-svc', outcome: 'accepted', message: 'paused: black friday freeze' });
    const [shown] = await schedules(h);
    expect(shown!.paused).toEqual({ by: 'alice', byName: 'alice', reason: 'black friday freeze', since: clock.now() });
    expect(h.k.schedules.list()[0]!.paused).toBe(true);
    await advanceTo(clock, next());
    expect(lastRun(h, 'busy-svc')).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/^refresh of busy-svc skipped: paused by alice since 2026-11-30 \d\d:\d\d UTC: “black friday freeze”$/) });
    expect(h.k.store.commands.recent(1)[0]).toMatchObject({ surface: 'schedule', outcome: 'refused', message: lastRun(h, 'busy-svc').reason });
    expect((await h.cmd('alice', 'resume', 'busy-svc')).body.message).toMatch(/^busy-svc's refresh \(every 10 minutes\) runs again \(it was paused by alice since .*: “black friday freeze”\)\. Next run: /);
    expect((await h.cmd('alice', 'resume', 'busy-svc')).body).toMatchObject({ status: 'conflict', code: 'not_paused', message: 'busy-svc\'s refresh is not paused.' });

    // The next tick refreshes; the ones while it runs (~25 minutes at real durations) are skipped, not stacked.
    await advanceTo(clock, next());
    const refresh = lastRun(h, 'busy-svc');
    expect(refresh.outcome).toBe('started');
    await advanceTo(clock, next());
    expect(lastRun(h, 'busy-svc').reason).toMatch(new RegExp(`^refresh of busy-svc skipped: the previous refresh #${refresh.deployId} \\(v1\\) has not finished \\((building|provisioning|deploying|cutting over|tearing down)\\)$`));
    await clock.runUntil(() => ended(h, refresh.deployId!));
    expect(state(h, refresh.deployId!)).toBe('succeeded');
    const outcomes = new Set(runs(h, 'busy-svc').map((r) => r.reason?.replace(/#\d+/g, '#N').replace(/ is .*| since .*| \(.*\)$/, '')));
    expect([...outcomes]).toEqual(
      expect.arrayContaining([
        'refresh of busy-svc skipped: it has never been deployed',
        'refresh of busy-svc skipped: deploy #N (v1)',
        'refresh of busy-svc skipped: locked by carol',
        'refresh of busy-svc skipped: paused by alice',
        'refresh #N of v1',
        'refresh of busy-svc skipped: the previous refresh #N',
      ]),
    );
  }, 60_000);

  it('a refresh whose health check fails does not cut over by itself: it says why and waits for an approver, then times out with traffic where it was', async () => {
    const clock = new ManualClock(START);
    const h = await start(clock, [app('fragile-svc', { schedule: '0 3 * * *' }, { approvalTimeoutMinutes: 45 })]);
    const first = await blueGreen(h, clock, 'fragile-svc', 'v1');
    // The sandbox's cutover health check fails once (a fault, as `kubecontrol faults add cutover unhealthy --app fragile-svc`).
    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'unhealthy', app: 'fragile-svc', times: 1 });
    await advanceTo(clock, Date.UTC(2026, 11, 1, 3));
    const refresh = lastRun(h, 'fragile-svc').deployId!;
    await clock.runUntil(() => state(h, refresh) === 'awaiting_approval');
    const waiting = h.k.core.view(refresh);
    expect(waiting.approval).toBeNull();
    const why = waiting.steps.find((s) => s.name === 'approval')!.detail!;
    expect(why).toMatch(new RegExp(`^no cutover without a person: the health check of fragile-svc-${refresh} failed: .*HealthCheckFailed.*timed out after 3 attempts; waiting for an approver \\(bob\\) like any deploy$`));
    const warning = h.k.store.events.after(refresh, 0, 500).find((e) => e.kind === 'approval' && e.level === 'warn')!;
    expect(warning).toMatchObject({ message: why, data: { autoCutover: 'withheld' } });
    // Nobody approves: the deadline rejects it, the new cluster goes, traffic never moved.
    await clock.runUntil(() => ended(h, refresh));
    expect(h.k.core.view(refresh)).toMatchObject({ state: 'timed_out', cleanup: 'done', fromCluster: `fragile-svc-${first}` });
    expect(h.k.store.environments.live('fragile-svc')).toMatchObject({ name: `fragile-svc-${first}`, version: 'v1' });
    expect(undeleted(h, refresh)).toEqual([]);
    expect((await schedules(h))[0]!.last).toMatchObject({ deployId: refresh, state: 'timed_out' });
  }, 30_000);

  it("an app whose refresh.autoCutover is 'never' waits for an approver, who cuts it over", async () => {
    const clock = new ManualClock(START);
    const h = await start(clock, [app('careful-svc', { schedule: '0 3 * * *', autoCutover: 'never' })]);
    await blueGreen(h, clock, 'careful-svc', 'v2');
    await advanceTo(clock, Date.UTC(2026, 11, 1, 3));
    const refresh = lastRun(h, 'careful-svc').deployId!;
    await clock.runUntil(() => state(h, refresh) === 'awaiting_approval');
    expect(h.k.core.view(refresh).steps.find((s) => s.name === 'approval')!.detail).toBe(
      "no cutover without a person: careful-svc's refresh.autoCutover is 'never'; waiting for an approver (bob) like any deploy",
    );
    // No health verdict was asked for: nothing would act on it.
    expect(h.k.store.events.after(refresh, 0, 500).some((e) => e.message.startsWith('health verdict'))).toBe(false);
    expect((await h.cmd('bob', 'approve', String(refresh))).status).toBe(200);
    await clock.runUntil(() => ended(h, refresh));
    expect(h.k.core.view(refresh)).toMatchObject({ state: 'succeeded', approval: { actor: 'bob', decision: 'approved' } });
  }, 30_000);
});

describe('restarts', () => {
  it('a run missed while the server was down runs once inside its catch-up window, and is skipped (and recorded) outside it; schedules come back armed', async () => {
    const first = new ManualClock(START);
    const apps = [app('catchup-svc', { schedule: '0 3 * * *', catchUpMinutes: 120 }), app('strict-svc', { schedule: '0 3 * * *' })];
    const h1 = await start(first, apps);
    await blueGreen(h1, first, 'catchup-svc', 'v1');
    await blueGreen(h1, first, 'strict-svc', 'v1');
    const dbPath = h1.dbPath;
    await h1.close();
    open.splice(open.indexOf(h1), 1);

    // Back at 04:30 the next day: the 03:00 tick passed while it was down, 90 minutes ago.
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 4, 30));
    const h2 = await start(clock, apps, dbPath);
    const caught = lastRun(h2, 'catchup-svc');
    expect(caught).toMatchObject({ outcome: 'started', missed: 1, plannedAt: Date.UTC(2026, 11, 1, 3), at: clock.now() });
    expect(caught.reason).toBe(`refresh #${caught.deployId} of v1 — catching up the run planned for Tue 1 Dec 2026, 03:00 UTC, missed while kubecontrol was down`);
    expect(lastRun(h2, 'strict-svc')).toMatchObject({
      outcome: 'skipped',
      missed: 1,
      plannedAt: Date.UTC(2026, 11, 1, 3),
      reason: 'refresh of strict-svc skipped: the run planned for Tue 1 Dec 2026, 03:00 UTC was missed while kubecontrol was down, and it has no catch-up window',
    });
    expect(h2.k.store.commands.recent(10).find((c) => c.app === 'strict-svc' && c.surface === 'schedule')).toMatchObject({ outcome: 'refused', message: lastRun(h2, 'strict-svc').reason });
    await clock.runUntil(() => ended(h2, caught.deployId!));
    expect(state(h2, caught.deployId!)).toBe('succeeded');
    const views = await schedules(h2);
    expect(views.map((v) => [v.app, v.next, v.last?.missed, v.last?.outcome])).toEqual([
      ['catchup-svc', '2026-12-02T03:00:00.000Z', true, 'started'],
      ['strict-svc', '2026-12-02T03:00:00.000Z', true, 'skipped'],
    ]);

    // Another restart does not run a tick twice; the next one comes on time.
    const dbPath2 = h2.dbPath;
    await h2.close();
    open.splice(open.indexOf(h2), 1);
    const third = new ManualClock(Date.UTC(2026, 11, 1, 6));
    const h3 = await start(third, apps, dbPath2);
    expect(runs(h3, 'catchup-svc')).toHaveLength(1);
    expect(runs(h3, 'strict-svc')).toHaveLength(1);
    await advanceTo(third, Date.UTC(2026, 11, 2, 3));
    expect(lastRun(h3, 'strict-svc')).toMatchObject({ outcome: 'started', missed: 0, plannedAt: Date.UTC(2026, 11, 2, 3) });
    expect(lastRun(h3, 'catchup-svc')).toMatchObject({ outcome: 'started', missed: 0 });
  }, 60_000);
});

describe('the schedules verb on the CLI', () => {
  it("lists the example KubeApps' nightly refreshes with their next run", async () => {
    const clock = new ManualClock(START);
    const h = await startHarness({ sandboxScale: 1 }, { clock });
    open.push(h);
    expect((await schedules(h)).map((s) => [s.app, s.words, s.next, s.channel])).toEqual([
      ['cache-worker', 'every day at 02:30 UTC', '2026-12-01T02:30:00.000Z', '#platform'],
      ['search-svc', 'every day at 03:00 UTC', '2026-12-01T03:00:00.000Z', '#search-team'],
    ]);
  });

  it('lists every schedule in words with its next run; --json carries `next` as an ISO time', async () => {
    const clock = new ManualClock(START);
    const h = await start(clock, [
      app('nightly-svc', { schedule: '0 3 * * *', timezone: 'Europe/Dublin' }),
      app('weekday-svc', { schedule: '30 2 * * 1-5', timezone: 'America/New_York', catchUpMinutes: 60 }),
      app('leap-svc', { schedule: '0 0 29 2 *' }),
      app('plain-svc', undefined),
    ]);
    expect((await h.cmd('alice', 'pause', 'weekday-svc', 'quarter end')).status).toBe(200);
    const human = await cli(h, 'schedules', '--as', 'dave');
    const lines = human.stdout.split('\n');
    expect(lines[0]).toMatch(/^APP +SCHEDULE +NEXT \(UTC\) +LAST RUN/);
    expect(human.stdout).toContain('every day at 03:00 Europe/Dublin');
    expect(human.stdout).toContain('Monday to Friday at 02:30 America/New_York');
    expect(human.stdout).toMatch(/weekday-svc .*PAUSED by alice since 2026-11-30 09:0\d: quarter end/);
    expect(human.stdout).toContain('`0 0 29 2 *` in UTC');
    expect(human.stdout).toContain('! leap-svc: its next run is more than a year away (Tue 29 Feb 2028, 00:00 UTC)');
    expect(human.stdout).not.toContain('plain-svc');
    const json = await cli(h, 'schedules', '--json', '--as', 'dave');
    const body = JSON.parse(json.stdout) as { kind: string; schedules: ScheduleView[] };
    expect(body.kind).toBe('schedules');
    expect(body.schedules.map((s) => [s.app, s.next])).toEqual([
      ['nightly-svc', '2026-12-01T03:00:00.000Z'],
      ['weekday-svc', '2026-12-01T07:30:00.000Z'],
      ['leap-svc', '2028-02-29T00:00:00.000Z'],
    ]);
    expect(body.schedules[1]).toMatchObject({ catchUpMinutes: 60, paused: { by: 'alice', reason: 'quarter end' } });
    // The warning is in the start banner's list too.
    // An app without a schedule has nothing to pause.
    expect((await h.cmd('alice', 'pause', 'plain-svc')).body).toMatchObject({ status: 'conflict', code: 'no_schedule', message: 'plain-svc has no refresh schedule to pause (its KubeApp sets no `refresh`).' });
    expect(h.k.warnings).toContain('leap-svc: refresh.schedule "0 0 29 2 *" next runs Tue 29 Feb 2028, 00:00 UTC, more than a year away (is that what you meant?)');
  }, 30_000);
});
