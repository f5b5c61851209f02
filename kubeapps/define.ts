/**
 * `defineKubeApp()`: validates a KubeApp's props (zod) and applies the shared
 * defaults field by field. A bad definition throws a `KubeAppError` that names
 * the app, the field and the offending value.
 */
import { z } from 'zod';
import {
  DEFAULTS,
  DEFAULT_RESOURCES,
  LOGGING_SIDECAR,
  METRICS_SIDECAR,
  type AwsProps,
  type ContainerProps,
  type DnsProps,
  type HardwareProps,
  type PodProps,
  type RefreshProps,
  type ResourceProps,
  type ServiceProps,
} from './defaults.js';

export type { AwsProps, ContainerProps, DnsProps, HardwareProps, PodProps, RefreshProps, ResourceProps, ServiceProps };

/** How a new version reaches the running app. */
export type Strategy = 'blue-green' | 'rolling';
export const STRATEGIES: readonly Strategy[] = ['blue-green', 'rolling'];

/** A KubeApp as its author writes it; everything optional has a shared default. */
export interface KubeAppProps {
  /** App name: a DNS label, also the cluster name prefix. */
  readonly name: string;
  /** One line that says what the app is. @default '' */
  readonly description?: string;
  /** The app's image repository (ECR repository name). */
  readonly image: { readonly repository: string };
  /** @default DEFAULTS.hardware */
  readonly hardware?: HardwareProps;
  readonly pods: PodProps;
  /** @default DEFAULTS.service */
  readonly service?: ServiceProps;
  /** @default `<name>.<DEFAULTS.dnsZone>` */
  readonly dns?: DnsProps;
  /** @default 'blue-green' */
  readonly strategy?: Strategy;
  /** Minutes a blue/green cutover waits for approval before it times out. @default 30 */
  readonly approvalTimeoutMinutes?: number;
  /** Let the requester approve their own cutover (no four eyes). @default false */
  readonly allowSelfApproval?: boolean;
  /** People or groups (`@handle`) who own the app: they may do everything. */
  readonly owners: readonly string[];
  /** People or groups who may deploy, roll back, cancel, lock. @default [] */
  readonly deployers?: readonly string[];
  /** People or groups who may approve or reject a cutover. @default owners */
  readonly approvers?: readonly string[];
  /** Slack channel of the app's deploy threads. @default '#deploys' */
  readonly channel?: string;
  /** Optional scheduled refresh. @default none */
  readonly refresh?: RefreshProps;
  /** Per-app AWS settings; what is unset is the aws provider's (its settings). @default {} */
  readonly aws?: AwsProps;
}

/** A container after defaults: every field set. */
export interface ResolvedContainer {
  readonly name: string;
  readonly image: string;
  /** Fixed tag, or undefined for the app's own containers (they get the deployed version). */
  readonly tag: string | undefined;
  readonly ports: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Required<ResourceProps>;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  /** The app's own container, or a default sidecar. */
  readonly role: 'app' | 'metrics' | 'logging';
}

/** A validated KubeApp with every default applied. */
export interface KubeApp {
  readonly name: string;
  readonly description: string;
  readonly image: { readonly repository: string };
  readonly hardware: Required<HardwareProps>;
  readonly pods: { readonly replicas: number; readonly containers: readonly ResolvedContainer[] };
  readonly service: Required<ServiceProps>;
  readonly dns: Required<DnsProps>;
  readonly strategy: Strategy;
  readonly approvalTimeoutMinutes: number;
  readonly allowSelfApproval: boolean;
  readonly owners: readonly string[];
  readonly deployers: readonly string[];
  readonly approvers: readonly string[];
  readonly channel: string;
  readonly refresh: Required<RefreshProps> | undefined;
  readonly aws: ResolvedAws;
}

/**
 * A KubeApp's `aws` after defaults. The KubeApp-level values are resolved;
 * account-level placement (network, roles, hosted zone, registry, CodeBuild
 * project) is set only when the app sets it: the ports are told what the app
 * sets (`placementOf` in deployer/specs.ts) and the aws provider fills the rest
 * from its settings (`placement` in deployer/aws/placement.ts).
 */
