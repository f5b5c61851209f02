/**
 * `--dry-run`: what a deploy would build, create, change and delete, read
 * from the provider's real state. It touches nothing.
 */
import type { KubeApp, Strategy } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import type { Provider } from './ports.js';
import { formatDuration } from './time.js';

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

export async function planDeploy(opts: { store: Store; provider: Provider; app: KubeApp; version: string; strategy: Strategy }): Promise<DeployPlan> {
  const { store, provider, app, version, strategy } = opts;
  const uri = provider.registry.imageUri({ app, tag: version });
  const exists = await provider.registry.hasImage({ app, tag: version });
  // Ownership: the environment serving the app now.
  const env = store.environments.live(app.name);
  const live = env ? { toCluster: env.name, version: env.version ?? '?' } : undefined;
  const liveCluster = live?.toCluster ? await provider.clusters.describe({ name: live.toCluster, app }) : undefined;
  const record = await provider.dns.current({ app });
  const hw = app.hardware;
  const warnings: string[] = [];
  const build = exists ? [] : [`build ${uri} (${app.aws.builder === 'none' && provider.name === 'aws' ? 'no builder configured!' : `builder: ${provider.name === 'sandbox' ? 'sandbox' : app.aws.builder}`})`];
  const create: string[] = [];
  const change: string[] = [];
  const del: string[] = [];
  const lock = store.locks.get(app.name);
  if (lock) warnings.push(`${app.name} is locked by ${lock.lockedBy}: ${lock.reason}`);
  const active = store.deploys.active().filter((d) => d.app === app.name);
  if (active.length) warnings.push(`${active.length} deploy(s) of ${app.name} ahead in line (#${active.map((d) => d.id).join(', #')})`);

  if (strategy === 'blue-green') {
    create.push(`EKS cluster ${app.name}-<deploy id> (Kubernetes ${app.aws.kubernetesVersion})`);
    create.push(
      hw.capacity === 'fargate'
        ? `Fargate profile for namespace ${app.name}`
        : `node group: ${hw.desiredNodes} (min ${hw.minNodes}, max ${hw.maxNodes}) × ${hw.instanceTypes.join('/')}, ${hw.spot ? 'SPOT' : 'ON_DEMAND'}, ${hw.arch}`,
    );
    create.push(
      `namespace ${app.name}, deployment ${app.name} (${app.pods.replicas} replicas: ${app.pods.containers.map((c) => `${c.name}${c.role === 'app' ? `:${version}` : ''}`).join(', ')}), ${app.service.loadBalancer} load-balanced service :${app.service.port}→${app.service.targetPort}`,
    );
    change.push(`DNS ${app.dns.name}: ${record ?? '(no record yet)'} → the new cluster's load balancer, after approval by one of ${app.approvers.join(', ')}`);
    if (live?.toCluster) {
      del.push(`cluster ${live.toCluster} (${live.version}${liveCluster ? `, ${liveCluster.status}` : ', not found'}) and its capacity, after a ${formatDuration(provider.drainMs(app))} drain`);
    }
  } else {
    if (!live?.toCluster) warnings.push(`${app.name} has no running cluster: a rolling update needs one (deploy with --strategy blue-green first)`);
    else {
      const containers = app.pods.containers.filter((c) => c.role === 'app').map((c) => c.name);
      change.push(`images of ${containers.join(', ')} on cluster ${live.toCluster}: ${live.version} → ${version} (rolling, ${app.pods.replicas} replicas)`);
    }
  }
  return { app: app.name, version, strategy, provider: provider.label, image: { uri, exists }, build, create, change, delete: del, warnings };
}
