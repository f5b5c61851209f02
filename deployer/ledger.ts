/**
 * The DeployLedger port over the store's resources table. Every resource
 * belongs to an environment; recording the intent to create one also appends
 * its undo entry, in one transaction, before the resource exists. Every change
 * is an event of the deploy.
 */
import type { Store } from '../store/index.js';
import type { DeployLedger, ResourceKind } from './ports.js';

/** A ledger bound to one deploy and the environment it builds (or tears down). */
export function createDeployLedger(store: Store, deploy: { id: number; app: string; envId?: number | null }, provider: string): DeployLedger {
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
      return store.tx(() => {
        const existing = store.resources.find(provider, kind, name);
        const r = store.resources.intend({ deployId: deploy.id, envId: deploy.envId ?? null, app: deploy.app, provider, kind, name, parentId, data });
        if (!existing || existing.state === 'deleted' || existing.state === 'failed') {
          note(r.id, 'intent');
          store.undo.append(deploy.id, { kind: 'resource', resourceId: r.id, name, resourceKind: kind });
        }
        return r;
      });
    },
    created(id, data) {
      store.tx(() => {
        store.resources.set(id, 'created', { data });
        note(id, 'created');
      });
    },
    deleting(id) {
      store.tx(() => {
        store.resources.set(id, 'deleting');
        note(id, 'deleting');
      });
    },
    deleted(id) {
      store.tx(() => {
        store.resources.set(id, 'deleted');
        note(id, 'deleted');
      });
    },
    failed(id, error) {
      store.tx(() => {
        store.resources.set(id, 'failed', { error });
        note(id, 'failed', error);
      });
    },
  };
}
