/**
 * The aws provider's configuration: where an installation's clusters go and
 * what they run as. Read once at start from the environment the composition
 * root passes in (never `process.env` here), validated with zod, one line per
 * problem naming the variable and the value. Required only when
 * KUBECONTROL_PROVIDER=aws: nothing else calls `loadAwsSettings`.
 */
import { z } from 'zod';

/** The validated account-level placement of the aws provider. A KubeApp's own `aws` fields override each. */
export interface AwsSettings {
  /** AWS_REGION (or AWS_DEFAULT_REGION): where apps that name no region run, and where `gc` looks first. */
  readonly region: string;
  /** KUBECONTROL_SUBNET_IDS: at least two, in different availability zones (EKS needs two). */
  readonly subnetIds: readonly string[];
  /** KUBECONTROL_SECURITY_GROUP_IDS: extra security groups for the cluster's network interfaces. @default [] */
  readonly securityGroupIds: readonly string[];
  /** KUBECONTROL_CLUSTER_ROLE_ARN: the IAM role EKS clusters run as. */
  readonly clusterRoleArn: string;
  /** KUBECONTROL_NODE_ROLE_ARN: the IAM role of managed nodes. */
  readonly nodeRoleArn: string;
  /** KUBECONTROL_POD_EXECUTION_ROLE_ARN: needed by apps on Fargate only. @default none */
  readonly podExecutionRoleArn?: string;
  /**
   * KUBECONTROL_FARGATE_SUBNET_IDS: the private subnets of Fargate profiles (Fargate refuses
   * subnets with a route to an internet gateway). Needed by apps on Fargate only. @default []
   */
  readonly fargateSubnetIds: readonly string[];
  /**
   * KUBECONTROL_ACCESS_ROLE_ARN: a stable IAM role kubecontrol assumes to reach each cluster's
   * Kubernetes API; every cluster gets an access entry (cluster admin) for it, so access
   * survives a change of the identity kubecontrol runs as. @default none (the creator's access only)
   */
  readonly accessRoleArn?: string;
  /**
   * KUBECONTROL_OBSERVABILITY_ROLE_ARN: the role of the node-level observability agent. Set, every new
   * cluster gets the Amazon CloudWatch Observability add-on (Container Insights and container logs;
   * Auto Mode and node-group clusters, the agent running as this role through EKS Pod Identity) or the
   * Fargate log router's configuration (Fargate clusters; logs go out as the pod execution role).
   * @default none (no agent: container logs stay on the nodes)
   */
  readonly observabilityRoleArn?: string;
  /** KUBECONTROL_HOSTED_ZONE_ID: the Route 53 zone of the apps' records, without the `/hostedzone/` prefix. */
  readonly hostedZoneId: string;
  /** KUBECONTROL_ECR_REGISTRY: `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly ecrRegistry: string;
  /** KUBECONTROL_CODEBUILD_PROJECT: builds apps that name no builder of their own. @default none */
  readonly codeBuildProject?: string;
  /** KUBECONTROL_BUILD_COMMAND (comma-separated argument vector): the host build command of apps that name none. @default [] */
  readonly buildCommand: readonly string[];
  /** AWS_MAX_ATTEMPTS: attempts per SDK call, including the first. @default 8 */
  readonly maxAttempts: number;
  /** AWS_RETRY_MODE. @default 'adaptive' (client-side rate limiting after throttling) */
  readonly retryMode: 'standard' | 'adaptive';
}

/** What `loadAwsSettings` found: the settings, or every problem (one line each). */
export type AwsSettingsResult = { readonly ok: true; readonly settings: AwsSettings } | { readonly ok: false; readonly problems: readonly string[] };

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, the only registry host EKS nodes pull from with their role. */
export const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/;

