/**
 * The API's hardening, through the real server (Fastify) as the CLI and an
 * auditor meet it: what the API refuses before the command core (no or a bad
 * token, `--as` in token mode, malformed or too large bodies, gc and fault
 * refusals) and what it does itself (gc deletions, faults added or cleared)
 * is a row in the commands table and one line in the operator's log, and a
 * token is in neither; `Bearer` in any case; `/api/info` says little without
 * a valid token; faults per app only by the app's people or an admin; every
 * error a request can cause is a plain sentence, never a framework's code or
 * a stack trace; the event stream resumes after `Last-Event-ID`; mounts get
 * the raw body; `[::1]` listens.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { runCli } from '../cli/run.js';
import { describeRole } from '../commands/authorize.js';
import { ManualClock } from '../deployer/clock.js';
import type { GcReport } from '../deployer/gc.js';
import type { Provider, TaggedResource } from '../deployer/ports.js';
import { createSandboxProvider } from '../deployer/sandbox/index.js';
import type { CommandRecord } from '../store/index.js';
import { loadConfig, type Config } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import type { StartOptions } from '../system/compose.js';
import { blueGreen } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { logLines } from './helpers/log-sink.js';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly component?: string;
  readonly commandId?: number;
  readonly actor?: string;
  readonly outcome?: string;
  readonly err?: { message: string; stack?: string };
}

/** A harness whose log (at info) is kept, line by line. */
async function logged(overrides: Partial<Config> = {}, options: StartOptions = {}): Promise<{ h: Harness; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const sink = logLines(lines);
  const h = await startHarness(overrides, { logger: createLogger('info', sink), ...options });
  return { h, lines };
}

/** The commands rows added since `since` (an id), oldest first. */
const rowsAfter = (h: Harness, since: number): CommandRecord[] =>
  h.k.store.commands
    .recent(1000)
    .filter((c) => c.id > since)
    .reverse();
const lastId = (h: Harness): number => h.k.store.commands.recent(1)[0]?.id ?? 0;
/** The API's log lines (component api). */
const apiLines = (lines: LogLine[]): string[] => lines.filter((l) => l.component === 'api').map((l) => l.msg);

