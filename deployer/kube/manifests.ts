/**
 * Renders a workload (deployer/specs.ts `workloadSpec`) into the Kubernetes
 * objects kubecontrol applies: the app's Namespace, its ServiceAccount, its
 * Deployment (app containers at the deployed version, the app's sidecars at
 * their fixed tags), a PodDisruptionBudget and a Service — a LoadBalancer of
 * the EKS Auto Mode class (an NLB straight to the pod IPs), or a ClusterIP when
 * asked. Plain typed objects, no I/O: snapshot-tested next to targeted asserts
 * and validated against the Kubernetes OpenAPI schemas.
 *
 * Pod Security: every container runs "restricted" (non-root, no privilege
 * escalation, all capabilities dropped, seccomp RuntimeDefault) unless the app
 * names why one cannot (`unrestricted`); the namespace enforces "restricted"
 * when no container opts out, and only warns otherwise.
 */
import type {
  V1Container,
  V1Deployment,
  V1Namespace,
  V1PodDisruptionBudget,
  V1Probe,
  V1SecurityContext,
  V1Service,
  V1ServiceAccount,
  V1Volume,
} from '@kubernetes/client-node';
import { SECRETS_INIT_CONTAINER } from '../../kubeapps/defaults.js';
import type { ContainerImage, ImageRef, WorkloadContainer, WorkloadSpec } from '../ports.js';
import { LABEL_INSTALLATION } from './installation.js';

export { LABEL_INSTALLATION } from './installation.js';

/** The recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** The version as a label: set only when the version is a valid label value (see `versionMetadata`). */
export const LABEL_VERSION = 'app.kubernetes.io/version';
/** The version as an annotation: always set, and what readers use (`versionOf`). */
export const ANNOTATION_VERSION = 'kubecontrol/version';
/** The label that carried the version before it moved to the annotation (still read by `versionOf`). */
export const LEGACY_LABEL_VERSION = 'kubecontrol/version';
export const MANAGER = 'kubecontrol';

/** The class of EKS Auto Mode's load-balancing controller: it makes an NLB for such a Service. */
export const LOAD_BALANCER_CLASS = 'eks.amazonaws.com/nlb';
/** Seconds the NLB keeps sending to a deregistered target (target group attribute). */
export const DEREGISTRATION_DELAY_SECONDS = 30;
/**
 * Seconds a stopping container keeps serving (preStop sleep): the load balancer and
 * kube-proxy take a while to stop sending it new connections.
 */
export const PRESTOP_SLEEP_SECONDS = 20;
/** Longer than the preStop sleep plus the deregistration delay, so a pod is never killed mid-drain. */
export const TERMINATION_GRACE_SECONDS = 60;
/** Where the app's secrets are, one file each (a memory-backed volume). */
export const SECRETS_DIR = '/var/run/secrets/kubecontrol';
/** The AWS CLI image that fetches the secrets (a pinned tag: an init container must not change under a running app). */
export const SECRETS_FETCHER_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.17.0';
/** A non-root user for the secrets fetcher (the AWS CLI image runs as root) and the group that lets app containers read its files. */
const SECRETS_UID = 65532;
const SECRETS_VOLUME = 'kubecontrol-secrets';

const ANNOTATION = 'service.beta.kubernetes.io/aws-load-balancer-';

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
   * The Service's type: a LoadBalancer served by EKS Auto Mode's load balancing (class
   * `eks.amazonaws.com/nlb`), or a plain ClusterIP (a laptop cluster has no load
   * balancer), which carries no AWS annotations.
   * @default 'LoadBalancer'
   */
  readonly serviceType?: 'LoadBalancer' | 'ClusterIP';
  /**
   * Tags the load-balancing controller puts on the NLB, its target group and security
   * group (kubecontrol:app, :deploy, :installation, :managed-by), so teardown and `gc`
   * find them. @default kubecontrol:app, kubecontrol:installation and kubecontrol:managed-by
   */
  readonly loadBalancerTags?: Readonly<Record<string, string>>;
  /**
   * The AWS region the secrets are read in (the cluster's). A secret named by ARN is
   * read in its ARN's region. @default none: the pod's environment decides
   */
  readonly region?: string;
}

/** The objects of one app, in the order they are applied. */
export interface AppManifests {
  readonly namespace: V1Namespace;
  readonly serviceAccount: V1ServiceAccount;
  readonly deployment: V1Deployment;
  readonly service: V1Service;
  readonly podDisruptionBudget: V1PodDisruptionBudget;
}

/** The selector of the app's pods (stable across versions: a Deployment's selector is immutable). */
export function podSelector(workload: Pick<WorkloadSpec, 'name'>): Record<string, string> {
  return { [LABEL_NAME]: workload.name };
}

/** Kubernetes' rule for label values: at most 63, alphanumerics at both ends, `-_.` inside. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value);
}

/**
 * The version's metadata: the annotation always, the label only when the version
 * is a valid label value (an image tag may be 128 characters or end in `-._`,
 * which a label may not). For a Deployment and its pod template.
 */
