/**
 * Loads every KubeApp in a folder (by default this one): each `*.ts`/`*.js`
 * file other than defaults, define and index exports one `defineKubeApp()`.
 * A broken file does not hide the others: every problem is collected.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KubeAppError, type KubeApp } from './define.js';

export { defineKubeApp, KubeAppError, PLACEMENT_FIELDS, quantityValue, STRATEGIES } from './define.js';
export type { KubeApp, KubeAppProps, Strategy, ResolvedAws, ResolvedContainer, ResolvedService, SecretProps } from './define.js';

/** The folder of the built-in KubeApps. */
export const KUBEAPPS_DIR = dirname(fileURLToPath(import.meta.url));
const NOT_APPS = new Set(['defaults', 'define', 'index']);

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
  const files = names.filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !NOT_APPS.has(f.replace(/\.(ts|js)$/, ''))).sort();
  if (!files.length) {
    return { apps: [], problems: [{ file: dir, app: 'KubeApps folder', problems: ['has no KubeApps (*.ts or *.js files that export default defineKubeApp({...}))'] }] };
  }
  const apps: KubeApp[] = [];
  const fileOf = new Map<KubeApp, string>();
  const problems: { file: string; app: string; problems: string[] }[] = [];
  for (const file of files) {
    try {
      const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
      const app = mod.default as KubeApp | undefined;
      if (!app || typeof app !== 'object' || typeof app.name !== 'string' || !app.pods) {
        problems.push({ file, app: file.replace(/\.(ts|js)$/, ''), problems: ['must export default defineKubeApp({...})'] });
        continue;
      }
      apps.push(app);
      fileOf.set(app, file);
    } catch (err) {
      if (err instanceof KubeAppError || (err as { code?: unknown })?.code === 'kubeapp_invalid') {
        const e = err as KubeAppError;
        problems.push({ file, app: e.app, problems: [...e.problems] });
      } else {
        problems.push({ file, app: file.replace(/\.(ts|js)$/, ''), problems: [`cannot be loaded: ${(err as Error)?.message ?? String(err)}`] });
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
