/**
 * A real kubecontrol server (sandbox provider, SQLite file, HTTP on port 0)
 * with the real Slack bot mounted on it, talking to a FakeSlack. Tests drive
 * it with signed requests and assert on what the fake Slack received.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSlack, startSlackBot, type ConnectOptions, type SlackBot, type SlackBotOptions, type SlackConnection } from '../../bot/index.js';
import { loadConfig, type Config } from '../../system/config.js';
import { createLogger } from '../../system/logger.js';
import { slackSurfaceOf, startKubecontrol, type Kubecontrol } from '../../system/compose.js';
import { defineKubeApp, type KubeApp } from '../../kubeapps/index.js';
import type { Clock } from '../../deployer/clock.js';
import { FakeSlack, type SlackCall } from './slack-api.js';
import { blockAction, postSigned, slashCommand, type SendOptions, type SlackReply } from './slack-requests.js';
import { logChunks } from '../helpers/log-sink.js';

export const SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-1111-2222-testtokenvalue';
export const APP_TOKEN = 'xapp-1-A0KUBECTL-3333-testapptoken';

/** People, as Slack user ids. */
export const ALICE = 'U0ALICE01'; // owner of search-svc
export const BOB = 'U0BOB0001'; // approver
export const CAROL = 'U0CAROL01'; // deployer (the requester in most tests)
export const DAVE = 'U0DAVE001'; // in @search-team (a deployer through the group)
export const MALLORY = 'U0MALLORY'; // nobody

export const SEARCH_CHANNEL = 'C0SEARCH';
export const WEB_CHANNEL = 'C0WEB0001';

const pods = { replicas: 2, containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] };

/** The KubeApps of the Slack tests: permissions name Slack ids and a user group. */
export function testApps(): KubeApp[] {
  return [
    defineKubeApp({
      name: 'search-svc',
      image: { repository: 'search-svc' },
      pods,
      strategy: 'blue-green',
      owners: [ALICE],
      deployers: [CAROL, 'carol', '@search-team'], // 'carol': her CLI user name
      approvers: [BOB, ALICE],
      channel: '#search-team',
    }),
    defineKubeApp({
      name: 'web-frontend',
      image: { repository: 'web-frontend' },
      pods,
      strategy: 'blue-green',
      owners: [ALICE],
      deployers: [CAROL],
      approvers: [CAROL, BOB, '@search-team'],
      allowSelfApproval: true,
      channel: '#web',
    }),
  ];
}

export interface SlackHarness {
  readonly k: Kubecontrol;
  readonly bot: SlackBot;
  /** The Web API client and the identity caches the bot uses. */
  readonly slack: SlackConnection;
  readonly fake: FakeSlack;
  readonly dbPath: string;
  /** Everything logged, as text (to check that secrets never appear). */
  readonly logs: string[];
  readonly eventsUrl: string;
  /** Sends `/kubeapp <text>` as `userId` (in #search-team unless told). */
  slash(text: string, userId: string, extra?: { channelId?: string; channelName?: string; triggerId?: string; responseId?: string } & SendOptions): Promise<SlackReply>;
  /** Clicks a button. */
  click(actionId: string, deployId: number, userId: string, messageTs: string, extra?: { responseId?: string; triggerId?: string }): Promise<SlackReply>;
  /** The deploy's status card: the top-level chat.postMessage that opened its thread. */
  card(deployId: number): Promise<SlackCall>;
  /** The thread's approval message (the reply with buttons). */
  approvalMessage(threadTs: string): Promise<SlackCall>;
  /** Stops bot and server (not the fake Slack). */
  stop(): Promise<void>;
  /** Stops everything. */
  close(): Promise<void>;
}

export interface SlackHarnessOptions {
  readonly fake?: FakeSlack;
  readonly dbPath?: string;
  readonly approvalTimeoutMs?: number;
  readonly cardIntervalMs?: number;
  readonly heartbeatMs?: number;
  /** 'socket': SLACK_APP_TOKEN and no signing secret (the fake's socketUrl must be set). @default 'http' */
  readonly mode?: 'http' | 'socket';
  /** @default testApps() */
  readonly apps?: readonly KubeApp[];
  /** The Web API client's bounds and the group cache (connectSlack's options). @default fast retries, the default timeout */
  readonly connect?: Omit<ConnectOptions, 'logger'>;
  /** How the bot reconnects when Slack is not reachable at start. @default { firstMs: 50, maxMs: 400 } */
  readonly reconnect?: SlackBotOptions['reconnect'];
  /** How long the start waits for the first load of the user groups. @default 5000 */
  readonly groupWarmupMs?: number;
  /** The server's clock (a ManualClock drives deploys and schedules without waiting). @default the system clock */
  readonly clock?: Clock;
}

