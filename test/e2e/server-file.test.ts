/**
 * The CLI finds its server: `npm start` writes `server.json` next to its
 * database once it listens ({url, pid, installation, startedAt}) and removes
 * it on a clean stop; the CLI, when KUBECONTROL_URL is not set, calls the URL
 * it names while that process runs — from ./data/server.json, or beside
 * $KUBECONTROL_DB — else the default.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../../cli/run.js';
import { findServer, localUrl, readServerFile, removeServerFile, serverFilePath, writeServerFile, type ServerFile } from '../../system/server-file.js';

const execFileP = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'cli', 'bin.js');
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The environment without anything that would tell the CLI or the server where the other is. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', KUBECONTROL_LOG_LEVEL: 'silent', ...extra };
  for (const key of ['KUBECONTROL_URL', 'KUBECONTROL_DB', 'KUBECONTROL_PORT', 'KUBECONTROL_TOKEN']) if (!(key in extra)) delete env[key];
  return env;
}

/** A process id that surely runs no more: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

const info = (over: Partial<ServerFile> = {}): ServerFile => ({ url: 'http://127.0.0.1:4321', pid: process.pid, installation: 'i-test', startedAt: '2026-11-30T09:00:00.000Z', ...over });

describe('server.json', () => {
  it('lives next to the database (none for an in-memory one)', () => {
    expect(serverFilePath('./data/kubecontrol.db', '/srv/kc')).toBe('/srv/kc/data/server.json');
    expect(serverFilePath('/var/lib/kc/k.db', '/srv/kc')).toBe('/var/lib/kc/server.json');
    expect(serverFilePath(':memory:')).toBeUndefined();
  });

  it('names a URL this machine can call, and is read back whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-run-'));
    const path = writeServerFile('data/kubecontrol.db', info({ url: 'http://0.0.0.0:4321' }), dir)!;
    expect(path).toBe(join(dir, 'data', 'server.json'));
    expect(readServerFile(path)).toEqual(info({ url: 'http://127.0.0.1:4321' }));
    expect(localUrl('http://[::]:4000')).toBe('http://[::1]:4000');
  });

  it('is found from the folder (./data/) or beside $KUBECONTROL_DB, only while its process runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-run-'));
    writeServerFile('./data/kubecontrol.db', info(), dir);
    expect(findServer({}, dir)).toMatchObject({ url: 'http://127.0.0.1:4321', file: join(dir, 'data', 'server.json') });
    // KUBECONTROL_DB elsewhere: that folder is where the file is looked for, not ./data/.
    expect(findServer({ KUBECONTROL_DB: 'other/k.db' }, dir)).toBeUndefined();
    writeServerFile('other/k.db', info({ url: 'http://127.0.0.1:5555' }), dir);
    expect(findServer({ KUBECONTROL_DB: 'other/k.db' }, dir)?.url).toBe('http://127.0.0.1:5555');
    // Left by a server that is gone, or not a run file at all: not found.
    writeServerFile('./data/kubecontrol.db', info({ pid: await deadPid() }), dir);
    expect(findServer({}, dir)).toBeUndefined();
    writeFileSync(join(dir, 'data', 'server.json'), '{"url": 42}');
    expect(findServer({}, dir)).toBeUndefined();
  });

  it('is removed only by the process that wrote it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-run-'));
    writeServerFile('./data/kubecontrol.db', info({ pid: process.pid + 1 }), dir);
    expect(removeServerFile('./data/kubecontrol.db', process.pid, dir)).toBe(false);
    expect(existsSync(join(dir, 'data', 'server.json'))).toBe(true);
    writeServerFile('./data/kubecontrol.db', info(), dir);
    expect(removeServerFile('./data/kubecontrol.db', process.pid, dir)).toBe(true);
    expect(existsSync(join(dir, 'data', 'server.json'))).toBe(false);
  });
});

describe('the CLI and server.json', () => {
  it('an unreachable URL named by server.json says so', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const url = `http://127.0.0.1:${port}`;
    let stderr = '';
    const saved = process.env.KUBECONTROL_URL;
    delete process.env.KUBECONTROL_URL;
    try {
      const code = await runCli(['status'], { out: () => {}, err: (t) => void (stderr += t) }, { locate: () => ({ url, file: join(ROOT, 'data', 'server.json'), info: info({ url }) }) });
      expect(code).toBe(6);
    } finally {
      if (saved !== undefined) process.env.KUBECONTROL_URL = saved;
    }
    expect(stderr).toBe(
      `✗ cannot reach the kubecontrol server at ${url} (ECONNREFUSED; named by data/server.json): start it with \`npm start\` or set KUBECONTROL_URL if it runs elsewhere (e.g. KUBECONTROL_URL=http://127.0.0.1:${port + 1})\n`,
    );
  });

  it('--url and KUBECONTROL_URL win over server.json', async () => {
    let located = 0;
    // Names a port where nothing listens: no request reaches a server someone runs on the default port.
    const locate = () => {
      located++;
      return { url: 'http://127.0.0.1:1', file: '/x/server.json', info: info({ url: 'http://127.0.0.1:1' }) };
    };
    await runCli(['--url', 'http://127.0.0.1:1', 'status'], { out: () => {}, err: () => {} }, { locate });
    const saved = process.env.KUBECONTROL_URL;
    process.env.KUBECONTROL_URL = 'http://127.0.0.1:1';
    try {
      await runCli(['status'], { out: () => {}, err: () => {} }, { locate });
    } finally {
      if (saved === undefined) delete process.env.KUBECONTROL_URL;
      else process.env.KUBECONTROL_URL = saved;
    }
    expect(located).toBe(0);
    // Told nothing: it looks.
    delete process.env.KUBECONTROL_URL;
    try {
      await runCli(['status'], { out: () => {}, err: () => {} }, { locate });
    } finally {
      if (saved !== undefined) process.env.KUBECONTROL_URL = saved;
    }
    expect(located).toBe(1);
  });
});

describe('`npm start` writes server.json; the CLI started in its folder finds it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-start-'));
  let proc: ChildProcess | undefined;
  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc!.once('exit', r));
    }
  });

  const cli = (cwd: string, env: NodeJS.ProcessEnv, ...args: string[]) =>
    execFileP(process.execPath, [CLI, ...args], { cwd, env }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('from start to a clean stop', async () => {
    mkdirSync(join(dir, 'data'));
    proc = spawn(process.execPath, ['--import', TSX, join(ROOT, 'system', 'main.ts')], { cwd: dir, env: cleanEnv({ KUBECONTROL_PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc!.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !/^Try: /m.test(out) && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(err).toBe('');
    const url = /kubecontrol is listening on (\S+)/.exec(out)![1]!;
    const installation = /\(installation (\S+): /.exec(out)![1]!;

    // The run file, next to the database.
    const file = join(dir, 'data', 'server.json');
    const written = JSON.parse(readFileSync(file, 'utf8')) as ServerFile;
    expect(written).toEqual({ url, pid: proc.pid, installation, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    // The banner says the CLI finds it from here, and how to reach it from elsewhere; the first suggestion needs no URL.
    expect(out).toContain(`  cli:      npx kubecontrol finds this server from this folder (data/server.json); from other folders: export KUBECONTROL_URL=${url}\n`);
    expect(out).toMatch(/^Try: npx kubecontrol deploy search-svc v123 --as carol/m);

    // The CLI in that folder, told nothing: it calls the server of the file.
    const here = await cli(dir, cleanEnv(), 'status', '--json', '--as', 'carol');
    expect(here.stderr).toBe('');
    expect(here.code).toBe(0);
    expect(JSON.parse(here.stdout)).toMatchObject({ kind: 'status', status: 'ok' });
    // Elsewhere, with KUBECONTROL_DB naming the database: the file beside it.
    const beside = await cli(ROOT, cleanEnv({ KUBECONTROL_DB: join(dir, 'data', 'kubecontrol.db') }), 'apps', '--json', '--as', 'carol');
    expect(beside.code).toBe(0);
    expect(JSON.parse(beside.stdout)).toMatchObject({ kind: 'apps' });

    // A clean stop removes it.
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(file)).toBe(false);
  }, 60_000);
});
