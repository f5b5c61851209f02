/**
 * `kubecontrol gc`: cloud resources tagged by kubecontrol that no live or
 * running deploy owns — their deploy ended (and is not the app's live one) or
 * is unknown to the ledger. Lists them; deletes them when asked.
 */
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type Store } from '../store/index.js';
import { createDeployLedger } from './ledger.js';
import type { Provider, TaggedResource } from './ports.js';

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

export async function collectGarbage(opts: { store: Store; provider: Provider; apps: ReadonlyMap<string, KubeApp>; delete: boolean }): Promise<GcReport> {
  const { store, provider, apps } = opts;
  const tagged = await provider.clusters.listTagged({});
  const orphans: GcEntry[] = [];
  for (const r of tagged) {
    const deploy = r.deployId !== undefined ? store.deploys.get(r.deployId) : undefined;
    if (!deploy) {
      orphans.push({ ...r, reason: r.deployId === undefined ? 'no kubecontrol:deploy tag' : `deploy #${r.deployId} is unknown to this ledger` });
      continue;
    }
    if (!isTerminal(deploy.state)) continue; // a deploy in progress owns it
    const live = store.deploys.lastSucceeded(deploy.app);
    if (live && live.id === deploy.id) continue; // the app's running cluster
    if (deploy.cleanup === 'pending') continue; // its teardown is under way
    orphans.push({ ...r, reason: `deploy #${deploy.id} ended (${deploy.state})${deploy.cleanup === 'failed' ? ' and its cleanup failed' : ''}` });
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
    const ledger = createDeployLedger(store, { id: row.deployId, app: row.app }, provider.name);
    try {
      if (!app) throw new Error(`app ${entry.app ?? '(untagged)'} is not defined in kubeapps/, so its region and settings are unknown`);
      ledger.deleting(row.id);
      await provider.clusters.destroy({ resource: store.resources.get(row.id)!, app, progress: () => {} });
      ledger.deleted(row.id);
      results.push({ ...entry, outcome: 'deleted' });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ledger.failed(row.id, message);
      results.push({ ...entry, outcome: `failed: ${message}` });
    }
  }
  return { provider: provider.label, orphans: results, deleted: true };
}
