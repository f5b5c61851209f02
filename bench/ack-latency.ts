/**
 * Ack latency of `/kubeapp` over HTTP: signed slash commands into the real
 * Bolt app on an in-process kubecontrol server (sandbox provider, SQLite file,
 * a local fake Slack), against a baseline — a minimal Bolt app on Bolt's own
 * HTTPReceiver doing one SQLite insert, then ack(). Open loop at a fixed rate;
 * latency is measured by the client (same process) from request to response.
 *
 * Run by `npm run bench` (bench/run.ts); it is not a test: nothing is asserted.
 */
import { App, HTTPReceiver } from '@slack/bolt';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSlack } from '../test/fakes/slack-api.js';
import { CAROL, SECRET, startSlackHarness } from '../test/fakes/slack-harness.js';
import { postSigned, slashCommand } from '../test/fakes/slack-requests.js';

let rate = 200;
let seconds = 3;

interface Stats {
  n: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
}

function stats(samples: number[], errors: number): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => Number(s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2));
  return { n: s.length, median: at(0.5), p90: at(0.9), p99: at(0.99), max: Number(s[s.length - 1]!.toFixed(2)), errors };
}

/** Sends `rate` commands per second for `seconds`, not waiting for answers (open loop). */
async function run(url: string, text: (i: number) => string, responseUrl: string): Promise<Stats> {
  const total = Math.round(rate * seconds);
  const samples: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const form = slashCommand({ text: text(i), userId: CAROL, responseUrl, triggerId: randomUUID() });
    const t0 = performance.now();
    inflight.push(
      postSigned(url, SECRET, form).then(
        (r) => {
          if (r.status === 200) samples.push(performance.now() - t0);
          else errors++;
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  return stats(samples, errors);
}

async function baseline(): Promise<Stats> {
  const db = new Database(join(mkdtempSync(join(tmpdir(), 'ack-baseline-')), 'b.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE commands (id INTEGER PRIMARY KEY, at INTEGER, actor TEXT, text TEXT, key TEXT UNIQUE)');
  const insert = db.prepare('INSERT INTO commands (at, actor, text, key) VALUES (?, ?, ?, ?)');
  const receiver = new HTTPReceiver({ signingSecret: SECRET, endpoints: '/slack/events' });
  const fake = await FakeSlack.start();
  const app = new App({ token: 'xoxb-0-0-baseline', botId: 'B0', botUserId: 'U0', receiver, clientOptions: { slackApiUrl: fake.apiUrl } });
  app.command('/kubeapp', async ({ command, ack }) => {
    insert.run(Date.now(), command.user_id, command.text, command.trigger_id);
    await ack({ response_type: 'ephemeral', text: 'ok' });
  });
  await app.start(0);
  // HTTPReceiver keeps its server private; its address is what start() listened on.
  const server = (receiver as unknown as { server: import('node:http').Server }).server;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  await run(url, () => 'status', fake.responseUrl('x')); // warm-up
  const result = await run(url, (i) => `history search-svc ${i}`, fake.responseUrl('x'));
  await app.stop();
  await fake.close();
  db.close();
  return result;
}

async function kubecontrol(): Promise<{ history: Stats; deploy: Stats; refused: Stats; quiet: Stats }> {
  const h = await startSlackHarness({ cardIntervalMs: 1000 });
  const responseUrl = h.fake.responseUrl('bench');
  await run(h.eventsUrl, () => 'history search-svc', responseUrl); // warm-up
  const history = await run(h.eventsUrl, () => 'history search-svc', responseUrl);
  // Real deploys: command + deploy + event rows in one transaction, then the queue (one per app runs; the rest wait).
  const deploy = await run(h.eventsUrl, (i) => `deploy search-svc v${i}`, responseUrl);
  h.k.store.locks.lock('web-frontend', 'bench', 'bench');
  const refused = await run(h.eventsUrl, (i) => `deploy web-frontend v${i}`, responseUrl);
  // The same deploys without the thread reporter's background work (cards, replies) in this process.
  await h.bot.reporter.stop();
  h.k.store.locks.unlock('web-frontend');
  const quiet = await run(h.eventsUrl, (i) => `deploy web-frontend v${i}`, responseUrl);
  await h.close();
  return { history, deploy, refused, quiet };
}

/** Markdown rows: the baseline and kubecontrol's cases at `rate` commands/s for `seconds` each. */
export async function measureAckLatency(opts: { rate: number; seconds: number }): Promise<string[]> {
  rate = opts.rate;
  seconds = opts.seconds;
  const base = await baseline();
  const ours = await kubecontrol();
  const row = (name: string, s: Stats): string => `| ${name} | ${s.n} | ${s.median} | ${s.p90} | ${s.p99} | ${s.max} | ${s.errors} |`;
  return [
    '| case | n | median ms | p90 ms | p99 ms | max ms | errors |',
    '|---|---|---|---|---|---|---|',
    row('baseline: minimal Bolt app, 1 insert + ack', base),
    row('kubecontrol: history (read + record)', ours.history),
    row('kubecontrol: deploy (command+deploy+event in one tx, enqueue)', ours.deploy),
    row('kubecontrol: deploy refused (locked app)', ours.refused),
    row('kubecontrol: deploy, thread reporter stopped', ours.quiet),
  ];
}
