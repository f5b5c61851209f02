/**
 * `--dry-run`: what a deploy would build, create, change and delete, read
 * from the store (what is live, locks, the line) and from the provider's own
 * plan of its real state. It touches nothing.
 */
import type { KubeApp, Strategy } from '../kubeapps/index.js';
import type { EnvironmentScale, Store } from '../store/index.js';
import { envScale, RESTARTED_AT, scaleIsTemporary, scaleWords, undoCommand } from './operations.js';
import type { Provider } from './ports.js';
import { clusterRef, clusterSpec, dnsRecord, imageRef, placementOf, workloadSpec } from './specs.js';
import { describeDrain } from './steps/teardown.js';

/** A dry run's answer. */
export interface DeployPlan {
  readonly app: string;
  readonly version: string;
  readonly strategy: Strategy;
  readonly provider: string;
  readonly image: { readonly uri: string; readonly exists: boolean };
  readonly build: readonly string[];
  readonly create: readonly string[];
  readonly change: readonly string[];
  readonly delete: readonly string[];
  /** Why a real deploy would be refused or would wait, if it would. */
  readonly warnings: readonly string[];
  /** The plan of an operation rather than of a deploy of a version: an upgrade (blue/green), or a scale or restart in place (no image). */
  readonly operation?: 'upgrade' | 'scale' | 'restart';
  /** What else people should know before they run it (the scale's undo, that the next deploy resets it, an upgrade's versions). */
  readonly notes?: readonly string[];
}

/**
 * The dry run of deploying `version` of `app`. What is live, the lock and the
 * line ahead come from the store; what would be built, created, changed and
 * deleted is the provider's own plan (`Provider.plan`), told the specs a real
 * deploy would use. This adds when its changes would happen (after approval,
 * after the drain).
 */
export async function planDeploy(opts: {
  store: Store;
  provider: Provider;
  app: KubeApp;
  version: string;
  strategy: Strategy;
  /** An upgrade: the Kubernetes version of its new cluster, and what the plan says of it. */
  upgrade?: { kubernetesVersion: string; notes: readonly string[] };
}): Promise<DeployPlan> {
  const { store, provider, app, version, strategy, upgrade } = opts;
  // Ownership: the environment serving the app now.
  const env = store.environments.live(app.name);
  const live = env ? { cluster: clusterRef(app, env.name), version: env.version ?? '?' } : undefined;
  const record = dnsRecord(app);
  const p = await provider.plan({
    app: app.name,
    version,
    strategy,
    image: imageRef(app, version),
    placement: placementOf(app),
    cluster: { ...clusterSpec(app, `${app.name}-<deploy id>`), ...(upgrade ? { kubernetesVersion: upgrade.kubernetesVersion } : {}) },
    workload: workloadSpec(app, version),
    record,
    ...(live ? { live } : {}),
  });
  const warnings: string[] = [];
  const lock = store.locks.get(app.name);
  if (lock) warnings.push(`${app.name} is locked by ${lock.lockedBy}: ${lock.reason}`);
  warnings.push(...lineWarnings(store, app));
  if (strategy === 'blue-green' && env?.scaledBy) {
    warnings.push(`it resets the scale of ${app.name}: ${env.name} runs ${scaleWords(envScale(env, app))} (scale #${env.scaledBy}); the new cluster gets the KubeApp's ${scaleWords(envScale(undefined, app))}`);
  }

  const blueGreen = strategy === 'blue-green';
  if (!blueGreen && !live) warnings.push(`${app.name} has no running cluster: a rolling update needs one (deploy with --strategy blue-green first)`);
  return {
    app: app.name,
    version,
    strategy,
    provider: provider.label,
    image: p.image,
    build: p.build,
    create: blueGreen ? p.create : [],
    // A blue/green switch waits for an approver; a rolling update's changes do not.
    change: blueGreen ? p.change.map((line) => `${line}, after approval by one of ${app.approvers.join(', ')}`) : p.change,
    // The old environment goes only after traffic has drained from it.
    delete: blueGreen ? p.delete.map((line) => `${line}, after a ${describeDrain(provider, provider.drainMs({ record }), record).duration} drain`) : [],
    warnings,
    ...(upgrade ? { operation: 'upgrade' as const, notes: upgrade.notes } : {}),
  };
}

/** Why a change of `app` would wait or be refused: its lock, and the deploys ahead of it in its line. */
function lineWarnings(store: Store, app: KubeApp): string[] {
  const warnings: string[] = [];
  const active = store.deploys.active().filter((d) => d.app === app.name);
  if (active.length) warnings.push(`${active.length} deploy(s) of ${app.name} ahead in line (#${active.map((d) => d.id).join(', #')})`);
  return warnings;
}

/**
 * The dry run of an in-place operation of the live environment: a scale to `to`
 * (from what the environment runs with) or a restart of its pods. Read from the
 * store and the KubeApp; the provider is asked for nothing but how it names its
 * images. Touches nothing.
 */
export function planOperation(opts: {
  store: Store;
  provider: Provider;
  app: KubeApp;
  operation: { kind: 'scale'; to: EnvironmentScale } | { kind: 'restart' };
}): DeployPlan {
  const { store, provider, app, operation } = opts;
  const env = store.environments.live(app.name)!;
  const version = env.version ?? '?';
  const mark = (line: string): string => (provider.name === 'sandbox' ? `[sandbox] ${line}` : line);
  const from = envScale(env, app);
  const change: string[] = [];
  const notes: string[] = [];
  if (operation.kind === 'scale') {
    const to = operation.to;
    const capacity = app.hardware.capacity;
    if (to.minNodes !== from.minNodes || to.maxNodes !== from.maxNodes) {
      change.push(
        mark(
          capacity === 'auto'
            ? `NodePool of ${app.name} on ${env.name}: at most ${from.maxNodes} → ${to.maxNodes} nodes (Auto Mode keeps no minimum: nodes=${to.minNodes}.. is recorded, only the maximum applies)`
            : `node group of ${env.name}: min ${from.minNodes} → ${to.minNodes}, max ${from.maxNodes} → ${to.maxNodes} (its desired size kept, moved inside the new bounds)`,
        ),
      );
    }
    if (to.replicas !== from.replicas) change.push(mark(`deployment ${app.name} on ${env.name}: ${from.replicas} → ${to.replicas} replicas (the scale subresource), until they are available`));
    if (!change.length) notes.push(`${app.name} already runs ${scaleWords(to)}: nothing would change`);
    else notes.push(`now ${scaleWords(from)}; to undo: \`${undoCommand(app.name, from, to)}\``, scaleIsTemporary(app));
  } else {
    change.push(mark(`deployment ${app.name} on ${env.name}: a rolling restart of its ${from.replicas ?? '?'} pods (the pod template's ${RESTARTED_AT}), waited for like a rolling update`));
    notes.push('if the rollout fails, the pod template is put back as it was and its pods roll back to it');
  }
  return {
    app: app.name,
    version,
    strategy: 'rolling',
    provider: provider.label,
    image: { uri: provider.registry.imageUri({ image: imageRef(app, version), placement: placementOf(app) }), exists: true },
    build: [],
    create: [],
    change,
    delete: [],
    warnings: [...(store.locks.get(app.name) ? [`${app.name} is locked by ${store.locks.get(app.name)!.lockedBy}: ${store.locks.get(app.name)!.reason}`] : []), ...lineWarnings(store, app)],
    operation: operation.kind,
    notes,
  };
}
