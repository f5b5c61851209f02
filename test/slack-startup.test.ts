/**
 * Slack is optional at runtime: Slack unreachable at start (connections
 * dropped, 503s) does not stop the server — the CLI, the API and the deployer
 * work, `/slack/events` verifies each request and answers "kubecontrol is
 * starting", the banner says so — and the surface connects by itself when
 * Slack answers again. A token Slack refuses still stops the start, with one line.
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { backlogLine, SlackStartError } from '../bot/index.js';
import { ACTION_APPROVE } from '../bot/constants.js';
import { runAfterAck } from '../commands/core.js';
import { FakeSlack } from './fakes/slack-api.js';
import { ALICE, BOB, BOT_TOKEN, CAROL, DAVE, SEARCH_CHANNEL, SECRET, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';
import { warningsOf } from './fakes/slack-harness.js';
import { blockAction, postSigned, slashCommand } from './fakes/slack-requests.js';

const ROOT = new URL('..', import.meta.url).pathname;
const STARTING = '⏳ kubecontrol is starting: Slack is not connected yet, try again in a minute.';

async function fakeSlack(): Promise<FakeSlack> {
  return FakeSlack.start({
    users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol', [DAVE]: 'Dave' },
    groups: { 'search-team': [DAVE] },
    channels: { '#search-team': SEARCH_CHANNEL },
  });
}

const warnings = warningsOf;

describe('Slack unreachable at start', () => {
  let fake: FakeSlack | undefined;
  let h: SlackHarness | undefined;
  afterEach(async () => {
    await h?.close();
    await fake?.close();
    h = undefined;
  });

  it('the server starts anyway, /slack/events answers "starting" (signed requests only), and Slack is connected without a restart once it answers', async () => {
    fake = await fakeSlack();
    fake.fault('auth.test', { drop: true }, Infinity);
    h = await startSlackHarness({ fake, reconnect: { firstMs: 30, maxMs: 60 } });
    expect(h.bot.status()).toMatchObject({ state: 'connecting' });
    expect(h.bot.statusLine()).toMatch(/^not reachable yet \(auth\.test: cannot reach Slack \([^)]+\)\); retrying in the background \(until then \/kubeapp answers "kubecontrol is starting"\)$/);
    expect(h.bot.app).toBeUndefined();

    // The rest of the system works: the API answers (and says where Slack stands), and a deploy from the CLI runs to its approval wait.
    expect((await fetch(`${h.k.url}/health`)).status).toBe(200);
    const info = (await (await fetch(`${h.k.url}/api/info`)).json()) as { surfaces: Record<string, string> };
    expect(info.surfaces.slack).toMatch(/^not reachable yet \(auth\.test: cannot reach Slack/);
    const queued = h.k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: 'deploy search-svc v1' });
    expect(queued).toMatchObject({ kind: 'deploy_queued' });
    runAfterAck(queued as Exclude<typeof queued, Promise<unknown>>);

    // Signed: answered 200 "starting", ephemeral; nothing is recorded.
    const before = h.k.store.commands.recent(1000).length;
    const reply = await h.slash('status', CAROL);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ response_type: 'ephemeral', text: STARTING });
    expect(h.k.store.commands.recent(1000).length).toBe(before);
    // Unsigned, forged, stale or from the future: still 401 first.
    const form = slashCommand({ text: 'status', userId: CAROL, responseUrl: fake.responseUrl('x') });
    expect((await postSigned(h.eventsUrl, 'not-the-secret-at-all', form)).status).toBe(401);
    expect((await postSigned(h.eventsUrl, SECRET, form, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect((await postSigned(h.eventsUrl, SECRET, form, { timestamp: Math.floor(Date.now() / 1000) + 600 })).status).toBe(401);
    // A button: acknowledged, and told the same on its response_url.
    const click = await postSigned(
      h.eventsUrl,
      SECRET,
      blockAction({ actionId: ACTION_APPROVE, value: '1', userId: BOB, channelId: SEARCH_CHANNEL, messageTs: '1.000001', responseUrl: fake.responseUrl('click-starting') }),
    );
    expect(click.status).toBe(200);
    const told = await fake.waitFor('the starting answer to the click', () => fake!.responses.find((r) => r.id === 'click-starting'));
    expect(told.body).toEqual({ response_type: 'ephemeral', replace_original: false, text: STARTING });

    // Tried again with backoff, each try logged.
    await fake.waitFor('a second auth.test', () => fake!.calls.filter((c) => c.method === 'auth.test').length >= 2);
    await fake.waitFor('the retry warning', () => warnings(h!).some((m) => /^Slack is not reachable yet \(auth\.test: cannot reach Slack/.test(m)));

    // Slack is back: the surface connects by itself, commands work, and the reporter catches up on the deploy.
    fake.clearFaults();
    await h.bot.connected();
    expect(h.bot.status()).toMatchObject({ state: 'connected' });
    expect(h.bot.statusLine()).toBe(`on (HTTP: Slack posts to ${h.k.url}/slack/events)`);
    expect(h.bot.botUserId).toBe('U0KUBEBOT');
    const status = await h.slash('status', CAROL);
    expect(textOf(status.json!)).toMatch(/\*search-svc\*/);
    const group = await h.slash('lock search-svc "after the outage"', DAVE);
    expect(String(group.json!.text)).toMatch(/✓ search-svc is locked/);
    const card = await h.card(1);
    expect(textOf(card)).toMatch(/search-svc/);
  });

  it('Slack answering 503 for a while: the start goes on and the surface connects after the burst', async () => {
    fake = await fakeSlack();
    fake.fault('auth.test', { status: 503 }, 3);
    h = await startSlackHarness({ fake, reconnect: { firstMs: 20, maxMs: 40 } });
    expect(h.bot.statusLine()).toMatch(/^not reachable yet \(auth\.test: Slack answered HTTP 503\); retrying/);
    await h.bot.connected();
    expect(fake.calls.filter((c) => c.method === 'auth.test').map((c) => c.status)).toEqual([503, 503, 503, 200]);
    const reply = await h.slash('deploy search-svc v1', CAROL);
    expect(String(reply.json!.text)).toMatch(/Deploy #1: search-svc v1/);
    expect(warnings(h).filter((m) => /^Slack is not reachable yet \(auth\.test: Slack answered HTTP 503\); trying again in/.test(m))).toHaveLength(3);
  });
});

