/**
 * Shared defaults for every KubeApp, and the account-level settings that
 * installations override through environment variables.
 *
 * Defaults are applied field by field in `define.ts` (`props.x ?? DEFAULTS.x`),
 * never by a deep merge, so what a KubeApp gets is readable from this file.
 */

/** A container as the KubeApp author writes it. */
export interface ContainerProps {
  /** Container name, a DNS label. */
  readonly name: string;
  /**
   * Image without tag. The app's own containers default to the app's image
   * repository and get the deployed version as their tag.
   * @default the app's `image.repository`
   */
  readonly image?: string;
  /** Fixed tag for images that are not the app's own (sidecars). @default the deployed version */
  readonly tag?: string;
  /** @default [] */
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  /** Plain environment variables. Never put secrets here: they are shown in plans and events. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** @default DEFAULT_RESOURCES */
  readonly resources?: ResourceProps;
  /** @default the image's entrypoint */
  readonly command?: readonly string[];
  /** @default the image's arguments */
  readonly args?: readonly string[];
}

/** CPU and memory requests and limits, in Kubernetes quantities. */
export interface ResourceProps {
  readonly cpu: string;
  readonly memory: string;
  /** @default same as the request */
  readonly cpuLimit?: string;
  /** @default same as the request */
  readonly memoryLimit?: string;
}

/** Where pods run and on what. */
export interface HardwareProps {
  /** EC2 instance types for the managed node group. @default ['m6i.large'] (amd64) or ['m7g.large'] (arm64) */
  readonly instanceTypes?: readonly string[];
  /** @default 2 */
  readonly minNodes?: number;
  /** @default 6 */
  readonly maxNodes?: number;
  /** @default minNodes */
  readonly desiredNodes?: number;
  /** Spot capacity for the node group. @default false */
  readonly spot?: boolean;
  /** @default 'amd64' */
  readonly arch?: 'amd64' | 'arm64';
  /** Managed nodes or a Fargate profile. @default 'nodes' */
  readonly capacity?: 'nodes' | 'fargate';
}

/** The pods of the app's Deployment. */
export interface PodProps {
  /** The app's own containers; at least one. */
  readonly containers: readonly ContainerProps[];
  /** @default 2 */
  readonly replicas?: number;
  /**
   * Default sidecars. `false` removes one; a ContainerProps replaces it.
   * @default { metrics: METRICS_SIDECAR, logging: LOGGING_SIDECAR }
   */
  readonly sidecars?: {
    readonly metrics?: ContainerProps | false;
    readonly logging?: ContainerProps | false;
  };
}

/** The Kubernetes Service in front of the pods. */
export interface ServiceProps {
  /** @default 80 */
  readonly port?: number;
  /** @default the first container port of the first container, else 8080 */
  readonly targetPort?: number;
  /** @default 'internal' */
  readonly loadBalancer?: 'internal' | 'external';
  /** @default '/healthz' */
  readonly healthCheckPath?: string;
}

/** The DNS record that carries the app's traffic. */
export interface DnsProps {
  /** Hosted zone. @default ACCOUNT.dnsZone */
  readonly zone?: string;
  /** Record name (fully qualified). @default `<app>.<zone>` */
  readonly name?: string;
  /** @default 60 */
  readonly ttlSeconds?: number;
}

/** Account-level AWS settings, overridable per app. */
export interface AwsProps {
  readonly region?: string;
  readonly subnetIds?: readonly string[];
  readonly securityGroupIds?: readonly string[];
  readonly clusterRoleArn?: string;
  readonly nodeRoleArn?: string;
  /** Fargate pod execution role, needed for `capacity: 'fargate'`. */
  readonly podExecutionRoleArn?: string;
  readonly kubernetesVersion?: string;
  /** Route 53 hosted zone id of `dns.zone`. */
  readonly hostedZoneId?: string;
  /** ECR registry host, `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly ecrRegistry?: string;
  /** CodeBuild project that builds this app's image (builder 'codebuild'). */
  readonly codeBuildProject?: string;
  /** Argument vector run on the kubecontrol host (builder 'command'); `{version}`, `{image}` are substituted. */
  readonly buildCommand?: readonly string[];
  /** @default 'codebuild' when a project is set, else 'command' when a command is set, else none */
  readonly builder?: 'codebuild' | 'command' | 'none';
  /** Create the ECR repository (scan on push, immutable tags) if missing. @default true */
  readonly createRepository?: boolean;
}

