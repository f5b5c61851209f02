/**
 * How specs read in a dry-run plan: the phrases the providers' own plans
 * share (`Provider.plan`), so that the same spec reads the same everywhere.
 * Pure; each provider decides which lines it has and in what terms.
 */
import type { Capacity, ClusterInfo, PlanRequest, WorkloadSpec } from './ports.js';

/** `node group: 3 (min 3, max 12) × m6i.large/m6i.xlarge, ON_DEMAND, amd64` or `Fargate profile for namespace x`. */
export function capacityLine(c: Capacity): string {
  return c.kind === 'fargate'
    ? `Fargate profile for namespace ${c.namespaces.join(', ')}`
    : `node group: ${c.desiredNodes} (min ${c.minNodes}, max ${c.maxNodes}) × ${c.instanceTypes.join('/')}, ${c.spot ? 'SPOT' : 'ON_DEMAND'}, ${c.arch}`;
}

/** `deployment x (2 replicas: api:v3, metrics, logging)`: the app's own containers with their version. */
export function deploymentLine(w: WorkloadSpec): string {
  const containers = w.containers.map((c) => `${c.name}${c.role === 'app' ? `:${c.image.tag}` : ''}`).join(', ');
  return `deployment ${w.name} (${w.replicas} replicas: ${containers})`;
}

/** `:80→8080`. */
export function portsOf(w: WorkloadSpec): string {
  return `:${w.service.port}→${w.service.targetPort}`;
}

/** `x (v101, ACTIVE)`, or `x (v101, not found)` when the provider does not find it. */
export function liveLine(live: NonNullable<PlanRequest['live']>, found: ClusterInfo | undefined): string {
  return `${live.cluster.name} (${live.version}${found ? `, ${found.status}` : ', not found'})`;
}

/** A rolling update: `images of api on cluster x: v1 → v2 (rolling, 2 replicas)` (`where` names the place in the provider's terms). */
export function rollingLine(request: PlanRequest, where: string): string {
  const containers = request.workload.containers.filter((c) => c.role === 'app').map((c) => c.name);
  return `images of ${containers.join(', ')} on ${where}: ${request.live?.version ?? '?'} → ${request.version} (rolling, ${request.workload.replicas} replicas)`;
}