describe('a token Slack refuses', () => {
  it.each(['invalid_auth', 'token_revoked', 'account_inactive'])('(%s) stops the start with one line', async (error) => {
    const fake = await fakeSlack();
    fake.fault('auth.test', { error }, Infinity);
    try {
      const err = await startSlackHarness({ fake }).then(
        async (h) => {
          await h.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SlackStartError);
      expect((err as Error).message).toBe(`Slack refused SLACK_BOT_TOKEN (auth.test: ${error})`);
    } finally {
      await fake.close();
    }
  });
});

/** `npm start` as a child process, against the fake Slack. */
function start(fake: FakeSlack): { proc: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'system/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      KUBECONTROL_PORT: '0',
      KUBECONTROL_DB: ':memory:',
      KUBECONTROL_LOG_LEVEL: 'silent',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: fake.apiUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

describe('`npm start` and Slack', () => {
  // The two cases share nothing (each its own fake Slack, process and in-memory database): they run side by side.
  const fakes: FakeSlack[] = [];
  const children: ReturnType<typeof start>[] = [];
  afterAll(async () => {
    for (const child of children.splice(0)) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill('SIGTERM');
        await child.exited;
      }
    }
    for (const fake of fakes.splice(0)) await fake.close();
  });

  it.concurrent('Slack unreachable: the banner says so, /slack/events answers "starting", and the banner line follows when Slack is back', async () => {
    const fake = await fakeSlack();
    fakes.push(fake);
    fake.fault('auth.test', { drop: true }, Infinity);
    const c = start(fake);
    children.push(c);
    await fake.waitFor('the banner', () => /slack: +not reachable yet/.test(c.out()), 25_000);
    expect(c.out()).toMatch(/^ {2}slack: {4}not reachable yet \(auth\.test: cannot reach Slack \(\S+\)\); retrying in the background \(until then \/kubeapp answers "kubecontrol is starting"\)$/m);
    const url = /kubecontrol is listening on (\S+)/.exec(c.out())![1]!;
    // Not on the CLI's default URL: the banner says how to point the CLI at it, in its first suggestion too.
    expect(c.out()).toContain(`  cli:      the CLI calls http://127.0.0.1:3000 unless told otherwise: export KUBECONTROL_URL=${url}\n`);
    expect(c.out()).toContain(`Try: KUBECONTROL_URL=${url} npx kubecontrol deploy search-svc v123 --as carol`);
    const reply = await postSigned(`${url}/slack/events`, SECRET, slashCommand({ text: 'status', userId: CAROL, responseUrl: fake.responseUrl(randomUUID()) }));
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ response_type: 'ephemeral', text: STARTING });

    fake.clearFaults();
    await fake.waitFor('slack on', () => /^ {2}slack: {4}on \(HTTP: Slack posts to \S+\/slack\/events\)$/m.test(c.out()), 25_000);
    const status = await postSigned(`${url}/slack/events`, SECRET, slashCommand({ text: 'status', userId: CAROL, responseUrl: fake.responseUrl(randomUUID()) }));
    expect(textOf(status.json!)).toMatch(/\*search-svc\*/);
  }, 60_000);

  it.concurrent('a refused token: exit 2 with one line, no stack trace', async () => {
    const fake = await fakeSlack();
    fakes.push(fake);
    fake.fault('auth.test', { error: 'invalid_auth' }, Infinity);
    const child = start(fake);
    children.push(child);
    const code = await child.exited;
    expect(code).toBe(2);
    expect(child.err()).toBe('kubecontrol cannot start:\n  - Slack refused SLACK_BOT_TOKEN (auth.test: invalid_auth)\n');
    expect(child.out()).toBe('');
  }, 60_000);
});