async function call(h: Harness, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.url}${path}`, { method, headers: init.headers, body: init.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const JSON_TYPE = { 'content-type': 'application/json' } as const;

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

/** A sandbox whose account also holds `extra` resources (deleted by recording them), and whose listing can be made to fail. */
function sandboxWith(account: { extra: TaggedResource[]; deletes: string[]; failListing?: string }): StartOptions['provider'] {
  return ({ store, clock, installation }): Provider => {
    const p = createSandboxProvider(store, { scale: 1, clock, installation });
    return {
      ...p,
      clusters: {
        ...p.clusters,
        listTagged: async (cmd) => {
          if (account.failListing) throw new Error(account.failListing);
          return [...(await p.clusters.listTagged(cmd)), ...account.extra];
        },
        destroy: async (cmd) => {
          account.deletes.push(`${cmd.resource.kind} ${cmd.resource.name}`);
          account.extra = account.extra.filter((r) => r.name !== cmd.resource.name);
        },
      },
    };
  };
}

describe('token mode: who is refused is recorded, and the token never is', () => {
  let h: Harness;
  let lines: LogLine[];
  let carol: string;
  let alice: string;
  const account = { extra: [] as TaggedResource[], deletes: [] as string[], failListing: undefined as string | undefined };
  beforeAll(async () => {
    ({ h, lines } = await logged({ auth: 'token', admins: ['alice'] }, { provider: sandboxWith(account) }));
    carol = h.k.store.tokens.create('carol');
    alice = h.k.store.tokens.create('alice');
  });
  afterAll(() => h.close());

  it('a request without a token: 401, a refused row by anonymous, one log line', async () => {
    const since = lastId(h);
    const res = await call(h, 'POST', '/api/commands', { headers: JSON_TYPE, body: JSON.stringify({ args: ['status'] }) });
    expect(res).toEqual({
      status: 401,
      body: { status: 'error', code: 'unauthenticated', message: 'a bearer token is required: set KUBECONTROL_TOKEN (ask an admin: `kubecontrol tokens create <you>`)' },
    });
    const [row, ...more] = rowsAfter(h, since);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ actor: 'anonymous', surface: 'api', text: 'POST /api/commands', outcome: 'refused', message: res.body.message });
    expect(apiLines(lines)).toContain(`command #${row!.id} POST /api/commands by anonymous via api: refused — ${String(res.body.message)}`);
  });

  it('an unknown token: 401 on reads too; neither the token nor the query string is in the row or the log', async () => {
    const since = lastId(h);
    const secret = 'kc_not-a-real-token-4f9a2b';
    const res = await call(h, 'GET', `/api/deploys/1/events?after=0&token=${secret}`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res).toEqual({ status: 401, body: { status: 'error', code: 'unauthenticated', message: 'this token is unknown or revoked' } });
    const rows = rowsAfter(h, since);
    expect(rows).toEqual([expect.objectContaining({ actor: 'anonymous', surface: 'api', text: 'GET /api/deploys/1/events', outcome: 'refused', message: 'this token is unknown or revoked' })]);
    expect(JSON.stringify(h.k.store.commands.recent(1000))).not.toContain(secret);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('--as with a valid token: 403, recorded under the token’s person', async () => {
    const since = lastId(h);
    const res = await call(h, 'POST', '/api/commands', { headers: { ...JSON_TYPE, authorization: `Bearer ${carol}`, 'x-kubecontrol-as': 'alice' }, body: JSON.stringify({ args: ['status'] }) });
    expect(res).toEqual({ status: 403, body: { status: 'error', code: 'as_refused', message: '--as is only available in local mode; the server knows you by your token' } });
    const [row] = rowsAfter(h, since);
    expect(row).toMatchObject({ actor: 'carol', text: 'POST /api/commands', outcome: 'refused', message: res.body.message });
    expect(apiLines(lines).at(-1)).toBe(`command #${row!.id} POST /api/commands by carol via api: refused — ${String(res.body.message)}`);
  });

  it('takes the Bearer scheme in any case (RFC 7235)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const res = await call(h, 'POST', '/api/commands', { headers: { ...JSON_TYPE, authorization: `${scheme} ${carol}` }, body: JSON.stringify({ args: ['status'] }) });
      expect({ scheme, status: res.status, authenticated: res.body.authenticated }).toEqual({ scheme, status: 200, authenticated: true });
    }
  });

  it('/api/info without a valid token says what the server is, not what it runs', async () => {
    for (const headers of [{}, { authorization: 'Bearer kc_unknown' }, { authorization: 'Basic Y2Fyb2w6eA==' }] as Record<string, string>[]) {
      const res = await call(h, 'GET', '/api/info', { headers });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'kubecontrol', auth: 'token', authenticated: false, note: expect.stringContaining('set KUBECONTROL_TOKEN') });
      for (const hidden of ['apps', 'warnings', 'surfaces', 'installation', 'you']) expect(res.body).not.toHaveProperty(hidden);
    }
    const known = await call(h, 'GET', '/api/info', { headers: { authorization: `bearer ${carol}` } });
    expect(known.body).toMatchObject({ authenticated: true, you: 'carol', apps: [...h.k.apps.keys()], warnings: [], surfaces: {} });
  });

  it('gc by someone who is not an admin: 403, recorded; gc --yes by an admin: recorded with what was deleted', async () => {
    const since = lastId(h);
    const refused = await call(h, 'POST', '/api/gc', { headers: { authorization: `Bearer ${carol}` } });
    expect(refused).toEqual({ status: 403, body: { status: 'error', code: 'forbidden', message: 'carol is not an admin (KUBECONTROL_ADMINS)' } });
    account.extra = [{ kind: 'cluster', name: 'search-svc-77', app: 'search-svc', deployId: 77 }];
    const done = await fetch(`${h.url}/api/gc`, { method: 'POST', headers: { authorization: `Bearer ${alice}` } });
    expect(done.status).toBe(200);
    expect(((await done.json()) as GcReport).orphans.map((o) => `${o.name} ${o.outcome}`)).toEqual(['search-svc-77 deleted']);
    expect(account.deletes).toEqual(['cluster search-svc-77']);
    const rows = rowsAfter(h, since);
    expect(rows.map((r) => ({ actor: r.actor, surface: r.surface, verb: r.verb, text: r.text, outcome: r.outcome, message: r.message }))).toEqual([
      { actor: 'carol', surface: 'api', verb: 'gc', text: 'POST /api/gc', outcome: 'refused', message: 'carol is not an admin (KUBECONTROL_ADMINS)' },
      { actor: 'alice', surface: 'api', verb: 'gc', text: 'POST /api/gc', outcome: 'accepted', message: 'deleted 1 of 1: cluster search-svc-77' },
    ]);
    expect(apiLines(lines).slice(-2)).toEqual([
      `command #${rows[0]!.id} POST /api/gc by carol via api: refused — carol is not an admin (KUBECONTROL_ADMINS)`,
      `command #${rows[1]!.id} POST /api/gc by alice via api: accepted — deleted 1 of 1: cluster search-svc-77`,
    ]);
    // Listing is a read: not recorded.
    const listed = await call(h, 'GET', '/api/gc', { headers: { authorization: `Bearer ${alice}` } });
    expect(listed.status).toBe(200);
    expect(rowsAfter(h, rows[1]!.id)).toEqual([]);
  });

  it('a server failure: 500 with no detail for the caller, the error in the log, a failed row', async () => {
    const since = lastId(h);
    account.failListing = 'ThrottlingException: Rate exceeded at https://tagging.us-east-1.amazonaws.com';
    try {
      const res = await call(h, 'POST', '/api/gc', { headers: { authorization: `Bearer ${alice}` } });
      expect(res).toEqual({ status: 500, body: { status: 'error', code: 'internal', message: 'internal error; the server log has the details' } });
    } finally {
      account.failListing = undefined;
    }
    const failure = lines.filter((l) => l.component === 'http' && l.msg === 'request failed').at(-1);
    expect(failure).toMatchObject({ level: 50, err: { message: expect.stringContaining('ThrottlingException') } });
    expect(failure!.err!.stack).toBeDefined();
    expect(rowsAfter(h, since)).toEqual([expect.objectContaining({ actor: 'alice', text: 'POST /api/gc', outcome: 'failed', message: 'internal error; the server log has the details' })]);
  });

  it('faults: an app’s deployer may add one for it; a fault for every app and clearing need an admin', async () => {
    const since = lastId(h);
    const add = (token: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> =>
      call(h, 'POST', '/api/sandbox/faults', { headers: { ...JSON_TYPE, authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    expect((await add(carol, { step: 'provision', fault: 'fail', app: 'search-svc' })).status).toBe(200);
    const everyApp = await add(carol, { step: 'build', fault: 'timeout' });
    expect(everyApp).toEqual({
      status: 403,
      body: { status: 'error', code: 'forbidden', message: 'carol is not an admin (KUBECONTROL_ADMINS): a fault for every app needs one; name the app (--app) to inject one into an app you may deploy' },
    });
    expect((await add(alice, { step: 'build', fault: 'timeout', times: 2 })).status).toBe(200);
    const clearAs = (token: string): Promise<{ status: number; body: Record<string, unknown> }> => call(h, 'DELETE', '/api/sandbox/faults', { headers: { authorization: `Bearer ${token}` } });
    expect(await clearAs(carol)).toEqual({ status: 403, body: { status: 'error', code: 'forbidden', message: 'carol is not an admin (KUBECONTROL_ADMINS): clearing faults needs one' } });
    expect(h.k.store.sandbox.faults()).toHaveLength(2);
    expect((await clearAs(alice)).status).toBe(200);
    expect(h.k.store.sandbox.faults()).toEqual([]);
    expect(rowsAfter(h, since).map((r) => [r.actor, r.verb, r.app, r.text, r.outcome, r.message])).toEqual([
      ['carol', 'faults', 'search-svc', 'faults add provision fail search-svc', 'accepted', 'added: provision will fail for search-svc'],
      ['carol', 'faults', null, 'faults add build timeout', 'refused', everyApp.body.message],
      ['alice', 'faults', null, 'faults add build timeout --times 2', 'accepted', 'added: build will time out for every app, 2 times'],
      ['carol', 'faults', null, 'faults clear', 'refused', 'carol is not an admin (KUBECONTROL_ADMINS): clearing faults needs one'],
      ['alice', 'faults', null, 'faults clear', 'accepted', 'cleared 2 faults'],
    ]);
  });
});

describe('local mode: faults per app, and the bodies the API cannot use', () => {
  let h: Harness;
  let lines: LogLine[];
  beforeAll(async () => {
    ({ h, lines } = await logged({ admins: ['dana'] }));
  });
  afterAll(() => h.close());

  it('--as a stranger cannot inject a fault into an app; its deployer and an admin can; a fault for every app is open to all', async () => {
    const since = lastId(h);
    const app = h.k.apps.get('search-svc')!;
    const stranger = await cli('--url', h.url, '--as', 'stranger', 'faults', 'add', 'provision', 'fail', '--app', 'search-svc');
    const message = `stranger may not inject faults into search-svc: ${describeRole(app, 'deploy')}, or an admin (KUBECONTROL_ADMINS)`;
    expect(stranger).toEqual({ code: 3, stdout: '', stderr: `✗ ${message}\n` });
    expect(h.k.store.sandbox.faults()).toEqual([]);
    expect((await cli('--url', h.url, '--as', 'carol', 'faults', 'add', 'provision', 'fail', '--app', 'search-svc')).code).toBe(0);
    expect((await cli('--url', h.url, '--as', 'dana', 'faults', 'add', 'deploy', 'unhealthy', '--app', 'search-svc')).code).toBe(0);
    expect((await cli('--url', h.url, '--as', 'stranger', 'faults', 'add', 'build', 'fail')).code).toBe(0);
    expect((await cli('--url', h.url, '--as', 'stranger', 'faults', 'clear')).code).toBe(0);
    const rows = rowsAfter(h, since);
    expect(rows.map((r) => [r.actor, r.app, r.text, r.outcome])).toEqual([
      ['stranger', 'search-svc', 'faults add provision fail search-svc', 'refused'],
      ['carol', 'search-svc', 'faults add provision fail search-svc', 'accepted'],
      ['dana', 'search-svc', 'faults add deploy unhealthy search-svc', 'accepted'],
      ['stranger', null, 'faults add build fail', 'accepted'],
      ['stranger', null, 'faults clear', 'accepted'],
    ]);
    expect(rows[0]!.message).toBe(message);
    expect(apiLines(lines)).toContain(`command #${rows[0]!.id} faults add provision fail search-svc by stranger via api: refused — ${message}`);
  });

  it('an unknown app is named, and recorded', async () => {
    const since = lastId(h);
    const res = await call(h, 'POST', '/api/sandbox/faults', { headers: { ...JSON_TYPE, 'x-kubecontrol-user': 'carol' }, body: JSON.stringify({ step: 'build', fault: 'fail', app: 'nope' }) });
    expect(res).toEqual({ status: 404, body: { status: 'error', code: 'unknown_app', message: 'there is no app nope' } });
    expect(rowsAfter(h, since)).toEqual([expect.objectContaining({ actor: 'carol', text: 'faults add build fail nope', outcome: 'invalid', message: 'there is no app nope' })]);
  });

  it.each([
    ['malformed JSON', { 'content-type': 'application/json' }, '{"args": ["status"', 400, 'bad_json', 'request body is not valid JSON'],
    ['no body at all', {}, undefined, 400, 'bad_request', 'the request has no body; send {"args": ["deploy", "APP", "VERSION"]} or {"text": "deploy APP VERSION"}'],
    ['an empty JSON body', { 'content-type': 'application/json' }, '', 400, 'bad_request', 'the request has no body; send {"args": ["deploy", "APP", "VERSION"]} or {"text": "deploy APP VERSION"}'],
    ['a body over 64 KiB', { 'content-type': 'application/json' }, JSON.stringify({ text: 'x'.repeat(70_000) }), 413, 'too_large', 'request body is larger than 64 KiB'],
    ['a Content-Type that is not one', { 'content-type': 'not a type' }, '{}', 415, 'bad_content_type', "the request's Content-Type is not one this server reads; send the request body as JSON (Content-Type: application/json)"],
  ] as const)('%s: a sentence, recorded and logged', async (_what, headers, body, status, code, message) => {
    const since = lastId(h);
    const res = await call(h, 'POST', '/api/commands', { headers: { ...headers, 'x-kubecontrol-user': 'alice' }, body });
    expect(res).toEqual({ status, body: { status: 'error', code, message } });
    const [row, ...more] = rowsAfter(h, since);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ actor: 'alice', surface: 'api', text: 'POST /api/commands', outcome: 'invalid', message });
    expect(apiLines(lines).at(-1)).toBe(`command #${row!.id} POST /api/commands by alice via api: invalid — ${message}`);
  });

  it('a JSON body sent without a Content-Type (or as text/plain) is read as JSON', async () => {
    for (const headers of [{}, { 'content-type': 'text/plain;charset=UTF-8' }] as Record<string, string>[]) {
      const res = await fetch(`${h.url}/api/commands`, { method: 'POST', headers: { ...headers, 'x-kubecontrol-user': 'alice' }, body: new Blob([JSON.stringify({ args: ['status'] })]) });
      expect(res.status).toBe(200);
    }
  });

  it('a fault body over the limit, on the faults endpoint', async () => {
    const since = lastId(h);
    const res = await call(h, 'POST', '/api/sandbox/faults', { headers: { ...JSON_TYPE, 'x-kubecontrol-user': 'carol' }, body: JSON.stringify({ step: 'x'.repeat(70_000) }) });
    expect(res).toEqual({ status: 413, body: { status: 'error', code: 'too_large', message: 'request body is larger than 64 KiB' } });
    expect(rowsAfter(h, since)).toEqual([expect.objectContaining({ actor: 'carol', verb: 'faults', text: 'POST /api/sandbox/faults', outcome: 'invalid' })]);
  });

  it('a user name that is not one: 400, recorded as anonymous', async () => {
    const since = lastId(h);
    const res = await call(h, 'GET', '/api/deploys/1', { headers: { 'x-kubecontrol-user': 'a b' } });
    expect(res).toEqual({ status: 400, body: { status: 'error', code: 'bad_user', message: '"a b" is not a valid user name' } });
    expect(rowsAfter(h, since)).toEqual([expect.objectContaining({ actor: 'anonymous', text: 'GET /api/deploys/1', outcome: 'invalid' })]);
  });

  it('no error a request can cause reads like the framework: bad URLs, unknown paths, requests that are not HTTP', async () => {
    const answers = [
      await call(h, 'GET', '/api/deploys/%zz', { headers: { 'x-kubecontrol-user': 'alice' } }),
      await call(h, 'GET', '/api/nope'),
      await call(h, 'PUT', '/api/gc', { headers: { ...JSON_TYPE, 'x-kubecontrol-user': 'alice' }, body: '{}' }),
      await call(h, 'GET', '/api/deploys/12x'),
      await call(h, 'POST', '/slack/events', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' }),
    ];
    expect(answers).toEqual([
      { status: 400, body: { status: 'error', code: 'bad_url', message: 'the URL is not valid (a malformed %-escape?)' } },
      { status: 404, body: { status: 'error', code: 'not_found', message: 'no such endpoint: GET /api/nope' } },
      { status: 404, body: { status: 'error', code: 'not_found', message: 'no such endpoint: PUT /api/gc' } },
      { status: 404, body: { status: 'error', code: 'not_found', message: 'no such endpoint: GET /api/deploys/12x' } },
      { status: 404, body: { status: 'error', code: 'not_found', message: 'no such path: /slack/events' } },
    ]);
    // Not HTTP at all: answered on the socket, in the same shape.
    const { port } = new URL(h.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(raw.split('\r\n\r\n')[1]!)).toEqual({ status: 'error', code: 'bad_http', message: 'the request is not valid HTTP' });
    expect(JSON.stringify(answers) + raw).not.toMatch(/FST_|statusCode|Unsupported Media Type/);
  });

  it('/api/info in local mode: everything, and unauthenticated', async () => {
    const info = await call(h, 'GET', '/api/info');
    expect(info.body).toMatchObject({ auth: 'local', authenticated: false, apps: [...h.k.apps.keys()], warnings: [], surfaces: {} });
    expect(info.body).not.toHaveProperty('you');
  });
});

describe('mounts (Slack) get the raw request', () => {
  let h: Harness;
  let lines: LogLine[];
  beforeAll(async () => {
    ({ h, lines } = await logged());
    h.k.mount(async (req, res) => {
      if (req.url === '/boom') throw new Error('the mount broke: secret-detail');
      if (req.url !== '/raw-echo') return false;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.concat(chunks));
      return true;
    });
  });
  afterAll(() => h.close());

  it('with the body unparsed, byte for byte, and not held to the API’s limit', async () => {
    const body = `{"b": 1,    "a": 2, "pad": "${'p'.repeat(100_000)}"}`;
    const res = await fetch(`${h.url}/raw-echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
  });

  it('a mount that throws: 500 without its message, logged with the error', async () => {
    const res = await call(h, 'POST', '/boom', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
    expect(res).toEqual({ status: 500, body: { status: 'error', code: 'internal', message: 'internal error; the server log has the details' } });
    expect(lines.find((l) => l.msg === 'request failed')).toMatchObject({ level: 50, err: { message: 'the mount broke: secret-detail' } });
  });
});

describe('the event stream resumes after a dropped connection', () => {
  const clock = new ManualClock();
  let h: Harness;
  let id: number;
  beforeAll(async () => {
    h = await startHarness({ sandboxScale: 1 }, { clock });
    id = await blueGreen(h, clock, 'search-svc', 'v1');
  });
  afterAll(() => h.close());

  /** The ids of the deploy events a stream sends (it ends by itself: the deploy has ended). */
  async function streamedIds(query: string, headers: Record<string, string> = {}): Promise<number[]> {
    const res = await fetch(`${h.url}/api/deploys/${id}/stream${query}`, { headers: { 'x-kubecontrol-user': 'carol', ...headers } });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await res.text();
    expect(text).toMatch(/event: end\n/);
    return [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }

  it('after the Last-Event-ID header, after ?after=N, and the header wins over the query', async () => {
    const all = h.k.store.events.after(id, 0).map((e) => e.id);
    expect(all.length).toBeGreaterThan(4);
    const cut = all[3]!;
    expect(await streamedIds('')).toEqual(all);
    expect(await streamedIds('', { 'last-event-id': String(cut) })).toEqual(all.slice(4));
    expect(await streamedIds(`?after=${cut}`)).toEqual(all.slice(4));
    // An EventSource reconnects to the same URL with the last id it saw.
    expect(await streamedIds(`?after=${all[0]}`, { 'last-event-id': String(cut) })).toEqual(all.slice(4));
    // A header that is not an event id is ignored.
    expect(await streamedIds(`?after=${cut}`, { 'last-event-id': 'soon' })).toEqual(all.slice(4));
  });
});

describe('[::1] as the host', () => {
  it('is listened on as ::1, and the server’s URL brackets it', async () => {
    const config = loadConfig({ KUBECONTROL_HOST: '[::1]' });
    expect(config.host).toBe('::1');
    const h = await startHarness({ host: config.host });
    try {
      expect(h.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect(await call(h, 'GET', '/health')).toMatchObject({ status: 200, body: { ok: true, name: 'kubecontrol' } });
    } finally {
      await h.close();
    }
  });
});
