/**
 * The server side of the ack benchmark, run as its own process (forked by
 * bench/ack-latency.ts) so that the load generator, the fake Slack and the
 * bench's bookkeeping do not share its CPU:
 *
 *   kubecontrol — the real server as `npm start` builds it (startKubecontrol:
 *                 sandbox provider, SQLite file, Fastify) with the real Bolt app
 *                 mounted on /slack/events (startSlackBot), logging at info to
 *                 its stdout (the bench points stdout at /dev/null), talking to
 *                 the fake Slack Web API the parent runs.
 *   floor       — a minimal Bolt app on Bolt's own HTTPReceiver whose only
 *                 listener inserts one row into a better-sqlite3 WAL database
 *                 and acks: what any Slack bot that records a command costs.
 *
 * IPC: it sends {type:'ready', url} once it listens; answers {type:'cpu'} with
 * its own process.cpuUsage() and RSS; exits on {type:'stop'}.
 * Environment: BENCH_SLACK_API (the fake Web API's base URL), BENCH_SECRET.
 */
import { App, HTTPReceiver } from '@slack/bolt';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSlack, startSlackBot } from '../bot/index.js';
import { loadConfig } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { slackSurfaceOf, startKubecontrol } from '../system/compose.js';
import { BOT_TOKEN, testApps } from '../test/fakes/slack-harness.js';

const mode = process.argv[2];
const apiUrl = process.env.BENCH_SLACK_API!;
const secret = process.env.BENCH_SECRET!;
const dir = mkdtempSync(join(tmpdir(), `kubecontrol-ack-${mode}-`));

const send = (m: unknown): void => void process.send!(m);

async function kubecontrol(): Promise<{ url: string; close: () => Promise<void> }> {
  // The server's defaults (an empty environment: info logs, default sandbox scale, concurrency and card interval).
  const config = { ...loadConfig({}), port: 0, host: '127.0.0.1', dbPath: join(dir, 'kubecontrol.db'), slack: { botToken: BOT_TOKEN, signingSecret: secret, apiUrl } };
  const logger = createLogger(config.logLevel);
  const slack = connectSlack(config.slack, { logger });
  const k = await startKubecontrol(config, { logger, apps: testApps(), groups: slack.groups });
  const bot = await startSlackBot(slackSurfaceOf(k), slack);
  return {
    url: `${k.url}/slack/events`,
    close: async () => {
      await bot.stop();
      await k.close();
    },
  };
}

async function floor(): Promise<{ url: string; close: () => Promise<void> }> {
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE commands (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, text TEXT NOT NULL, trigger_id TEXT UNIQUE)');
  const insert = db.prepare('INSERT INTO commands (at, actor, text, trigger_id) VALUES (?, ?, ?, ?)');
  const receiver = new HTTPReceiver({ signingSecret: secret, endpoints: '/slack/events' });
  const app = new App({ token: BOT_TOKEN, botId: 'B0FLOOR', botUserId: 'U0FLOOR', receiver, clientOptions: { slackApiUrl: apiUrl } });
  app.command('/kubeapp', async ({ command, ack }) => {
    insert.run(Date.now(), command.user_id, command.text, command.trigger_id);
    await ack({ response_type: 'ephemeral', text: `recorded: ${command.text}` });
  });
  const server = (await app.start(0)) as Server;
  // As long as Fastify's (72 s): Node's 5-s default closes idle keep-alive sockets under the load generator's feet.
  server.keepAliveTimeout = 72_000;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
    close: async () => {
      await app.stop();
      db.close();
    },
  };
}

const running = mode === 'floor' ? await floor() : await kubecontrol();
// How long the event loop was blocked: what every request queued behind waited.
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
process.on('message', (m: { type: string }) => {
  if (m.type === 'cpu') {
    send({ type: 'cpu', usage: process.cpuUsage(), rss: process.memoryUsage().rss, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6 });
    loop.reset();
  }
  if (m.type === 'stop') {
    void running.close().finally(() => {
      send({ type: 'stopped' });
      process.exit(0);
    });
  }
});
send({ type: 'ready', url: running.url });