describe("the banner's Slack line and the reporter's backlog", () => {
  let h: SlackHarness | undefined;
  afterEach(() => h?.close());

  it('names the deliveries Slack has not taken yet, with their last error', async () => {
    h = await startSlackHarness();
    expect(h.bot.statusLine()).toBe(`on (HTTP: Slack posts to ${h.k.url}/slack/events)`);
    h.fake.fault('chat.postMessage', { status: 503 }, Infinity);
    await h.slash('deploy search-svc v1', CAROL);
    const line = await h.fake.waitFor('a backlog', () => (h!.bot.reporter.backlog().length ? h!.bot.statusLine() : undefined));
    expect(line).toMatch(new RegExp(`^on \\(HTTP: Slack posts to \\S+/slack/events\\); not yet delivered to Slack: #1 card \\([^,]+, \\d+ tr(y|ies)\\)`));
    h.fake.clearFaults();
  });

  it('is short for a long backlog', () => {
    const pending = [{ kind: 'card' as const, attempts: 2, lastError: 'http_503', failingSince: 0, retryAt: 1, permanent: false }];
    const backlog = [1, 2, 3, 4, 5].map((deployId) => ({ deployId, app: 'search-svc', pending }));
    expect(backlogLine(backlog)).toBe('not yet delivered to Slack: #1 card (http_503, 2 tries), #2 card (http_503, 2 tries), #3 card (http_503, 2 tries) and 2 more deploys');
    expect(backlogLine([{ deployId: 7, app: 'web', pending: [{ ...pending[0]!, kind: 'final', lastError: 'channel_not_found', permanent: true, retryAt: null }] }])).toBe(
      'not yet delivered to Slack: #7 final (channel_not_found, stopped)',
    );
    expect(backlogLine([])).toBe('');
  });
});
