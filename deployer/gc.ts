/**
 * `kubecontrol gc`: this installation's tagged cloud resources that no
 * environment in use owns. Ownership is read from the environments (the same
 * place teardown, status and rollback read it): a resource of the live
 * environment, of one a running deploy is building, or of one whose teardown
 * is under way is never listed. Lists them; deletes them when asked.
 */
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type EnvironmentRecord, type Store } from '../store/index.js';
import { errorMessage } from './errors.js';
import { createDeployLedger } from './ledger.js';
import type { Provider, TaggedResource } from './ports.js';
import { placementOf } from './specs.js';

export interface GcEntry extends TaggedResource {
  /** Why it is garbage. */
  readonly reason: string;
  /** After a deleting run: what happened. */
  readonly outcome?: 'deleted' | `failed: ${string}`;
}

export interface GcReport {
  readonly provider: string;
  readonly orphans: readonly GcEntry[];
  readonly deleted: boolean;
}

/** Why a resource of `env` is still in use, or undefined when nothing uses it. */
function inUse(store: Store, env: EnvironmentRecord): string | undefined {
  if (env.state === 'live') return 'live';
  const busy = (id: number | null): boolean => {
    const d = id ? store.deploys.get(id) : undefined;
    return !!d && (!isTerminal(d.state) || d.cleanup === 'pending');
  };
  if (env.state === 'building' && busy(env.createdBy)) return 'being built';
  if (env.state === 'retiring' && busy(env.retiringBy)) return 'being torn down';
  return undefined;
}

export async function collectGarbage(opts: { store: Store; provider: Provider; apps: ReadonlyMap<string, KubeApp>; delete: boolean }): Promise<GcReport> {
  const { store, provider, apps } = opts;
  const tagged = await provider.clusters.listTagged({});
  const orphans: GcEntry[] = [];
  for (const r of tagged) {
    const row = store.resources.find(provider.name, r.kind, r.name);
    // Node groups and profiles belong to their cluster's environment.
    const env =
      (row?.envId ? store.environments.get(row.envId) : undefined) ??
      store.environments.byName(provider.name, r.kind === 'cluster' || r.kind === 'namespace' ? r.name : (r.cluster ?? r.name));
    if (!env) {
      orphans.push({ ...r, reason: r.deployId === undefined ? 'no kubecontrol:deploy tag and unknown to this ledger' : `deploy #${r.deployId} is unknown to this ledger` });
      continue;
    }
    if (inUse(store, env)) continue;
    const why = env.state === 'discarded' ? 'was undone' : env.state === 'retired' ? 'was retired' : env.state === 'retiring' ? 'retired, and its teardown did not finish' : `is ${env.state}`;
    orphans.push({ ...r, reason: `environment ${env.name} (built by deploy #${env.createdBy}) ${why}` });
  }
  if (!opts.delete) return { provider: provider.label, orphans, deleted: false };

  // Capacity before clusters: a cluster cannot be deleted while it has node groups.
  const order = (e: GcEntry): number => (e.kind === 'cluster' ? 1 : 0);
  const results: GcEntry[] = [];
  for (const entry of [...orphans].sort((a, b) => order(a) - order(b))) {
    const app = entry.app ? apps.get(entry.app) : undefined;
    const row =
      store.resources.find(provider.name, entry.kind, entry.name) ??
      // Unknown to the ledger: record it now so the deletion is accounted for.
      store.resources.intend({ deployId: entry.deployId ?? 0, app: entry.app ?? 'unknown', provider: provider.name, kind: entry.kind, name: entry.name, data: { cluster: entry.cluster, foundBy: 'gc' } });
    const ledger = createDeployLedger(store, { id: row.deployId, app: row.app, envId: row.envId }, provider.name);
    try {
      if (!app) throw new Error(`app ${entry.app ?? '(untagged)'} is not defined in kubeapps/, so its region and settings are unknown`);
      ledger.deleting(row.id);
      await provider.clusters.destroy({ resource: store.resources.get(row.id)!, placement: placementOf(app), progress: () => {} });
      ledger.deleted(row.id);
      results.push({ ...entry, outcome: 'deleted' });
    } catch (err) {
      const message = errorMessage(err);
      ledger.failed(row.id, message);
      results.push({ ...entry, outcome: `failed: ${message}` });
    }
  }
  // An environment whose resources are all gone is retired.
  for (const env of new Set(results.map((e) => store.resources.find(provider.name, e.kind, e.name)?.envId).filter((x): x is number => !!x))) {
    const e = store.environments.get(env);
    if (e && e.state === 'retiring' && store.resources.forEnv(env).every((r) => r.state === 'deleted')) store.environments.setState(env, 'retired');
  }
  return { provider: provider.label, orphans: results, deleted: true };
}