export function versionMetadata(version: string): { labels: Record<string, string>; annotations: Record<string, string> } {
  return { labels: isLabelValue(version) ? { [LABEL_VERSION]: version } : {}, annotations: { [ANNOTATION_VERSION]: version } };
}

/** The version a Deployment (or a pod) runs, from its annotation (older objects: from their label). */
export function versionOf(d: { metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> } }): string | undefined {
  return d.metadata?.annotations?.[ANNOTATION_VERSION] ?? d.metadata?.labels?.[LEGACY_LABEL_VERSION] ?? d.metadata?.labels?.[LABEL_VERSION];
}

/** The image of a container: the app's own repository through the registry, anything else as written. */
export function containerImage(c: ContainerImage, opts: Pick<RenderOptions, 'imageUri'>): string {
  return c.fromRegistry ? opts.imageUri(c.image) : `${c.image.repository}:${c.image.tag}`;
}

/** Pod Security "restricted" for one container (the pod adds seccomp for all). */
export const RESTRICTED: V1SecurityContext = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function httpProbe(w: WorkloadSpec, p: Omit<V1Probe, 'httpGet'>): V1Probe {
  return { httpGet: { path: w.service.healthCheckPath, port: w.service.targetPort }, timeoutSeconds: 2, ...p };
}

/**
 * Three probes with three jobs: startup gives a slow start up to 5 minutes without
 * liveness killing it; readiness gates traffic (and the NLB's targets follow the pod's
 * readiness); liveness only restarts a container that stopped answering for a minute.
 */
function probes(w: WorkloadSpec): Pick<V1Container, 'startupProbe' | 'readinessProbe' | 'livenessProbe'> {
  return {
    startupProbe: httpProbe(w, { periodSeconds: 5, failureThreshold: 60 }),
    readinessProbe: httpProbe(w, { periodSeconds: 10, failureThreshold: 3 }),
    livenessProbe: httpProbe(w, { periodSeconds: 20, failureThreshold: 3 }),
  };
}

function container(w: WorkloadSpec, c: WorkloadContainer, opts: RenderOptions, withProbes: boolean): V1Container {
  const mountSecrets = c.role === 'app' && !!w.secrets?.length;
  return {
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
    ...(withProbes ? probes(w) : {}),
    // Keeps serving while the load balancer stops sending: the kubelet sleeps, no binary in the image needed.
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    ...(mountSecrets ? { volumeMounts: [{ name: SECRETS_VOLUME, mountPath: SECRETS_DIR, readOnly: true }] } : {}),
    // An opted-out container gets no context of its own (the pod's seccomp still applies).
    ...(c.unrestricted ? {} : { securityContext: RESTRICTED }),
  };
}

/** The region a secret is read in: its ARN's, else the cluster's. */
function secretRegion(secretId: string, region: string | undefined): string | undefined {
  return /^arn:aws[\w-]*:secretsmanager:([^:]+):/.exec(secretId)?.[1] ?? region;
}

/**
 * The init container that writes each secret to the memory volume with the pod's
 * role (EKS Pod Identity). Names and ids are positional arguments, never spliced
 * into the script; values go from the AWS CLI to the file, never to a log.
 */
function secretsFetcher(secrets: NonNullable<WorkloadSpec['secrets']>, opts: RenderOptions): V1Container {
  const script = [
    'umask 027',
    'while [ "$#" -gt 0 ]; do',
    `  value=$(aws secretsmanager get-secret-value --secret-id "$2" \${3:+--region "$3"} --query SecretString --output text)`,
    `  printf '%s' "$value" > "${SECRETS_DIR}/$1"`,
    '  shift 3',
    'done',
  ].join('\n');
  return {
    name: SECRETS_INIT_CONTAINER,
    image: SECRETS_FETCHER_IMAGE,
    command: ['/bin/sh', '-ec', script, SECRETS_INIT_CONTAINER],
    args: secrets.flatMap((s) => [s.name, s.secretId, secretRegion(s.secretId, opts.region) ?? '']),
    env: [
      { name: 'HOME', value: '/tmp' },
      { name: 'AWS_PAGER', value: '' },
      ...(opts.region ? [{ name: 'AWS_REGION', value: opts.region }] : []),
    ],
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    volumeMounts: [{ name: SECRETS_VOLUME, mountPath: SECRETS_DIR }],
    securityContext: { ...RESTRICTED, runAsUser: SECRETS_UID, runAsGroup: SECRETS_UID },
  };
}

