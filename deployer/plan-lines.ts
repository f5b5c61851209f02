/**
 * How specs read in a dry-run plan: the phrases the providers' own plans
 * share (`Provider.plan`), so that the same spec reads the same everywhere.
 * Pure; each provider decides which lines it has and in what terms.
 */
import type { Capacity, ClusterInfo, PlanRequest, WorkloadSpec } from './ports.js';

/** A cluster's Kubernetes version as plans show it: the app's own, else the provider's default. */
export function versionLine(version: string | undefined): string {
  return version ? `Kubernetes ${version}` : 'the newest Kubernetes version in standard support';
}

/**
 * What the pods run on:
 * `EKS Auto Mode nodes: m6i.large|m6i.xlarge on-demand amd64, at most 12 nodes (Auto Mode keeps no minimum)`,
 * `node group (Auto Scaling group): 2 (min 2, max 10) × m7g.large/c7g.large, SPOT, arm64`, or
 * `Fargate profile for namespace x`.
 */
export function capacityLine(c: Capacity): string {
  switch (c.kind) {
    case 'fargate':
      return `Fargate profile for namespace ${c.namespaces.join(', ')}`;
    case 'auto':
      return `EKS Auto Mode nodes: ${c.instanceTypes.join('|')} ${c.spot ? 'spot' : 'on-demand'} ${c.arch}, at most ${c.maxNodes} node${c.maxNodes === 1 ? '' : 's'} (Auto Mode keeps no minimum)`;
    case 'nodes':
      return `node group (Auto Scaling group): ${c.desiredNodes} (min ${c.minNodes}, max ${c.maxNodes}) × ${c.instanceTypes.join('/')}, ${c.spot ? 'SPOT' : 'ON_DEMAND'}, ${c.arch}`;
  }
}

/**
 * `deployment x (2 replicas: api:v3, envoy)`: the app's own containers with their
 * version, its sidecars by name; then what a plan must not hide: a container that
 * opts out of Pod Security "restricted" and why, and the secrets' names (never values).
 * `podIdentity: false`: the provider's clusters cannot give pods the app's role (a laptop cluster), said plainly.
 */
export function deploymentLine(w: WorkloadSpec, opts: { podIdentity?: boolean } = {}): string {
  const containers = w.containers.map((c) => `${c.name}${c.role === 'app' ? `:${c.image.tag}` : ''}`).join(', ');
  const notes = [
    ...w.containers.filter((c) => c.unrestricted).map((c) => `container ${c.name} NOT restricted (Pod Security): ${c.unrestricted}`),
    ...(w.secrets?.length ? [`secrets ${w.secrets.map((s) => s.name).join(', ')} as files`] : []),
    ...(w.podRoleArn ? [opts.podIdentity === false ? `pod role ${w.podRoleArn} NOT attached (no EKS Pod Identity on this cluster)` : `pod role ${w.podRoleArn}`] : []),
  ];
  return `deployment ${w.name} (${w.replicas} replicas: ${containers})${notes.length ? `; ${notes.join('; ')}` : ''}`;
}

/** `:80→8080`, or `:443 (TLS)→3000` when the load balancer ends TLS. */
export function portsOf(w: WorkloadSpec): string {
  return `:${w.service.port}${w.service.certificateArn ? ' (TLS)' : ''}→${w.service.targetPort}`;
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
