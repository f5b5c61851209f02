/**
 * Socket Mode: the same Bolt app and listeners over Bolt's SocketModeReceiver
 * (SLACK_APP_TOKEN, no signing secret), against a local WebSocket server that
 * plays Slack's Socket Mode end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { ACTION_APPROVE } from '../bot/constants.js';
import { FakeSlack } from './fakes/slack-api.js';
import { APP_TOKEN, BOB, CAROL, SEARCH_CHANNEL, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';
import { blockAction, slashCommand } from './fakes/slack-requests.js';
import { FakeSocketMode } from './fakes/slack-socket.js';

describe('Socket Mode', () => {
  let fake: FakeSlack;
  let socket: FakeSocketMode;
  let h: SlackHarness;
  beforeAll(async () => {
    fake = await FakeSlack.start({ users: { [BOB]: 'Bob', [CAROL]: 'Carol' }, channels: { '#search-team': SEARCH_CHANNEL } });
    socket = await FakeSocketMode.start(fake);
    h = await startSlackHarness({ fake, mode: 'socket' });
    await socket.ready();
  });
  afterAll(async () => {
    await h?.close();
    await socket?.close();
    await fake?.close();
  });

  it('connects with the app token and serves /kubeapp and the buttons', async () => {
    expect(h.bot.mode).toBe('socket');
    expect(fake.ok('apps.connections.open')[0]!.authorization).toBe(`Bearer ${APP_TOKEN}`);
    // No HTTP endpoint in this mode.
    expect((await fetch(h.eventsUrl, { method: 'POST' })).status).toBe(404);

    const trigger = `trigger.${randomUUID()}`;
    const ack = await socket.send('slash_commands', slashCommand({ text: 'deploy search-svc v1', userId: CAROL, triggerId: trigger, responseUrl: fake.responseUrl('sm') }));
    expect(ack).toMatchObject({ response_type: 'ephemeral' });
    expect(String(ack.text)).toMatch(/Deploy #1: search-svc v1 \(blue-green\) queued/);
    // A redelivery of the same envelope content is recognised.
    const again = await socket.send('slash_commands', slashCommand({ text: 'deploy search-svc v1', userId: CAROL, triggerId: trigger, responseUrl: fake.responseUrl('sm2') }), { retryAttempt: 1 });
    expect(String(again.text)).toMatch(/Already received/);

    const ts = await fake.waitFor('thread', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
    const approval = await h.approvalMessage(ts);
    const click = JSON.parse(
      blockAction({ actionId: ACTION_APPROVE, value: '1', userId: BOB, channelId: SEARCH_CHANNEL, messageTs: String(approval.response.ts), responseUrl: fake.responseUrl('sm-click') }).payload!,
    ) as Record<string, unknown>;
    await socket.send('interactive', click);
    const answer = await fake.waitFor('answer', () => fake.responses.find((r) => r.id === 'sm-click'));
    expect(String(answer.body.text)).toMatch(/Deploy #1 approved/);
    const final = await fake.waitFor('final', () => fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(/search-svc v1 is live/);
  });
});

describe('Socket Mode when Slack is unreachable at start', () => {
  let fake: FakeSlack | undefined;
  let socket: FakeSocketMode | undefined;
  let h: SlackHarness | undefined;
  afterAll(async () => {
    await h?.close();
    await socket?.close();
    await fake?.close();
  });

  it('starts anyway, connects in the background once apps.connections.open answers, and serves /kubeapp', async () => {
    fake = await FakeSlack.start({ users: { [CAROL]: 'Carol' }, channels: { '#search-team': SEARCH_CHANNEL } });
    socket = await FakeSocketMode.start(fake);
    fake.fault('apps.connections.open', { drop: true }, Infinity);
    h = await startSlackHarness({ fake, mode: 'socket', reconnect: { firstMs: 20, maxMs: 50 } });
    expect(h.bot.status()).toMatchObject({ state: 'connecting' });
    expect(h.bot.statusLine()).toMatch(/^not reachable yet \(Socket Mode: cannot reach Slack \([^)]+\)\); retrying in the background$/);
    await fake.waitFor('a second try', () => fake!.calls.filter((c) => c.method === 'apps.connections.open').length >= 4);

    fake.clearFaults();
    await h.bot.connected();
    await socket.ready();
    expect(h.bot.statusLine()).toBe('on (Socket Mode)');
    const ack = await socket.send('slash_commands', slashCommand({ text: 'deploy search-svc v1', userId: CAROL, responseUrl: fake.responseUrl('sm-late') }));
    expect(String(ack.text)).toMatch(/Deploy #1: search-svc v1 \(blue-green\) queued/);
  });
});
