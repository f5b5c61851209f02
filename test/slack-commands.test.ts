/**
 * /kubeapp at the wire: signatures and the replay window (past and future), Slack retries,
 * ephemeral errors, history and status tables, the channel's default app,
 * user groups, the slow path through response_url, and secrets in logs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeSlack } from './fakes/slack-api.js';
import { ALICE, BOB, BOT_TOKEN, CAROL, DAVE, MALLORY, SEARCH_CHANNEL, SECRET, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';
import { postSigned, slashCommand } from './fakes/slack-requests.js';
import { resultAnswer } from '../bot/views.js';

describe('/kubeapp', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness();
  });
  afterAll(() => h.close());

  const commandsCount = (): number => h.k.store.commands.recent(1000).length;

  it('rejects a bad signature and a stale timestamp with 401, before any listener runs', async () => {
    const before = commandsCount();
    const form = slashCommand({ text: 'deploy search-svc v1', userId: CAROL, responseUrl: h.fake.responseUrl('nope') });
    const forged = await postSigned(h.eventsUrl, SECRET, form, { signature: 'v0=' + '0'.repeat(64) });
    expect(forged.status).toBe(401);
    const wrongSecret = await postSigned(h.eventsUrl, 'not-the-secret-at-all', form);
    expect(wrongSecret.status).toBe(401);
    const stale = await postSigned(h.eventsUrl, SECRET, form, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    // Bolt checks only the past; a request signed for later is refused too (beyond a minute of clock skew).
    const future = await postSigned(h.eventsUrl, SECRET, form, { timestamp: Math.floor(Date.now() / 1000) + 5 * 60 });
    expect(future.status).toBe(401);
    expect(h.logs.join('\n')).toMatch(/rejected a Slack request: x-slack-request-timestamp is \d+s in the future \(at most 60s allowed\)/);
    const unsigned = await fetch(h.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    expect(unsigned.status).toBe(401);
    expect(commandsCount()).toBe(before);
    expect(h.k.store.deploys.active()).toEqual([]);
  });

  it('accepts a timestamp a few seconds ahead (clock skew within a minute)', async () => {
    const reply = await postSigned(h.eventsUrl, SECRET, slashCommand({ text: 'help', userId: CAROL, responseUrl: h.fake.responseUrl('skew') }), {
      timestamp: Math.floor(Date.now() / 1000) + 30,
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ response_type: 'ephemeral' });
  });

  it('a retried delivery of a recorded command does not deploy twice', async () => {
    const form = slashCommand({ text: 'deploy search-svc v1', userId: CAROL, triggerId: 'trigger-retried', responseUrl: h.fake.responseUrl('retried') });
    const first = await postSigned(h.eventsUrl, SECRET, form);
    expect(String(first.json?.text)).toMatch(/Deploy #1: search-svc v1/);
    const retry = await postSigned(h.eventsUrl, SECRET, form, { retryNum: 1 });
    expect(retry.status).toBe(200);
    expect(retry.json).toMatchObject({ response_type: 'ephemeral' });
    expect(String(retry.json?.text)).toMatch(/Already received \(command #\d+, accepted\); not acting on it twice/);
    expect(h.k.store.deploys.history('search-svc').map((d) => d.id)).toEqual([1]);
    await h.fake.waitFor('deploy #1 waiting for approval', () => h.k.store.deploys.get(1)!.state === 'awaiting_approval');
  });

  it.each([
    ['depoly search-svc v2', /Unknown command `depoly`\. Did you mean `deploy`\?[\s\S]*\/kubeapp help/],
    ['deploy serch-svc v2', /There is no app `serch-svc`\. Did you mean `search-svc`\?/],
    ['deploy search-svc', /`deploy` needs a version\. Usage: `deploy APP VERSION/],
    ['deploy search-svc v2 --strategy canary', /`--strategy canary` is not a strategy/],
    ['approve abc', /`abc` is not a deploy id/],
    ['', /No command given/],
  ])('answers `%s` ephemerally and specifically', async (text, expected) => {
    const reply = await h.slash(text, CAROL);
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ response_type: 'ephemeral' });
    expect(String(reply.json!.text)).toMatch(expected);
  });

  it('refuses a stranger ephemerally and records the refusal', async () => {
    const reply = await h.slash('deploy search-svc v3', MALLORY, { triggerId: 'mallory-1' });
    expect(String(reply.json!.text)).toMatch(/may not deploy search-svc: deploys need an owner \(<@U0ALICE01>\) or a deployer \(<@U0CAROL01>, carol, @search-team\)/);
    expect(h.k.store.commands.byIdempotencyKey('slack:command:mallory-1')).toMatchObject({ actor: MALLORY, outcome: 'refused', verb: 'deploy' });
  });

  it('lets a member of a deployers user group deploy (resolved from the group cache)', async () => {
    await h.fake.waitFor('the group cache', () => h.bot && h.k && h.fake.ok('usergroups.users.list').length > 0);
    // Answered on the ack path: the group's members come from the cache, not from Slack.
    const calls = h.fake.calls.length;
    const lock = await h.slash('lock search-svc "load test until 3pm"', DAVE);
    expect(String(lock.json!.text)).toMatch(/✓ search-svc is locked: “load test until 3pm”/);
    expect(String((await h.slash('unlock search-svc', DAVE)).json!.text)).toMatch(/✓ search-svc is unlocked/);
    expect(h.fake.calls.slice(calls).filter((c) => c.method.startsWith('usergroups.'))).toEqual([]);

    const reply = await h.slash('deploy search-svc v4 --dry-run', DAVE, { responseId: 'dave-dry-run' });
    // A dry run reads the provider: the ack says so, the plan follows on the response_url.
    expect(String(reply.json!.text)).toMatch(/Working on `deploy search-svc v4 --dry-run`/);
    const plan = await h.fake.waitFor('the plan', () => h.fake.responses.find((r) => r.id === 'dave-dry-run'));
    expect(plan.body.response_type).toBe('ephemeral');
    expect(textOf(plan.body)).toMatch(/Dry run\* of search-svc `v4` \(blue-green\)/);
  });

  it('fills in the channel app: `deploy v5` in #search-team', async () => {
    const reply = await h.slash('deploy v5', CAROL);
    expect(String(reply.json!.text)).toMatch(/Deploy #\d+: search-svc v5 \(blue-green\) queued[\s\S]*search-svc is this channel's app/);
    const typo = await h.slash('deploy serch-svc', CAROL);
    expect(String(typo.json!.text)).toMatch(/`deploy` needs a version/);
  });

  it('answers history and status with a compact table', async () => {
    const history = await h.slash('history search-svc', CAROL);
    expect(history.json!.response_type).toBe('ephemeral');
    const rows = textOf(history.json!);
    expect(rows).toMatch(/\*#1\* · `v1` · blue-green · <@U0CAROL01> · <!date\^\d+\^[^|]+\|[^>]+> · ✋ awaiting approval · [\d.]+m?s · <https:\/\/slack\.com\/archives\/C0SEARCH\/p\d+\|thread>/);
    expect(rows).toMatch(/\*#\d+\* · `v5` · blue-green · <@U0CAROL01> .*queued \(1 ahead\)/);
    const status = await h.slash('status', CAROL);
    const text = textOf(status.json!);
    expect(text).toMatch(/\*search-svc\* · _not deployed yet_/);
    expect(text).toMatch(/\*#1\* · `v1`.*awaiting approval/);
    expect(text).toMatch(/\*web-frontend\* · _not deployed yet_/);
  });

  it('answers a failed group lookup as "try again", not as a refusal or a failure', () => {
    const message = "Couldn't check your group membership for search-svc (@platform-oncall: ratelimited); try again.";
    const answer = resultAnswer({ kind: 'error', status: 'error', code: 'group_lookup_failed', message, commandId: 1, verb: 'deploy' });
    expect(answer).toMatchObject({ response_type: 'ephemeral', text: `🔁 ${message}` });
  });

  it('never writes tokens or the signing secret to logs, events, commands or messages', async () => {
    const everything = [
      h.logs.join('\n'),
      JSON.stringify(h.k.store.commands.recent(1000)),
      JSON.stringify(h.k.store.deploys.history('search-svc', 100).flatMap((d) => h.k.store.events.after(d.id))),
      JSON.stringify(h.fake.calls.map((c) => c.body)),
      JSON.stringify(h.fake.responses),
    ].join('\n');
    expect(h.logs.length).toBeGreaterThan(0);
    expect(everything).not.toContain(BOT_TOKEN);
    expect(everything).not.toContain(SECRET);
    // The token goes where it belongs: the Authorization header.
    expect(h.fake.calls[0]!.authorization).toBe(`Bearer ${BOT_TOKEN}`);
  });
});

describe('/kubeapp when a user group could not be loaded', () => {
  it('answers a group member at once with "couldn\'t check, try again" (recorded), and the retry works once the group is known', async () => {
    const fake = await FakeSlack.start({
      users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol', [DAVE]: 'Dave', [MALLORY]: 'Mallory' },
      groups: { 'search-team': [DAVE] },
      channels: { '#search-team': SEARCH_CHANNEL },
    });
    // The start's one lookup of @search-team fails: the cache knows nothing of the group.
    fake.failOnce('usergroups.users.list', 'ratelimited');
    const h = await startSlackHarness({ fake });
    try {
      const first = await h.slash('lock search-svc "game day"', DAVE, { triggerId: 'dave-lock-1' });
      expect(String(first.json!.text)).toBe("🔁 Couldn't check your group membership for search-svc (@search-team: ratelimited); try again.");
      expect(h.k.store.commands.byIdempotencyKey('slack:command:dave-lock-1')).toMatchObject({ actor: DAVE, outcome: 'failed', verb: 'lock' });
      expect(h.k.store.locks.get('search-svc')).toBeUndefined();
      // The unknown group was looked up again in the background; trying again is answered from the cache.
      await fake.waitFor('the group lookup', () => fake.ok('usergroups.users.list').length > 0);
      const again = await h.slash('lock search-svc "game day"', DAVE, { triggerId: 'dave-lock-2' });
      expect(String(again.json!.text)).toMatch(/✓ search-svc is locked: “game day”/);
    } finally {
      await h.close();
      await fake.close();
    }
  });
});
