/**
 * Renders a workload (deployer/specs.ts `workloadSpec`) into the Kubernetes
 * objects kubecontrol applies: the app's Namespace, its Deployment (app
 * containers at the deployed version, sidecars at their fixed tags) and a
 * LoadBalancer Service (ClusterIP when asked). Plain typed objects, no I/O:
 * snapshot-tested next to targeted asserts.
 */
import type { V1Container, V1Deployment, V1Namespace, V1Probe, V1Service } from '@kubernetes/client-node';
import type { ContainerImage, ImageRef, WorkloadContainer, WorkloadSpec } from '../ports.js';
import { LABEL_INSTALLATION } from './installation.js';

export { LABEL_INSTALLATION } from './installation.js';

/** Labels every object carries (and `kubecontrol/installation`, see installation.ts). */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_VERSION = 'kubecontrol/version';
export const MANAGER = 'kubecontrol';

/** What `renderManifests` needs besides the workload: the provider's choices. */
export interface RenderOptions {
  /** The full image reference of an image of the app's repository (the provider registry's `imageUri`). */
  readonly imageUri: (image: ImageRef) => string;
  /** The installation id every object is labelled with (`kubecontrol/installation`). */
  readonly installation: string;
  /** Seconds without progress before a rollout counts as failed. @default 600 */
  readonly progressDeadlineSeconds?: number;
  /** The namespace the app's objects go into (the local provider: one per deploy). @default the workload's name */
  readonly namespace?: string;
  /**
   * The Service's type: a LoadBalancer served by the AWS Load Balancer Controller, or a plain
   * ClusterIP (a laptop cluster has no load balancer), which carries no AWS annotations.
   * @default 'LoadBalancer'
   */
  readonly serviceType?: 'LoadBalancer' | 'ClusterIP';
}

/** The objects of one app, in the order they are applied. */
export interface AppManifests {
  readonly namespace: V1Namespace;
  readonly deployment: V1Deployment;
  readonly service: V1Service;
}

/** The selector of the app's pods (stable across versions). */
export function podSelector(workload: Pick<WorkloadSpec, 'name'>): Record<string, string> {
  return { [LABEL_NAME]: workload.name };
}

/** The image of a container: the app's own repository through the registry, anything else as written. */
export function containerImage(c: ContainerImage, opts: Pick<RenderOptions, 'imageUri'>): string {
  return c.fromRegistry ? opts.imageUri(c.image) : `${c.image.repository}:${c.image.tag}`;
}

function probe(w: WorkloadSpec, initialDelaySeconds: number, periodSeconds: number): V1Probe {
  return {
    httpGet: { path: w.service.healthCheckPath, port: w.service.targetPort },
    initialDelaySeconds,
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  };
}

function container(w: WorkloadSpec, c: WorkloadContainer, opts: RenderOptions, withProbes: boolean): V1Container {
  const out: V1Container = {
    name: c.name,
    image: containerImage(c, opts),
    ...(c.command ? { command: [...c.command] } : {}),
    ...(c.args ? { args: [...c.args] } : {}),
    ...(c.ports.length
      ? { ports: c.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: 'TCP' })) }
      : {}),
    ...(Object.keys(c.env).length ? { env: Object.entries(c.env).map(([name, value]) => ({ name, value })) } : {}),
    resources: {
      requests: { cpu: c.resources.cpu, memory: c.resources.memory },
      limits: { cpu: c.resources.cpuLimit, memory: c.resources.memoryLimit },
    },
  };
  if (withProbes) {
    // Readiness gates traffic; liveness only restarts a container that stopped answering for a while.
    out.readinessProbe = probe(w, 5, 10);
    out.livenessProbe = probe(w, 15, 20);
  }
  return out;
}

/** Renders the workload at its version. */
export function renderManifests(w: WorkloadSpec, opts: RenderOptions): AppManifests {
  const ns = opts.namespace ?? w.name;
  const owned = { [LABEL_NAME]: w.name, [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: opts.installation };
  // The pod template keeps its labels as they were: a new label there would restart every pod once.
  const podLabels = { [LABEL_NAME]: w.name, [LABEL_MANAGED_BY]: MANAGER, [LABEL_VERSION]: w.version };
  const firstApp = w.containers.find((c) => c.role === 'app');

  const namespace: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns, labels: owned },
  };

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace: ns, labels: { ...owned, [LABEL_VERSION]: w.version } },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: podSelector(w) },
      // New pods must be ready before old ones go: capacity never drops during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 600,
      revisionHistoryLimit: 5,
      template: {
        metadata: { labels: podLabels },
        spec: {
          containers: w.containers.map((c) => container(w, c, opts, c === firstApp)),
          ...(w.arch ? { nodeSelector: { 'kubernetes.io/arch': w.arch } } : {}),
          terminationGracePeriodSeconds: 30,
        },
      },
    },
  };

  const serviceLabels = owned;
  const ports = [{ name: 'http', port: w.service.port, targetPort: w.service.targetPort, protocol: 'TCP' }];
  const service: V1Service =
    opts.serviceType === 'ClusterIP'
      ? {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: w.name, namespace: ns, labels: serviceLabels },
          spec: { type: 'ClusterIP', selector: podSelector(w), ports },
        }
      : {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: w.name,
            namespace: ns,
            labels: serviceLabels,
            annotations: {
              // Served by the AWS Load Balancer Controller: an NLB straight to the pod IPs (works on Fargate too).
              'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
              'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
              'service.beta.kubernetes.io/aws-load-balancer-scheme': w.service.loadBalancer === 'external' ? 'internet-facing' : 'internal',
              'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'http',
              'service.beta.kubernetes.io/aws-load-balancer-healthcheck-path': w.service.healthCheckPath,
              'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port': String(w.service.targetPort),
            },
          },
          spec: { type: 'LoadBalancer', selector: podSelector(w), ports },
        };

  return { namespace, deployment, service };
}
