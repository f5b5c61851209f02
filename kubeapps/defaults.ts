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
  /**
   * Why this container cannot run under Pod Security "restricted" (runAsNonRoot, no
   * privilege escalation, all capabilities dropped, seccomp RuntimeDefault), e.g.
   * 'binds port 80 as root'. Unset: restricted. The reason is named in plans.
   * @default restricted
   */
  readonly unrestricted?: string;
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
  /**
   * EC2 instance types the app's nodes may be (Auto Mode NodePool or managed node group).
   * @default ['m6i.large'] (amd64) or ['m7g.large'] (arm64)
   */
  readonly instanceTypes?: readonly string[];
  /**
   * Node group minimum. Auto Mode keeps no minimum (the pods decide how many nodes run);
   * there it is only shown in plans. @default 2
   */
  readonly minNodes?: number;
  /** Never more nodes than this (Auto Mode: the NodePool's node and vCPU limits). @default 6 */
  readonly maxNodes?: number;
  /** Node group only (`capacity: 'nodes'`). @default minNodes */
  readonly desiredNodes?: number;
  /** Spot capacity rather than on-demand. @default false */
  readonly spot?: boolean;
  /** @default 'amd64' */
  readonly arch?: 'amd64' | 'arm64';
  /**
   * What the pods run on: 'auto', EKS Auto Mode nodes chosen to this hardware (a NodePool);
   * 'nodes', a managed node group (an Auto Scaling group); 'fargate', a Fargate profile.
   * @default 'auto'
   */
  readonly capacity?: 'auto' | 'nodes' | 'fargate';
}

/** The pods of the app's Deployment. */
export interface PodProps {
  /** The app's own containers; at least one. */
  readonly containers: readonly ContainerProps[];
  /** @default 2 */
  readonly replicas?: number;
  /**
   * The app's own sidecars (each names its `image`). There are no default sidecars:
   * metrics and logs are node-level (the CloudWatch Observability add-on, the Fargate
   * log router), so no agent of kubecontrol's can break a rollout.
   * @default []
   */
  readonly sidecars?: readonly ContainerProps[];
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
  /**
   * ACM certificate ARN: TLS terminated at the load balancer on `port` (the pods keep
   * speaking plain HTTP on `targetPort`). Unset: plain TCP.
   * @default none
   */
  readonly certificateArn?: string;
}

/** An AWS Secrets Manager secret the app's containers read as a file. */
export interface SecretProps {
  /** The file name: `/var/run/secrets/kubecontrol/<name>` (a DNS label). */
  readonly name: string;
  /** The secret's name or ARN in Secrets Manager; read inside the pod with the pod's role (`aws.podRoleArn`). */
  readonly secretId: string;
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
  /** Fargate subnets (private ones only: Fargate refuses public subnets). @default the provider's KUBECONTROL_FARGATE_SUBNET_IDS */
  readonly fargateSubnetIds?: readonly string[];
  /**
   * Kubernetes minor version, e.g. '1.34'. Checked at start against what EKS can create.
   * @default the newest version in standard support (asked of EKS at start)
   */
  readonly kubernetesVersion?: string;
  /**
   * What happens when the version leaves standard support: 'STANDARD' (EKS upgrades the
   * cluster, never billed for extended support) or 'EXTENDED' (kept, at the extended rate).
   * @default 'STANDARD'
   */
  readonly supportType?: 'STANDARD' | 'EXTENDED';
  /**
   * IAM role the app's pods use (EKS Pod Identity on the app's ServiceAccount, set up on
   * every new cluster); it also reads the app's `secrets`. Not on Fargate: EKS Pod Identity
   * serves pods on EC2 nodes only. @default none (pods have no AWS identity)
   */
  readonly podRoleArn?: string;
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
  /** Cron expression (5 fields, or 6 with seconds first), e.g. '0 3 * * *'. */
  readonly schedule: string;
  /** Slack channel that hears about it. @default the app's channel */
  readonly channel?: string;
  /** IANA time zone. @default 'UTC' */
  readonly timezone?: string;
  /**
   * Whether a refresh may cut over without a person: 'when-healthy' — only when the new cluster
   * passes every health check, otherwise it waits for an approver like any deploy; 'never' — it
   * always waits for an approver. @default 'when-healthy'
   */
  readonly autoCutover?: RefreshCutover;
  /**
   * A run missed while kubecontrol was down still runs, once, when kubecontrol is back within this
   * many minutes of it; 0 skips it. The refresh channel is told either way. @default 0
   */
  readonly catchUpMinutes?: number;
}

/** Whether a scheduled refresh may move traffic without a person (`RefreshProps.autoCutover`). */
export const REFRESH_CUTOVERS = ['when-healthy', 'never'] as const;
export type RefreshCutover = (typeof REFRESH_CUTOVERS)[number];

/** Requests for the app's own containers when a container names none. */
export const DEFAULT_RESOURCES: ResourceProps = { cpu: '250m', memory: '256Mi' };

/** The init container that fetches an app's secrets into its pods (deployer/kube/manifests.ts): no container of the app may take its name. */
export const SECRETS_INIT_CONTAINER = 'fetch-secrets';

/** Built-in defaults for the rest of a KubeApp. */
export const DEFAULTS = {
  hardware: {
    instanceTypes: { amd64: ['m6i.large'], arm64: ['m7g.large'] },
    minNodes: 2,
    maxNodes: 6,
    spot: false,
    arch: 'amd64' as const,
    capacity: 'auto' as const,
  },
  replicas: 2,
  service: { port: 80, fallbackTargetPort: 8080, loadBalancer: 'internal' as const, healthCheckPath: '/healthz' },
  /** The zone of every app's record unless it names its own `dns.zone` or `dns.name`. */
  dnsZone: 'example.com',
  dnsTtlSeconds: 60,
  /** AWS values that are the KubeApp's own, not the account's (those are the aws provider's settings). */
  /** No `kubernetesVersion`: unset means the newest in standard support, which only the provider can know. */
  aws: {
    /** Where an app runs outside the aws provider (sandbox, plans); the aws provider uses its own region for apps that name none. */
    region: 'us-east-1',
    supportType: 'STANDARD' as const,
    createRepository: true,
  },
  strategy: 'blue-green' as const,
  approvalTimeoutMinutes: 30,
  allowSelfApproval: false,
  /** Only owners `scale` and `restart` the live app unless it says 'owners-and-deployers'. */
  operators: 'owners' as 'owners' | 'owners-and-deployers',
  channel: '#deploys',
  refreshTimezone: 'UTC',
  refreshAutoCutover: 'when-healthy' as RefreshCutover,
  refreshCatchUpMinutes: 0,
};
