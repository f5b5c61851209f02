/**
 * What a KubeApps repository imports: `import { defineKubeApp, withDefaults } from 'kubecontrol'`
 * (package.json `exports`). Nothing here touches the file system, the network or the
 * environment: a KubeApp file is data plus validation, loadable by the server, `apps validate`
 * and the repository's own type-check alike.
 */
import { defineKubeApp, type KubeApp, type KubeAppProps } from './define.js';
import type { PodProps, RefreshProps } from './defaults.js';

export { defineKubeApp, KubeAppError, STRATEGIES } from './define.js';
export type { KubeApp, KubeAppProps, Strategy } from './define.js';
export type { AwsProps, ContainerProps, DnsProps, HardwareProps, PodProps, RefreshProps, ResourceProps, SecretProps, ServiceProps } from './defaults.js';
export { DEFAULTS, DEFAULT_RESOURCES } from './defaults.js';

/** What a company sets once for all its KubeApps: any field but the app's own name, image and containers. */
export type KubeAppDefaults = Partial<Omit<KubeAppProps, 'name' | 'image' | 'pods' | 'refresh'>> & {
  readonly pods?: Omit<Partial<PodProps>, 'containers'>;
  /** Applied to an app's `refresh` only when the app has one (a default never schedules a refresh by itself). */
  readonly refresh?: Partial<RefreshProps>;
};

/** An app's props when `D` is the defaults: what the defaults set becomes optional. */
export type KubeAppPropsWith<D> = Omit<KubeAppProps, keyof D & keyof KubeAppProps> & Partial<Pick<KubeAppProps, keyof D & keyof KubeAppProps>>;

/** The groups merged field by field (one level); everything else is taken whole, the app's value first. */
const GROUPS = ['hardware', 'service', 'dns', 'aws', 'pods', 'refresh'] as const;

/**
 * A `defineKubeApp` with your company's defaults under every app's own values:
 *
 *     // kubeapps/defaults.ts
 *     export const defineApp = withDefaults({ dns: { zone: 'corp.example' }, approvers: ['@platform'] });
 *     // kubeapps/search-svc.ts
 *     export default defineApp({ name: 'search-svc', ... });
 *
 * The app's value wins. Groups (hardware, service, dns, aws, pods, refresh) merge one level deep,
 * field by field; lists (owners, instance types, containers) are replaced, never concatenated, so
 * what an app gets is readable from the two files. Validation and kubecontrol's own defaults then
 * apply as in `defineKubeApp`, and a problem is reported against the app that has it.
 */
export function withDefaults<const D extends KubeAppDefaults>(defaults: D): (props: KubeAppPropsWith<D>) => KubeApp {
  return (props) => defineKubeApp(mergeDefaults(defaults, props as Partial<KubeAppProps>) as KubeAppProps);
}

/** `props` over `defaults` as `withDefaults` documents it. */
export function mergeDefaults(defaults: KubeAppDefaults, props: Partial<KubeAppProps>): Partial<KubeAppProps> {
  const merged: Record<string, unknown> = { ...defaults };
  // An app's field set to undefined is unset: the default stays.
  for (const [key, value] of Object.entries(props)) if (value !== undefined) merged[key] = value;
  for (const group of GROUPS) {
    const base = (defaults as Record<string, unknown>)[group];
    const own = (props as Record<string, unknown>)[group];
    if (group === 'refresh' && own === undefined) {
      delete merged.refresh;
      continue;
    }
    if (isPlain(base) && isPlain(own)) merged[group] = { ...base, ...own };
  }
  return merged as Partial<KubeAppProps>;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
