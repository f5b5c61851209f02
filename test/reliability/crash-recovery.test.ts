/**
 * Crash recovery: the real server (`tsx system/main.ts`, sandbox provider, a
 * SQLite file) is killed with SIGKILL while deploys stand in every state of a
 * blue/green — building, provisioning, deploying, awaiting approval, cutting
 * over before and after the DNS change, tearing down — and in the cleanup of
 * a deploy that failed, then started again on the same database. After each
 * kill the database passes `PRAGMA integrity_check` (a read-only connection,
 * before the restart). Every deploy ends as it would have without the kills:
 * the blue/greens succeed (each cluster created once, the old one torn down,
 * DNS on the new one), the failed deploy is cleaned up with each undo in its
 * events.
 *
 * Three apps run side by side so that one kill hits several states: four
 * kills, five processes. A state is reached by polling the database, and
 * held long enough to be hit by a call that does not answer (a sandbox fault
 * of kind `timeout`, used up by the time the next process resumes the step),
 * by a throttled call (kind `throttle`: the record change before the DNS
 * moves) or by the sandbox's scale for that process (KUBECONTROL_SANDBOX_SCALE).
 * Nothing here sleeps for a fixed time.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The chain (a cluster and a node group per environment), an app without a live cluster, the one whose deploy fails. */
const A = 'web-frontend';
const B = 'search-svc';
const C = 'cache-worker';
const DEPLOYERS: Readonly<Record<string, string>> = { [A]: 'carol', [B]: 'carol', [C]: 'erin' };
const APPROVERS: Readonly<Record<string, string>> = { [A]: 'bob', [B]: 'bob', [C]: 'bob' };

interface Server {
  readonly proc: ChildProcess;
  readonly url: string;
  /** Everything it wrote, for failure messages. */
  readonly output: () => string;
}

let dbPath: string;
let server: Server | undefined;
/** A read-only connection to the server's database: how the test sees where each deploy stands. */
let db: Database.Database | undefined;
const kills: { at: string; integrity: string }[] = [];

beforeAll(() => {
  dbPath = join(mkdtempSync(join(tmpdir(), 'kubecontrol-crash-')), 'kubecontrol.db');
});
afterAll(() => {
  db?.close();
  if (server) process.kill(-server.proc.pid!, 'SIGKILL');
});

/** Starts the real server with the sandbox at `scale`; resolves once the banner gives its URL. */
async function start(scale: number): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    KUBECONTROL_PORT: '0',
    KUBECONTROL_DB: dbPath,
    KUBECONTROL_PROVIDER: 'sandbox',
    KUBECONTROL_SANDBOX_SCALE: String(scale),
    KUBECONTROL_LOG_LEVEL: 'warn',
    KUBECONTROL_APPROVAL_TIMEOUT: '24h',
  };
  // Its own process group: `tsx` runs the server as its child, and a SIGKILL of tsx alone would
  // leave that child serving (and deploying) on, beside the next process on the same database.
  const proc = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['system/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  server = await new Promise<Server>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /kubecontrol is listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, output: () => out });
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('exit', (code, signal) => reject(new Error(`the server exited (${code ?? signal}) before it listened:\n${out}`)));
  });
  db ??= new Database(dbPath, { readonly: true, fileMustExist: true });
}

/** SIGKILL, no goodbye, to the whole process group; then the database as the next process finds it must be whole. */
async function kill(at: string): Promise<void> {
  const s = server!;
  server = undefined;
  const exited = new Promise<void>((resolve) => s.proc.once('exit', () => resolve()));
  process.kill(-s.proc.pid!, 'SIGKILL');
  await exited;
  await until('every process of the server to be gone', () => {
    try {
      process.kill(-s.proc.pid!, 0);
      return undefined;
    } catch {
      return true;
    }
  });
  // A fresh read-only connection, between the kill and the restart: the file and its WAL as the crash left them.
  const check = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = (check.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    kills.push({ at, integrity });
    expect(integrity).toBe('ok');
  } finally {
    check.close();
  }
}

