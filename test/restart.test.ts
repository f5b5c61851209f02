/**
 * The server is killed (SIGKILL: no goodbye) mid-deploy and started again on
 * the same SQLite file: the deploy resumes where it stood, and a deploy that
 * then fails is still cleaned up. Each case has its own processes, database
 * and ports (port 0: the banner says which), so the two run side by side.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../store/index.js';

const ROOT = new URL('..', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `npm start`'s entry as a real process; resolves with its URL once it listens. */
function startServer(db: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'system/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, KUBECONTROL_DB: db, KUBECONTROL_PORT: '0', KUBECONTROL_SANDBOX_SCALE: '0.002', KUBECONTROL_LOG_LEVEL: 'warn' },
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]! });
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

async function cmd(url: string, as: string, ...args: string[]): Promise<{ deploy?: { id: number } }> {
  const res = await fetch(`${url}/api/commands`, { method: 'POST', headers: { 'x-kubecontrol-user': as }, body: JSON.stringify({ args }) });
  return (await res.json()) as { deploy?: { id: number } };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const deployState = async (url: string, id: number): Promise<{ state: string; cleanup: string; steps: { name: string; state: string }[] }> =>
  (await (await fetch(`${url}/api/deploys/${id}`, { headers: { 'x-kubecontrol-user': 'test' } })).json()) as never;

describe('restart mid-deploy', () => {
  it.concurrent('a deploy killed while provisioning resumes, adopts its cluster, and finishes', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'kubecontrol-restart-')), 'k.db');
    const first = await startServer(db);
    const id = (await cmd(first.url, 'carol', 'deploy', 'search-svc', 'r1')).deploy!.id;
    await until('the cluster to be created', async () => {
      const d = await deployState(first.url, id);
      return d.state === 'building' || d.state === 'provisioning' ? (d.steps.some((s) => s.name === 'provision') ? true : undefined) : undefined;
    });
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    const second = await startServer(db);
    await until('awaiting approval', async () => ((await deployState(second.url, id)).state === 'awaiting_approval' ? true : undefined));
    await cmd(second.url, 'bob', 'approve', String(id));
    await until('success', async () => ((await deployState(second.url, id)).state === 'succeeded' ? true : undefined));
    second.proc.kill('SIGTERM');
    await new Promise((r) => second.proc.once('exit', r));

    const store = Store.open(db);
    const events = store.events.after(id).map((e) => e.message);
    expect(events.some((m) => /^resumed after a restart in state (building|provisioning)$/.test(m))).toBe(true);
    expect(events.some((m) => /cluster search-svc-\d+ already exists .*adopting it/.test(m))).toBe(true);
    // One cluster (EKS Auto Mode: no node group in the ledger): the resumed step adopted instead of creating twice.
    expect(store.resources.forDeploy(id).map((r) => `${r.kind}:${r.state}`)).toEqual(['cluster:created']);
    store.close();
  }, 60_000);

  it.concurrent('a deploy that fails after the restart is still cleaned up from the ledger', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'kubecontrol-restart-')), 'k.db');
    const first = await startServer(db);
    const id = (await cmd(first.url, 'carol', 'deploy', 'search-svc', 'r2')).deploy!.id;
    await until('deploying', async () => (['deploying', 'awaiting_approval'].includes((await deployState(first.url, id)).state) ? true : undefined));
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    // While it is down, a fault is armed for the cutover (the health check will fail).
    const store = Store.open(db);
    store.sandbox.addFault({ step: 'cutover', fault: 'fail', app: 'search-svc' });
    store.close();

    const second = await startServer(db);
    await until('awaiting approval', async () => ((await deployState(second.url, id)).state === 'awaiting_approval' ? true : undefined));
    await cmd(second.url, 'bob', 'approve', String(id));
    const end = await until('failure and cleanup', async () => {
      const d = await deployState(second.url, id);
      return d.state === 'failed' && d.cleanup === 'done' ? d : undefined;
    });
    expect(end.steps.find((s) => s.name === 'cleanup')?.state).toBe('succeeded');
    second.proc.kill('SIGTERM');
    await new Promise((r) => second.proc.once('exit', r));
    const after = Store.open(db);
    expect(after.resources.forDeploy(id).filter((r) => r.state !== 'deleted')).toEqual([]);
    after.close();
  }, 60_000);
});
