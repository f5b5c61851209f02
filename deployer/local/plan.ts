/**
 * The local provider's dry run, in its own terms: a namespace `<app>-<deploy
 * id>` per deploy on the kubeconfig's cluster, the app's Deployment and a
 * ClusterIP Service in it, the switch of the app's ExternalName Service in the
 * routing namespace, and the old namespace. Reads the cluster; changes nothing.
 */
import { deploymentLine, liveLine, portsOf, rollingLine } from '../plan-lines.js';
import type { Clusters, PlanRequest, ProviderPlan } from '../ports.js';
import type { ExternalNameDns } from './external-name-dns.js';
import { localBuildCommand, type LocalRegistry } from './local-images.js';

/** What the local plan reads through. */
export interface LocalPlanDeps {
  readonly context: string;
  readonly registry: LocalRegistry;
  /** The provider's build command for apps that name none. */
  readonly buildCommand: readonly string[] | undefined;
  readonly clusters: Clusters;
  readonly dns: ExternalNameDns;
}

export async function planLocal(deps: LocalPlanDeps, request: PlanRequest): Promise<ProviderPlan> {
  const { registry, clusters, dns } = deps;
  const { image, placement, workload, live, cluster } = request;
  const uri = registry.imageUri({ image });
  const exists = await registry.hasImage({ image, placement });
  const argv = localBuildCommand(placement, deps.buildCommand);
  const build = exists ? [] : [`build ${uri} (builder: command on this host: ${argv[0] ?? '?'})`];
  if (request.strategy === 'rolling') {
    return { image: { uri, exists }, build, create: [], change: live ? [rollingLine(request, `namespace ${live.cluster.name}`)] : [], delete: [] };
  }
  const found = live ? await clusters.describe({ cluster: live.cluster, signal: request.signal }) : undefined;
  const current = await dns.current({ record: request.record });
  // The new deploy's Service, as KubeWorkloads names it (ClusterIP, in the deploy's namespace).
  const target = `${workload.name}.${cluster.name}.svc.cluster.local`;
  return {
    image: { uri, exists },
    build,
    create: [
      `namespace ${cluster.name} on context ${deps.context}`,
      `${deploymentLine(workload, { podIdentity: false })}, ClusterIP service ${portsOf(workload)} in it`,
    ],
    change: [`ExternalName service ${dns.stableName(request.app)}: ${current ?? '(none yet)'} → ${target}`],
    delete: live ? [`namespace ${liveLine(live, found)}`] : [],
  };
}
