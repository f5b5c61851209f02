/** The DeployLedger port over the store's resources table; every change is also an event. */
import type { Store } from '../store/index.js';
import type { DeployLedger, ResourceKind } from './ports.js';

/** A ledger bound to one deploy: adapters record intent → created → deleted through it. */
export function createDeployLedger(store: Store, deploy: { id: number; app: string }, provider: string): DeployLedger {
  const note = (id: number, state: string, error?: string): void => {
    const r = store.resources.get(id);
    if (!r) return;
    store.events.append({
      deployId: deploy.id,
      kind: 'resource',
      level: state === 'failed' ? 'error' : 'info',
      message: `${r.kind} ${r.name}: ${state}${error ? ` (${error})` : ''}`,
      data: { resourceId: id, kind: r.kind, name: r.name, state },
    });
  };
  return {
    intend({ kind, name, parentId, data }: { kind: ResourceKind; name: string; parentId?: number | null; data?: Record<string, unknown> }) {
      const existing = store.resources.find(provider, kind, name);
      const r = store.resources.intend({ deployId: deploy.id, app: deploy.app, provider, kind, name, parentId, data });
      if (!existing || existing.state === 'deleted') note(r.id, 'intent');
      return r;
    },
    created(id, data) {
      store.resources.set(id, 'created', { data });
      note(id, 'created');
    },
    deleting(id) {
      store.resources.set(id, 'deleting');
      note(id, 'deleting');
    },
    deleted(id) {
      store.resources.set(id, 'deleted');
      note(id, 'deleted');
    },
    failed(id, error) {
      store.resources.set(id, 'failed', { error });
      note(id, 'failed', error);
    },
  };
}