/** A nightly (or any cron) refresh of the running version. */
export interface RefreshProps {
  /** Cron expression (node-cron syntax), e.g. '0 3 * * *'. */
  readonly schedule: string;
  /** Slack channel that hears about it. @default the app's channel */
  readonly channel?: string;
  /** IANA time zone. @default 'UTC' */
  readonly timezone?: string;
}

const env = process.env;

/** Splits a comma-separated environment variable into a list, ignoring blanks. */
function list(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/**
 * Account-level settings: what differs between installations comes from the
 * environment, read once here. Per-app `aws` props override these.
 */
export const ACCOUNT = {
  dnsZone: env.KUBECONTROL_DNS_ZONE ?? 'example.com',
  aws: {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    subnetIds: list(env.KUBECONTROL_SUBNET_IDS) ?? [],
    securityGroupIds: list(env.KUBECONTROL_SECURITY_GROUP_IDS) ?? [],
    clusterRoleArn: env.KUBECONTROL_CLUSTER_ROLE_ARN ?? '',
    nodeRoleArn: env.KUBECONTROL_NODE_ROLE_ARN ?? '',
    podExecutionRoleArn: env.KUBECONTROL_POD_EXECUTION_ROLE_ARN ?? '',
    kubernetesVersion: env.KUBECONTROL_KUBERNETES_VERSION ?? '1.31',
    hostedZoneId: env.KUBECONTROL_HOSTED_ZONE_ID ?? '',
    ecrRegistry: env.KUBECONTROL_ECR_REGISTRY ?? '',
    codeBuildProject: env.KUBECONTROL_CODEBUILD_PROJECT ?? '',
    buildCommand: list(env.KUBECONTROL_BUILD_COMMAND) ?? [],
    builder: undefined as AwsProps['builder'],
    createRepository: true,
  },
} as const;

/** Requests for the app's own containers when a container names none. */
export const DEFAULT_RESOURCES: ResourceProps = { cpu: '250m', memory: '256Mi' };

/** Metrics sidecar added to every pod unless removed or replaced. */
export const METRICS_SIDECAR: ContainerProps = {
  name: 'metrics',
  image: 'public.ecr.aws/aws-observability/aws-otel-collector',
  tag: 'v0.40.0',
  ports: [{ name: 'metrics', containerPort: 9464 }],
  resources: { cpu: '50m', memory: '64Mi' },
};

/** Logging sidecar added to every pod unless removed or replaced. */
export const LOGGING_SIDECAR: ContainerProps = {
  name: 'logging',
  image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit',
  tag: '2.32.2',
  resources: { cpu: '50m', memory: '64Mi' },
};

/** Built-in defaults for the rest of a KubeApp. */
export const DEFAULTS = {
  hardware: {
    instanceTypes: { amd64: ['m6i.large'], arm64: ['m7g.large'] },
    minNodes: 2,
    maxNodes: 6,
    spot: false,
    arch: 'amd64' as const,
    capacity: 'nodes' as const,
  },
  replicas: 2,
  service: { port: 80, fallbackTargetPort: 8080, loadBalancer: 'internal' as const, healthCheckPath: '/healthz' },
  dnsTtlSeconds: 60,
  strategy: 'blue-green' as const,
  approvalTimeoutMinutes: 30,
  allowSelfApproval: false,
  channel: '#deploys',
  refreshTimezone: 'UTC',
};
