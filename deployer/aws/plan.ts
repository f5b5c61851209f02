/**
 * The aws provider's dry run, in EKS terms: the image in ECR and the builder
 * that would make it (resolved through the app's placement and the settings,
 * like a real build), the EKS cluster and its node group or Fargate profile,
 * the Kubernetes objects, the Route 53 change, the old cluster. Reads ECR, EKS
 * and Route 53; changes nothing.
 */
import { capacityLine, deploymentLine, liveLine, portsOf, rollingLine } from '../plan-lines.js';
import type { Clusters, Dns, PlanRequest, ProviderPlan, Registry } from '../ports.js';
import { placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** What the aws plan reads through. */
export interface AwsPlanDeps {
  readonly settings: AwsSettings;
  readonly registry: Registry;
  readonly clusters: Clusters;
  readonly dns: Dns;
}

export async function planAws(deps: AwsPlanDeps, request: PlanRequest): Promise<ProviderPlan> {
  const { registry, clusters, dns } = deps;
  const { image, placement: own, signal, workload, live } = request;
  const uri = registry.imageUri({ image, placement: own });
  const exists = await registry.hasImage({ image, placement: own, signal });
  const builder = placement(own, deps.settings).builder;
  const build = exists ? [] : [`build ${uri} (${builder === 'none' ? 'no builder configured!' : `builder: ${builder}`})`];
  if (request.strategy === 'rolling') {
    return { image: { uri, exists }, build, create: [], change: live ? [rollingLine(request, `cluster ${live.cluster.name}`)] : [], delete: [] };
  }
  const found = live ? await clusters.describe({ cluster: live.cluster, signal }) : undefined;
  const current = await dns.current({ record: request.record, signal });
  return {
    image: { uri, exists },
    build,
    create: [
      `EKS cluster ${request.cluster.name} (Kubernetes ${request.cluster.kubernetesVersion})`,
      capacityLine(request.cluster.capacity),
      `namespace ${workload.name}, ${deploymentLine(workload)}, ${workload.service.loadBalancer} load-balanced service ${portsOf(workload)}`,
    ],
    change: [`DNS ${request.record.name}: ${current ?? '(no record yet)'} → the new cluster's load balancer`],
    delete: live ? [`cluster ${liveLine(live, found)} and its capacity`] : [],
  };
}
