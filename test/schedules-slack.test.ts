/**
 * Scheduled refreshes in Slack (bot/schedule-announcer.ts) through the real
 * server and the real bot, against the Slack fake, on a ManualClock: the
 * clock reaches 03:00, the refresh runs on the sandbox, and Slack gets the
 * announcement in the refresh channel (before the deploy's thread), the
 * thread and its result, the announcement edited with the result, a notice
 * for a skipped tick, and one summary per night in the platform channel,
 * edited in place — by a restarted server too. A run missed while the server
 * was down is announced as a catch-up, or said to be skipped.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { runAfterAck } from '../commands/core.js';
import type { CommandResult } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { defineKubeApp, type KubeApp } from '../kubeapps/index.js';
import { TERMINAL_STATES, type DeployState } from '../store/index.js';
import { FakeSlack, type SlackCall } from './fakes/slack-api.js';
import { ALICE, BOB, CAROL, DAVE, MALLORY, SEARCH_CHANNEL, startSlackHarness, textOf, WEB_CHANNEL, type SlackHarness } from './fakes/slack-harness.js';

const PLATFORM_CHANNEL = 'C0PLATFORM';
const pods = { replicas: 2, containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] };

function apps(): KubeApp[] {
  return [
    defineKubeApp({
      name: 'search-svc',
      image: { repository: 'search-svc' },
      pods,
      owners: [ALICE],
      deployers: [CAROL],
      approvers: [BOB, ALICE],
      channel: '#search-team',
      refresh: { schedule: '0 3 * * *', timezone: 'Europe/Dublin', catchUpMinutes: 120 },
    }),
    defineKubeApp({
      name: 'web-frontend',
      image: { repository: 'web-frontend' },
      pods,
      owners: [ALICE],
      deployers: [CAROL],
      approvers: [BOB],
      channel: '#web',
      refresh: { schedule: '0 3 * * *' },
    }),
  ];
}

const state = (h: SlackHarness, id: number): DeployState => h.k.store.deploys.get(id)!.state;
const ended = (h: SlackHarness, id: number): boolean => TERMINAL_STATES.includes(state(h, id)) && h.k.store.deploys.get(id)!.cleanup !== 'pending';

/** `words` as `actor` from the CLI, straight into the core (the deploy joins its line as a surface would). */
function run(h: SlackHarness, actor: string, ...words: string[]): CommandResult {
  const r = h.k.core.execute({ actor: { id: actor }, surface: 'cli', input: words });
  if (r instanceof Promise) throw new Error('answered later');
  runAfterAck(r);
  return r;
}

/** A blue/green of `app` taken live: deployed by Carol, approved by Bob. */
async function live(h: SlackHarness, clock: ManualClock, app: string, version: string): Promise<number> {
  const r = run(h, CAROL, 'deploy', app, version);
  if (r.kind !== 'deploy_queued') throw new Error(r.message);
  await clock.runUntil(() => state(h, r.deploy.id) === 'awaiting_approval');
  expect(run(h, BOB, 'approve', String(r.deploy.id)).status).toBe('ok');
  await clock.runUntil(() => ended(h, r.deploy.id));
  expect(state(h, r.deploy.id)).toBe('succeeded');
  return r.deploy.id;
}

/** Slack caught up with the store: threads and schedule messages. */
async function settled(h: SlackHarness): Promise<void> {
  await h.bot.reporter.idle();
  await h.bot.announcer.idle();
  await h.bot.reporter.idle();
}

const posts = (fake: FakeSlack, channel: string, from = 0): SlackCall[] => fake.calls.slice(from).filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.response.channel === channel);
const topLevel = (fake: FakeSlack, channel: string, from = 0): SlackCall[] => posts(fake, channel, from).filter((c) => !c.body.thread_ts);
const updatesOf = (fake: FakeSlack, ts: unknown): SlackCall[] => fake.ok('chat.update', (c) => c.body.ts === ts);

