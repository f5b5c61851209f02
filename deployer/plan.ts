/**
 * `--dry-run`: what a deploy would build, create, change and delete, read
 * from the store (what is live, locks, the line) and from the provider's own
 * plan of its real state. It touches nothing.
 */
import type { KubeApp, Strategy } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
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
}

/**
 * The dry run of deploying `version` of `app`. What is live, the lock and the
 * line ahead come from the store; what would be built, created, changed and
 * deleted is the provider's own plan (`Provider.plan`), told the specs a real
 * deploy would use. This adds when its changes would happen (after approval,
 * after the drain).
 */
export async function planDeploy(opts: { store: Store; provider: Provider; app: KubeApp; version: string; strategy: Strategy }): Promise<DeployPlan> {
  const { store, provider, app, version, strategy } = opts;
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
    cluster: clusterSpec(app, `${app.name}-<deploy id>`),
    workload: workloadSpec(app, version),
    record,
    ...(live ? { live } : {}),
  });
  const warnings: string[] = [];
  const lock = store.locks.get(app.name);
  if (lock) warnings.push(`${app.name} is locked by ${lock.lockedBy}: ${lock.reason}`);
  const active = store.deploys.active().filter((d) => d.app === app.name);
  if (active.length) warnings.push(`${active.length} deploy(s) of ${app.name} ahead in line (#${active.map((d) => d.id).join(', #')})`);

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
  };
}
