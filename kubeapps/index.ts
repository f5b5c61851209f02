/**
 * Loads every KubeApp in a folder — by default the examples in `kubeapps/examples/`, usually a
 * platform team's own repository (KUBECONTROL_KUBEAPPS_DIR). Each `.ts`/`.mts`/`.cts`/`.js`/
 * `.mjs`/`.cjs` file in the folder (not its subfolders) default-exports one KubeApp made with
 * `defineKubeApp()` or `withDefaults()` from the package `kubecontrol`; `defaults.*`, `index.*`
 * and files starting with `_` are shared code the apps import, not apps. The files are imported
 * as their folder says (a `package.json` without `"type": "module"` makes them CommonJS, which
 * tsx compiles), so their own dependencies resolve from the folder's `node_modules`.
 * A broken file does not hide the others: every problem is collected.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KubeAppError, type KubeApp } from './define.js';

export { defineKubeApp, KubeAppError, PLACEMENT_FIELDS, quantityValue, STRATEGIES } from './define.js';
export type { KubeApp, KubeAppProps, Strategy, ResolvedAws, ResolvedContainer, ResolvedService, SecretProps } from './define.js';

/** The folder of the example KubeApps, loaded when no folder is configured. */
export const KUBEAPPS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'examples');
/** This installation's root: what `import 'kubecontrol'` must resolve to. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const APP_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const SHARED = /^(defaults|index)$|^_/;

/** What loading a folder of KubeApps found. */
export interface LoadResult {
  readonly apps: readonly KubeApp[];
  /** One entry per broken file or app, each with its specific problems. */
  readonly problems: readonly { readonly file: string; readonly app: string; readonly problems: readonly string[] }[];
}

/** Imports every app file in `dir`, collecting each one's problems. */
export async function loadKubeApps(dir: string = KUBEAPPS_DIR): Promise<LoadResult> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    return { apps: [], problems: [{ file: dir, app: 'KubeApps folder', problems: [`cannot be read: ${why}`] }] };
  }
  const files = names.filter((f) => APP_FILE.test(f) && !/\.d\.[mc]?ts$/.test(f) && !SHARED.test(f.replace(APP_FILE, ''))).sort();
  if (!files.length) {
    return { apps: [], problems: [{ file: dir, app: 'KubeApps folder', problems: ['has no KubeApps (*.ts or *.js files that export default defineKubeApp({...}))'] }] };
  }
  const skew = packageSkew(dir);
  if (skew) return { apps: [], problems: [{ file: dir, app: 'KubeApps folder', problems: [skew] }] };
  const apps: KubeApp[] = [];
  const fileOf = new Map<KubeApp, string>();
  const problems: { file: string; app: string; problems: string[] }[] = [];
  for (const file of files) {
    try {
      const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
      const app = unwrapDefault(mod.default) as KubeApp | undefined;
      if (!app || typeof app !== 'object' || typeof app.name !== 'string' || !app.pods) {
        problems.push({ file, app: file.replace(APP_FILE, ''), problems: ['must export default defineKubeApp({...}) (shared code belongs in defaults.ts, a file starting with _, or a subfolder)'] });
        continue;
      }
      apps.push(app);
      fileOf.set(app, file);
    } catch (err) {
      if (err instanceof KubeAppError || (err as { code?: unknown })?.code === 'kubeapp_invalid') {
        const e = err as KubeAppError;
        problems.push({ file, app: e.app, problems: [...e.problems] });
      } else {
        problems.push({ file, app: file.replace(APP_FILE, ''), problems: [`cannot be loaded: ${loadProblem(err, dir)}`] });
      }
    }
  }
  // Checks across apps: names and DNS records must be unique.
  const seen = new Map<string, KubeApp>();
  for (const app of apps) {
    for (const [key, label] of [[`name:${app.name}`, `name ${app.name}`], [`dns:${app.dns.name}`, `dns.name ${app.dns.name}`]] as const) {
      const other = seen.get(key);
      // Both files are named: two files defining one name is the usual copy-paste slip.
      if (other) problems.push({ file: fileOf.get(app)!, app: app.name, problems: [`${label} is also used by ${other.name} in ${fileOf.get(other)}`] });
      else seen.set(key, app);
    }
  }
  return { apps, problems };
}

/**
 * A CommonJS file compiled from `export default x` exports `{ default: x }`, which `import()` wraps
 * once more: the KubeApp is one level further down.
 */
function unwrapDefault(value: unknown): unknown {
  const inner = (value as { default?: unknown } | null | undefined)?.default;
  return inner !== undefined && typeof (value as { name?: unknown }).name !== 'string' ? inner : value;
}

/** Why a file could not be imported, in words that say what to do; the first line of anything else. */
function loadProblem(err: unknown, dir: string): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && /['"]kubecontrol['"]/.test(message)) {
    return `the package kubecontrol is not installed where these KubeApps are: run \`npm install --save-dev ${PACKAGE_ROOT}\` in ${dir} (or in its repository)`;
  }
  return message.split('\n')[0]!;
}

/**
 * The `kubecontrol` a KubeApps folder resolves must be this installation's version: another version
 * would validate and default the apps by other rules than the server that deploys them.
 */
function packageSkew(dir: string): string | undefined {
  let found: string;
  try {
    found = createRequire(join(resolve(dir), 'noop.js')).resolve('kubecontrol/package.json');
  } catch {
    return undefined; // not installed: a file importing it says so (loadProblem)
  }
  if (realpathSync(dirname(found)) === realpathSync(PACKAGE_ROOT)) return undefined;
  const version = (JSON.parse(readFileSync(found, 'utf8')) as { version?: string }).version;
  if (version === PACKAGE_VERSION) return undefined;
  return `imports kubecontrol ${version ?? '(no version)'} from ${dirname(found)}, but this server is kubecontrol ${PACKAGE_VERSION}: install the server's version (\`npm install --save-dev ${PACKAGE_ROOT}\`) so the apps are checked by the rules that deploy them`;
}
