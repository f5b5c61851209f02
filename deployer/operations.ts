/**
 * In-place operations of an app's live environment (`scale`, `restart`) and what
 * they are checked against: the rules every surface states, the words they use
 * for a scale, and what an environment runs with. Pure: the command core, the
 * dry run, the steps and the driver all read them from here.
 *
 * The limits a scale is checked against (the KubeApp stays the source of truth):
 * - replicas from 1 (never 0: that would take the app down) to ten times the
 *   KubeApp's `pods.replicas`, and never more than 500 (the KubeApp's own cap);
 * - nodes=MIN..MAX with 0 ≤ MIN ≤ MAX, 1 ≤ MAX ≤ the KubeApp's `hardware.maxNodes`
 *   (its declared budget); Auto Mode keeps no minimum (only MAX, the NodePool's
 *   limit, applies); Fargate has no nodes.
 */
import type { KubeApp } from '../kubeapps/index.js';
import type { EnvironmentRecord, EnvironmentScale } from '../store/index.js';

/** The pod template annotation `kubectl rollout restart` sets: a new value rolls every pod. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** The value `kubectl rollout restart` writes: the time, RFC 3339 to the second. */
export function restartStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A scale may ask at most this many times the KubeApp's replicas. */
export const REPLICAS_FACTOR = 10;
/** And never more than this (the KubeApp schema's own limit on `pods.replicas`). */
export const REPLICAS_MAX = 500;

/** The most replicas a scale of `app` may ask. */
export function maxReplicas(app: KubeApp): number {
  return Math.min(REPLICAS_MAX, REPLICAS_FACTOR * app.pods.replicas);
}

/** What the KubeApp declares: what a new environment of it runs with. */
export function appScale(app: KubeApp): EnvironmentScale {
  const fargate = app.hardware.capacity === 'fargate';
  return { replicas: app.pods.replicas, minNodes: fargate ? null : app.hardware.minNodes, maxNodes: fargate ? null : app.hardware.maxNodes };
}

/** What `env` runs with: what it recorded, else (an environment from before it was kept) the KubeApp's. */
export function envScale(env: Pick<EnvironmentRecord, 'replicas' | 'minNodes' | 'maxNodes'> | undefined, app: KubeApp): EnvironmentScale {
  const declared = appScale(app);
  return {
    replicas: env?.replicas ?? declared.replicas,
    minNodes: env?.minNodes ?? declared.minNodes,
    maxNodes: env?.maxNodes ?? declared.maxNodes,
  };
}

/** `replicas=3 nodes=3..12` (`replicas=2` on Fargate): a scale in the words of the command. */
export function scaleWords(s: EnvironmentScale): string {
  const nodes = s.minNodes !== null && s.maxNodes !== null ? ` nodes=${s.minNodes}..${s.maxNodes}` : '';
  return `replicas=${s.replicas ?? '?'}${nodes}`;
}

/** The command that puts `from` back, naming only what `to` changes: `scale search-svc replicas=3`. */
export function undoCommand(app: string, from: EnvironmentScale, to: EnvironmentScale): string {
  const words: string[] = [];
  if (from.replicas !== to.replicas && from.replicas !== null) words.push(`replicas=${from.replicas}`);
  if ((from.minNodes !== to.minNodes || from.maxNodes !== to.maxNodes) && from.minNodes !== null && from.maxNodes !== null) words.push(`nodes=${from.minNodes}..${from.maxNodes}`);
  return `scale ${app} ${words.join(' ') || scaleWords(from)}`;
}

/** What a scale asks (unset: unchanged). */
export interface ScaleRequest {
  readonly replicas?: number;
  readonly minNodes?: number;
  readonly maxNodes?: number;
}

/** `from` with the request applied. */
export function scaledTo(from: EnvironmentScale, r: ScaleRequest): EnvironmentScale {
  return {
    replicas: r.replicas ?? from.replicas,
    minNodes: r.minNodes ?? from.minNodes,
    maxNodes: r.maxNodes ?? from.maxNodes,
  };
}

/**
 * Why `app` may not be scaled as asked, in one sentence naming the app, the value and the limit;
 * undefined when it may. `resizesNodes`: whether the provider can change node bounds at all.
 */
export function scaleProblem(app: KubeApp, r: ScaleRequest, resizesNodes: boolean): { code: 'beyond_limits' | 'not_supported'; message: string } | undefined {
  if (r.replicas !== undefined) {
    const max = maxReplicas(app);
    if (r.replicas < 1) return { code: 'beyond_limits', message: `${app.name}: replicas=${r.replicas} is below 1: scaling to no pods would take ${app.name} down (use \`lock\` and a deploy to retire it)` };
    if (r.replicas > max) {
      return {
        code: 'beyond_limits',
        message: `${app.name}: replicas=${r.replicas} is beyond its limit of ${max} (${max === REPLICAS_MAX ? `the most any app may run` : `${REPLICAS_FACTOR} × the KubeApp's pods.replicas ${app.pods.replicas}`}); to go further, raise pods.replicas in its KubeApp and deploy`,
      };
    }
  }
  if (r.minNodes !== undefined || r.maxNodes !== undefined) {
    if (app.hardware.capacity === 'fargate') {
      return { code: 'not_supported', message: `${app.name} runs on Fargate: it has no nodes to scale (Fargate starts one for each pod); \`scale ${app.name} replicas=N\` changes how many pods run` };
    }
    if (!resizesNodes) return { code: 'not_supported', message: `${app.name}: this provider's cluster has no nodes of the app's own to scale; only replicas=N applies here` };
    const min = r.minNodes!;
    const max = r.maxNodes!;
    if (min > max) return { code: 'beyond_limits', message: `${app.name}: nodes=${min}..${max} has its minimum above its maximum` };
    if (max < 1) return { code: 'beyond_limits', message: `${app.name}: nodes=${min}..${max} allows no node at all (the maximum must be at least 1)` };
    if (max > app.hardware.maxNodes) {
      return {
        code: 'beyond_limits',
        message: `${app.name}: nodes=${min}..${max} is beyond its limit: at most ${app.hardware.maxNodes} nodes (hardware.maxNodes in its KubeApp); to go further, raise hardware.maxNodes and deploy`,
      };
    }
  }
  return undefined;
}

/** The sentence every scale answer ends with: the KubeApp stays the source of truth. */
export function scaleIsTemporary(app: KubeApp): string {
  const declared = scaleWords(appScale(app));
  return (
    `The next blue/green deploy, rollback, refresh or upgrade builds its cluster from the KubeApp again (${declared}); a rolling update keeps this scale. ` +
    `To make it permanent, set ${app.hardware.capacity === 'fargate' ? 'pods.replicas' : 'pods.replicas and hardware.minNodes/maxNodes'} in ${app.name}'s KubeApp.`
  );
}
