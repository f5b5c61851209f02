/**
 * Replaying a deploy's undo log (the saga's compensations), newest first.
 * Every entry's outcome is recorded — done, or failed with why — and nothing
 * is swallowed. A replay stopped by a shutdown leaves the rest pending; the
 * next process goes on from there (each undo is idempotent).
 */
import type { KubeApp } from '../kubeapps/index.js';
import type { DeployRecord, Store, UndoEntry, UndoRecord } from '../store/index.js';
import type { Clock } from './clock.js';
import { destroyResource } from './destroy.js';
import { abortKind, errorMessage } from './errors.js';
import { createDeployLedger } from './ledger.js';
import { scaleWords } from './operations.js';
import type { Capacity, Progress, Provider, StepContext } from './ports.js';
import { appImages, clusterRef, clusterSpec, dnsRecord, placementOf } from './specs.js';

export interface UndoDeps {
  readonly store: Store;
  readonly provider: Provider;
  readonly clock: Clock;
  readonly attempts: number;
}

/** Replays every pending entry; returns how many could not be undone. Rejects only on shutdown. */
export async function replayUndoLog(deps: UndoDeps, d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<number> {
  const { store } = deps;
  const progress: Progress = (message, data) => store.events.append({ deployId: d.id, kind: 'progress', message, level: 'info', data: data ?? null, step: 'cleanup' });
  let left = 0;
  for (const entry of store.undo.pending(d.id)) {
    try {
      const outcome = await undoOne(deps, d, app, entry, progress, signal);
      store.tx(() => {
        store.undo.settle(entry.id, 'done', outcome);
        store.events.append({ deployId: d.id, kind: 'progress', step: 'cleanup', message: `undone: ${outcome}`, data: { undo: entry.id, kind: entry.kind } });
      });
    } catch (err) {
      if (abortKind(signal) === 'shutdown') throw err; // still pending: the next process replays it
      const message = errorMessage(err);
      left++;
      store.tx(() => {
        store.undo.settle(entry.id, 'failed', message);
        store.events.append({ deployId: d.id, kind: 'error', level: 'error', step: 'cleanup', message: `could not undo ${describe(entry.data)}: ${message}`, data: { undo: entry.id, kind: entry.kind } });
      });
    }
  }
  return left;
}

/** One compensation; resolves with what it did, rejects with why it could not. */
async function undoOne(deps: UndoDeps, d: DeployRecord, app: KubeApp, record: UndoRecord, progress: Progress, signal: AbortSignal): Promise<string> {
  const { store, provider } = deps;
  const entry = record.data;
  switch (entry.kind) {
    case 'ownership': {
      store.tx(() => {
        store.environments.setState(entry.to, 'discarded');
        if (entry.from !== null) store.environments.setState(entry.from, 'live');
      });
      const from = entry.from !== null ? store.environments.get(entry.from)?.name : undefined;
      return from ? `${app.name} is served by ${from} again` : `${app.name} has no live environment again`;
    }
    case 'dns': {
      // The app's record as it is defined now: the entry names it, the spec says where it lives.
      const appRecord = dnsRecord(app);
      const current = await provider.dns.current({ record: appRecord, signal });
      if (current !== entry.to) return `${entry.name} no longer points at this deploy (${current ?? 'no record'}); left as it is`;
      if (!entry.from) {
        progress(`${entry.name} points at this deploy's cluster and there is no previous target to move it back to`);
        return `${entry.name} left pointing at ${entry.to}: there was no record before`;
      }
      progress(`${entry.name} points at this deploy's cluster; moving it back to ${entry.from} first`);
      await provider.dns.pointRecord({ record: appRecord, target: entry.from, progress, signal });
      return `${entry.name} points back at ${entry.from}`;
    }
    case 'images': {
      const ctx: StepContext = {
        deployId: d.id,
        app: app.name,
        version: entry.fromVersion,
        step: 'cleanup',
        signal,
        ledger: createDeployLedger(store, { id: d.id, app: d.app, envId: entry.envId }, provider.name),
        progress,
      };
      progress(`restoring images of ${entry.cluster} to ${entry.fromVersion}`);
      const { endpoint } = await provider.workloads.updateImages({ ctx, cluster: clusterRef(app, entry.cluster), images: appImages(app, entry.fromVersion) });
      store.environments.serving(entry.envId, { version: entry.fromVersion, endpoint });
      progress(`images restored to ${entry.fromVersion}`);
      return `images of ${entry.cluster} back at ${entry.fromVersion}`;
    }
    case 'scale': {
      // Back to what it ran with, in the reverse order of the scale: the pods first when nodes were added.
      const env = store.environments.get(entry.envId);
      if (!env || env.state !== 'live') return `${entry.cluster} no longer serves ${app.name}; its scale is left as it is`;
      const cluster = clusterRef(app, entry.cluster);
      const ctx = operationContext(deps, d, app, entry.envId, progress, signal);
      const nodes = entry.from.minNodes !== entry.to.minNodes || entry.from.maxNodes !== entry.to.maxNodes;
      const resize = async (): Promise<void> => {
        if (!nodes || !provider.clusters.resize) return;
        const capacity = { ...clusterSpec(app, entry.cluster).capacity, minNodes: entry.from.minNodes!, maxNodes: entry.from.maxNodes! } as Capacity;
        await provider.clusters.resize({ ctx, cluster, capacity });
      };
      const pods = async (): Promise<void> => {
        if (entry.from.replicas !== entry.to.replicas && entry.from.replicas !== null) await provider.workloads.scale({ ctx, cluster, replicas: entry.from.replicas });
      };
      progress(`scaling ${entry.cluster} back to ${scaleWords(entry.from)}`);
      if ((entry.to.maxNodes ?? 0) >= (entry.from.maxNodes ?? 0)) {
        await pods();
        await resize();
      } else {
        await resize();
        await pods();
      }
      store.environments.scaled(entry.envId, entry.from, entry.scaledBy);
      return `${entry.cluster} back at ${scaleWords(entry.from)}`;
    }
    case 'restart': {
      const env = store.environments.get(entry.envId);
      if (!env || env.state !== 'live') return `${entry.cluster} no longer serves ${app.name}; its pods are left as they are`;
      const ctx = operationContext(deps, d, app, entry.envId, progress, signal);
      progress(`putting the pod template of ${app.name} on ${entry.cluster} back as it was (${entry.from ? `restartedAt ${entry.from}` : 'no restartedAt'})`);
      await provider.workloads.restart({ ctx, cluster: clusterRef(app, entry.cluster), restartedAt: entry.from });
      return `pod template of ${entry.cluster} back as it was${entry.from ? ` (restartedAt ${entry.from})` : ''}; its pods rolled back to it`;
    }
    case 'resource': {
      const resource = store.resources.get(entry.resourceId);
      if (!resource || resource.state === 'deleted') return `${entry.resourceKind} ${entry.name} already gone`;
      const error = await destroyResource(deps, { resource, app: app.name, placement: placementOf(app), eventsTo: d.id, progress, signal });
      if (error) throw new Error(error);
      return `${entry.resourceKind} ${entry.name} deleted`;
    }
    case 'environment': {
      const env = store.environments.get(entry.envId);
      const left = store.resources.forEnv(entry.envId).filter((r) => r.state !== 'deleted');
      if (left.length) throw new Error(`environment ${entry.name} still has ${left.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
      if (env && env.state !== 'live') store.environments.setState(entry.envId, 'discarded');
      return `environment ${entry.name} discarded`;
    }
  }
}

/** "DNS search-svc.example.com → x" for messages. */
export function describe(entry: UndoEntry): string {
  switch (entry.kind) {
    case 'ownership':
      return `the handover of ${entry.app}`;
    case 'dns':
      return `DNS ${entry.name} → ${entry.to}`;
    case 'images':
      return `images ${entry.fromVersion} → ${entry.toVersion} on ${entry.cluster}`;
    case 'resource':
      return `${entry.resourceKind} ${entry.name}`;
    case 'environment':
      return `environment ${entry.name}`;
    case 'scale':
      return `the scale of ${entry.cluster} from ${scaleWords(entry.from)} to ${scaleWords(entry.to)}`;
    case 'restart':
      return `the restart of the pods on ${entry.cluster}`;
  }
}

/** The adapters' context of an in-place undo: the live environment's, at the deploy's version. */
function operationContext(deps: UndoDeps, d: DeployRecord, app: KubeApp, envId: number, progress: Progress, signal: AbortSignal): StepContext {
  return {
    deployId: d.id,
    app: app.name,
    version: d.version,
    step: 'cleanup',
    signal,
    ledger: createDeployLedger(deps.store, { id: d.id, app: d.app, envId }, deps.provider.name),
    progress,
  };
}