export interface ResolvedAws {
  /**
   * The app's own `aws.region`, else DEFAULTS.aws.region. On the aws provider an
   * app that names no region runs in the provider's region (`defaulted.region`).
   */
  readonly region: string;
  /** The app's own, else DEFAULTS.aws.kubernetesVersion (a KubeApp-level default, never the environment's). */
  readonly kubernetesVersion: string;
  /**
   * The app's own builder: explicit, else 'codebuild' when it sets a project, else 'command'
   * when it sets a command, else 'none' (and the aws provider may supply one: `defaulted.builder`).
   */
  readonly builder: 'codebuild' | 'command' | 'none';
  /** The app's own build command, else []. */
  readonly buildCommand: readonly string[];
  readonly createRepository: boolean;
  readonly subnetIds?: readonly string[];
  readonly securityGroupIds?: readonly string[];
  readonly clusterRoleArn?: string;
  readonly nodeRoleArn?: string;
  readonly podExecutionRoleArn?: string;
  readonly hostedZoneId?: string;
  readonly ecrRegistry?: string;
  readonly codeBuildProject?: string;
  /**
   * Which of `region` and `builder` are KubeApp-level defaults rather than the
   * app's own choice: the aws provider replaces those with its settings'.
   */
  readonly defaulted: { readonly region: boolean; readonly builder: boolean };
}

