/**
 * The specs the ports speak in, built from a KubeApp. Pure: no I/O, no
 * provider, no settings. Steps, the undo log, teardown, gc and the dry run
 * call these; adapters never see the KubeApp itself.
 */
import { PLACEMENT_FIELDS, type KubeApp, type ResolvedContainer } from '../kubeapps/index.js';
import type {
  Capacity,
  ClusterRef,
  ClusterSpec,
  ContainerImage,
  DnsRecord,
  HealthCheckSpec,
  ImageRef,
  PlacementOverrides,
  RepositorySpec,
  WorkloadContainer,
  WorkloadSpec,
} from './ports.js';

/**
 * What the app itself sets of its placement: region and builder only when they
 * are the app's own choice (not KubeApp-level defaults, which a provider
 * replaces with its settings), the build command only when it names one.
 * Undefined when the app sets nothing.
 */
export function placementOf(app: KubeApp): PlacementOverrides | undefined {
  const a = app.aws;
  const out: { -readonly [K in keyof PlacementOverrides]: PlacementOverrides[K] } = {};
  if (!a.defaulted.region) out.region = a.region;
  if (!a.defaulted.builder) out.builder = a.builder;
  if (a.buildCommand.length) out.buildCommand = a.buildCommand;
  for (const key of PLACEMENT_FIELDS) {
    const value = a[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `{ placement }` when the app sets any, else nothing (no `placement: undefined` key in a spec). */
function withPlacement(app: KubeApp): { placement?: PlacementOverrides } {
  const placement = placementOf(app);
  return placement ? { placement } : {};
}

/** The app's image at `tag`. */
export function imageRef(app: KubeApp, tag: string): ImageRef {
  return { repository: app.image.repository, tag };
}

/** The app's image repository. */
export function repositorySpec(app: KubeApp): RepositorySpec {
  return { name: app.image.repository, app: app.name, create: app.aws.createRepository, ...withPlacement(app) };
}

/** Where one of the app's clusters is (`name`: `<app>-<deploy id>`). */
export function clusterRef(app: KubeApp, name: string): ClusterRef {
  return { name, ...withPlacement(app) };
}

/** What the app's pods run on, from its hardware. */
function capacityOf(app: KubeApp): Capacity {
  const hw = app.hardware;
  const nodes = { instanceTypes: hw.instanceTypes, minNodes: hw.minNodes, maxNodes: hw.maxNodes, spot: hw.spot, arch: hw.arch };
  switch (hw.capacity) {
    // Fargate runs the app's namespace, which is named after the app (deployer/kube/manifests.ts).
    case 'fargate':
      return { kind: 'fargate', namespaces: [app.name] };
    case 'nodes':
      return { kind: 'nodes', ...nodes, desiredNodes: hw.desiredNodes };
    case 'auto':
      return { kind: 'auto', ...nodes };
  }
}

/**
 * The cluster `name` of the app, with its capacity from the app's hardware. The
 * Kubernetes version only when the app names one (else the provider's newest in
 * standard support); the pod identity when the app names a role for its pods.
 */
export function clusterSpec(app: KubeApp, name: string): ClusterSpec {
  return {
    name,
    app: app.name,
    ...(app.aws.kubernetesVersion ? { kubernetesVersion: app.aws.kubernetesVersion } : {}),
    supportType: app.aws.supportType,
    capacity: capacityOf(app),
    // The ServiceAccount is named after the app, in the app's namespace (deployer/kube/manifests.ts).
    ...(app.aws.podRoleArn ? { podIdentity: { namespace: app.name, serviceAccount: app.name, roleArn: app.aws.podRoleArn } } : {}),
    ...withPlacement(app),
  };
}

/** A container's image: the app's own repository at the version (or its fixed tag), else `image:tag` as written. */
function containerImage(app: KubeApp, c: ResolvedContainer, version: string): ContainerImage {
  // Sidecars always have a fixed tag (define.ts); an app container may pin one too.
  return { name: c.name, image: { repository: c.image, tag: c.tag ?? version }, fromRegistry: c.role === 'app' && c.image === app.image.repository };
}

/** The app's pods and Service at `version`. */
export function workloadSpec(app: KubeApp, version: string): WorkloadSpec {
  const containers: WorkloadContainer[] = app.pods.containers.map((c) => ({
    ...containerImage(app, c, version),
    role: c.role,
    ...(c.unrestricted ? { unrestricted: c.unrestricted } : {}),
    ports: c.ports,
    env: c.env,
    resources: c.resources,
    ...(c.command ? { command: c.command } : {}),
    ...(c.args ? { args: c.args } : {}),
  }));
  return {
    name: app.name,
    version,
    replicas: app.pods.replicas,
    containers,
    service: {
      port: app.service.port,
      targetPort: app.service.targetPort,
      loadBalancer: app.service.loadBalancer,
      healthCheckPath: app.service.healthCheckPath,
      ...(app.service.certificateArn ? { certificateArn: app.service.certificateArn } : {}),
    },
    // Fargate picks its own hardware; arm64 nodes (a node group, or an Auto Mode NodePool) need the pods pinned.
    ...(app.hardware.capacity !== 'fargate' && app.hardware.arch === 'arm64' ? { arch: 'arm64' as const } : {}),
    ...(app.aws.podRoleArn ? { podRoleArn: app.aws.podRoleArn } : {}),
    ...(app.secrets.length ? { secrets: app.secrets.map((s) => ({ name: s.name, secretId: s.secretId })) } : {}),
  };
}

/** What a rolling update to `version` changes: the images of the app's own containers, nothing else. */
export function appImages(app: KubeApp, version: string): ContainerImage[] {
  return app.pods.containers.filter((c) => c.role === 'app').map((c) => containerImage(app, c, version));
}

/** The record that carries the app's traffic. */
export function dnsRecord(app: KubeApp): DnsRecord {
  return { name: app.dns.name, ttlSeconds: app.dns.ttlSeconds, zone: app.dns.zone, app: app.name, port: app.service.port, ...withPlacement(app) };
}

/**
 * The health check before a cutover: https when the Service has a certificate; with
 * `cluster` (the new one), a check that cannot reach an internal load balancer goes
 * through that cluster's API server to the app's Service instead.
 */
export function healthCheck(app: KubeApp, cluster?: ClusterRef): HealthCheckSpec {
  return {
    app: app.name,
    port: app.service.port,
    path: app.service.healthCheckPath,
    loadBalancer: app.service.loadBalancer,
    tls: app.service.certificateArn !== undefined,
    ...(cluster ? { cluster } : {}),
  };
}