async function post(path: string, as: string, body: unknown): Promise<{ status: number; body: { deploy?: { id: number }; message?: string } }> {
  const res = await fetch(`${server!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-kubecontrol-user': as }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as never };
}
const command = (as: string, ...args: string[]) => post('/api/commands', as, { args });
/** A sandbox fault, injected as a person would (`kubecontrol faults add`). */
async function fault(app: string, step: string, kind: string): Promise<void> {
  expect((await post('/api/sandbox/faults', DEPLOYERS[app]!, { step, fault: kind, app })).status).toBe(200);
}
async function deploy(app: string, version: string): Promise<number> {
  const res = await command(DEPLOYERS[app]!, 'deploy', app, version, '--strategy', 'blue-green');
  expect(res.status).toBe(200);
  return res.body.deploy!.id;
}
async function approve(app: string, id: number): Promise<void> {
  expect((await command(APPROVERS[app]!, 'approve', String(id))).status).toBe(200);
}

/** Polls `probe` until it holds; fails, with the server's last words, after `ms`. */
async function until<T>(what: string, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the server said:\n${server?.output().slice(-1500) ?? '(not running)'}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Row = { state: string; cleanup: string; endpoint: string | null; from_env_id: number | null; to_env_id: number | null };
const row = (id: number): Row => db!.prepare('SELECT state, cleanup, endpoint, from_env_id, to_env_id FROM deploys WHERE id = ?').get(id) as Row;
const state = (id: number): string => row(id).state;
const step = (id: number, name: string): string | undefined => (db!.prepare('SELECT state FROM steps WHERE deploy_id = ? AND name = ?').get(id, name) as { state: string } | undefined)?.state;
const events = (id: number): { kind: string; step: string | null; level: string; message: string }[] =>
  db!.prepare('SELECT kind, step, level, message FROM events WHERE deploy_id = ? ORDER BY id').all(id) as never;
const said = (id: number, re: RegExp): boolean => events(id).some((e) => re.test(e.message));
const resources = (where: 'deploy_id' | 'env_id', arg: number): { kind: string; name: string; state: string }[] =>
  db!.prepare(`SELECT kind, name, state FROM resources WHERE ${where} = ? ORDER BY id`).all(arg) as never;
const world = (kind: string): { key: string; data: Record<string, unknown> }[] =>
  (db!.prepare('SELECT key, data FROM sandbox_objects WHERE kind = ? ORDER BY key').all(kind) as { key: string; data: string }[]).map((r) => ({ key: r.key, data: JSON.parse(r.data) as Record<string, unknown> }));
const dnsTarget = (app: string): string | undefined => world('dns').find((r) => r.key.startsWith(`${app}.`))?.data.target as string | undefined;
/** Whether the fault armed for `app`'s `step` has been met (the call it holds is under way). */
const met = (app: string, step: string): boolean =>
  (db!.prepare('SELECT count(*) AS n FROM sandbox_faults WHERE app = ? AND step = ? AND remaining > 0').get(app, step) as { n: number }).n === 0;
const ended = (id: number): boolean => ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'].includes(state(id)) && row(id).cleanup !== 'pending';
const envOf = (id: number | null): { name: string; state: string } | undefined =>
  id === null ? undefined : (db!.prepare('SELECT name, state FROM environments WHERE id = ?').get(id) as { name: string; state: string } | undefined);
const resumedIn = (id: number): string[] => events(id).filter((e) => e.message.startsWith('resumed after a restart in state ')).map((e) => e.message.slice('resumed after a restart in state '.length));

describe('SIGKILL with deploys in every state of a blue/green and in a cleanup, then a restart on the same database', () => {
  const id: Record<string, number> = {};

  it(`kill 1: ${A} building, ${B} awaiting approval, ${C} cleaning up after a failed deploy`, async () => {
    await start(0.004);
    id.A1 = await deploy(A, 'v1');
    id.B = await deploy(B, 'v1');
    // C's rollout is refused; then the first delete of its cleanup does not answer (held until the kill).
    await fault(C, 'deploy', 'fail');
    await fault(C, 'teardown', 'timeout');
    id.C1 = await deploy(C, 'v1-bad');
    await until(`${A} v1 waiting for approval`, () => state(id.A1!) === 'awaiting_approval');
    // A's next build will not answer: A v2 stays building.
    await fault(A, 'build', 'timeout');
    await approve(A, id.A1!);
    await until(`${A} v1 serving`, () => ended(id.A1!));
    expect(state(id.A1!)).toBe('succeeded');
    id.A = await deploy(A, 'v2');
    await until('the three states at once', () =>
      state(id.A!) === 'building' &&
      met(A, 'build') &&
      state(id.B!) === 'awaiting_approval' &&
      state(id.C1!) === 'failed' &&
      row(id.C1!).cleanup === 'pending' &&
      resources('deploy_id', id.C1!).some((r) => r.state === 'deleting') &&
      met(C, 'teardown'),
    );
    await kill(`${A} building, ${B} awaiting approval, ${C} cleanup`);
    expect([state(id.A!), state(id.B!), `${state(id.C1!)}/${row(id.C1!).cleanup}`]).toEqual(['building', 'awaiting_approval', 'failed/pending']);
  }, 60_000);

  it(`kill 2: ${C} provisioning, ${A} deploying`, async () => {
    await start(0.005);
    // A's rollout will not answer: A stays deploying.
    await fault(A, 'deploy', 'timeout');
    // C's next deploy queues behind its cleanup, which the restart resumes.
    id.C = await deploy(C, 'v2');
    await until('the two states at once', () => state(id.C!) === 'provisioning' && step(id.C!, 'provision') === 'running' && state(id.A!) === 'deploying' && met(A, 'deploy'));
    await kill(`${C} provisioning, ${A} deploying`);
    expect([state(id.C!), state(id.A!)]).toEqual(['provisioning', 'deploying']);
    expect(row(id.C1!).cleanup).toBe('done');
  }, 60_000);

  it(`kill 3: ${B} cutting over, before the DNS change`, async () => {
    await start(0.02);
    // Route 53 throttles B's record change seven times (the SDK's backoff, 51.5 s of simulated time in all),
    // and the change, once made, will not get in sync (for kill 4: a fault used only after the record moved).
    expect((await post('/api/sandbox/faults', DEPLOYERS[B]!, { step: 'cutover', fault: 'throttle', app: B, times: 7 })).status).toBe(200);
    await fault(B, 'cutover', 'timeout');
    await approve(B, id.B!);
    await until(`${B} cutting over, its record change throttled`, () => state(id.B!) === 'cutting_over' && said(id.B!, /ChangeResourceRecordSets \S+: ThrottlingException/));
    await kill(`${B} cutting over, before the DNS change`);
    // Before, indeed: no record yet (B had none), nothing said about one.
    expect(state(id.B!)).toBe('cutting_over');
    expect(dnsTarget(B)).toBeUndefined();
    expect(said(id.B!, /UPSERT/)).toBe(false);
  }, 60_000);

  it(`kill 4: ${B} cutting over, after the DNS change; ${A} tearing down its old cluster`, async () => {
    await start(0.015);
    // A's first delete of the old cluster will not answer: A stays tearing down.
    await fault(A, 'teardown', 'timeout');
    await until(`${A} waiting for approval`, () => state(id.A!) === 'awaiting_approval');
    await approve(A, id.A!);
    await until('the two states at once', () => {
      const b = row(id.B!);
      const a = row(id.A!);
      return b.state === 'cutting_over' && !!b.endpoint && dnsTarget(B) === b.endpoint && met(B, 'cutover') && a.state === 'tearing_down' && resources('env_id', a.from_env_id!).some((r) => r.state === 'deleting') && met(A, 'teardown');
    });
    await kill(`${B} cutting over, after the DNS change; ${A} tearing down`);
    expect(dnsTarget(B)).toBe(row(id.B!).endpoint);
    expect(db!.prepare("SELECT count(*) AS n FROM undo_log WHERE deploy_id = ? AND kind = 'dns'").get(id.B!)).toEqual({ n: 1 });
    expect([state(id.B!), state(id.A!)]).toEqual(['cutting_over', 'tearing_down']);
  }, 60_000);

  it('the next process ends every deploy as it would have ended without the kills', async () => {
    await start(0.002);
    await until(`${C} v2 waiting for approval`, () => state(id.C!) === 'awaiting_approval');
    await approve(C, id.C!);
    await until('every deploy ended', () => [id.A!, id.B!, id.C!, id.C1!].every(ended));
    expect(kills.map((k) => k.integrity)).toEqual(['ok', 'ok', 'ok', 'ok']);

    // A: killed building, deploying, (kill 3: still deploying, or waiting for approval) and tearing down, each resumed where it stood.
    const a = row(id.A!);
    expect(a.state).toBe('succeeded');
    expect(resumedIn(id.A!)).toEqual(['building', 'deploying', expect.stringMatching(/^(deploying|awaiting_approval)$/), 'tearing_down']);
    expect(envOf(a.from_env_id)!.state).toBe('retired');
    expect(resources('env_id', a.from_env_id!).map((r) => r.state)).toEqual(['deleted', 'deleted']);
    expect(envOf(a.to_env_id)!.state).toBe('live');
    expect(resources('env_id', a.to_env_id!).map((r) => `${r.kind}:${r.state}`)).toEqual(['cluster:created', 'nodegroup:created']);
    expect(events(id.A!).filter((e) => /creating EKS cluster/.test(e.message))).toHaveLength(1);
    expect(dnsTarget(A)).toBe(a.endpoint);

    // B: killed awaiting approval (twice), then before and after its DNS change; the resumed cutover waits for the change it made.
    const b = row(id.B!);
    expect(b.state).toBe('succeeded');
    expect(resumedIn(id.B!)).toEqual(['awaiting_approval', 'awaiting_approval', 'cutting_over', 'cutting_over']);
    expect(said(id.B!, /^resumed: \S+ already points at \S+; making sure the change is in sync$/)).toBe(true);
    expect(dnsTarget(B)).toBe(b.endpoint);
    expect(events(id.B!).filter((e) => /creating EKS cluster/.test(e.message))).toHaveLength(1);

    // C v1: failed, its cleanup resumed by the next process; every change undone, none failed to be.
    expect(row(id.C1!)).toMatchObject({ state: 'failed', cleanup: 'done' });
    const undone = events(id.C1!).map((e) => e.message);
    expect(undone).toContain('cleanup finished: nothing left behind');
    expect(undone.filter((m) => m.startsWith('undone: '))).toEqual([
      expect.stringMatching(/^undone: fargate-profile \S+ deleted$/),
      expect.stringMatching(/^undone: cluster \S+ deleted$/),
      expect.stringMatching(/^undone: environment \S+ discarded$/),
    ]);
    expect(events(id.C1!).filter((e) => e.level === 'error' && e.step === 'cleanup')).toEqual([]);
    expect(resources('deploy_id', id.C1!).map((r) => r.state)).toEqual(['deleted', 'deleted']);
    // C v2: killed while provisioning, then succeeded with the cluster it had started.
    expect(state(id.C!)).toBe('succeeded');
    expect(resumedIn(id.C!)[0]).toBe('provisioning');
    expect(events(id.C!).filter((e) => /creating EKS cluster/.test(e.message))).toHaveLength(1);

    // The simulated world holds what serves and nothing else.
    const live = db!.prepare("SELECT name FROM environments WHERE state = 'live' ORDER BY name").all() as { name: string }[];
    expect(world('cluster').map((c) => c.key)).toEqual(live.map((e) => e.name));
    expect((db!.prepare("SELECT count(*) AS n FROM resources WHERE state <> 'deleted' AND env_id NOT IN (SELECT id FROM environments WHERE state = 'live')").get() as { n: number }).n).toBe(0);
    expect(kills.map((k) => k.at)).toEqual([
      `${A} building, ${B} awaiting approval, ${C} cleanup`,
      `${C} provisioning, ${A} deploying`,
      `${B} cutting over, before the DNS change`,
      `${B} cutting over, after the DNS change; ${A} tearing down`,
    ]);
  }, 60_000);
});
