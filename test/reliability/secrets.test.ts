/**
 * Secrets: a representative flow on one server — Slack configured (a bot
 * token and a signing secret, the fake Slack Web API), the API in token mode
 * (per-person bearer tokens), a KubeApp that reads a Secrets Manager secret,
 * the aws provider with credentials that have a session token (the AWS calls
 * signed by the SDK, answered by the fake account at the wire) — through a
 * deploy by API token approved by a Slack button, a deploy from a slash
 * command that fails at its cutover (an AWS refusal, logged with its error)
 * and is cleaned up, refusals of every kind (no token, a wrong one, `--as`,
 * a bad Slack signature, a throttled call), and the reads people make.
 *
 * Everything written is captured — every log line (a pino destination in
 * memory, at debug), every event and command row, the body of every Slack
 * call and response the fake received, every HTTP answer (body and headers)
 * — and none of it holds a configured secret: the bot token, the signing
 * secret, an API token's plaintext, the AWS secret access key or session
 * token (as they are, URL-encoded or base64), or an EKS bearer token made
 * from them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectSlack, startSlackBot, type SlackBot, type SlackConnection } from '../../bot/index.js';
import type { KubeApp } from '../../kubeapps/index.js';
import searchSvc from '../../kubeapps/examples/search-svc.js';
import { loadConfig, type Config } from '../../system/config.js';
import { createLogger } from '../../system/logger.js';
import { slackSurfaceOf, startKubecontrol, type Kubecontrol } from '../../system/compose.js';
import { fastAwsProvider, withAws } from '../fakes/aws-apps.js';
import { FakeAwsAccount } from '../fakes/aws-account.js';
import { AwsWire } from '../fakes/aws-wire.js';
import { FakeSlack } from '../fakes/slack-api.js';
import { BOB, BOT_TOKEN, DAVE, SECRET } from '../fakes/slack-harness.js';
import { blockAction, postSigned, slashCommand } from '../fakes/slack-requests.js';
import { logChunks } from '../helpers/log-sink.js';

const CREDENTIALS = {
  accessKeyId: 'ASIAFAKESECRETSUITE01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYsecretsSuiteKey',
  sessionToken: 'IQoJb3JpZ2luX2VjEFAKEsessionTokenOfTheSecretsSuite//////////wEaCWV1LXdlc3QtMSJHMEUCIQ',
};
const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/search/db-AbCdEf';

/** The app: search-svc built by CodeBuild, its pods reading a Secrets Manager secret as a file. */
const APP: KubeApp = { ...withAws(searchSvc, { builder: 'codebuild', codeBuildProject: 'search-svc-image' }), secrets: [{ name: 'db-password', secretId: SECRET_ID }] };

let fake: FakeSlack;
let aws: FakeAwsAccount;
let wire: AwsWire;
let k: Kubecontrol;
let slack: SlackConnection;
let bot: SlackBot;
let dbPath: string;
const logs: string[] = [];
/** Every HTTP answer the flow got: status, headers and body. */
const answers: string[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  fake = await FakeSlack.start({
    users: { U0ALICE01: 'Alice', [BOB]: 'Bob', [DAVE]: 'Dave' },
    groups: { 'search-team': [DAVE] },
    channels: { '#search-team': 'C0SEARCH' },
  });
  aws = new FakeAwsAccount();
  wire = new AwsWire();
  dbPath = join(mkdtempSync(join(tmpdir(), 'kubecontrol-secrets-')), 'kubecontrol.db');
  const config: Config = {
    ...loadConfig({}),
    port: 0,
    dbPath,
    provider: 'aws',
    auth: 'token',
    admins: ['alice'],
    logLevel: 'debug',
    approvalTimeoutMs: 600_000,
    slack: { botToken: BOT_TOKEN, signingSecret: SECRET, apiUrl: fake.apiUrl },
  };
  const logger = createLogger('debug', logChunks(logs));
  slack = connectSlack(config.slack!, { logger, retryConfig: { retries: 1, factor: 1, minTimeout: 10, maxTimeout: 20 } });
  const provider = fastAwsProvider({ clients: wire.clientsFor(CREDENTIALS), credentials: CREDENTIALS });
  k = await startKubecontrol(config, { logger, apps: [APP], groups: slack.groups, provider });
  bot = await startSlackBot(slackSurfaceOf(k), slack, { cardIntervalMs: 50, reconnect: { firstMs: 50, maxMs: 400 } });
  // API tokens, as `npm run admin -- tokens create` makes them.
  tokens.carol = k.store.tokens.create('carol', 'laptop');
  tokens.bob = k.store.tokens.create('bob');
  tokens.alice = k.store.tokens.create('alice');
}, 60_000);