/** A KubeApp definition that failed validation; `problems` has one line each. */
export class KubeAppError extends Error {
  readonly code = 'kubeapp_invalid';
  constructor(
    readonly app: string,
    readonly problems: readonly string[],
  ) {
    super(`KubeApp ${app} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'KubeAppError';
  }
}

const dnsLabel = z
  .string()
  .regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, 'must be a lowercase DNS label of at most 40 characters (a-z, 0-9, -)');
const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G)?$/, 'must be a Kubernetes quantity like 250m or 512Mi');
const port = z.number().int().min(1).max(65535);
const principal = z
  .string()
  .min(1)
  .regex(/^[^\s,]+$/, 'must be a user id, a local user name or an @group handle, without spaces');
const containerSchema = z.strictObject({
  name: dnsLabel,
  image: z.string().min(1).optional(),
  tag: z.string().regex(/^[\w][\w.-]{0,127}$/, 'must be an image tag').optional(),
  ports: z.array(z.strictObject({ name: z.string().max(15).optional(), containerPort: port })).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name'), z.string()).optional(),
  resources: z
    .strictObject({ cpu: quantity, memory: quantity, cpuLimit: quantity.optional(), memoryLimit: quantity.optional() })
    .optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
});
const sidecarSchema = z.union([z.literal(false), containerSchema]);

const propsSchema = z.strictObject({
  name: dnsLabel,
  description: z.string().optional(),
  image: z.strictObject({ repository: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, 'must be an ECR repository name') }),
  hardware: z
    .strictObject({
      instanceTypes: z.array(z.string().regex(/^[a-z0-9-]+\.[a-z0-9]+$/, 'must be an EC2 instance type like m6i.large')).min(1).optional(),
      minNodes: z.number().int().min(0).max(450).optional(),
      maxNodes: z.number().int().min(1).max(450).optional(),
      desiredNodes: z.number().int().min(0).max(450).optional(),
      spot: z.boolean().optional(),
      arch: z.enum(['amd64', 'arm64']).optional(),
      capacity: z.enum(['nodes', 'fargate']).optional(),
    })
    .optional(),
  pods: z.strictObject({
    containers: z.array(containerSchema).min(1, 'needs at least one container'),
    replicas: z.number().int().min(1).max(500).optional(),
    sidecars: z.strictObject({ metrics: sidecarSchema.optional(), logging: sidecarSchema.optional() }).optional(),
  }),
  service: z
    .strictObject({
      port: port.optional(),
      targetPort: port.optional(),
      loadBalancer: z.enum(['internal', 'external']).optional(),
      healthCheckPath: z.string().regex(/^\/\S*$/, "must be a path starting with '/'").optional(),
    })
    .optional(),
  dns: z
    .strictObject({
      zone: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, 'must be a DNS zone like example.com').optional(),
      name: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, 'must be a fully qualified DNS name').optional(),
      ttlSeconds: z.number().int().min(1).max(86400).optional(),
    })
    .optional(),
  strategy: z.enum(['blue-green', 'rolling']).optional(),
  approvalTimeoutMinutes: z.number().positive().max(7 * 24 * 60).optional(),
  allowSelfApproval: z.boolean().optional(),
  owners: z.array(principal).min(1, 'needs at least one owner'),
  deployers: z.array(principal).optional(),
  approvers: z.array(principal).optional(),
  channel: z.string().regex(/^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]{6,})$/, 'must be a #channel-name or a channel id').optional(),
  refresh: z
    .strictObject({
      schedule: z.string().min(1),
      channel: z.string().optional(),
      timezone: z.string().optional(),
    })
    .optional(),
  aws: z
    .strictObject({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1').optional(),
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')).optional(),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id')).optional(),
      clusterRoleArn: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN').optional(),
      nodeRoleArn: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN').optional(),
      podExecutionRoleArn: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN').optional(),
      kubernetesVersion: z.string().regex(/^1\.\d{2}$/, 'must be a Kubernetes minor version like 1.31').optional(),
      hostedZoneId: z.string().min(1).optional(),
      ecrRegistry: z.string().min(1).optional(),
      codeBuildProject: z.string().min(1).optional(),
      buildCommand: z.array(z.string()).min(1).optional(),
      builder: z.enum(['codebuild', 'command', 'none']).optional(),
      createRepository: z.boolean().optional(),
    })
    .optional(),
});

/** Reads the value at a zod issue path, to echo it in the message. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(root)';
}

/** Problems that need more than one field to see (zod checks single fields). */
function crossFieldProblems(p: z.infer<typeof propsSchema>): string[] {
  const problems: string[] = [];
  const hw = p.hardware ?? {};
  const min = hw.minNodes ?? DEFAULTS.hardware.minNodes;
  const max = hw.maxNodes ?? DEFAULTS.hardware.maxNodes;
  if (min > max) problems.push(`hardware.minNodes must be at most hardware.maxNodes (got: minNodes=${min}, maxNodes=${max})`);
  if (hw.desiredNodes !== undefined && (hw.desiredNodes < min || hw.desiredNodes > max)) {
    problems.push(`hardware.desiredNodes must be between minNodes and maxNodes (got: ${hw.desiredNodes}, range ${min}-${max})`);
  }
  if (hw.capacity === 'fargate') {
    for (const key of ['instanceTypes', 'spot', 'minNodes', 'maxNodes', 'desiredNodes'] as const) {
      if (hw[key] !== undefined) problems.push(`hardware.${key} cannot be set with capacity 'fargate' (got: ${show(hw[key])})`);
    }
    if (hw.arch === 'arm64') problems.push(`hardware.arch 'arm64' is not available on Fargate for EKS (got: capacity 'fargate', arch 'arm64')`);
  }
  if (hw.instanceTypes && hw.arch) {
    // Graviton families carry a 'g' after the generation digit (m7g, c6gn, t4g).
    const armTypes = hw.instanceTypes.filter((t) => /^[a-z]+\d+g/.test(t));
    const wrong = hw.arch === 'arm64' ? hw.instanceTypes.filter((t) => !armTypes.includes(t)) : armTypes;
    if (wrong.length) {
      problems.push(`hardware.instanceTypes must match arch '${hw.arch}' (got: ${wrong.join(', ')})`);
    }
  }
  const names = new Set<string>();
  for (const c of p.pods.containers) {
    if (names.has(c.name)) problems.push(`pods.containers has two containers named '${c.name}'`);
    names.add(c.name);
  }
  for (const [key, sidecar] of Object.entries(p.pods.sidecars ?? {})) {
    if (sidecar && names.has(sidecar.name)) problems.push(`pods.sidecars.${key}.name clashes with a container (got: '${sidecar.name}')`);
    if (sidecar && !sidecar.image) problems.push(`pods.sidecars.${key}.image is required for a sidecar`);
  }
  const zone = p.dns?.zone ?? DEFAULTS.dnsZone;
  if (p.dns?.name && !p.dns.name.endsWith(`.${zone}`)) {
    problems.push(`dns.name must be inside zone ${zone} (got: ${p.dns.name})`);
  }
  if (p.refresh && !isCron(p.refresh.schedule)) {
    problems.push(`refresh.schedule must be a cron expression with 5 or 6 fields (got: ${show(p.refresh.schedule)})`);
  }
  // aws.builder 'codebuild' or 'command' without the app's own project or command is not a
  // definition problem: the aws provider's settings may supply it (and it says so when not).
  return problems;
}

/** A light check of cron syntax; node-cron validates fully when the schedule is armed. */
function isCron(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[\d*,/\-a-zA-Z?]+$/.test(f));
}

function resolveContainer(
  c: ContainerProps,
  role: ResolvedContainer['role'],
  repository: string,
): ResolvedContainer {
  const r = c.resources ?? DEFAULT_RESOURCES;
  return {
    name: c.name,
    image: c.image ?? repository,
    tag: role === 'app' ? c.tag : (c.tag ?? 'latest'),
    ports: c.ports ?? [],
    env: c.env ?? {},
    resources: { cpu: r.cpu, memory: r.memory, cpuLimit: r.cpuLimit ?? r.cpu, memoryLimit: r.memoryLimit ?? r.memory },
    command: c.command,
    args: c.args,
    role,
  };
}

/**
 * Validates `props` and returns the KubeApp with every default applied.
 * @throws KubeAppError naming the app, each bad field and its value.
 */
export function defineKubeApp(props: KubeAppProps): KubeApp {
  const appName = typeof props?.name === 'string' && props.name ? props.name : '(unnamed app)';
  const parsed = propsSchema.safeParse(props);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const value = issue.code === 'unrecognized_keys' ? undefined : valueAt(props, issue.path);
      const field = fieldName(issue.path);
      if (issue.code === 'unrecognized_keys') return `${field}: unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
      return `${field} ${issue.message.replace(/^Invalid input: /, '')} (got: ${show(value)})`;
    });
    throw new KubeAppError(appName, problems);
  }
  const p = parsed.data;
  const problems = crossFieldProblems(p);
  if (problems.length) throw new KubeAppError(appName, problems);

  const hw = p.hardware ?? {};
  const arch = hw.arch ?? DEFAULTS.hardware.arch;
  const minNodes = hw.minNodes ?? DEFAULTS.hardware.minNodes;
  const appContainers = p.pods.containers.map((c) => resolveContainer(c, 'app', p.image.repository));
  const sidecars: ResolvedContainer[] = [];
  const metrics = p.pods.sidecars?.metrics ?? METRICS_SIDECAR;
  const logging = p.pods.sidecars?.logging ?? LOGGING_SIDECAR;
  if (metrics !== false) sidecars.push(resolveContainer(metrics, 'metrics', p.image.repository));
  if (logging !== false) sidecars.push(resolveContainer(logging, 'logging', p.image.repository));
  const zone = p.dns?.zone ?? DEFAULTS.dnsZone;
  const owners = p.owners;
  const own = p.aws ?? {};

  return {
    name: p.name,
    description: p.description ?? '',
    image: { repository: p.image.repository },
    hardware: {
      instanceTypes: hw.instanceTypes ?? DEFAULTS.hardware.instanceTypes[arch],
      minNodes,
      maxNodes: hw.maxNodes ?? DEFAULTS.hardware.maxNodes,
      desiredNodes: hw.desiredNodes ?? minNodes,
      spot: hw.spot ?? DEFAULTS.hardware.spot,
      arch,
      capacity: hw.capacity ?? DEFAULTS.hardware.capacity,
    },
    pods: { replicas: p.pods.replicas ?? DEFAULTS.replicas, containers: [...appContainers, ...sidecars] },
    service: {
      port: p.service?.port ?? DEFAULTS.service.port,
      targetPort:
        p.service?.targetPort ?? p.pods.containers[0]?.ports?.[0]?.containerPort ?? DEFAULTS.service.fallbackTargetPort,
      loadBalancer: p.service?.loadBalancer ?? DEFAULTS.service.loadBalancer,
      healthCheckPath: p.service?.healthCheckPath ?? DEFAULTS.service.healthCheckPath,
    },
    dns: { zone, name: p.dns?.name ?? `${p.name}.${zone}`, ttlSeconds: p.dns?.ttlSeconds ?? DEFAULTS.dnsTtlSeconds },
    strategy: p.strategy ?? DEFAULTS.strategy,
    approvalTimeoutMinutes: p.approvalTimeoutMinutes ?? DEFAULTS.approvalTimeoutMinutes,
    allowSelfApproval: p.allowSelfApproval ?? DEFAULTS.allowSelfApproval,
    owners,
    deployers: p.deployers ?? [],
    approvers: p.approvers ?? owners,
    channel: p.channel ?? DEFAULTS.channel,
    refresh: p.refresh
      ? {
          schedule: p.refresh.schedule,
          channel: p.refresh.channel ?? p.channel ?? DEFAULTS.channel,
          timezone: p.refresh.timezone ?? DEFAULTS.refreshTimezone,
        }
      : undefined,
    aws: resolveAws(own),
  };
}

/**
 * The app's `aws` with KubeApp-level defaults; placement is copied only when the
 * app sets it (no `undefined` keys, so a spread override stays readable).
 */
function resolveAws(own: AwsProps): ResolvedAws {
  const builder = own.builder ?? (own.codeBuildProject ? 'codebuild' : own.buildCommand?.length ? 'command' : undefined);
  const placement: Partial<Record<keyof ResolvedAws, unknown>> = {};
  for (const key of ['subnetIds', 'securityGroupIds', 'clusterRoleArn', 'nodeRoleArn', 'podExecutionRoleArn', 'hostedZoneId', 'ecrRegistry', 'codeBuildProject'] as const) {
    if (own[key] !== undefined) placement[key] = own[key];
  }
  return {
    region: own.region ?? DEFAULTS.aws.region,
    kubernetesVersion: own.kubernetesVersion ?? DEFAULTS.aws.kubernetesVersion,
    builder: builder ?? 'none',
    buildCommand: own.buildCommand ?? [],
    createRepository: own.createRepository ?? DEFAULTS.aws.createRepository,
    ...(placement as Partial<ResolvedAws>),
    defaulted: { region: own.region === undefined, builder: builder === undefined },
  };
}
