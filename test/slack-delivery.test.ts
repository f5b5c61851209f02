/**
 * Delivery that converges: the thread reporter against a Slack that
 * misbehaves (5xx bursts, edit_window_closed, a call that never answers, 429
 * with Retry-After), through the real Bolt app and server. The harness's
 * reporter is swapped for one with small retry delays and a WebClient without
 * its own retries, so every failure reaches the reporter's backoff. Nothing
 * sleeps: the tests wait for conditions on what Slack received.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { webApi } from '@slack/bolt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThreadReporter, type ReporterOptions } from '../bot/reporter.js';
import { openDb } from '../store/db.js';
import { Store } from '../store/index.js';
import { MIGRATIONS } from '../store/migrations.js';
import { createLogger } from '../system/logger.js';
import type { SlackCall } from './fakes/slack-api.js';
import { BOB, BOT_TOKEN, CAROL, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';
import { logLines } from './helpers/log-sink.js';

interface Setup {
  readonly h: SlackHarness;
  readonly reporter: ThreadReporter;
  readonly logs: { level: number; msg: string; kind?: string; code?: string; deployId?: number }[];
}

let current: Setup | undefined;
afterEach(async () => {
  if (!current) return;
  await current.reporter.stop();
  current.h.fake.clearFaults();
  current.h.fake.release();
  await current.h.close();
  current = undefined;
});

/** A harness whose thread reporter has small retry delays, no client-side retries, and a log the test reads. */
async function setup(options: Partial<ReporterOptions> = {}, client: webApi.WebClientOptions = {}): Promise<Setup> {
  const h = await startSlackHarness();
  await h.bot.reporter.stop();
  const logs: Setup['logs'] = [];
  const logger = createLogger('debug', logLines(logs));
  const reporter = new ThreadReporter({
    store: h.k.store,
    core: h.k.core,
    apps: h.k.apps,
    // The client's own warnings would go to the console; the reporter's log lines are what the tests read.
    client: new webApi.WebClient(BOT_TOKEN, { slackApiUrl: h.fake.apiUrl, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR, ...client }),
    logger,
    providerLabel: h.k.provider.label,
    intervalMs: 50,
    retryBaseMs: 20,
    retryMaxMs: 200,
    ...options,
  });
  reporter.start();
  current = { h, reporter, logs };
  return current;
}