describe('scheduled refreshes in Slack', () => {
  let fake: FakeSlack;
  const harnesses: SlackHarness[] = [];
  afterAll(async () => {
    for (const h of harnesses) await h.stop().catch(() => {});
    await fake?.close();
  });

  it('announces the refresh before its thread, reports it in the thread, edits the announcement and one summary per night in place — across restarts — and tells the channel about runs missed while the server was down', async () => {
    fake = await FakeSlack.start({
      users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol', [DAVE]: 'Dave', [MALLORY]: 'Mallory' },
      groups: { 'search-team': [DAVE] },
      channels: { '#search-team': SEARCH_CHANNEL, '#web': WEB_CHANNEL, '#platform': PLATFORM_CHANNEL },
    });
    const clock = new ManualClock(Date.UTC(2026, 10, 30, 9));
    const h = await startSlackHarness({ fake, apps: apps(), clock, cardIntervalMs: 50 });
    harnesses.push(h);
    await live(h, clock, 'search-svc', 'v123');
    await live(h, clock, 'web-frontend', 'v7');
    expect(run(h, CAROL, 'lock', 'web-frontend', 'db migration').status).toBe('ok');
    await settled(h);
    const before = fake.calls.length;

    // 03:00 in Dublin (UTC in winter): search-svc refreshes, web-frontend is locked.
    await clock.advance(Date.UTC(2026, 11, 1, 3) - clock.now());
    const tick = h.k.store.schedules.lastRun('search-svc')!;
    expect(tick).toMatchObject({ outcome: 'started', night: '2026-11-30' });
    const refresh = tick.deployId!;
    expect(h.k.store.schedules.lastRun('web-frontend')).toMatchObject({ outcome: 'skipped' });
    // Partway: the summary shows it running.
    await clock.runUntil(() => state(h, refresh) === 'provisioning');
    await settled(h);
    const [summary] = topLevel(fake, PLATFORM_CHANNEL, before);
    expect(summary).toBeDefined();
    await clock.runUntil(() => ended(h, refresh));
    expect(state(h, refresh)).toBe('succeeded');
    await settled(h);

    // The announcement comes first in the refresh channel, then the deploy's card (the thread "below").
    const [announcement, card, ...others] = topLevel(fake, SEARCH_CHANNEL, before);
    expect(others).toEqual([]);
    expect(textOf(announcement!)).toContain('Nightly refresh of search-svc `v123` starting*: new cluster, cutover without a person when every health check passes');
    expect(textOf(announcement!)).toContain('— thread below');
    expect(textOf(announcement!)).toContain('every day at 03:00 Europe/Dublin');
    expect(announcement!.body.metadata).toMatchObject({ event_type: 'kubecontrol_schedule_message', event_payload: { run: tick.id, key: 'notice' } });
    expect(textOf(card!)).toContain(`deploy #${refresh} `);
    // Progress in the thread like any deploy, then the result, also to the channel.
    const thread = posts(fake, SEARCH_CHANNEL, before).filter((c) => c.body.thread_ts === card!.response.ts);
    expect(thread.some((c) => /build started/.test(textOf(c)))).toBe(true);
    expect(thread.some((c) => /Approved\* by kubecontrol schedule/.test(textOf(c)))).toBe(true);
    const final = thread.find((c) => c.body.reply_broadcast === true || c.body.reply_broadcast === 'true')!;
    expect(textOf(final)).toContain('search-svc v123 is live');
    // The announcement is edited with the result.
    const edited = updatesOf(fake, announcement!.response.ts);
    expect(edited).toHaveLength(1);
    expect(textOf(edited[0]!)).toMatch(/✅ refreshed: `v123` is live on `search-svc-\d+`/);
    // The skipped tick is said in its own channel, with why.
    const [skipped] = topLevel(fake, WEB_CHANNEL, before);
    expect(textOf(skipped!)).toMatch(/⏭ \*Nightly refresh of web-frontend skipped\*: locked by <@U0CAROL01> since 2026-11-30 \d\d:\d\d UTC: “db migration”/);

    // One summary for the night, edited in place: running first, then how the night ended.
    expect(topLevel(fake, PLATFORM_CHANNEL, before)).toHaveLength(1);
    const summaryEdits = updatesOf(fake, summary!.response.ts);
    expect(summaryEdits.length).toBeGreaterThanOrEqual(1);
    expect([summary!, ...summaryEdits].some((c) => /\*search-svc\* `v123` ⟳ (building|provisioning)/.test(textOf(c)))).toBe(true);
    const night = textOf(summaryEdits.at(-1)!);
    expect(night).toContain('Scheduled refreshes — night of Mon 30 Nov 2026');
    expect(night).toMatch(/\*search-svc\* `v123` ✅ refreshed: `v123` is live on `search-svc-\d+` \(.*\) \(refresh #\d+ · <https:\/\/slack\.com\/archives\/C0SEARCH\/p\d+\|thread>\)/);
    expect(night).toMatch(/⏭ \*web-frontend\* skipped: locked by <@U0CAROL01> since .*“db migration”/);
    expect(night).toContain('2 refreshes: 1 succeeded, 1 skipped');
    expect(h.k.store.schedules.summary('2026-11-30')).toMatchObject({ channel: PLATFORM_CHANNEL, ts: summary!.response.ts, done: 1 });

    // `/kubeapp schedules`: each schedule in words, its next run, its last run with a link to its thread.
    const listed = await h.slash('schedules', DAVE);
    const answer = textOf(listed.json!);
    expect(answer).toContain('*search-svc* · every day at 03:00 Europe/Dublin · next <!date^');
    expect(answer).toMatch(new RegExp(`last: refresh #${refresh} ✅ succeeded · <https://slack.com/archives/C0SEARCH/p\\d+\\|thread>`));
    expect(answer).toContain('*web-frontend* · every day at 03:00 UTC');
    expect(answer).toMatch(/last: ⏭ skipped: locked by <@U0CAROL01> since .*“db migration”/);
    // Pausing is the owners'.
    expect(String((await h.slash('pause web-frontend', CAROL)).json!.text)).toBe('⛔ Carol may not pause web-frontend: that needs an owner (<@U0ALICE01>).');

    // The next night: a restart while the refresh runs keeps editing the same summary and announcement.
    await clock.advance(Date.UTC(2026, 11, 2, 3) - clock.now());
    const second = h.k.store.schedules.lastRun('search-svc')!.deployId!;
    await clock.runUntil(() => state(h, second) === 'provisioning');
    await settled(h);
    const [summary2] = topLevel(fake, PLATFORM_CHANNEL, before).slice(1);
    const [announcement2] = topLevel(fake, SEARCH_CHANNEL, before).slice(2);
    expect(textOf(summary2!)).toContain('night of Tue 1 Dec 2026');
    expect(textOf(announcement2!)).toContain('Nightly refresh of search-svc `v123` starting');
    await h.stop();
    const restartedAt = fake.calls.length;

    const clock2 = new ManualClock(clock.now());
    const h2 = await startSlackHarness({ fake, dbPath: h.dbPath, apps: apps(), clock: clock2, cardIntervalMs: 50 });
    harnesses.push(h2);
    await clock2.runUntil(() => ended(h2, second));
    expect(state(h2, second)).toBe('succeeded');
    await settled(h2);
    expect(topLevel(fake, PLATFORM_CHANNEL, restartedAt)).toEqual([]);
    expect(topLevel(fake, SEARCH_CHANNEL, restartedAt)).toEqual([]);
    expect(textOf(updatesOf(fake, summary2!.response.ts).at(-1)!)).toMatch(/\*search-svc\* `v123` ✅ refreshed/);
    expect(textOf(updatesOf(fake, announcement2!.response.ts).at(-1)!)).toContain('✅ refreshed');
    await h2.stop();

    // Down over the next 03:00, back at 04:30: search-svc catches up (within its 2 h), web-frontend has no window.
    const clock3 = new ManualClock(Date.UTC(2026, 11, 3, 4, 30));
    const backAt = fake.calls.length;
    const h3 = await startSlackHarness({ fake, dbPath: h.dbPath, apps: apps(), clock: clock3, cardIntervalMs: 50 });
    harnesses.push(h3);
    const caughtUp = h3.k.store.schedules.lastRun('search-svc')!;
    expect(caughtUp).toMatchObject({ outcome: 'started', missed: 1 });
    await clock3.runUntil(() => ended(h3, caughtUp.deployId!));
    await settled(h3);
    const [catchUp] = topLevel(fake, SEARCH_CHANNEL, backAt);
    expect(textOf(catchUp!)).toContain('↻ Catching up the run planned for Thu 3 Dec 2026, 03:00 Europe/Dublin, missed while kubecontrol was down (within its 120 min catch-up window).');
    const [missed] = topLevel(fake, WEB_CHANNEL, backAt);
    expect(textOf(missed!)).toContain(
      '⏭ *Nightly refresh of web-frontend skipped*: the run planned for Thu 3 Dec 2026, 03:00 UTC was missed while kubecontrol was down, and it has no catch-up window',
    );
    const [summary3] = topLevel(fake, PLATFORM_CHANNEL, backAt);
    const last = textOf(updatesOf(fake, summary3!.response.ts).at(-1) ?? summary3!);
    expect(last).toContain('night of Wed 2 Dec 2026');
    expect(last).toMatch(/\*search-svc\* `v123` ✅ refreshed.* — caught up after a restart/);
    expect(last).toContain('⏭ *web-frontend* skipped (missed while kubecontrol was down)');
  }, 120_000);
});
