/**
 * Issue 15: a sandbox server never talks to Kubernetes or AWS, so it does not load their clients at start
 * (the Kubernetes client alone was ≈ 130 MB of RSS under tsx). The server is started as `npm start` starts it,
 * in a process of its own, with module hooks that log every module it resolves (test/fixtures/module-log);
 * the Kubernetes client is loaded the first time a page needs it (the app page's manifests).
 * What is asserted is which modules are loaded, not a memory figure (bench/throughput.ts measures that).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const MODULE_LOG_HOOKS = join(ROOT, 'test', 'fixtures', 'module-log', 'register.mjs');

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `npm start`'s command line (package.json), with the module log's hooks added to node's options. */
function startCommand(): { node: string; args: string[] } {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = script.split(/\s+/).filter((w) => w && !/^[A-Z_]+=/.test(w));
  expect(words[0]).toBe('node');
  return { node: process.execPath, args: ['--import', MODULE_LOG_HOOKS, ...words.slice(1)] };
}

/** Starts the server on the sandbox; resolves with its URL once it listens, and a reader of the modules it resolved so far. */
function startSandboxServer(): Promise<{ proc: ChildProcess; url: string; modules: () => string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-modules-'));
  const log = join(dir, 'modules.log');
  writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    KUBECONTROL_PROVIDER: 'sandbox',
    KUBECONTROL_DB: join(dir, 'k.db'),
    KUBECONTROL_HOST: '127.0.0.1',
    KUBECONTROL_PORT: '0',
    KUBECONTROL_LOG_LEVEL: 'warn',
    MODULE_LOG: log,
  };
  // As a person runs it: no Slack, and not jest's node options.
  for (const key of ['NODE_OPTIONS', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'KUBECONTROL_AUTH', 'KUBECONTROL_KUBEAPPS_DIR']) delete env[key];
  const { node, args } = startCommand();
  const proc = spawn(node, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const modules = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, modules });
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}) before it listened: ${out}`)));
  });
}

/** The Kubernetes client's and the AWS SDK's packages among these module URLs, each named once. */
function clientPackages(urls: readonly string[]): string[] {
  const names = urls.map((u) => /\/node_modules\/(@kubernetes\/client-node|@aws-sdk\/[^/]+)\//.exec(u)?.[1]).filter((n): n is string => !!n);
  return [...new Set(names)].sort();
}

describe('a sandbox server started as npm start starts it', () => {
  it('loads neither the Kubernetes client nor the AWS SDK until a page needs the Kubernetes client', async () => {
    const { proc, url, modules } = await startSandboxServer();
    const atStart = modules();
    // The log works: the server's own modules and its HTTP framework are in it.
    expect(atStart.some((u) => u.endsWith('/system/compose.ts'))).toBe(true);
    expect(atStart.some((u) => u.includes('/node_modules/fastify/'))).toBe(true);
    expect(clientPackages(atStart)).toEqual([]);

    // The fleet page and the API need neither.
    expect((await fetch(`${url}/`, { headers: { accept: 'text/html' } })).status).toBe(200);
    expect((await fetch(`${url}/api/info`)).status).toBeLessThan(500);
    expect(clientPackages(modules())).toEqual([]);

    // The app page's manifests are written by the Kubernetes client's dumpYaml: loaded now, on first use.
    const page = await fetch(`${url}/apps/search-svc?manifests=v7`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('kind: Deployment');
    expect(html).toContain('search-svc:v7');
    expect(clientPackages(modules())).toEqual(['@kubernetes/client-node']);

    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }, 120_000);
});