/** Starts `deploy search-svc v1` as Carol; resolves with the thread ts. */
async function deploy(h: SlackHarness): Promise<string> {
  await h.slash('deploy search-svc v1', CAROL);
  return h.fake.waitFor('the thread', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
}

const approve = async (h: SlackHarness): Promise<unknown> => h.k.core.execute({ actor: { id: BOB }, surface: 'cli', input: ['approve', '1'] });

/** Waits until the deploy is fully reported (the reporter marks the thread done). */
const reported = (h: SlackHarness): Promise<unknown> => h.fake.waitFor('everything reported', () => h.k.store.slack.get(1)?.done === 1);

const isFinal = (ts: string) => (c: SlackCall): boolean => c.body.thread_ts === ts && c.body.reply_broadcast === 'true';
const hasButtons = (c: SlackCall): boolean => JSON.stringify(c.body.blocks ?? '').includes('kubecontrol.approve');

describe('delivery that converges', () => {
  it('card edits failing with 503 for a while: the buttons still come, and the card, the result and the approval end right', async () => {
    const { h, reporter, logs } = await setup();
    h.fake.fault('chat.update', { status: 503 }, Infinity);
    const ts = await deploy(h);
    // The approval buttons are posted while every card edit fails.
    const approval = await h.fake.waitFor('the buttons', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && hasButtons(c))[0]);
    expect(h.fake.ok('chat.update')).toEqual([]);
    const failures = await h.fake.waitFor('several failed edits', () => {
      const f = h.fake.calls.filter((c) => c.method === 'chat.update' && c.status === 503);
      return f.length >= 4 && f;
    });
    // Backoff: the gaps between attempts grow (no attempt every time an event arrives).
    const gaps = failures.slice(1).map((c, i) => c.at - failures[i]!.at);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(20);
    // Visible: a warn line naming the kind and Slack's error, and the backlog.
    expect(logs.some((l) => l.level === 40 && l.kind === 'card' && l.code === 'http_503' && l.deployId === 1)).toBe(true);
    expect(reporter.backlog()).toEqual([
      { deployId: 1, app: 'search-svc', pending: [expect.objectContaining({ kind: 'card', lastError: 'http_503', permanent: false })] },
    ]);

    await approve(h);
    await h.fake.waitFor('succeeded', () => h.k.store.deploys.get(1)!.state === 'succeeded');
    // The result does not wait for the card either.
    const final = await h.fake.waitFor('the result', () => h.fake.ok('chat.postMessage', isFinal(ts))[0]);
    expect(textOf(final)).toMatch(/search-svc v1 is live/);
    expect(h.k.store.slack.get(1)!.done).toBe(0);

    // Slack answers again: everything catches up.
    h.fake.clearFaults();
    await reported(h);
    const card = h.fake.ok('chat.update', (c) => c.body.ts === ts).pop()!;
    expect(textOf(card)).toMatch(/✅ \*succeeded\*/);
    expect(textOf(card)).toMatch(/Live\*/);
    const closed = h.fake.ok('chat.update', (c) => c.body.ts === approval.response.ts).pop()!;
    expect(textOf(closed)).toMatch(/Approved\* by/);
    expect(hasButtons(closed)).toBe(false);
    expect(reporter.backlog()).toEqual([]);
    expect(logs.some((l) => l.level === 30 && /Slack took the card of deploy #1 again/.test(l.msg))).toBe(true);
    // Nothing posted twice.
    expect(h.fake.ok('chat.postMessage', isFinal(ts))).toHaveLength(1);
    expect(h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && hasButtons(c))).toHaveLength(1);
  });

  it('a card Slack will not edit any more (edit_window_closed) is replaced in its thread, and the new one is kept up to date', async () => {
    const { h, logs } = await setup();
    h.fake.fault('chat.update', { error: 'edit_window_closed' }, 1);
    const ts = await deploy(h);
    const replacement = await h.fake.waitFor('the new card', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && /could not be edited any more \(edit_window_closed\)/.test(textOf(c)))[0]);
    const newTs = String(replacement.response.ts);
    await h.fake.waitFor('the new ts stored', () => h.k.store.slack.get(1)!.cardTs === newTs);
    expect(logs.some((l) => l.level === 40 && /replaced by a new one/.test(l.msg))).toBe(true);
    await h.fake.waitFor('waiting', () => h.k.store.deploys.get(1)!.state === 'awaiting_approval');
    await approve(h);
    await reported(h);
    const last = h.fake.ok('chat.update', (c) => c.body.ts === newTs).pop()!;
    expect(textOf(last)).toMatch(/✅ \*succeeded\*/);
    // The old card is not edited again after it was refused.
    expect(h.fake.ok('chat.update', (c) => c.body.ts === ts && c.response.ok === true)).toEqual([]);
  });

  it('a card edit that never answers does not hold back the buttons or the result; the card converges once it is let go', async () => {
    const { h } = await setup({ callTimeoutMs: 60_000 });
    h.fake.fault('chat.update', { stall: true }, 1);
    const ts = await deploy(h);
    const stalled = await h.fake.waitFor('the stalled edit', () => h.fake.calls.find((c) => c.method === 'chat.update' && c.status === 0));
    await h.fake.waitFor('the buttons', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && hasButtons(c))[0]);
    await approve(h);
    await h.fake.waitFor('the result', () => h.fake.ok('chat.postMessage', isFinal(ts))[0]);
    // Still held: no card edit has got through since.
    expect(h.fake.ok('chat.update', (c) => c.body.ts === ts && c.at >= stalled.at)).toEqual([]);
    h.fake.release();
    await reported(h);
    expect(textOf(h.fake.ok('chat.update', (c) => c.body.ts === ts).pop()!)).toMatch(/✅ \*succeeded\*/);
  });

  it('a card edit with no answer within callTimeoutMs is retried without waiting for it', async () => {
    const { h } = await setup({ callTimeoutMs: 150 });
    h.fake.fault('chat.update', { stall: true }, 1);
    const ts = await deploy(h);
    await h.fake.waitFor('waiting', () => h.k.store.deploys.get(1)!.state === 'awaiting_approval');
    await approve(h);
    await reported(h); // without release()
    expect(textOf(h.fake.ok('chat.update', (c) => c.body.ts === ts).pop()!)).toMatch(/✅ \*succeeded\*/);
  });

  it('429 with Retry-After: the next attempt is not before it', async () => {
    const { h, reporter } = await setup({}, { rejectRateLimitedCalls: true });
    h.fake.fault('chat.update', { retryAfter: 1 }, 1);
    const ts = await deploy(h);
    const limited = await h.fake.waitFor('the 429', () => h.fake.calls.find((c) => c.method === 'chat.update' && c.status === 429));
    const pending = await h.fake.waitFor('the backlog', () => reporter.backlog()[0]?.pending[0]);
    expect(pending).toMatchObject({ kind: 'card', lastError: 'ratelimited' });
    expect(pending.retryAt! - limited.at).toBeGreaterThanOrEqual(1000);
    const next = await h.fake.waitFor('the next edit', () => h.fake.calls.find((c) => c.method === 'chat.update' && c.body.ts === ts && c.at > limited.at));
    expect(next.at - limited.at).toBeGreaterThanOrEqual(1000);
  });

  it('a permanent error (channel_not_found) stops that delivery only, logged at error and kept in the backlog', async () => {
    const { h, reporter, logs } = await setup();
    h.fake.fault('chat.update', { error: 'not_in_channel' }, Infinity);
    const ts = await deploy(h);
    await h.fake.waitFor('the buttons', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && hasButtons(c))[0]);
    await h.fake.waitFor('blocked', () => reporter.backlog()[0]?.pending.find((p) => p.kind === 'card' && p.permanent));
    expect(logs.some((l) => l.level === 50 && l.kind === 'card' && l.code === 'not_in_channel' && l.deployId === 1)).toBe(true);
    const attempts = h.fake.calls.filter((c) => c.method === 'chat.update' && c.body.ts === ts).length;
    expect(attempts).toBe(1);
  });
});

