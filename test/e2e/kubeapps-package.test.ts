/**
 * KubeApps in a platform team's own repository, outside this checkout: made by `apps init`
 * (a CommonJS package as `npm init` makes it, with this kubecontrol installed into it), company
 * defaults as code, a JavaScript app beside the TypeScript ones, the folder's own dependency,
 * then loaded by the real server (`npm start`'s entry) and served to the real CLI. Every step
 * runs as a separate process, as an operator would run it: no loader of the test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const execFileP = promisify(execFile);
const ENV = { ...process.env, NO_COLOR: '1', KUBECONTROL_URL: '', KUBECONTROL_KUBEAPPS_DIR: '' };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return execFileP(process.execPath, [join(ROOT, 'cli', 'bin.js'), ...args], { cwd: ROOT, env: { ...ENV, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
}

interface Validation {
  valid: string[];
  problems: { file: string; app: string; problems: string[] }[];
  apps: { name: string; approvers: string[]; channel: string; dns: { name: string; ttlSeconds: number }; hardware: { capacity: string }; refresh?: { timezone: string } }[];
}

async function validate(dir: string): Promise<Validation & { code: number }> {
  const r = await cli(['apps', 'validate', '--dir', dir, '--json']);
  return { ...(JSON.parse(r.stdout) as Validation), code: r.code };
}

// Outside the checkout, as a platform repository would be (realpath: macOS's /tmp is a link).
const base = realpathSync(mkdtempSync(join(tmpdir(), 'kubeapps-repo-')));
const repo = join(base, 'platform');
const apps = join(repo, 'kubeapps');

beforeAll(async () => {
  const init = await cli(['apps', 'init', repo]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  // The repository's own dependency, resolved from its own node_modules (CommonJS, as most are).
  mkdirSync(join(repo, 'node_modules', 'corp-naming'), { recursive: true });
  writeFileSync(join(repo, 'node_modules', 'corp-naming', 'package.json'), JSON.stringify({ name: 'corp-naming', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(repo, 'node_modules', 'corp-naming', 'index.js'), "exports.teamChannel = (team) => '#team-' + team;\n");
  // Shared code the apps import: a file starting with _ is not an app.
  writeFileSync(join(apps, '_people.ts'), "export const platformOnCall = ['bob', 'erin'];\n");
  writeFileSync(
    join(apps, 'billing.ts'),
    [
      "import { teamChannel } from 'corp-naming';",
      "import { defineApp } from './defaults.js';",
      "import { platformOnCall } from './_people.js';",
      'export default defineApp({',
      "  name: 'billing', image: { repository: 'billing' },",
      "  pods: { containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] },",
      "  owners: ['dave'], approvers: platformOnCall, channel: teamChannel('billing'),",
      "  dns: { ttlSeconds: 30 }, refresh: { schedule: '0 4 * * *' },",
      '});',
    ].join('\n'),
  );
  // Plain JavaScript, CommonJS: require() and module.exports.
  writeFileSync(
    join(apps, 'worker.js'),
    [
      "const { defineKubeApp } = require('kubecontrol');",
      'module.exports = defineKubeApp({',
      "  name: 'worker', image: { repository: 'worker' }, hardware: { capacity: 'fargate' },",
      "  pods: { containers: [{ name: 'w', ports: [{ name: 'admin', containerPort: 9000 }] }] }, owners: ['erin'],",
      '});',
    ].join('\n'),
  );
}, 60_000);

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('a KubeApps repository outside the checkout', () => {
  it('is made by apps init as npm makes a package (CommonJS), with this kubecontrol installed into it', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { type: string; devDependencies: Record<string, string> };
    expect(pkg.type).toBe('commonjs');
    expect(pkg.devDependencies.kubecontrol).toMatch(/^file:/);
    expect(realpathSync(join(repo, 'node_modules', 'kubecontrol'))).toBe(realpathSync(ROOT));
  });

  it('loads TypeScript and JavaScript apps with the company defaults and the folder’s own dependencies', async () => {
    const v = await validate(apps);
    expect(v.problems).toEqual([]);
    expect(v.code).toBe(0);
    expect(v.valid).toEqual(['billing', 'hello-svc', 'worker']);
    const billing = v.apps.find((a) => a.name === 'billing')!;
    // The company's zone (defaults.ts) merged with the app's own TTL; the app's approvers and channel win.
    expect(billing.dns).toEqual(expect.objectContaining({ name: 'billing.example.com', ttlSeconds: 30 }));
    expect(billing.approvers).toEqual(['bob', 'erin']);
    expect(billing.channel).toBe('#team-billing');
    expect(billing.refresh?.timezone).toBe('UTC');
    // The example app takes its approvers from the company defaults.
    expect(v.apps.find((a) => a.name === 'hello-svc')!.approvers).toEqual(['alice']);
    expect(v.apps.find((a) => a.name === 'worker')!.hardware.capacity).toBe('fargate');
  });

  it('names the file, the app and the field of a broken app, and still loads the others', async () => {
    // A second folder in the same repository: it resolves `kubecontrol` from the repository, as Node does.
    const more = join(repo, 'more');
    mkdirSync(more);
    for (const f of ['defaults.ts', 'hello-svc.ts']) writeFileSync(join(more, f), readFileSync(join(apps, f)));
    writeFileSync(join(more, 'bad.ts'), readFileSync(join(apps, 'hello-svc.ts'), 'utf8').replace("'hello-svc'", "'bad'").replace('replicas: 2', 'replicas: -1'));
    const v = await validate(more);
    expect(v.code).toBe(2);
    expect(v.valid).toEqual(['hello-svc']);
    expect(v.problems).toEqual([{ file: 'bad.ts', app: 'bad', problems: [expect.stringMatching(/^pods\.replicas .*\(got: -1\)$/)] }]);
  });

  it('says how to install kubecontrol when a folder cannot import it', async () => {
    const lone = join(base, 'lone');
    mkdirSync(lone);
    writeFileSync(join(lone, 'a.ts'), "import { defineKubeApp } from 'kubecontrol';\nexport default defineKubeApp({} as never);\n");
    const v = await validate(lone);
    expect(v.code).toBe(2);
    expect(v.problems[0]!.problems[0]).toBe(`cannot be loaded: the package kubecontrol is not installed where these KubeApps are: run \`npm install --save-dev ${ROOT}\` in ${lone} (or in its repository)`);
  });

  it('refuses a folder that resolves another kubecontrol version than the server’s', async () => {
    const skewed = join(base, 'skewed');
    mkdirSync(join(skewed, 'node_modules', 'kubecontrol'), { recursive: true });
    writeFileSync(join(skewed, 'node_modules', 'kubecontrol', 'package.json'), JSON.stringify({ name: 'kubecontrol', version: '9.9.9' }));
    writeFileSync(join(skewed, 'a.ts'), "import { defineKubeApp } from 'kubecontrol';\nexport default defineKubeApp({} as never);\n");
    const v = await validate(skewed);
    expect(v.code).toBe(2);
    expect(v.problems).toEqual([{ file: skewed, app: 'KubeApps folder', problems: [expect.stringMatching(/^imports kubecontrol 9\.9\.9 from .*, but this server is kubecontrol \d+\.\d+\.\d+: install the server's version/)] }]);
  });

  it('is what the server deploys from: npm start with KUBECONTROL_KUBEAPPS_DIR serves its apps to the CLI', async () => {
    const server: ChildProcess = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'system', 'main.ts')], {
      cwd: ROOT,
      env: { ...ENV, KUBECONTROL_KUBEAPPS_DIR: apps, KUBECONTROL_PORT: '0', KUBECONTROL_DB: join(base, 'kubecontrol.db'), KUBECONTROL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let banner = '';
      const url = await new Promise<string>((resolveUrl, reject) => {
        server.stdout!.on('data', (chunk: Buffer) => {
          banner += chunk.toString();
          const m = /listening on (http:\/\/\S+)/.exec(banner);
          if (m && banner.includes('apps:')) resolveUrl(m[1]!);
        });
        server.once('exit', (code) => reject(new Error(`server exited (${code}): ${banner}`)));
      });
      expect(banner).toMatch(/apps: +billing, hello-svc, worker/);
      const r = await cli(['deploy', 'billing', 'v7', '--dry-run', '--as', 'dave', '--json'], { KUBECONTROL_URL: url });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(expect.objectContaining({ status: 'ok' }));
      expect(r.stdout).toContain('billing.example.com');
    } finally {
      server.kill('SIGTERM');
      await new Promise((done) => (server.exitCode !== null ? done(undefined) : server.once('exit', done)));
    }
  }, 60_000);
});