export function testConfig(dbPath: string, fake: FakeSlack, overrides: Partial<Config> = {}): Config {
  return {
    // The server's own defaults (an empty environment), then what these tests need.
    ...loadConfig({}),
    port: 0,
    dbPath,
    sandboxScale: 0.0003,
    concurrency: 2,
    logLevel: 'silent',
    slack: { botToken: BOT_TOKEN, signingSecret: SECRET, apiUrl: fake.apiUrl },
    ...overrides,
  };
}

export async function startSlackHarness(options: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const fake =
    options.fake ??
    (await FakeSlack.start({
      users: { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol', [DAVE]: 'Dave', [MALLORY]: 'Mallory' },
      groups: { 'search-team': [DAVE] },
      channels: { '#search-team': SEARCH_CHANNEL, '#web': WEB_CHANNEL },
    }));
  const dbPath = options.dbPath ?? join(mkdtempSync(join(tmpdir(), 'kubecontrol-slack-')), 'kubecontrol.db');
  const config = testConfig(dbPath, fake, {
    approvalTimeoutMs: options.approvalTimeoutMs,
    ...(options.mode === 'socket' ? { slack: { botToken: BOT_TOKEN, appToken: APP_TOKEN, apiUrl: fake.apiUrl } } : {}),
  });
  const logs: string[] = [];
  const logger = createLogger('debug', logChunks(logs));
  const slack = connectSlack(config.slack!, { logger, retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 20 }, ...options.connect });
  const k = await startKubecontrol(config, { logger, apps: options.apps ?? testApps(), groups: slack.groups, ...(options.clock ? { clock: options.clock } : {}) });
  let bot: SlackBot;
  try {
    bot = await startSlackBot(slackSurfaceOf(k), slack, {
      cardIntervalMs: options.cardIntervalMs ?? 150,
      heartbeatMs: options.heartbeatMs,
      reconnect: options.reconnect ?? { firstMs: 50, maxMs: 400 },
      groupWarmupMs: options.groupWarmupMs,
    });
  } catch (err) {
    await k.close();
    throw err;
  }
  const eventsUrl = `${k.url}/slack/events`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await bot.stop();
    await k.close();
  };
  return {
    k,
    bot,
    slack,
    fake,
    dbPath,
    logs,
    eventsUrl,
    slash: (text, userId, extra = {}) =>
      postSigned(
        eventsUrl,
        SECRET,
        slashCommand({
          text,
          userId,
          channelId: extra.channelId,
          channelName: extra.channelName,
          triggerId: extra.triggerId,
          responseUrl: fake.responseUrl(extra.responseId ?? randomUUID()),
        }),
        extra,
      ),
    click: (actionId, deployId, userId, messageTs, extra = {}) =>
      postSigned(
        eventsUrl,
        SECRET,
        blockAction({
          actionId,
          value: String(deployId),
          userId,
          channelId: SEARCH_CHANNEL,
          messageTs,
          triggerId: extra.triggerId,
          responseUrl: fake.responseUrl(extra.responseId ?? randomUUID()),
        }),
      ),
    card: (deployId) =>
      fake.waitFor(`the status card of deploy #${deployId}`, () =>
        fake.ok('chat.postMessage', (c) => !c.body.thread_ts && JSON.stringify(c.body.blocks ?? '').includes(`deploy #${deployId} `))[0],
      ),
    approvalMessage: (threadTs) =>
      fake.waitFor('the approval message', () =>
        fake.ok('chat.postMessage', (c) => c.body.thread_ts === threadTs && JSON.stringify(c.body.blocks ?? '').includes('kubecontrol.approve'))[0],
      ),
    stop,
    async close() {
      await stop();
      if (!options.fake) await fake.close();
    },
  };
}

/** All text in a message's blocks (and its fallback text), for loose assertions. */
export function textOf(call: SlackCall | Record<string, unknown>): string {
  const body = 'method' in call ? (call as SlackCall).body : call;
  const out: string[] = [String(body.text ?? '')];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') return;
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(body.blocks);
  return out.join('\n');
}

/** The messages the server logged at warn (pino level 40), in order. */
export function warningsOf(h: Pick<SlackHarness, 'logs'>): string[] {
  return h.logs
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => l.level === 40)
    .map((l) => l.msg);
}
