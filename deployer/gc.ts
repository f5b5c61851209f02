/**
 * `kubecontrol gc`: this installation's tagged cloud resources that no
 * environment in use owns. Ownership is read from the environments (the same
 * place teardown, status and rollback read it): a resource of the live
 * environment, of one a running deploy is building, or of one whose teardown
 * is under way is never listed — nor is anything a load balancer controller
 * made for such a cluster. Lists them; deletes them when asked.
 *
 * Another installation's resources (the provider sets `installation` on them)
 * are listed apart and never touched, whatever the ledger says: a database
 * restored from an older copy may know a cluster of the same name.
 */
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type EnvironmentRecord, type Store } from '../store/index.js';
import { errorMessage } from './errors.js';
import { createDeployLedger } from './ledger.js';
import type { Provider, ResourceKind, TaggedResource } from './ports.js';
import { placementOf } from './specs.js';

export interface GcEntry extends TaggedResource {
  /** Why it is garbage (or, for another installation's, why it is left alone). */
  readonly reason: string;
  /** After a deleting run: what happened. */
  readonly outcome?: 'deleted' | `failed: ${string}`;
}

export interface GcReport {
  readonly provider: string;
  /** This installation's resources no environment in use owns (after `delete`: each with its outcome). */
  readonly orphans: readonly GcEntry[];
  /** Resources tagged by another kubecontrol installation (`installation` set): listed, never deleted. */
  readonly others: readonly GcEntry[];
  readonly deleted: boolean;
}

/** Made by a cluster's load-balancing controller for a LoadBalancer Service (tagged by kubecontrol through the Service). */
const LOAD_BALANCING: ReadonlySet<ResourceKind> = new Set(['load-balancer', 'target-group', 'security-group']);

/**
 * Deletion order, by what depends on what: a namespace first (its LoadBalancer
 * Services take their load balancers with them while the cluster still runs the
 * controller), then capacity, then load balancers before the target groups their
 * listeners use and the security groups their interfaces use, clusters last.
 */
const ORDER: Record<ResourceKind, number> = {
  namespace: 0,
  nodegroup: 1,
  'fargate-profile': 1,
  'load-balancer': 2,
  'target-group': 3,
  'security-group': 4,
  cluster: 5,
};

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

/** The cluster a tagged resource is in (itself, for a cluster). */
function clusterOf(r: TaggedResource): string {
  if (r.kind === 'cluster') return r.name;
  // A namespace row is named `<cluster>/<namespace>` (the local provider's: the namespace itself is the "cluster").
  if (r.kind === 'namespace') return r.cluster ?? r.name.split('/')[0]!;
  return r.cluster ?? r.name;
}

function whyGarbage(env: EnvironmentRecord): string {
  const why = env.state === 'discarded' ? 'was undone' : env.state === 'retired' ? 'was retired' : env.state === 'retiring' ? 'retired, and its teardown did not finish' : `is ${env.state}`;
  return `environment ${env.name} (built by deploy #${env.createdBy}) ${why}`;
}

export async function collectGarbage(opts: { store: Store; provider: Provider; apps: ReadonlyMap<string, KubeApp>; delete: boolean }): Promise<GcReport> {
  const { store, provider, apps } = opts;
  const tagged = await provider.clusters.listTagged({});
  const orphans: GcEntry[] = [];
  const others: GcEntry[] = [];
  const orphanEnvs = new Map<string, EnvironmentRecord>();
  for (const r of tagged) {
    // Checked before the ledger: a cluster of another installation may carry a name this ledger knows.
    if (r.installation) {
      others.push({ ...r, reason: `belongs to another kubecontrol installation (${r.installation}): not touched` });
      continue;
    }
    const row = store.resources.find(provider.name, r.kind, r.name);
    const cluster = clusterOf(r);
    // Capacity, namespaces and load balancers belong to their cluster's environment.
    const env = (row?.envId ? store.environments.get(row.envId) : undefined) ?? store.environments.byName(provider.name, cluster);
    const leftBy = LOAD_BALANCING.has(r.kind) ? `left by ${r.cluster ? `cluster ${r.cluster}` : 'a cluster'}'s load balancer controller; ` : '';
    if (!env) {
      const unknown = r.deployId === undefined ? 'no kubecontrol:deploy tag and unknown to this ledger' : `deploy #${r.deployId} is unknown to this ledger`;
      orphans.push({ ...r, reason: `${leftBy}${unknown}` });
      continue;
    }
    if (inUse(store, env)) continue;
    if (r.kind === 'cluster') orphanEnvs.set(r.name, env);
    orphans.push({ ...r, ...(r.app ? {} : { app: env.app }), reason: `${leftBy}${whyGarbage(env)}` });
  }
  // A namespace the ledger still holds in an orphaned cluster goes first, with its LoadBalancer Services:
  // deleting the cluster around it would leave their load balancers behind.
  for (const [cluster, env] of orphanEnvs) {
    for (const row of store.resources.forEnv(env.id)) {
      if (row.kind !== 'namespace' || row.state === 'deleted' || row.provider !== provider.name) continue;
      if (orphans.some((o) => o.kind === 'namespace' && o.name === row.name)) continue;
      orphans.push({ kind: 'namespace', name: row.name, cluster, app: row.app, deployId: row.deployId, reason: `in cluster ${cluster}; ${whyGarbage(env)}` });
    }
  }
  if (!opts.delete) return { provider: provider.label, orphans, others, deleted: false };

  const results: GcEntry[] = [];
  /** Clusters with something of theirs that could not be deleted: not deleted around it. */
  const blocked = new Map<string, string>();
  for (const entry of [...orphans].sort((a, b) => ORDER[a.kind] - ORDER[b.kind])) {
    if (entry.kind === 'cluster' && blocked.has(entry.name)) {
      results.push({ ...entry, outcome: `failed: not deleted: ${blocked.get(entry.name)} of it could not be deleted first` });
      continue;
    }
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
      if (entry.kind !== 'cluster') blocked.set(clusterOf(entry), `${entry.kind} ${entry.name}`);
    }
  }
  // An environment whose resources are all gone is retired.
  for (const env of new Set(results.map((e) => store.resources.find(provider.name, e.kind, e.name)?.envId).filter((x): x is number => !!x))) {
    const e = store.environments.get(env);
    if (e && e.state === 'retiring' && store.resources.forEnv(env).every((r) => r.state === 'deleted')) store.environments.setState(env, 'retired');
  }
  return { provider: provider.label, orphans: results, others, deleted: true };
}
