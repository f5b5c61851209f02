/**
 * The aws provider's dry run, in EKS terms: the image in ECR and the builder
 * that would make it (resolved through the app's placement and the settings,
 * like a real build), the EKS cluster and its node group or Fargate profile,
 * the Kubernetes objects, the Route 53 change, the old cluster. Reads ECR, EKS
 * and Route 53; changes nothing.
 */
import { capacityLine, deploymentLine, liveLine, portsOf, rollingLine } from '../plan-lines.js';
import type { ClusterSpec, Clusters, Dns, PlanRequest, ProviderPlan, Registry } from '../ports.js';
import { fargateLogGroup } from '../kube/fargate-logging.js';
import { OBSERVABILITY_ADDON, POD_IDENTITY_AGENT_ADDON } from './eks-clusters.js';
import { placement } from './placement.js';
import type { AwsSettings } from './settings.js';
import { newestStandard, type EksVersion, type EksVersions } from './versions.js';

/** What the aws plan reads through. */
export interface AwsPlanDeps {
  readonly settings: AwsSettings;
  readonly registry: Registry;
  readonly clusters: Clusters;
  readonly dns: Dns;
  /** The versions EKS offers; without them the version line says only what the app asks. */
  readonly versions?: EksVersions;
}

/**
 * `EKS cluster x (Kubernetes 1.35, newest in standard support until 2027-03-27; upgrade policy STANDARD), Auto Mode: ...`
 * and the lines of what comes with the cluster: Pod Identity, the access entry.
 */
export function clusterLines(spec: ClusterSpec, settings: AwsSettings, versions: readonly EksVersion[] | undefined): string[] {
  const newest = versions ? newestStandard(versions) : undefined;
  const own = spec.kubernetesVersion !== undefined ? versions?.find((v) => v.version === spec.kubernetesVersion) : undefined;
  const version =
    spec.kubernetesVersion === undefined
      ? newest
        ? `Kubernetes ${newest.version}, newest in standard support until ${newest.endOfStandardSupport}`
        : 'Kubernetes: the newest in standard support'
      : own
        ? `Kubernetes ${own.version}, ${own.status === 'STANDARD_SUPPORT' ? `standard support until ${own.endOfStandardSupport}` : own.status === 'EXTENDED_SUPPORT' ? `extended support until ${own.endOfExtendedSupport}` : 'no longer supported!'}`
        : `Kubernetes ${spec.kubernetesVersion}`;
  const supportType = spec.supportType ?? 'STANDARD';
  const policy = supportType === 'STANDARD' ? 'upgrade policy STANDARD: upgraded by EKS at the end of standard support' : 'upgrade policy EXTENDED: billed at the extended-support rate after standard support';
  const pools = spec.capacity.kind === 'fargate' ? 'no node pools (Fargate runs the pods)' : "built-in node pool 'system'";
  const lines = [
    `EKS cluster ${spec.name} (${version}; ${policy})`,
    `EKS Auto Mode: compute (${pools}), load balancing (eks.amazonaws.com/nlb), block storage; access entries only`,
  ];
  if (spec.capacity.kind === 'fargate') lines.push('EKS add-on coredns on Fargate');
  const observability = settings.observabilityRoleArn;
  if (spec.capacity.kind === 'nodes') {
    const agent = spec.podIdentity || observability ? `, ${POD_IDENTITY_AGENT_ADDON}` : '';
    lines.push(`EKS add-ons vpc-cni, kube-proxy${agent}, coredns for the node group`);
  }
  if (spec.podIdentity) lines.push(`Pod Identity: ${spec.podIdentity.namespace}/${spec.podIdentity.serviceAccount} → ${spec.podIdentity.roleArn}`);
  if (settings.accessRoleArn) lines.push(`access entry: ${settings.accessRoleArn} (cluster admin)`);
  lines.push(observabilityLine(spec, observability));
  return lines;
}

/** What observability a new cluster gets: node-level agents, never a sidecar. */
export function observabilityLine(spec: Pick<ClusterSpec, 'app' | 'capacity'>, roleArn: string | undefined): string {
  if (!roleArn) return 'no observability agent (set KUBECONTROL_OBSERVABILITY_ROLE_ARN for CloudWatch Container Insights / the Fargate log router)';
  if (spec.capacity.kind === 'fargate') {
    return `observability: the Fargate log router sends container logs to CloudWatch Logs ${fargateLogGroup(spec.app)} (as the pod execution role)`;
  }
  return `observability: EKS add-on ${OBSERVABILITY_ADDON} (CloudWatch Container Insights metrics, container logs), its agent running as ${roleArn} (Pod Identity)`;
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
  const region = placement(request.cluster.placement, deps.settings).region;
  const versions = deps.versions ? await deps.versions.list(region, signal) : undefined;
  return {
    image: { uri, exists },
    build,
    create: [
      ...clusterLines(request.cluster, deps.settings, versions),
      capacityLine(request.cluster.capacity),
      `namespace ${workload.name}, ${deploymentLine(workload)}, ${workload.service.loadBalancer} load-balanced service ${portsOf(workload)}`,
    ],
    change: [`DNS ${request.record.name}: ${current ?? '(no record yet)'} → the new cluster's load balancer`],
    delete: live ? [`cluster ${liveLine(live, found)} and its capacity`] : [],
  };
}
