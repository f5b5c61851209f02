/**
 * Fuzzing with fast-check (seeded, bounded): generated commands and Slack
 * payloads — unicode, very long words, shell/SQL/template injections, path
 * traversal, NUL bytes, missing fields, wrong types — into
 *  - the grammar (commands/grammar.ts `parse`), pure, 6,000 inputs;
 *  - the command core, in process, 2,000 inputs;
 *  - `POST /api/commands` through the real server, 1,500 requests on one keep-alive connection pool;
 *  - `/slack/events`, signed with the signing secret, 800 slash commands and button clicks.
 * Every answer is specific (a kind, or an error code and a sentence; never a
 * 500 or "something went wrong"), every command that reached the core is a
 * commands row, and no rejection goes unhandled (jest fails the test that
 * was running when one does, the server's in-process). Nothing reaches SQL but as a
 * bound parameter (every statement the store prepares while fuzzing is one
 * of a small fixed set, none carrying input; the store's SQL built by
 * interpolation is a reviewed list of constant fragments), nothing reaches a
 * shell (the only process spawned with a version runs it as an argument
 * vector, no shell), and what is accepted as an app or a version matches the
 * patterns Kubernetes names and image tags are checked against.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse, VERBS, VERSION_PATTERN, type ParseResult } from '../../commands/grammar.js';
import type { CommandResult } from '../../commands/results.js';
import { ManualClock } from '../../deployer/clock.js';
import { ALICE, BOB, MALLORY, SECRET, startSlackHarness, type SlackHarness } from '../fakes/slack-harness.js';
import { postSigned, slashCommand } from '../fakes/slack-requests.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const SEED = 20261130;
const ROOT = new URL('../../', import.meta.url).pathname;
const STATUSES = ['ok', 'invalid', 'refused', 'not_found', 'conflict', 'error'];
const VAGUE = /internal error|something went wrong|undefined|\[object Object\]/i;
/** What an accepted app may be called: a KubeApp name (a DNS-1123 label, also the namespace and the cluster name's start). */
const APP_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

// Every SQL text the store prepares or executes while the suite runs.
const prepared = new Set<string>();
const proto = Database.prototype as unknown as { prepare(sql: string): unknown; exec(sql: string): unknown };
const realPrepare = proto.prepare;
const realExec = proto.exec;
proto.prepare = function (this: unknown, sql: string) {
  prepared.add(sql);
  return realPrepare.call(this, sql);
};
proto.exec = function (this: unknown, sql: string) {
  prepared.add(sql);
  return realExec.call(this, sql);
};

afterAll(() => {
  proto.prepare = realPrepare;
  proto.exec = realExec;
});

// --- what is generated -------------------------------------------------------

const INJECTIONS = [
  '; rm -rf /',
  "' OR 1=1 --",
  "'); DROP TABLE deploys; --",
  'x" OR "1"="1',
  '$(touch /tmp/kubecontrol-pwned)',
  '`id`',
  '| cat /etc/shadow',
  '&& reboot',
  '../../etc/passwd',
  '..\\..\\windows\\system32',
  '\u0000',
  'v1\u0000.2',
  '%00',
  '\r\nX-Injected: 1',
  '<script>alert(1)</script>',
  '${process.exit(1)}',
  '{{7*7}}',
  '\u202eRTL\u202c',
  '🚀🔥',
  'Ⅷ',
  'ｄｅｐｌｏｙ',
  '\\',
  '"',
  "'",
  '“',
  '--',
  '--force',
  '--dry-run',
  '--strategy',
  '--strategy=blue-green',
  '--strategy=canary',
  '--limit',
  '--limit=0',
  '--limit=99999999999999999999',
  '#42',
  '#',
  '0',
  '-1',
  '1e3',
  '9'.repeat(20),
  '__proto__',
  'constructor',
];
/** Markers of the injections above that must never appear in a SQL text. */
const SQL_MARKERS = ['rm -rf', 'OR 1=1', 'DROP TABLE deploys; --', '"1"="1', '$(touch', 'cat /etc/shadow', '../../etc', '<script>', '${process', '\u0000'];
const VOCAB = [...VERBS, 'search-svc', 'web-frontend', 'cache-worker', 'SEARCH-SVC', 'search_svc', 'v1.2.3', '1.0.0', 'blue-green', 'rolling', '12', '3'];