describe('idempotent posts', () => {
  it('a reply or a result whose answer was lost (it landed) is found in the thread, not posted twice', async () => {
    // A fetch in front of the fake: the first thread reply and the result reach Slack, but their answers are lost on the way
    // back; conversations.replies answers with what the fake holds in the thread (with metadata), as Slack would.
    let harness: SlackHarness | undefined;
    const lose = new Set(['events', 'final']);
    let lookups = 0;
    const lossy: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const method = url.split('/api/')[1] ?? '';
      const body = new URLSearchParams(String(init?.body ?? ''));
      if (method === 'conversations.replies') {
        lookups++;
        const messages = harness!.fake.ok('chat.postMessage', (c) => c.body.thread_ts === body.get('ts')).map((c) => ({ ts: c.response.ts, text: c.body.text, metadata: c.body.metadata }));
        return new Response(JSON.stringify({ ok: true, messages }), { status: 200, headers: { 'content-type': 'application/json' } });
      }
      const res = await fetch(input, init);
      const key = String((JSON.parse(body.get('metadata') ?? '{}') as { event_payload?: { key?: string } }).event_payload?.key ?? '').split(':')[0]!;
      if (method === 'chat.postMessage' && lose.delete(key)) throw new TypeError('fetch failed: other side closed');
      return res;
    };
    const { h } = await setup({}, { fetch: lossy });
    harness = h;
    const ts = await deploy(h);
    await h.approvalMessage(ts);
    await approve(h);
    await reported(h);
    expect(lose.size).toBe(0);
    expect(lookups).toBeGreaterThanOrEqual(2);
    const lines = h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && !c.body.blocks).flatMap((c) => String(c.body.text).split('\n'));
    expect(lines.filter((l) => /build started/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /cutover succeeded/.test(l))).toHaveLength(1);
    expect(h.fake.ok('chat.postMessage', isFinal(ts))).toHaveLength(1);
    expect(h.k.store.slack.get(1)!.finalTs).toBe(h.fake.ok('chat.postMessage', isFinal(ts))[0]!.response.ts);
  });
});

