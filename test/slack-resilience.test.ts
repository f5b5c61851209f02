/**
 * The thread reporter under stress: Slack rate limits (429 + Retry-After),
 * a chatty deploy's card updates being coalesced, and a restart in the middle
 * of a deploy continuing the same thread.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { ACTION_APPROVE } from '../bot/constants.js';
import { FakeSlack } from './fakes/slack-api.js';
import { ALICE, BOB, CAROL, SEARCH_CHANNEL, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';

describe('Slack rate limits', () => {
  let h: SlackHarness;
  afterAll(() => h?.close());

  it('retries after Retry-After and still ends with the latest card; card edits are coalesced', async () => {
    h = await startSlackHarness();
    h.fake.rateLimitOnce('chat.update', 1);
    const reply = await h.slash('deploy search-svc v1', CAROL);
    expect(String(reply.json!.text)).toMatch(/Deploy #1/);
    const ts = await h.fake.waitFor('thread', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
    const limited = await h.fake.waitFor('a 429', () => h.fake.calls.find((c) => c.method === 'chat.update' && c.status === 429));
    expect(limited.body.ts).toBe(ts);
    // The same edit went through after the pause, and later edits of the same card followed.
    await h.fake.waitFor("the card at the approval wait", () =>
      h.fake.ok('chat.update', (c) => c.body.ts === ts && /awaiting approval/.test(textOf(c))).pop(),
    );
    // Coalescing: far fewer card edits than events (every event would be ~40 edits).
    const events = h.k.store.events.after(1).length;
    const edits = h.fake.ok('chat.update', (c) => c.body.ts === ts).length;
    expect(events).toBeGreaterThan(20);
    expect(edits).toBeLessThan(events / 3);
    // The thread replies are batched as well.
    const replies = h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts).length;
    expect(replies).toBeLessThan(events / 3);
  });
});

describe('a restart in the middle of a deploy', () => {
  let fake: FakeSlack;
  let first: SlackHarness | undefined;
  let second: SlackHarness | undefined;
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await fake?.close();
  });

  it('continues the same thread: same card, same thread_ts, no second card', async () => {
    fake = await FakeSlack.start({
      users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol' },
      groups: { 'search-team': [] },
      channels: { '#search-team': SEARCH_CHANNEL },
    });
    first = await startSlackHarness({ fake });
    await first.slash('deploy search-svc v1', CAROL);
    const ts = await fake.waitFor('thread', () => first!.k.store.deploys.get(1)!.threadTs ?? undefined);
    const approval = await first.approvalMessage(ts);
    await fake.waitFor('card at approval', () => fake.ok('chat.update', (c) => c.body.ts === ts && /awaiting approval/.test(textOf(c))).pop());
    await first.bot.reporter.idle();
    await first.stop();

    const mark = fake.calls.length;
    second = await startSlackHarness({ fake, dbPath: first.dbPath });
    // The restart is reported in the thread the deploy already has.
    await fake.waitFor('the resume line in the thread', () =>
      fake.calls.slice(mark).find((c) => c.method === 'chat.postMessage' && c.body.thread_ts === ts && /resumed after a restart/.test(String(c.body.text))),
    );
    // The old buttons still work on the new process.
    await second.click(ACTION_APPROVE, 1, BOB, String(approval.response.ts), { responseId: 'after-restart' });
    const answer = await fake.waitFor('answer', () => fake.responses.find((r) => r.id === 'after-restart'));
    expect(String(answer.body.text)).toMatch(/Deploy #1 approved/);
    await fake.waitFor('done', () => second!.k.store.slack.get(1)?.done === 1);

    const after = fake.calls.slice(mark).filter((c) => c.status === 200 && c.method.startsWith('chat.'));
    const updates = after.filter((c) => c.method === 'chat.update');
    const posts = after.filter((c) => c.method === 'chat.postMessage');
    expect(posts.filter((c) => !c.body.thread_ts)).toEqual([]); // no new card
    expect(posts.every((c) => c.body.thread_ts === ts && c.body.channel === SEARCH_CHANNEL)).toBe(true);
    expect(new Set(updates.map((c) => c.body.ts))).toEqual(new Set([ts, approval.response.ts]));
    expect(textOf(updates.filter((c) => c.body.ts === ts).pop()!)).toMatch(/✅ \*succeeded\*/);
    expect(posts.some((c) => c.body.reply_broadcast === 'true' && /search-svc v1 is live/.test(textOf(c)))).toBe(true);
    // Nothing reported twice: each event line appears once over both processes.
    const lines = fake
      .ok('chat.postMessage', (c) => c.body.thread_ts === ts && !c.body.blocks)
      .flatMap((c) => String(c.body.text).split('\n'))
      .map((l) => l.replace(/^<!date[^>]+> /, ''));
    expect(lines.filter((l) => /build started/.test(l))).toHaveLength(1);
  });
});

describe('a long quiet step, then a failure', () => {
  let h: SlackHarness;
  afterAll(() => h?.close());

  it('keeps the elapsed time fresh, then reports the failure and the cleanup', async () => {
    h = await startSlackHarness({ heartbeatMs: 100 });
    // The build never finishes: the step times out (about a second at this scale) and the deploy fails.
    h.k.store.sandbox.addFault({ step: 'build', fault: 'timeout', app: 'search-svc' });
    await h.slash('deploy search-svc v1', CAROL);
    const ts = await h.fake.waitFor('thread', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
    await h.fake.waitFor('failed', () => h.k.store.deploys.get(1)!.state === 'failed');
    const final = await h.fake.waitFor('final', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(/Deploy #1 of search-svc v1 failed\* after .*build timed out/);
    const card = await h.fake.waitFor('card: cleanup finished', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /Cleanup finished/.test(textOf(c))).pop());
    expect(textOf(card)).toMatch(/✗ build/);
    // While only the build was left running, the card was edited with nothing new but the clock.
    const quiet = h.fake
      .ok('chat.update', (c) => c.body.ts === ts && /✓ provision/.test(textOf(c)) && /⟳ build/.test(textOf(c)))
      .map((c) => /\*Elapsed\*\n(\S+)/.exec(textOf(c))?.[1]);
    expect(quiet.every(Boolean)).toBe(true);
    expect(new Set(quiet).size).toBeGreaterThanOrEqual(2);
  });
});