afterAll(async () => {
  wire?.release();
  await bot?.stop();
  await k?.close();
  await aws?.close();
  await fake?.close();
});

/** An API call, its answer kept. */
async function api(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${k.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  answers.push(`${res.status} ${JSON.stringify([...res.headers.entries()])} ${text}`);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // an event stream, or not JSON at all: kept as text above
  }
  return { status: res.status, json };
}
const bearer = (who: string): Record<string, string> => ({ authorization: `Bearer ${tokens[who]}` });

async function until<T>(what: string, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const ended = (id: number): boolean => {
  const d = k.store.deploys.get(id)!;
  return ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'].includes(d.state) && d.cleanup !== 'pending';
};

describe('a representative flow writes none of the configured secrets anywhere', () => {
  it('deploys by API token, approves with a Slack button, fails a deploy from Slack at an AWS refusal, and is refused in every way', async () => {
    // The API: a deploy by token; the reads people make; refusals.
    const accepted = await api('POST', '/api/commands', bearer('carol'), { args: ['deploy', 'search-svc', '2.0.0'] });
    expect(accepted.status).toBe(200);
    const first = (accepted.json.deploy as { id: number }).id;
    expect((await api('POST', '/api/commands', { authorization: 'Bearer kc_not-a-token' }, { args: ['status'] })).status).toBe(401);
    expect((await api('POST', '/api/commands', {}, { args: ['status'] })).status).toBe(401);
    expect((await api('POST', '/api/commands', { ...bearer('carol'), 'x-kubecontrol-as': 'alice' }, { args: ['status'] })).status).toBe(403);
    expect((await api('GET', '/api/info', bearer('alice'))).status).toBe(200);
    expect((await api('GET', '/api/info', {})).status).toBe(200);
    expect((await api('GET', '/api/gc', bearer('carol'))).status).toBe(403);

    // Slack: the approval message in the deploy's thread, and Bob's click on it.
    await until('the approval', () => k.store.deploys.get(first)!.state === 'awaiting_approval');
    const approval = await fake.waitFor('the approval message', () => fake.ok('chat.postMessage', (c) => JSON.stringify(c.body.blocks ?? '').includes('kubecontrol.approve'))[0]);
    const click = await postSigned(
      `${k.url}/slack/events`,
      SECRET,
      blockAction({ actionId: 'kubecontrol.approve', value: String(first), userId: BOB, channelId: 'C0SEARCH', messageTs: String(approval.response.ts), responseUrl: fake.responseUrl(randomUUID()) }),
    );
    answers.push(`${click.status} ${click.text}`);
    await until('the first deploy to end', () => ended(first));
    expect(k.store.deploys.get(first)!.state).toBe('succeeded');

    // Slack: a slash command deploys again; Route 53 is throttled, then refuses the change: the deploy fails and is cleaned up.
    wire.arm({ service: 'Route53', operation: 'ListResourceRecordSets', kind: 'throttle' });
    wire.arm({ service: 'Route53', operation: 'ChangeResourceRecordSets', kind: 'error', answer: { status: 400, code: 'InvalidChangeBatch', message: '[Tried to create an alias that targets a load balancer that is being deleted]' } });
    const slash = await postSigned(`${k.url}/slack/events`, SECRET, slashCommand({ text: 'deploy search-svc 2.1.0', userId: DAVE, channelId: 'C0SEARCH', responseUrl: fake.responseUrl(randomUUID()) }));
    answers.push(`${slash.status} ${slash.text}`);
    expect(slash.status).toBe(200);
    const second = await until('the second deploy', () => k.store.deploys.history('search-svc', 1)[0]?.id !== first && k.store.deploys.history('search-svc', 1)[0]?.id);
    await until('the second deploy waiting for approval', () => k.store.deploys.get(second)!.state === 'awaiting_approval');
    expect((await api('POST', '/api/commands', bearer('bob'), { args: ['approve', String(second)] })).status).toBe(200);
    await until('the second deploy to end', () => ended(second));
    expect(k.store.deploys.get(second)).toMatchObject({ state: 'failed', cleanup: 'done' });
    expect(k.store.deploys.get(second)!.error).toMatch(/InvalidChangeBatch/);
    expect(wire.unused()).toEqual([]);

    // More reads and refusals: a deploy's view and events, a status from Slack, a badly signed request.
    await api('GET', `/api/deploys/${second}`, bearer('carol'));
    await api('GET', `/api/deploys/${second}/events`, bearer('carol'));
    const status = await postSigned(`${k.url}/slack/events`, SECRET, slashCommand({ text: 'status search-svc', userId: DAVE, responseUrl: fake.responseUrl(randomUUID()) }));
    answers.push(`${status.status} ${status.text}`);
    const forged = await postSigned(`${k.url}/slack/events`, 'not-the-signing-secret', slashCommand({ text: 'deploy search-svc 9.9.9', userId: DAVE, responseUrl: fake.responseUrl(randomUUID()) }));
    answers.push(`${forged.status} ${forged.text}`);
    expect(forged.status).toBe(401);
    // The reporter has caught up with both threads (Slack hears nothing new for a moment) before anything is read.
    let seen = -1;
    let quietSince = Date.now();
    await until('Slack to hear nothing new', () => {
      if (fake.calls.length !== seen) [seen, quietSince] = [fake.calls.length, Date.now()];
      return Date.now() - quietSince > 500;
    });
  }, 90_000);

  it('no log line, event, command row, Slack message or HTTP answer holds a secret', () => {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const rows = (sql: string): string[] => (db.prepare(sql).all() as Record<string, unknown>[]).map((r) => JSON.stringify(r));
    const written: Record<string, string[]> = {
      'log lines': logs,
      events: rows('SELECT * FROM events'),
      'command rows': rows('SELECT * FROM commands'),
      'Slack calls (bodies)': fake.calls.map((c) => JSON.stringify(c.body)),
      'Slack responses': fake.responses.map((r) => JSON.stringify(r.body)),
      'HTTP answers': answers,
    };
    db.close();
    // The flow did write: the scan is not of nothing.
    expect(logs.length).toBeGreaterThan(50);
    expect(written.events.length).toBeGreaterThan(50);
    expect(written['Slack calls (bodies)'].length).toBeGreaterThan(5);
    expect(logs.some((l) => /InvalidChangeBatch/.test(l))).toBe(true);

    const secrets: Record<string, string> = {
      'the Slack bot token': BOT_TOKEN,
      'the Slack signing secret': SECRET,
      "carol's API token": tokens.carol!,
      "bob's API token": tokens.bob!,
      "alice's API token": tokens.alice!,
      'the AWS secret access key': CREDENTIALS.secretAccessKey,
      'the AWS session token': CREDENTIALS.sessionToken,
    };
    const forms = (v: string): string[] => [v, encodeURIComponent(v), Buffer.from(v).toString('base64'), Buffer.from(v).toString('base64url')];
    const found: string[] = [];
    for (const [where, texts] of Object.entries(written)) {
      for (const text of texts) {
        for (const [what, value] of Object.entries(secrets)) if (forms(value).some((f) => text.includes(f))) found.push(`${what} in ${where}: ${text.slice(0, 200)}`);
        // An EKS bearer token is a presigned STS request carrying the session token.
        if (text.includes('k8s-aws-v1.')) found.push(`an EKS bearer token in ${where}: ${text.slice(0, 200)}`);
      }
    }
    expect(found).toEqual([]);
    // The secret reference is the app's definition, not a secret: it may be shown (the plan, the manifests).
    expect(APP.secrets[0]!.secretId).toBe(SECRET_ID);
  });
});
