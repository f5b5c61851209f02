/**
 * Deleting ledger resources: one at a time, retried a few times with a pause
 * on the clock, each change recorded in the ledger (and so in the deploy's
 * events). Used by the teardown of a retiring environment and by the undo of
 * a deploy's own resources.
 */
import type { ResourceRecord, Store } from '../store/index.js';
import type { Clock } from './clock.js';
import { AbortReason, errorMessage, isInfraError } from './errors.js';
import { createDeployLedger } from './ledger.js';
import type { PlacementOverrides, Progress, Provider } from './ports.js';
import { abortable, formatDuration } from './time.js';

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

/** Cluster states in which a delete is refused or cannot finish yet, but will be possible later. */
const NOT_YET = new Set(['CREATING', 'UPDATING', 'PENDING', 'DELETING']);

/**
 * Deletes one resource; resolves with null when it is gone, or the last error's
 * message when every attempt failed. Rejects only when `signal` aborts. An
 * attempt that has not finished within the provider's teardown time limit is
 * given up and counts as a failed one: a delete that never answers must not
 * hold a cleanup (which has no step timeout) and its app's line forever.
 *
 * A cluster that is still being created (a deploy cancelled while provisioning)
 * may refuse the delete until it is ACTIVE: while the cloud says it is CREATING
 * (or still DELETING), the delete is retried on the clock without spending
 * attempts, for up to the provider's provision time limit, each wait said in
 * the progress; past that limit it fails with a message saying so.
 */
export async function destroyResource(deps: DestroyDeps, r: DestroyRequest): Promise<string | null> {
  const { store, provider, clock, attempts } = deps;
  const { resource, placement, progress, signal } = r;
  const ledger = createDeployLedger(store, { id: r.eventsTo, app: r.app, envId: resource.envId }, provider.name);
  const pause = Math.min(30_000, provider.timeouts.teardown / 100);
  let waitedSince: number | undefined;
  for (let attempt = 1; ; ) {
    try {
      ledger.deleting(resource.id);
      const attemptLimit = provider.timeouts.teardown;
      const attempt$ = new AbortController();
      const onAbort = (): void => attempt$.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = clock.setTimer(() => attempt$.abort(new AbortReason('timeout', `deleting ${resource.kind} ${resource.name} timed out after ${formatDuration(attemptLimit)}`)), attemptLimit);
      try {
        await abortable(provider.clusters.destroy({ resource: store.resources.get(resource.id)!, placement, progress, signal: attempt$.signal }), attempt$.signal);
      } finally {
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
      }
      ledger.deleted(resource.id);
      return null;
    } catch (err) {
      if (signal.aborted) throw err;
      const message = errorMessage(err);
      // Another installation's resource is never ours to delete: no retry, and the ledger says why.
      if (isInfraError(err, 'not_owned')) {
        ledger.failed(resource.id, message);
        return message;
      }
      const status = await notYetDeletable(deps, r);
      if (status) {
        waitedSince ??= clock.now();
        const limit = provider.timeouts.provision;
        const waited = clock.now() - waitedSince;
        if (waited >= limit) {
          const why = `${resource.kind} ${resource.name} was still ${status} after ${formatDuration(waited)} (${message}); \`kubecontrol gc\` deletes it once it can be deleted`;
          ledger.failed(resource.id, why);
          return why;
        }
        progress(`${resource.kind} ${resource.name} is ${status} and cannot be deleted yet (${message}); trying again in ${formatDuration(pause)} (waited ${formatDuration(waited)} of up to ${formatDuration(limit)})`, {
          status,
          waitedMs: waited,
        });
        await clock.sleep(pause, signal);
        continue;
      }
      if (attempt >= attempts) {
        ledger.failed(resource.id, message);
        return message;
      }
      progress(`deleting ${resource.kind} ${resource.name} failed (attempt ${attempt}/${attempts}): ${message}; retrying`);
      await clock.sleep(pause * attempt, signal);
      attempt++;
    }
  }
}

/** The cluster's status when a delete of it failed because it is not deletable yet (still CREATING, still DELETING). */
async function notYetDeletable(deps: DestroyDeps, r: DestroyRequest): Promise<string | undefined> {
  if (r.resource.kind !== 'cluster') return undefined;
  try {
    const found = await deps.provider.clusters.describe({ cluster: { name: r.resource.name, ...(r.placement ? { placement: r.placement } : {}) }, signal: r.signal });
    return found && NOT_YET.has(found.status) ? found.status : undefined;
  } catch {
    // Cannot tell: the failure counts as an ordinary attempt.
    return undefined;
  }
}

/** Deletes what an environment owns, newest first (capacity before its cluster); returns how many are left. */
export async function destroyEnvironment(
  deps: DestroyDeps,
  r: Omit<DestroyRequest, 'resource'> & { envId: number },
): Promise<number> {
  let left = 0;
  const resources = deps.store.resources.forEnv(r.envId).filter((x) => x.state !== 'deleted').reverse();
  // A cluster whose namespace would not go keeps its capacity and stays: deleting it around the
  // namespace would orphan what the namespace's Service still holds (a load balancer, its ENIs).
  const kept = new Map<string, string>();
  const clusterOf = (x: ResourceRecord): string | undefined => (x.kind === 'cluster' ? x.name : typeof x.data?.cluster === 'string' ? x.data.cluster : undefined);
  for (const resource of resources) {
    const cluster = clusterOf(resource);
    const why = cluster !== undefined && resource.kind !== 'namespace' ? kept.get(cluster) : undefined;
    if (why) {
      const ledger = createDeployLedger(deps.store, { id: r.eventsTo, app: r.app, envId: resource.envId }, deps.provider.name);
      ledger.failed(resource.id, `not deleted: ${why}; \`kubecontrol gc\` deletes it once that is gone`);
      left++;
      continue;
    }
    const failed = await destroyResource(deps, { ...r, resource });
    if (failed === null) continue;
    left++;
    if (resource.kind === 'namespace' && cluster !== undefined) kept.set(cluster, `namespace ${resource.name} on it could not be deleted (${failed})`);
  }
  if (!left) deps.store.environments.setState(r.envId, 'retired');
  return left;
}
