/**
 * User groups against a Slack that misbehaves: a lookup that never answers
 * still gets the asker a clear "couldn't check your group membership" within
 * the timeout, concurrent askers share one request, a refresh asks
 * `usergroups.list` once for all handles, and every retry Slack caused
 * (HTTP 5xx, 429, no answer) leaves a warning in the log.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { warningFetch } from '../bot/logger.js';
import { defineKubeApp } from '../kubeapps/index.js';
import { createLogger } from '../system/logger.js';
import { FakeSlack } from './fakes/slack-api.js';
import { ALICE, CAROL, DAVE, SEARCH_CHANNEL, startSlackHarness, testApps, type SlackHarness } from './fakes/slack-harness.js';
import { warningsOf } from './fakes/slack-harness.js';
import { logChunks } from './helpers/log-sink.js';

const people = { [ALICE]: 'Alice', [CAROL]: 'Carol', [DAVE]: 'Dave' };

/** The warnings logged so far, as pino wrote them. */
const warnings = warningsOf;

const count = (fake: FakeSlack, method: string): number => fake.calls.filter((c) => c.method === method).length;

describe('a user-group lookup that Slack never answers', () => {
  let fake: FakeSlack | undefined;
  let h: SlackHarness | undefined;
  afterEach(async () => {
    await h?.close();
    await fake?.close();
    h = undefined;
  });

  it('answers the member at once, says "Slack did not answer" once the lookup is overdue, shares the one request, and works once Slack answers', async () => {
    fake = await FakeSlack.start({ users: people, groups: { 'search-team': [DAVE] }, channels: { '#search-team': SEARCH_CHANNEL } });
    fake.fault('usergroups.users.list', { stall: true }, Infinity);
    h = await startSlackHarness({
      fake,
      // One attempt, a long per-call timeout: the lookup deadline, not the client, answers the asker.
      connect: { retryConfig: { retries: 0 }, timeoutMs: 20_000, groupLookupTimeoutMs: 200 },
      groupWarmupMs: 20,
    });
    const first = await h.slash('lock search-svc "game day"', DAVE, { triggerId: 'stalled-1' });
    expect(String(first.json!.text)).toBe("🔁 Couldn't check your group membership for search-svc (@search-team: its members are still being fetched from Slack); try again.");
    expect(h.k.store.commands.byIdempotencyKey('slack:command:stalled-1')).toMatchObject({ actor: DAVE, outcome: 'failed' });

    // Past the lookup's deadline, askers are told Slack did not answer (no "⟳ Working on" that never ends).
    await fake.waitFor('the lookup to be overdue', () => {
      const now = h!.slack.groups.membersNow('search-team');
      return !now.known && /did not answer/.test(now.reason);
    });
    const again = await h.slash('lock search-svc "game day"', DAVE, { triggerId: 'stalled-2' });
    expect(String(again.json!.text)).toBe("🔁 Couldn't check your group membership for search-svc (@search-team: Slack did not answer within 0.2s); try again.");
    expect(h.k.store.locks.get('search-svc')).toBeUndefined();

    // Every ask joined the lookup in flight: one usergroups.list, one usergroups.users.list.
    await Promise.all([1, 2, 3].map((i) => h!.slash('unlock search-svc', DAVE, { triggerId: `stalled-more-${i}` })));
    expect(count(fake, 'usergroups.list')).toBe(1);
    expect(count(fake, 'usergroups.users.list')).toBe(1);

    // Slack answers again: the stalled call ends (HTTP 500), the next ask looks the group up anew, and the member is let in.
    fake.clearFaults();
    fake.release();
    await fake.waitFor('the group to be known', () => h!.slack.groups.membersNow('search-team').known);
    const locked = await h.slash('lock search-svc "game day"', DAVE, { triggerId: 'stalled-3' });
    expect(String(locked.json!.text)).toMatch(/✓ search-svc is locked: “game day”/);
  });

  it('a call without an answer is bounded by the client timeout: the member hears why, and the log has a warning per attempt', async () => {
    fake = await FakeSlack.start({ users: people, groups: { 'search-team': [DAVE] }, channels: { '#search-team': SEARCH_CHANNEL } });
    fake.fault('usergroups.users.list', { stall: true }, Infinity);
    h = await startSlackHarness({
      fake,
      connect: { retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 }, timeoutMs: 150, groupLookupTimeoutMs: 60_000 },
      groupWarmupMs: 20,
    });
    // Two attempts of 150 ms each, then the lookup fails with the reason: no wait on a timer here, only on the outcome.
    await fake.waitFor('the lookup to fail', () => {
      const now = h!.slack.groups.membersNow('search-team');
      return !now.known && /timed out/.test(now.reason);
    });
    const answer = await h.slash('lock search-svc "game day"', DAVE);
    expect(String(answer.json!.text)).toMatch(/^🔁 Couldn't check your group membership for search-svc \(@search-team: Slack did not answer \(timed out\)\); try again\.$/);
    expect(count(fake, 'usergroups.users.list')).toBeGreaterThanOrEqual(2);
    expect(warnings(h).filter((m) => /^Slack usergroups\.users\.list: no answer \(timed out\); the client retries/.test(m)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('refreshing the user groups the KubeApps name', () => {
  let h: SlackHarness | undefined;
  let fake: FakeSlack | undefined;
  afterEach(async () => {
    await h?.close();
    await fake?.close();
  });

  it('asks usergroups.list once per refresh for all handles, then usergroups.users.list once per named group', async () => {
    fake = await FakeSlack.start({
      users: people,
      groups: { 'search-team': [DAVE], sre: [ALICE], 'release-managers': [CAROL], unrelated: [] },
      channels: { '#search-team': SEARCH_CHANNEL },
    });
    const pods = { replicas: 1, containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] };
    const apps = [
      ...testApps(),
      defineKubeApp({ name: 'billing', image: { repository: 'billing' }, pods, owners: [ALICE], deployers: ['@sre', '@Search-Team'], approvers: ['@release-managers'], channel: '#billing' }),
    ];
    h = await startSlackHarness({ fake, apps });
    // The start's refresh: one list for the three handles.
    expect(count(fake, 'usergroups.list')).toBe(1);
    expect(fake.calls.filter((c) => c.method === 'usergroups.users.list').map((c) => c.body.usergroup).sort()).toEqual(['S0GROUP0', 'S0GROUP1', 'S0GROUP2']);

    const mark = fake.calls.length;
    await Promise.all([h.slack.groups.refresh(), h.slack.groups.refresh()]);
    const after = fake.calls.slice(mark);
    expect(after.filter((c) => c.method === 'usergroups.list')).toHaveLength(1);
    expect(after.filter((c) => c.method === 'usergroups.users.list')).toHaveLength(3);
    expect(h.slack.groups.membersNow('sre')).toEqual({ known: true, members: [ALICE] });
  });
});

describe('retries Slack caused', () => {
  let h: SlackHarness | undefined;
  afterEach(() => h?.close());

  it('an HTTP 503 and a 429 are retried by the client and each leaves a warning naming the method', async () => {
    h = await startSlackHarness();
    // A method nothing else calls, so the faults are this call's.
    h.fake.fault('team.info', { status: 503 }, 1);
    h.fake.fault('team.info', { retryAfter: 0 }, 1);
    const res = await h.slack.client.team.info();
    expect(res.ok).toBe(true);
    expect(h.fake.calls.filter((c) => c.method === 'team.info').map((c) => c.status)).toEqual([503, 429, 200]);
    const logged = warnings(h);
    expect(logged).toContainEqual(expect.stringMatching(/^Slack team\.info: HTTP 503; the client retries \(at most 2 times\)$/));
    expect(logged).toContainEqual(expect.stringMatching(/^Slack team\.info: rate limited \(HTTP 429, Retry-After 0s\); the client retries/));
  });
});

describe("Bolt's respond (a response_url POST)", () => {
  it('gets a deadline when it brings none, and its failure is logged as not retried', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', logChunks(lines));
    // A response_url that never answers: only the signal ends the wait.
    const never: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)));
    const post = warningFetch(logger, 'the client retries', 50, never);
    await expect(post('https://hooks.slack.com/actions/T0/1/secretish', { method: 'POST', body: '{}' })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['Slack response_url: no answer (timed out); not retried']);
  });
});
