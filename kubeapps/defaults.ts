/**
 * Shared defaults for every KubeApp.
 *
 * Defaults are applied field by field in `define.ts` (`props.x ?? DEFAULTS.x`),
 * never by a deep merge, so what a KubeApp gets is readable from this file.
 * Nothing here reads the environment: what differs between installations
 * (network, roles, hosted zone, registry) is the aws provider's configuration,
 * validated at start (`deployer/aws/settings.ts`).
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
  /** Hosted zone. @default DEFAULTS.dnsZone ('example.com') */
  readonly zone?: string;
  /** Record name (fully qualified). @default `<app>.<zone>` */
  readonly name?: string;
  /** @default 60 */
  readonly ttlSeconds?: number;
}

/**
 * Per-app AWS settings. Placement an app leaves unset (region, network, roles,
 * hosted zone, registry, CodeBuild project, build command) is the aws
 * provider's: its settings, validated at start (`deployer/aws/settings.ts`).
 */
export interface AwsProps {
  /** @default the aws provider's region (AWS_REGION); DEFAULTS.aws.region ('us-east-1') elsewhere */
  readonly region?: string;
  /** @default the provider's KUBECONTROL_SUBNET_IDS */
  readonly subnetIds?: readonly string[];
  /** @default the provider's KUBECONTROL_SECURITY_GROUP_IDS */
  readonly securityGroupIds?: readonly string[];
  /** @default the provider's KUBECONTROL_CLUSTER_ROLE_ARN */
  readonly clusterRoleArn?: string;
  /** @default the provider's KUBECONTROL_NODE_ROLE_ARN */
  readonly nodeRoleArn?: string;
  /** Fargate pod execution role, needed for `capacity: 'fargate'`. @default the provider's KUBECONTROL_POD_EXECUTION_ROLE_ARN */
  readonly podExecutionRoleArn?: string;
  /** @default DEFAULTS.aws.kubernetesVersion */
  readonly kubernetesVersion?: string;
  /** Route 53 hosted zone id of `dns.zone`. @default the provider's KUBECONTROL_HOSTED_ZONE_ID */
  readonly hostedZoneId?: string;
  /** ECR registry host, `<account>.dkr.ecr.<region>.amazonaws.com`. @default the provider's KUBECONTROL_ECR_REGISTRY */
  readonly ecrRegistry?: string;
  /** CodeBuild project that builds this app's image (builder 'codebuild'). @default the provider's KUBECONTROL_CODEBUILD_PROJECT */
  readonly codeBuildProject?: string;
  /**
   * Argument vector run on the kubecontrol host (builder 'command'); `{version}`, `{image}` are substituted.
   * @default the provider's KUBECONTROL_BUILD_COMMAND
   */
  readonly buildCommand?: readonly string[];
  /**
   * @default 'codebuild' when the app sets a project, else 'command' when it sets a command;
   * otherwise the provider's: 'codebuild' with KUBECONTROL_CODEBUILD_PROJECT, else 'command'
   * with KUBECONTROL_BUILD_COMMAND, else none
   */
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
  /** The zone of every app's record unless it names its own `dns.zone` or `dns.name`. */
  dnsZone: 'example.com',
  dnsTtlSeconds: 60,
  /** AWS values that are the KubeApp's own, not the account's (those are the aws provider's settings). */
  aws: {
    /** Where an app runs outside the aws provider (sandbox, plans); the aws provider uses its own region for apps that name none. */
    region: 'us-east-1',
    kubernetesVersion: '1.31',
    createRepository: true,
  },
  strategy: 'blue-green' as const,
  approvalTimeoutMinutes: 30,
  allowSelfApproval: false,
  channel: '#deploys',
  refreshTimezone: 'UTC',
};