const word = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...VOCAB) },
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 100, maxLength: 1000 }) },
);
const words = fc.array(word, { maxLength: 7 });
/** A command as a CLI's argv, or as typed text (quotes and all). */
const input: fc.Arbitrary<string | string[]> = fc.oneof(
  { weight: 8, arbitrary: words },
  { weight: 8, arbitrary: words.map((ws) => ws.join(' ')) },
  { weight: 2, arbitrary: words.map((ws) => ws.map((w) => `"${w}"`).join(' ')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 4000, maxLength: 8000 }) },
);
const person = fc.oneof(fc.constantFrom('carol', 'alice', 'bob', 'dave', 'erin', 'mallory'), fc.stringMatching(/^[\w.@-]{1,64}$/));

// --- what every answer must be --------------------------------------------------

/** A parse result is valid output of the grammar, whatever went in. */
function checkParse(r: ParseResult): void {
  if (!r.ok) {
    expect(['empty', 'unknown_command', 'missing_argument', 'bad_argument', 'unknown_flag', 'extra_argument']).toContain(r.error.code);
    expect(r.error.message.trim().length).toBeGreaterThan(0);
    expect(r.error.message).not.toMatch(VAGUE);
    return;
  }
  const c = r.command as Record<string, unknown>;
  expect(VERBS).toContain(c.verb);
  if ('version' in c) expect(c.version).toMatch(VERSION_PATTERN);
  if ('deployId' in c) expect(Number.isSafeInteger(c.deployId) && (c.deployId as number) >= 0).toBe(true);
  if ('limit' in c) expect(c.limit as number).toBeGreaterThanOrEqual(1);
  if ('limit' in c) expect(c.limit as number).toBeLessThanOrEqual(100);
  if (typeof c.app === 'string') expect(c.app).toBe(c.app.toLowerCase());
  if (c.strategy !== undefined) expect(['blue-green', 'rolling']).toContain(c.strategy);
}

/** A core result (or its JSON): a kind, a status, a sentence; an error has a code; what it accepts is named as it may be. */
function checkResult(r: Partial<CommandResult> & Record<string, unknown>, apps: ReadonlySet<string>, accepted: string[]): void {
  expect(typeof r.kind).toBe('string');
  expect(STATUSES).toContain(r.status);
  expect(typeof r.message === 'string' && r.message.trim().length > 0).toBe(true);
  expect(r.message).not.toMatch(/internal error|something went wrong|\[object Object\]/i);
  if (r.kind === 'error') expect(typeof r.code === 'string' && (r.code as string).length > 0).toBe(true);
  const d = r.deploy as { app: string; version: string } | undefined;
  if (r.kind === 'deploy_queued' && d) {
    expect(apps.has(d.app)).toBe(true);
    expect(d.app).toMatch(APP_NAME);
    expect(d.version).toMatch(VERSION_PATTERN);
    accepted.push(`${d.app} ${d.version}`);
  }
}