/** The load balancer's tags as the controller's annotation wants them: `k=v,k=v`. */
function tagList(w: WorkloadSpec, opts: RenderOptions): string {
  const tags = {
    'kubecontrol:app': w.name,
    'kubecontrol:installation': opts.installation,
    'kubecontrol:managed-by': MANAGER,
    ...opts.loadBalancerTags,
  };
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Renders the workload at its version. */
export function renderManifests(w: WorkloadSpec, opts: RenderOptions): AppManifests {
  const ns = opts.namespace ?? w.name;
  const owned = { [LABEL_NAME]: w.name, [LABEL_INSTANCE]: ns, [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: opts.installation };
  const version = versionMetadata(w.version);
  // The pod template's labels change only with the version: a new label there would restart every pod once.
  // It does not carry the installation for the same reason.
  const podLabels = { [LABEL_NAME]: w.name, [LABEL_INSTANCE]: ns, [LABEL_MANAGED_BY]: MANAGER, ...version.labels };
  const firstApp = w.containers.find((c) => c.role === 'app');
  const secrets = w.secrets ?? [];
  const allRestricted = w.containers.every((c) => !c.unrestricted);

  const namespace: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: ns,
      labels: {
        ...owned,
        // Enforced when every container runs restricted; an app that opts a container out is only warned about.
        ...(allRestricted ? { 'pod-security.kubernetes.io/enforce': 'restricted' } : {}),
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  };

  // Named after the app: EKS Pod Identity attaches the app's role to it (ClusterSpec.podIdentity).
  const serviceAccount: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: w.name, namespace: ns, labels: owned },
  };

  const volumes: V1Volume[] = secrets.length
    ? // In memory, never on a node's disk; 64 KiB per secret is Secrets Manager's own maximum.
      [{ name: SECRETS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: `${Math.ceil((secrets.length * 64) / 1024)}Mi` } }]
    : [];

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace: ns, labels: { ...owned, ...version.labels }, annotations: version.annotations },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: podSelector(w) },
      // New pods must be ready before old ones go: capacity never drops during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 600,
      revisionHistoryLimit: 5,
      template: {
        metadata: { labels: podLabels, annotations: version.annotations },
        spec: {
          serviceAccountName: w.name,
          securityContext: {
            seccompProfile: { type: 'RuntimeDefault' },
            // The secrets fetcher's files are group-readable by the app's containers, whatever user they run as.
            ...(secrets.length ? { fsGroup: SECRETS_UID } : {}),
          },
          ...(secrets.length ? { initContainers: [secretsFetcher(secrets, opts)] } : {}),
          containers: w.containers.map((c) => container(w, c, opts, c === firstApp)),
          ...(volumes.length ? { volumes } : {}),
          ...(w.arch ? { nodeSelector: { 'kubernetes.io/arch': w.arch } } : {}),
          // Spread over zones when it can; never left Pending for it (a zone may have no capacity).
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: podSelector(w) },
              // Spread each rollout's pods on their own, not counting the old ones about to go.
              matchLabelKeys: ['pod-template-hash'],
            },
          ],
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
        },
      },
    },
  };

  // Voluntary disruptions (node drains, Auto Mode consolidation) take one pod at a time;
  // an unhealthy pod never blocks a drain.
  const podDisruptionBudget: V1PodDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: w.name, namespace: ns, labels: owned },
    spec: { maxUnavailable: 1, selector: { matchLabels: podSelector(w) }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  };

  const tls = opts.serviceType !== 'ClusterIP' && !!w.service.certificateArn;
  const ports = [{ name: tls ? 'https' : 'http', port: w.service.port, targetPort: w.service.targetPort, protocol: 'TCP' }];
  const service: V1Service =
    opts.serviceType === 'ClusterIP'
      ? {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: w.name, namespace: ns, labels: owned },
          spec: { type: 'ClusterIP', selector: podSelector(w), ports },
        }
      : {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: w.name,
            namespace: ns,
            labels: owned,
            annotations: {
              [`${ANNOTATION}scheme`]: w.service.loadBalancer === 'external' ? 'internet-facing' : 'internal',
              // Straight to the pod IPs (works on Fargate too); the NLB health-checks the pods' own health path.
              [`${ANNOTATION}nlb-target-type`]: 'ip',
              [`${ANNOTATION}healthcheck-protocol`]: 'http',
              [`${ANNOTATION}healthcheck-path`]: w.service.healthCheckPath,
              [`${ANNOTATION}healthcheck-port`]: String(w.service.targetPort),
              [`${ANNOTATION}target-group-attributes`]: `deregistration_delay.timeout_seconds=${DEREGISTRATION_DELAY_SECONDS}`,
              [`${ANNOTATION}additional-resource-tags`]: tagList(w, opts),
              // TLS ends at the NLB on the Service's port; the pods speak plain HTTP on the target port.
              ...(tls ? { [`${ANNOTATION}ssl-cert`]: w.service.certificateArn!, [`${ANNOTATION}ssl-ports`]: String(w.service.port) } : {}),
            },
          },
          spec: { type: 'LoadBalancer', loadBalancerClass: LOAD_BALANCER_CLASS, selector: podSelector(w), ports },
        };

  return { namespace, serviceAccount, deployment, service, podDisruptionBudget };
}