/** Splits a comma-separated value into its items, ignoring blanks. */
const items = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const required = (what: string) => z.string({ error: `required for KUBECONTROL_PROVIDER=aws: ${what}` });
const roleArn = (what: string) => required(what).regex(ROLE_ARN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name');

const schema = z.object({
  AWS_REGION: required('the region new clusters go to, e.g. eu-west-1 (AWS_DEFAULT_REGION works too)').regex(REGION, 'must be an AWS region like eu-west-1'),
  KUBECONTROL_SUBNET_IDS: required('comma-separated subnet ids in at least two availability zones')
    .transform(items)
    .pipe(
      z
        .array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be comma-separated subnet ids like subnet-0a1b2c3d'))
        .refine((ids) => new Set(ids).size >= 2, 'needs at least two subnets in different zones'),
    ),
  KUBECONTROL_SECURITY_GROUP_IDS: z
    .string()
    .transform(items)
    .pipe(z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'must be comma-separated security group ids like sg-0123abcd')))
    .optional(),
  KUBECONTROL_CLUSTER_ROLE_ARN: roleArn('the IAM role EKS clusters run as'),
  KUBECONTROL_NODE_ROLE_ARN: roleArn('the IAM role of managed nodes'),
  KUBECONTROL_POD_EXECUTION_ROLE_ARN: z.string().regex(ROLE_ARN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name').optional(),
  KUBECONTROL_FARGATE_SUBNET_IDS: z
    .string()
    .transform(items)
    .pipe(z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be comma-separated private subnet ids like subnet-0a1b2c3d')))
    .optional(),
  KUBECONTROL_ACCESS_ROLE_ARN: z.string().regex(ROLE_ARN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name').optional(),
  KUBECONTROL_OBSERVABILITY_ROLE_ARN: z.string().regex(ROLE_ARN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name').optional(),
  KUBECONTROL_HOSTED_ZONE_ID: required("the Route 53 hosted zone id of the apps' DNS zone")
    .regex(/^(\/?hostedzone\/)?Z[0-9A-Z]{1,32}$/, 'must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ')
    .transform((v) => v.replace(/^\/?hostedzone\//, '')),
  KUBECONTROL_ECR_REGISTRY: required('the ECR registry host, <account>.dkr.ecr.<region>.amazonaws.com').regex(
    ECR_HOST,
    'must be an ECR registry host like 123456789012.dkr.ecr.eu-west-1.amazonaws.com (no scheme, no path)',
  ),
  KUBECONTROL_CODEBUILD_PROJECT: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$/, 'must be a CodeBuild project name').optional(),
  KUBECONTROL_BUILD_COMMAND: z.string().transform(items).optional(),
  AWS_MAX_ATTEMPTS: z.coerce.number({ error: 'must be a whole number of attempts' }).int('must be a whole number of attempts').min(1).max(20).optional(),
  AWS_RETRY_MODE: z.enum(['standard', 'adaptive'], { error: "must be 'standard' or 'adaptive'" }).optional(),
});

/** Variables kubecontrol read before they became KubeApp settings: set, they would be silently ignored. */
const RETIRED: Readonly<Record<string, string>> = {
  KUBECONTROL_DNS_ZONE: "no longer read: the DNS zone is a KubeApp setting (dns.zone, or DEFAULTS.dnsZone in kubeapps/defaults.ts)",
  KUBECONTROL_KUBERNETES_VERSION: 'no longer read: the Kubernetes version is a KubeApp setting (aws.kubernetesVersion; unset: the newest version EKS has in standard support)',
};

/**
 * Reads the aws provider's settings from `env`. Blank values count as unset;
 * AWS_REGION falls back to AWS_DEFAULT_REGION as the SDK does.
 */
export function loadAwsSettings(env: NodeJS.ProcessEnv): AwsSettingsResult {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) raw[key] = env[key]?.trim() || undefined;
  raw.AWS_REGION ??= env.AWS_DEFAULT_REGION?.trim() || undefined;

  const problems: string[] = [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      // One line per variable: the first thing wrong with it.
      if (seen.has(key)) continue;
      seen.add(key);
      const value = raw[key];
      problems.push(`${key}: ${issue.message}${value !== undefined ? ` (got: ${value})` : ''}`);
    }
  }
  for (const [key, why] of Object.entries(RETIRED)) {
    const value = env[key]?.trim();
    if (value) problems.push(`${key}: ${why} (got: ${value})`);
  }
  if (!parsed.success || problems.length) return { ok: false, problems };

  const e = parsed.data;
  return {
    ok: true,
    settings: {
      region: e.AWS_REGION,
      subnetIds: e.KUBECONTROL_SUBNET_IDS,
      securityGroupIds: e.KUBECONTROL_SECURITY_GROUP_IDS ?? [],
      clusterRoleArn: e.KUBECONTROL_CLUSTER_ROLE_ARN,
      nodeRoleArn: e.KUBECONTROL_NODE_ROLE_ARN,
      ...(e.KUBECONTROL_POD_EXECUTION_ROLE_ARN ? { podExecutionRoleArn: e.KUBECONTROL_POD_EXECUTION_ROLE_ARN } : {}),
      fargateSubnetIds: e.KUBECONTROL_FARGATE_SUBNET_IDS ?? [],
      ...(e.KUBECONTROL_ACCESS_ROLE_ARN ? { accessRoleArn: e.KUBECONTROL_ACCESS_ROLE_ARN } : {}),
      ...(e.KUBECONTROL_OBSERVABILITY_ROLE_ARN ? { observabilityRoleArn: e.KUBECONTROL_OBSERVABILITY_ROLE_ARN } : {}),
      hostedZoneId: e.KUBECONTROL_HOSTED_ZONE_ID,
      ecrRegistry: e.KUBECONTROL_ECR_REGISTRY,
      ...(e.KUBECONTROL_CODEBUILD_PROJECT ? { codeBuildProject: e.KUBECONTROL_CODEBUILD_PROJECT } : {}),
      buildCommand: e.KUBECONTROL_BUILD_COMMAND ?? [],
      maxAttempts: e.AWS_MAX_ATTEMPTS ?? 8,
      retryMode: e.AWS_RETRY_MODE ?? 'adaptive',
    },
  };
}
