/**
 * `kubecontrol apps init DIR`: starts a KubeApps repository beside this installation — the
 * layout a platform team keeps in its own Git repository. It writes what `npm init -y` would
 * (a CommonJS package, as npm makes it), installs this kubecontrol into it as a dev dependency
 * (`npm install --save-dev <this installation>`: a link, so the repository's type-check and the
 * server see the same package), and one app and the company defaults it imports.
 * It never overwrites: a file that exists is kept and named.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface InitReport {
  readonly dir: string;
  readonly kubeappsDir: string;
  readonly written: readonly string[];
  readonly kept: readonly string[];
  /** The npm install's failure, when it failed (the files are still written). */
  readonly installProblem?: string;
}

const DEFAULTS_TS = `import { withDefaults } from 'kubecontrol';

/**
 * Your company's defaults for every KubeApp in this folder. Each app imports \`defineApp\` from here;
 * an app's own value wins, and groups (hardware, service, dns, aws, pods, refresh) merge field by field.
 * Files named defaults.* or starting with _ are shared code, not apps.
 */
export const defineApp = withDefaults({
  dns: { zone: 'example.com' },
  approvers: ['alice'],
  channel: '#deploys',
});
`;

const APP_TS = `import { defineApp } from './defaults.js';

/** A first KubeApp: edit it, then \`npx kubecontrol apps validate --dir kubeapps\`. */
export default defineApp({
  name: 'hello-svc',
  description: 'Says hello',
  image: { repository: 'hello-svc' },
  pods: { replicas: 2, containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] },
  service: { port: 80, healthCheckPath: '/healthz' },
  owners: ['alice'],
  deployers: ['carol'],
});
`;

const TSCONFIG = `${JSON.stringify(
  { compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true, skipLibCheck: true, types: [] }, include: ['kubeapps'] },
  null,
  2,
)}\n`;

/** Writes the repository's files and installs kubecontrol into it. */
export function initKubeAppsRepo(target: string): InitReport {
  const dir = resolve(target);
  const kubeappsDir = join(dir, 'kubeapps');
  mkdirSync(kubeappsDir, { recursive: true });
  const written: string[] = [];
  const kept: string[] = [];
  const write = (path: string, text: string): void => {
    if (existsSync(path)) kept.push(path);
    else {
      writeFileSync(path, text);
      written.push(path);
    }
  };
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'kubeapps';
  // What `npm init -y` writes, less its placeholder test script: CommonJS, as npm's default is.
  write(join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true, type: 'commonjs', scripts: { validate: 'kubecontrol apps validate --dir kubeapps' } }, null, 2)}\n`);
  write(join(dir, 'tsconfig.json'), TSCONFIG);
  write(join(kubeappsDir, 'defaults.ts'), DEFAULTS_TS);
  // A folder that already has apps gets no example app.
  if (!readdirSync(kubeappsDir).some((f) => /\.(ts|js|mts|cts|mjs|cjs)$/.test(f) && !/^(defaults|index)\.|^_/.test(f))) write(join(kubeappsDir, 'hello-svc.ts'), APP_TS);
  const npm = spawnSync('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '--loglevel=error', ROOT], { cwd: dir, encoding: 'utf8' });
  const installProblem =
    npm.error || npm.status !== 0
      ? `npm install --save-dev ${ROOT} failed in ${dir}: ${(npm.error?.message ?? npm.stderr ?? '').trim().split('\n')[0] || `exit ${npm.status}`}`
      : undefined;
  return { dir, kubeappsDir, written, kept, installProblem };
}