describe('the first card', () => {
  it('is rendered from the store: a deploy that reached the approval wait while its first card was on the way gets its card edited, with no other news', async () => {
    let harness: SlackHarness | undefined;
    let held = true;
    const slow: typeof fetch = async (input, init) => {
      const body = new URLSearchParams(String(init?.body ?? ''));
      if (held && String(input instanceof Request ? input.url : input).endsWith('/chat.postMessage') && !body.get('thread_ts')) {
        held = false;
        // The card was rendered while the deploy was queued; it reaches Slack once the deploy is waiting for people.
        await harness!.fake.waitFor('the approval wait', () => harness!.k.store.deploys.get(1)?.state === 'awaiting_approval');
      }
      return fetch(input, init);
    };
    const { h } = await setup({}, { fetch: slow });
    harness = h;
    const ts = await deploy(h);
    const first = h.fake.ok('chat.postMessage', (c) => !c.body.thread_ts)[0]!;
    expect(textOf(first)).not.toMatch(/awaiting approval/);
    const card = await h.fake.waitFor('the card at the approval wait', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /awaiting approval/.test(textOf(c))).pop());
    expect(textOf(card)).toMatch(/Waiting for approval/);
  });
});

describe('a thread worth reading', () => {
  it('a blue/green thread has the steps starting and ending, the approval, and the result — nothing else', async () => {
    const { h } = await setup();
    const ts = await deploy(h);
    await h.approvalMessage(ts);
    await approve(h);
    await reported(h);
    const thread = h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts);
    const lines = thread
      .filter((c) => !c.body.blocks)
      .flatMap((c) => String(c.body.text).split('\n'))
      .map((l) => l.replace(/^<!date[^>]+> /, '').replace(/ in \d+(\.\d+)?m?s/, ' in <t>'));
    // build and provision run in parallel: their lines may interleave.
    expect(lines.slice(0, 4).sort()).toEqual(
      ['⟳ build started', '⟳ provision started', '✓ build succeeded in <t>: built and pushed sandbox.registry.local/search-svc:v1', '✓ provision succeeded in <t>: cluster search-svc-1 ACTIVE (Kubernetes 1.35)'].sort(),
    );
    expect(lines.slice(4)).toEqual([
      '⟳ deploy started',
      '✓ deploy succeeded in <t>: 2 replicas healthy on search-svc-1; serving at search-svc-1-internal.elb.sandbox.local',
      '⟳ cutover started',
      '✓ cutover succeeded in <t>: search-svc.example.com → search-svc-1-internal.elb.sandbox.local',
      '⟳ teardown started',
      '↷ teardown skipped: no previous cluster',
    ]);
    const withBlocks = thread.filter((c) => c.body.blocks);
    expect(withBlocks.map((c) => String(c.body.text).replace(/ \(deploy #1\)/, ''))).toEqual([
      'Cutover of search-svc v1 needs approval',
      expect.stringMatching(/search-svc v1 is live/),
    ]);
    expect(thread.at(-1)!.body.reply_broadcast).toBe('true'); // the result comes last
  });
});

describe('the thread state on upgrade', () => {
  it("a database from before migration 4 keeps its threads, which gain the replacement card's ts (none yet)", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kubecontrol-slack-')), 'k.db');
    const db = openDb(path, MIGRATIONS.filter((m) => m.version < 4));
    db.prepare(
      `INSERT INTO deploys (app, version, strategy, state, requested_by, surface, provider, created_at, updated_at) VALUES ('web', 'v1', 'blue-green', 'building', 'carol', 'cli', 'sandbox', 1, 1)`,
    ).run();
    db.prepare(`INSERT INTO slack_threads (deploy_id, channel, ts, last_event_id, updated_at) VALUES (1, 'C0WEB0001', '1800000001.000001', 7, 1)`).run();
    db.close();
    const store = Store.open(path);
    expect(store.slack.get(1)).toMatchObject({ channel: 'C0WEB0001', ts: '1800000001.000001', lastEventId: 7, cardTs: null });
    store.slack.patch(1, { cardTs: '1800000009.000009' });
    expect(store.slack.get(1)).toMatchObject({ ts: '1800000001.000001', cardTs: '1800000009.000009', lastEventId: 7 });
    store.close();
  });
});
