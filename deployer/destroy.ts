/**
 * Deleting ledger resources: one at a time, retried a few times with a pause
 * on the clock, each change recorded in the ledger (and so in the deploy's
 * events). Used by the teardown of a retiring environment and by the undo of
 * a deploy's own resources.
 */
import type { ResourceRecord, Store } from '../store/index.js';
import type { Clock } from './clock.js';
import { errorMessage, isInfraError } from './errors.js';
import { createDeployLedger } from './ledger.js';
import type { PlacementOverrides, Progress, Provider } from './ports.js';

export interface DestroyDeps {
  readonly store: Store;
  readonly provider: Provider;
  readonly clock: Clock;
  readonly attempts: number;
}

/** Which resource to delete, and where its events go. */
export interface DestroyRequest {
  readonly resource: ResourceRecord;
  /** The app's name (the ledger's events). */
  readonly app: string;
  /** The app's placement (deployer/specs.ts `placementOf`), for a resource whose ledger row does not say where it is. */
  readonly placement?: PlacementOverrides;
  readonly eventsTo: number;
  readonly progress: Progress;
  readonly signal: AbortSignal;
}

/**
 * Deletes one resource; resolves with null when it is gone, or the last error's
 * message when every attempt failed. Rejects only when `signal` aborts.
 */
export async function destroyResource(deps: DestroyDeps, r: DestroyRequest): Promise<string | null> {
  const { store, provider, clock, attempts } = deps;
  const { resource, placement, progress, signal } = r;
  const ledger = createDeployLedger(store, { id: r.eventsTo, app: r.app, envId: resource.envId }, provider.name);
  for (let attempt = 1; ; attempt++) {
    try {
      ledger.deleting(resource.id);
      await provider.clusters.destroy({ resource: store.resources.get(resource.id)!, placement, progress, signal });
      ledger.deleted(resource.id);
      return null;
    } catch (err) {
      if (signal.aborted) throw err;
      const message = errorMessage(err);
      // Another installation's resource is never ours to delete: no retry, and the ledger says why.
      if (attempt >= attempts || isInfraError(err, 'not_owned')) {
        ledger.failed(resource.id, message);
        return message;
      }
      progress(`deleting ${resource.kind} ${resource.name} failed (attempt ${attempt}/${attempts}): ${message}; retrying`);
      await clock.sleep(Math.min(30_000, provider.timeouts.teardown / 100) * attempt, signal);
    }
  }
}

/** Deletes what an environment owns, newest first (capacity before its cluster); returns how many are left. */
export async function destroyEnvironment(
  deps: DestroyDeps,
  r: Omit<DestroyRequest, 'resource'> & { envId: number },
): Promise<number> {
  let left = 0;
  const resources = deps.store.resources.forEnv(r.envId).filter((x) => x.state !== 'deleted').reverse();
  for (const resource of resources) {
    if ((await destroyResource(deps, { ...r, resource })) !== null) left++;
  }
  if (!left) deps.store.environments.setState(r.envId, 'retired');
  return left;
}