const commandRows = (dbPath: string, surface?: string): number => {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM commands${surface ? ' WHERE surface = ?' : ''}`).get(...(surface ? [surface] : [])) as { n: number }).n;
  } finally {
    db.close();
  }
};

// --- the grammar -----------------------------------------------------------------

describe('the grammar', () => {
  it('6,000 generated commands: parse never throws and answers a command it can stand behind, or a coded error with a sentence', () => {
    fc.assert(
      fc.property(input, (i) => {
        checkParse(parse(i));
      }),
      { seed: SEED, numRuns: 6000 },
    );
  });
});

// --- the core and the API, on one real server --------------------------------------

describe('the command core and POST /api/commands (the real server)', () => {
  let h: Harness;
  let clock: ManualClock;
  const accepted: string[] = [];
  beforeAll(async () => {
    clock = new ManualClock();
    // A ManualClock: accepted deploys wait in line, nothing runs; answers that need the provider are driven.
    h = await startHarness({ approvalTimeoutMs: 60_000 }, { clock });
  });
  afterAll(() => h?.close());

  it('2,000 generated commands into the core: each answered specifically and recorded', async () => {
    const apps = new Set(h.k.apps.keys());
    let calls = 0;
    const before = commandRows(h.dbPath);
    await fc.assert(
      fc.asyncProperty(person, input, async (who, i) => {
        calls++;
        let r = h.k.core.execute({ actor: { id: who }, surface: 'cli', input: i });
        if (r instanceof Promise) {
          let settled = false;
          void r.finally(() => (settled = true));
          await clock.runUntil(() => settled);
          r = await r;
        }
        checkResult(r as never, apps, accepted);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    expect(commandRows(h.dbPath) - before).toBe(calls);
  }, 60_000);

  it('1,500 generated requests to POST /api/commands: no 500, each refused or answered specifically, each recorded', async () => {
    const apps = new Set(h.k.apps.keys());
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.record({ args: words }).map((b) => JSON.stringify(b)) },
      { weight: 3, arbitrary: input.map((t) => JSON.stringify({ text: Array.isArray(t) ? t.join(' ') : t })) },
      {
        weight: 2,
        arbitrary: fc
          .oneof(
            fc.record({ args: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.object()), { maxLength: 4 })) }),
            fc.record({ text: fc.oneof(fc.integer(), fc.array(fc.string(), { maxLength: 3 }), fc.constant(null), fc.object()) }),
            fc.record({ args: words, text: fc.string() }),
            fc.constant({}),
            fc.constant(null),
            fc.integer(),
            fc.string(),
            fc.array(fc.anything(), { maxLength: 5 }),
            fc.object(),
          )
          .map((b) => JSON.stringify(b)),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', '{"args": ["help"]', 'null', '[]', '{"args": ["deploy", "search-svc", "v1"]}'.repeat(2)) },
      { weight: 1, arbitrary: fc.integer({ min: 70_000, max: 90_000 }).map((n) => JSON.stringify({ text: `help ${'x'.repeat(n)}` })) },
    );
    const header = fc.oneof(
      { weight: 6, arbitrary: person },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 80 }).filter((s) => /^[\x20-\x7e]*$/.test(s)) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', undefined);
    let sent = 0;
    const before = commandRows(h.dbPath);
    const one = async ([b, user, type]: [string, string | undefined, string | undefined]): Promise<void> => {
      sent++;
      const headers: Record<string, string> = {};
      if (user !== undefined) headers['x-kubecontrol-user'] = user;
      if (type !== undefined) headers['content-type'] = type;
      const res = await fetch(`${h.url}/api/commands`, { method: 'POST', headers, body: b });
      const text = await res.text();
      expect(res.status).toBeLessThan(500);
      const json = JSON.parse(text) as Record<string, unknown>;
      if (res.status >= 400 && json.kind === undefined) {
        // Refused before the core: the API's own shape.
        expect(json.status).toBe('error');
        expect(typeof json.code === 'string' && (json.code as string).length > 0).toBe(true);
        expect(typeof json.message === 'string' && (json.message as string).trim().length > 0).toBe(true);
        expect(json.message).not.toMatch(VAGUE);
      } else {
        checkResult(json as never, apps, accepted);
      }
    };
    // Ten at a time on the keep-alive pool: 150 batches.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(body, header, contentType), { minLength: 10, maxLength: 10 }), async (batch) => {
        await Promise.all(batch.map(one));
      }),
      { seed: SEED, numRuns: 150 },
    );
    // Every request is a commands row: the core's, or the API's record of a refusal before the core.
    expect(commandRows(h.dbPath) - before).toBe(sent);
  }, 90_000);

  afterAll(() => {
    // What was accepted named a KubeApp and an image tag, and nothing else.
    for (const a of accepted) expect(a).toMatch(/^[a-z0-9-]+ [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
  });
});

// --- Slack ------------------------------------------------------------------------

describe('/slack/events, signed', () => {
  let s: SlackHarness;
  beforeAll(async () => {
    s = await startSlackHarness();
  });
  afterAll(() => s?.close());

  it('800 generated slash commands and button clicks: no 500, every one acknowledged specifically, each that reached the core recorded', async () => {
    const slackUser = fc.oneof(fc.constantFrom(MALLORY, 'U0NOBODY1', 'W0GUEST01'), fc.stringMatching(/^[UW][A-Z0-9]{8,10}$/), fc.string({ maxLength: 30 }));
    const slashText = input.map((t) => (Array.isArray(t) ? t.join(' ') : t));
    type Req = { kind: 'slash' | 'click'; form: Record<string, string>; reaches: boolean };
    /** A slash command; `drop` removes fields Slack always sends. */
    const slash = (drops: readonly string[]): fc.Arbitrary<Req> =>
      fc
        .record({
          text: slashText,
          user: slackUser,
          channel: fc.oneof(fc.constantFrom('C0SEARCH', 'C0WEB0001', 'C0OTHER01'), fc.string({ maxLength: 20 })),
          drop: fc.subarray([...drops], { maxLength: 2 }),
        })
        .map(({ text, user, channel, drop }) => {
          const form: Record<string, string> = slashCommand({ text, userId: user, channelId: channel, responseUrl: s.fake.responseUrl(randomUUID()), triggerId: `trigger.${randomUUID()}` });
          for (const k of drop) delete form[k];
          return { kind: 'slash' as const, form, reaches: !drop.includes('user_id') && !drop.includes('command') };
        });
    /** A button click; `broken` how its payload is not what Slack sends. */
    const click = (actions: fc.Arbitrary<string>, brokenness: readonly string[]): fc.Arbitrary<Req> =>
      fc
        .record({
          action: actions,
          value: fc.oneof(fc.integer({ min: 0, max: 10 ** 12 }).map(String), fc.constantFrom(...INJECTIONS), fc.string({ maxLength: 30 })),
          user: fc.oneof(fc.constantFrom(BOB, ALICE, MALLORY), slackUser),
          broken: fc.constantFrom(...brokenness),
        })
        .map(({ action, value, user, broken }) => {
          const payload = {
            type: 'block_actions',
            user: { id: user, username: 'fuzz', name: 'fuzz', team_id: 'T0TEST' },
            api_app_id: 'A0KUBECTL',
            token: 'legacy-verification-token-unused',
            container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C0SEARCH', is_ephemeral: false },
            trigger_id: `trigger.${randomUUID()}`,
            team: { id: 'T0TEST', domain: 'kubecontrol-test' },
            channel: { id: 'C0SEARCH', name: 'search-team' },
            message: { type: 'message', ts: '1700000000.000100', text: 'approval' },
            response_url: s.fake.responseUrl(randomUUID()),
            actions: [{ action_id: action, block_id: 'kubecontrol.approval', text: { type: 'plain_text', text: 'x' }, value, type: 'button', action_ts: '1700000000.000200' }],
          };
          const raw =
            broken === 'not-json'
              ? `{"type": "block_actions", ${value}`
              : broken === 'no-actions'
                ? JSON.stringify({ ...payload, actions: undefined })
                : broken === 'wrong-types'
                  ? JSON.stringify({ ...payload, user: value, actions: [{ action_id: 7, value: { v: value } }] })
                  : JSON.stringify(payload);
          const reaches = broken === 'none' && (action === 'kubecontrol.approve' || action === 'kubecontrol.reject') && /^\d{1,12}$/.test(value);
          return { kind: 'click' as const, form: { payload: raw }, reaches };
        });
    let reached = 0;
    const before = commandRows(s.dbPath, 'slack');
    const one = async (req: Req): Promise<void> => {
      const reply = await postSigned(s.eventsUrl, SECRET, req.form);
      expect(reply.status).toBeLessThan(500);
      if (req.reaches) reached++;
      if (req.kind === 'slash' && req.reaches) {
        expect(reply.status).toBe(200);
        // The ack is the answer (or says it is working on it, the answer following on the response_url).
        const text = String(reply.json?.text ?? '') + JSON.stringify(reply.json?.blocks ?? '');
        expect(text.trim().length).toBeGreaterThan(0);
        expect(text).not.toMatch(/internal error|something went wrong|\[object Object\]/i);
      }
    };
    // What Slack sends, its contents generated: 760, twenty at a time.
    const handled = fc.oneof(
      { weight: 3, arbitrary: slash(['channel_id', 'trigger_id', 'response_url', 'text']) },
      { weight: 1, arbitrary: click(fc.constantFrom('kubecontrol.approve', 'kubecontrol.reject'), ['none', 'none', 'none', 'not-json']) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(handled, { minLength: 20, maxLength: 20 }), async (batch) => {
        await Promise.all(batch.map(one));
      }),
      { seed: SEED, numRuns: 38 },
    );
    // What no listener takes (no user, no command, an action of no button of ours, wrong types): 40 at once,
    // each answered by Bolt's own 404 after its 3 s wait for an ack — still not a 500, still nothing recorded.
    const unhandledShapes = fc.oneof(
      slash(['user_id', 'command']).filter((r) => !r.reaches),
      click(fc.string({ maxLength: 20 }).filter((a) => !a.startsWith('kubecontrol.')), ['none', 'no-actions', 'wrong-types']),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(unhandledShapes, { minLength: 40, maxLength: 40 }), async (batch) => {
        await Promise.all(batch.map(one));
      }),
      { seed: SEED, numRuns: 1 },
    );
    // Clicks answer on their response_url after the ack: each click's command is recorded before its answer.
    await s.fake.waitFor('every command recorded', () => commandRows(s.dbPath, 'slack') - before >= reached);
    expect(commandRows(s.dbPath, 'slack') - before).toBe(reached);
    expect(s.fake.responses.filter((r) => /something went wrong/i.test(JSON.stringify(r.body)))).toEqual([]);
  }, 90_000);
});

// --- what input can reach -----------------------------------------------------------

describe('what the input reaches', () => {
  it('SQL: every statement prepared while fuzzing is one of a small fixed set, and none carries input', () => {
    const texts = [...prepared];
    // Input interpolated into SQL would make one statement per input: thousands. Parameters keep it to the store's own.
    expect(texts.length).toBeGreaterThan(20); // the recorder saw the store's own statements
    expect(texts.length).toBeLessThan(400);
    for (const marker of SQL_MARKERS) expect(texts.filter((t) => t.includes(marker))).toEqual([]);
  });

  it("SQL: the store's statements built by interpolation interpolate reviewed constant fragments only", () => {
    // Each `${…}` inside SQL in store/*.ts, and what it may be: constants of the store, never a value.
    // A fragment built from fixed column assignments (`sets`), a fixed column list, a migration's own table name,
    // or a constant of the same file (ALL_CAPS, declared there).
    const REVIEWED = new Set(["sets.join(', ')", 'columns', 'table']);
    const found: string[] = [];
    for (const file of readdirSync(join(ROOT, 'store')).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, 'store', file), 'utf8');
      const constant = (e: string): boolean => /^[A-Z][A-Z0-9_]*$/.test(e) && new RegExp(`\\bconst ${e}\\b`).test(text);
      for (const m of text.matchAll(/\.(?:prepare|exec)\(\s*`([^`]*)`/g)) {
        for (const e of m[1]!.matchAll(/\$\{([^}]*)\}/g)) if (!REVIEWED.has(e[1]!.trim()) && !constant(e[1]!.trim())) found.push(`${file}: \${${e[1]}}`);
      }
      // A statement glued together with + is not allowed at all.
      for (const m of text.matchAll(/\.(?:prepare|exec)\(\s*(['"`])[^'"`]*\1\s*\+/g)) found.push(`${file}: ${m[0]}`);
    }
    expect(found).toEqual([]);
  });

  it('shells: every process kubecontrol spawns gets an argument vector, never a shell command line', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (e.isDirectory() && !['node_modules', 'test', 'data', '.git', 'test-artifacts'].includes(e.name)) walk(join(dir, e.name));
        else if (/\.(ts|js)$/.test(e.name)) {
          const text = readFileSync(join(ROOT, dir, e.name), 'utf8');
          if (/import\s*\{[^}]*\b(exec|execSync)\b[^}]*\}\s*from\s*['"](node:)?child_process['"]/.test(text)) offenders.push(`${join(dir, e.name)}: exec() runs a shell`);
          if (/shell:\s*true/.test(text)) offenders.push(`${join(dir, e.name)}: shell: true`);
        }
      }
    };
    for (const dir of ['bot', 'cli', 'commands', 'console', 'deployer', 'kubeapps', 'schedules', 'store', 'system']) walk(dir);
    expect(offenders).toEqual([]);
  });
});
