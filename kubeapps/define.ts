/**
 * `defineKubeApp()`: validates a KubeApp's props (zod) and applies the shared
 * defaults field by field. A bad definition throws a `KubeAppError` that names
 * the app, the field and the offending value.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import {
  DEFAULTS,
  DEFAULT_RESOURCES,
  REFRESH_CUTOVERS,
  SECRETS_INIT_CONTAINER,
  type AwsProps,
  type ContainerProps,
  type DnsProps,
  type HardwareProps,
  type PodProps,
  type RefreshProps,
  type ResourceProps,
  type SecretProps,
  type ServiceProps,
} from './defaults.js';

export type { AwsProps, ContainerProps, DnsProps, HardwareProps, PodProps, RefreshProps, ResourceProps, SecretProps, ServiceProps };

/** Who may change the live app in place (`scale`, `restart`). */
export const OPERATORS = ['owners', 'owners-and-deployers'] as const;
export type Operators = (typeof OPERATORS)[number];

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
  /**
   * Who may change the live app in place (`scale`, `restart`): its owners only, or its deployers too.
   * @default 'owners'
   */
  readonly operators?: Operators;
  /** Slack channel of the app's deploy threads. @default '#deploys' */
  readonly channel?: string;
  /** Optional scheduled refresh. @default none */
  readonly refresh?: RefreshProps;
  /** Per-app AWS settings; what is unset is the aws provider's (its settings). @default {} */
  readonly aws?: AwsProps;
  /**
   * AWS Secrets Manager secrets the app's containers read as files
   * `/var/run/secrets/kubecontrol/<name>` (fetched inside the pod with `aws.podRoleArn`,
   * so their values never pass through kubecontrol). @default []
   */
  readonly secrets?: readonly SecretProps[];
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
  /** The app's own container, or a sidecar the app adds. */
  readonly role: 'app' | 'sidecar';
  /** Why the container opts out of Pod Security "restricted"; unset: restricted. */
  readonly unrestricted?: string;
}

/** The Service after defaults: `certificateArn` only when the app names one (TLS). */
export type ResolvedService = Required<Omit<ServiceProps, 'certificateArn'>> & { readonly certificateArn?: string };

/** A validated KubeApp with every default applied. */
export interface KubeApp {
  readonly name: string;
  readonly description: string;
  readonly image: { readonly repository: string };
  readonly hardware: Required<HardwareProps>;
  readonly pods: { readonly replicas: number; readonly containers: readonly ResolvedContainer[] };
  readonly service: ResolvedService;
  readonly dns: Required<DnsProps>;
  readonly strategy: Strategy;
  readonly approvalTimeoutMinutes: number;
  readonly allowSelfApproval: boolean;
  readonly owners: readonly string[];
  readonly deployers: readonly string[];
  readonly approvers: readonly string[];
  /** Who may `scale` and `restart` the live app. */
  readonly operators: Operators;
  readonly channel: string;
  readonly refresh: Required<RefreshProps> | undefined;
  readonly aws: ResolvedAws;
  /** The app's Secrets Manager secrets, delivered as files; [] when none. */
  readonly secrets: readonly SecretProps[];
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
  /** The app's own; unset: the provider's newest version in standard support (asked of EKS at start). */
  readonly kubernetesVersion?: string;
  /** The app's own, else DEFAULTS.aws.supportType ('STANDARD'). */
  readonly supportType: 'STANDARD' | 'EXTENDED';
  /** The IAM role of the app's pods (EKS Pod Identity), when the app names one. */
  readonly podRoleArn?: string;
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
  readonly fargateSubnetIds?: readonly string[];
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
/** Kubernetes' own rule for container names (RFC 1123 label, at most 63). */
const containerName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase a-z, 0-9 and -, at most 63, not starting or ending with -');
/** Kubernetes quantities: plain, decimal (k M G T P E, m for milli) or binary (Ki Mi Gi Ti Pi Ei) suffixes. */
const QUANTITY = /^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantity = z.string().regex(QUANTITY, 'must be a Kubernetes quantity like 250m or 512Mi');
const port = z.number().int().min(1).max(65535);
/**
 * IANA_SVC_NAME, Kubernetes' rule for port names: at most 15 characters,
 * lowercase a-z, 0-9 and '-', at least one letter, no '-' at either end or twice in a row.
 */
const portName = z
  .string()
  .regex(
    /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/,
    "must be an IANA service name: at most 15 characters, lowercase a-z, 0-9 and '-', at least one letter, no leading, trailing or double '-'",
  );
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const roleArn = z.string().regex(ROLE_ARN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name');
const CERTIFICATE_ARN = /^arn:aws[\w-]*:acm:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:certificate\/[\w-]+$/;
const principal = z
  .string()
  .min(1)
  .regex(/^[^\s,]+$/, 'must be a user id, a local user name or an @group handle, without spaces');
const containerSchema = z.strictObject({
  name: containerName,
  image: z.string().min(1).optional(),
  tag: z.string().regex(/^[\w][\w.-]{0,127}$/, 'must be an image tag').optional(),
  ports: z.array(z.strictObject({ name: portName.optional(), containerPort: port })).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name'), z.string()).optional(),
  resources: z
    .strictObject({ cpu: quantity, memory: quantity, cpuLimit: quantity.optional(), memoryLimit: quantity.optional() })
    .optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  unrestricted: z.string().trim().min(1, 'must say why the container cannot run restricted').optional(),
});
/** A file name under /var/run/secrets/kubecontrol/ (a DNS label, so it is also a safe path segment). */
const secretName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lowercase a-z, 0-9 and -, at most 63): it becomes a file name');
/** A Secrets Manager secret name (letters, digits and /_+=.@-, at most 512) or its ARN. */
const secretId = z
  .string()
  .regex(
    /^(arn:aws[\w-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$/,
    'must be a Secrets Manager secret name or ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
  );

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
      capacity: z.enum(['auto', 'nodes', 'fargate']).optional(),
    })
    .optional(),
  pods: z.strictObject({
    containers: z.array(containerSchema).min(1, 'needs at least one container'),
    replicas: z.number().int().min(1).max(500).optional(),
    sidecars: z.array(containerSchema.extend({ image: z.string().min(1, 'is required for a sidecar') })).optional(),
  }),
  service: z
    .strictObject({
      port: port.optional(),
      targetPort: port.optional(),
      loadBalancer: z.enum(['internal', 'external']).optional(),
      healthCheckPath: z.string().regex(/^\/\S*$/, "must be a path starting with '/'").optional(),
      certificateArn: z
        .string()
        .regex(CERTIFICATE_ARN, 'must be an ACM certificate ARN like arn:aws:acm:<region>:<12-digit account>:certificate/<id>')
        .optional(),
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
  operators: z.enum(OPERATORS).optional(),
  channel: z.string().regex(/^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]{6,})$/, 'must be a #channel-name or a channel id').optional(),
  refresh: z
    .strictObject({
      schedule: z.string().min(1),
      channel: z.string().optional(),
      timezone: z.string().optional(),
      autoCutover: z.enum(REFRESH_CUTOVERS).optional(),
      catchUpMinutes: z.number().int().min(0).max(7 * 24 * 60).optional(),
    })
    .optional(),
  aws: z
    .strictObject({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1').optional(),
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')).optional(),
      fargateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')).min(1).optional(),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id')).optional(),
      clusterRoleArn: roleArn.optional(),
      nodeRoleArn: roleArn.optional(),
      podExecutionRoleArn: roleArn.optional(),
      podRoleArn: roleArn.optional(),
      kubernetesVersion: z.string().regex(/^1\.\d{2}$/, 'must be a Kubernetes minor version like 1.34').optional(),
      supportType: z.enum(['STANDARD', 'EXTENDED']).optional(),
      hostedZoneId: z.string().min(1).optional(),
      ecrRegistry: z.string().min(1).optional(),
      codeBuildProject: z.string().min(1).optional(),
      buildCommand: z.array(z.string()).min(1).optional(),
      builder: z.enum(['codebuild', 'command', 'none']).optional(),
      createRepository: z.boolean().optional(),
    })
    .optional(),
  secrets: z.array(z.strictObject({ name: secretName, secretId })).optional(),
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

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a Kubernetes quantity in base units (cores, bytes), or undefined
 * when it is not one. Precise enough to compare a limit with its request.
 */
export function quantityValue(q: string): number | undefined {
  const m = QUANTITY.exec(q);
  return m ? Number(m[1]) * SUFFIX[m[2] ?? '']! : undefined;
}

/** The props seen loosely: cross-field checks run even when zod found problems elsewhere. */
type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Problems that need more than one field to see (zod checks single fields).
 * Reads the props defensively, so that it runs alongside zod's problems: a
 * definition shows every problem at once, not one group after the other.
 */
function crossFieldProblems(input: unknown): string[] {
  const problems: string[] = [];
  const p = obj(input);
  const hw = obj(p.hardware);
  const capacity = str(hw.capacity) ?? DEFAULTS.hardware.capacity;
  const min = num(hw.minNodes) ?? DEFAULTS.hardware.minNodes;
  const max = num(hw.maxNodes) ?? DEFAULTS.hardware.maxNodes;
  if (capacity !== 'fargate') {
    if (min > max) problems.push(`hardware.minNodes must be at most hardware.maxNodes (got: minNodes=${min}, maxNodes=${max})`);
    const desired = num(hw.desiredNodes);
    if (desired !== undefined && capacity !== 'nodes') {
      problems.push(`hardware.desiredNodes applies to capacity 'nodes' only: Auto Mode starts nodes for the pods (got: ${desired}, capacity '${capacity}')`);
    } else if (desired !== undefined && (desired < min || desired > max)) {
      problems.push(`hardware.desiredNodes must be between minNodes and maxNodes (got: ${desired}, range ${min}-${max})`);
    }
  } else {
    for (const key of ['instanceTypes', 'spot', 'minNodes', 'maxNodes', 'desiredNodes'] as const) {
      if (hw[key] !== undefined) problems.push(`hardware.${key} cannot be set with capacity 'fargate' (got: ${show(hw[key])})`);
    }
    if (hw.arch === 'arm64') problems.push(`hardware.arch 'arm64' is not available on Fargate for EKS (got: capacity 'fargate', arch 'arm64')`);
    // EKS Pod Identity runs on Linux EC2 nodes only (its agent is a node-level component).
    const podRole = obj(p.aws).podRoleArn;
    if (podRole !== undefined) {
      problems.push(`aws.podRoleArn cannot be used with capacity 'fargate': EKS Pod Identity does not serve Fargate pods; use capacity 'auto' or 'nodes' (got: ${show(podRole)})`);
    }
  }
  const instanceTypes = arr(hw.instanceTypes).filter((t): t is string => typeof t === 'string');
  if (capacity === 'auto') {
    // EKS Auto Mode only launches instances with more than one vCPU, never nano, micro or small.
    const tooSmall = instanceTypes.filter((t) => /\.(nano|micro|small)$/.test(t) || (/\.medium$/.test(t) && !/^t\d/.test(t)));
    if (tooSmall.length) {
      problems.push(`hardware.instanceTypes: EKS Auto Mode launches no instance smaller than 2 vCPUs (nano, micro, small, 1-vCPU medium); use larger sizes or capacity 'nodes' (got: ${tooSmall.join(', ')})`);
    }
  }
  if (instanceTypes.length && (hw.arch === 'amd64' || hw.arch === 'arm64')) {
    // Graviton families carry a 'g' after the generation digit (m7g, c6gn, t4g).
    const armTypes = instanceTypes.filter((t) => /^[a-z]+\d+g/.test(t));
    const wrong = hw.arch === 'arm64' ? instanceTypes.filter((t) => !armTypes.includes(t)) : armTypes;
    if (wrong.length) problems.push(`hardware.instanceTypes must match arch '${hw.arch}' (got: ${wrong.join(', ')})`);
  }

  const pods = obj(p.pods);
  const names = new Map<string, string>();
  const all = [
    ...arr(pods.containers).map((c, i) => ({ c: obj(c), at: `pods.containers[${i}]` })),
    ...arr(pods.sidecars).map((c, i) => ({ c: obj(c), at: `pods.sidecars[${i}]` })),
  ];
  for (const { c, at } of all) {
    const name = str(c.name);
    if (name !== undefined) {
      const other = names.get(name);
      if (other) problems.push(`${at}.name is also the name of ${other} (got: "${name}")`);
      else if (name === SECRETS_INIT_CONTAINER && arr(p.secrets).length) {
        problems.push(`${at}.name is reserved for the container that fetches the app's secrets (got: "${name}")`);
      } else names.set(name, at);
    }
    // Port names are unique within a container (the API server's rule; containers of a pod may share one).
    const portNames = new Map<string, string>();
    arr(c.ports).forEach((raw, j) => {
      const portName = str(obj(raw).name);
      if (portName === undefined) return;
      const other = portNames.get(portName);
      if (other) problems.push(`${at}.ports[${j}].name is also the name of ${other} (got: "${portName}")`);
      else portNames.set(portName, `${at}.ports[${j}]`);
    });
    const r = obj(c.resources);
    for (const [req, lim, what] of [['cpu', 'cpuLimit', 'CPU'], ['memory', 'memoryLimit', 'memory']] as const) {
      const request = str(r[req]);
      const limit = str(r[lim]);
      if (request === undefined || limit === undefined) continue;
      const rv = quantityValue(request);
      const lv = quantityValue(limit);
      if (rv !== undefined && lv !== undefined && lv < rv) {
        problems.push(`${at}.resources.${lim} must be at least the ${what} request, Kubernetes refuses a limit below it (got: ${lim} "${limit}" < ${req} "${request}")`);
      }
    }
  }

  const secrets = arr(p.secrets);
  const aws = obj(p.aws);
  const seen = new Map<string, number>();
  secrets.forEach((raw, i) => {
    const name = str(obj(raw).name);
    if (name === undefined) return;
    if (seen.has(name)) problems.push(`secrets[${i}].name is also the name of secrets[${seen.get(name)}] (got: "${name}")`);
    else seen.set(name, i);
  });
  if (secrets.length && aws.podRoleArn === undefined) {
    problems.push(`secrets need aws.podRoleArn: the pods read them with their own IAM role (got: ${secrets.length} secret(s), no aws.podRoleArn)`);
  }

  const service = obj(p.service);
  const certificate = str(service.certificateArn);
  const certRegion = certificate ? CERTIFICATE_ARN.exec(certificate)?.[1] : undefined;
  const region = str(aws.region);
  if (certRegion && region && certRegion !== region) {
    problems.push(`service.certificateArn must be in the app's region ${region}: a load balancer uses certificates of its own region (got: "${certificate}")`);
  }

  const dns = obj(p.dns);
  const zone = str(dns.zone) ?? DEFAULTS.dnsZone;
  const dnsName = str(dns.name);
  if (dnsName && !dnsName.endsWith(`.${zone}`)) problems.push(`dns.name must be inside zone ${zone} (got: ${dnsName})`);
  const schedule = str(obj(p.refresh).schedule);
  if (schedule !== undefined && schedule !== '' && !isCron(schedule)) {
    problems.push(`refresh.schedule must be a cron expression with 5 or 6 fields (got: ${show(schedule)})`);
  } else if (schedule !== undefined && schedule !== '') {
    const why = cronProblem(schedule);
    if (why) problems.push(`refresh.schedule ${why} (got: ${show(schedule)})`);
  }
  // Checked the way the cron scheduler will use it, so a bad zone is refused here rather than when schedules are armed.
  const timezone = str(obj(p.refresh).timezone);
  if (timezone !== undefined && !isTimeZone(timezone)) {
    problems.push(`refresh.timezone must be an IANA time zone like Europe/Dublin or UTC (got: ${show(timezone)})`);
  }
  // aws.builder 'codebuild' or 'command' without the app's own project or command is not a
  // definition problem: the aws provider's settings may supply it (and it says so when not).
  return problems;
}

/** Whether `tz` is a time zone this runtime knows (Intl rejects unknown IANA names). */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A light check of cron syntax (the shape); `cronProblem` then asks the scheduler's own parser. */
function isCron(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[\d*,/\-a-zA-Z?]+$/.test(f));
}

/**
 * What the scheduler's parser (cron-parser, as schedules/cron.ts uses it) finds wrong with a
 * cron expression of the right shape, as the rest of a sentence; undefined when it can run.
 */
function cronProblem(expr: string): string | undefined {
  // `H` picks a random value at each parse: every place that computes the next run would see another time.
  if (/\bH\b/i.test(expr)) return 'uses H (a random value), which kubecontrol does not support: name the minute and hour';
  try {
    // A date that exists in no year ("0 3 31 2 *") fails only when a run is looked for.
    CronExpressionParser.parse(expr.trim(), { currentDate: new Date(Date.UTC(2000, 0, 1)), tz: 'UTC' }).next();
    return undefined;
  } catch (err) {
    return `is not a cron expression the scheduler can run: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function resolveContainer(c: ContainerProps, role: ResolvedContainer['role'], repository: string): ResolvedContainer {
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
    ...(c.unrestricted ? { unrestricted: c.unrestricted.trim() } : {}),
  };
}

/**
 * Validates `props` and returns the KubeApp with every default applied.
 * @throws KubeAppError naming the app, each bad field and its value (every problem at once).
 */
export function defineKubeApp(props: KubeAppProps): KubeApp {
  const appName = typeof props?.name === 'string' && props.name ? props.name : '(unnamed app)';
  const parsed = propsSchema.safeParse(props);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const value = issue.code === 'unrecognized_keys' ? undefined : valueAt(props, issue.path);
        const field = fieldName(issue.path);
        if (issue.code === 'unrecognized_keys') return `${field}: unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
        return `${field} ${issue.message.replace(/^Invalid input: /, '')} (got: ${show(value)})`;
      });
  problems.push(...crossFieldProblems(props));
  if (problems.length || !parsed.success) throw new KubeAppError(appName, problems);
  const p = parsed.data;

  const hw = p.hardware ?? {};
  const arch = hw.arch ?? DEFAULTS.hardware.arch;
  const minNodes = hw.minNodes ?? DEFAULTS.hardware.minNodes;
  const appContainers = p.pods.containers.map((c) => resolveContainer(c, 'app', p.image.repository));
  const sidecars = (p.pods.sidecars ?? []).map((c) => resolveContainer(c, 'sidecar', p.image.repository));
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
      ...(p.service?.certificateArn ? { certificateArn: p.service.certificateArn } : {}),
    },
    dns: { zone, name: p.dns?.name ?? `${p.name}.${zone}`, ttlSeconds: p.dns?.ttlSeconds ?? DEFAULTS.dnsTtlSeconds },
    strategy: p.strategy ?? DEFAULTS.strategy,
    approvalTimeoutMinutes: p.approvalTimeoutMinutes ?? DEFAULTS.approvalTimeoutMinutes,
    allowSelfApproval: p.allowSelfApproval ?? DEFAULTS.allowSelfApproval,
    owners,
    deployers: p.deployers ?? [],
    approvers: p.approvers ?? owners,
    operators: p.operators ?? DEFAULTS.operators,
    channel: p.channel ?? DEFAULTS.channel,
    refresh: p.refresh
      ? {
          schedule: p.refresh.schedule,
          channel: p.refresh.channel ?? p.channel ?? DEFAULTS.channel,
          timezone: p.refresh.timezone ?? DEFAULTS.refreshTimezone,
          autoCutover: p.refresh.autoCutover ?? DEFAULTS.refreshAutoCutover,
          catchUpMinutes: p.refresh.catchUpMinutes ?? DEFAULTS.refreshCatchUpMinutes,
        }
      : undefined,
    aws: resolveAws(own),
    secrets: (p.secrets ?? []).map((s) => ({ name: s.name, secretId: s.secretId })),
  };
}

/**
 * The `aws` fields that say where an app runs (placement): copied only when the app sets them,
 * and handed to the providers as `PlacementOverrides` (deployer/specs.ts) the same way.
 */
export const PLACEMENT_FIELDS = ['subnetIds', 'fargateSubnetIds', 'securityGroupIds', 'clusterRoleArn', 'nodeRoleArn', 'podExecutionRoleArn', 'hostedZoneId', 'ecrRegistry', 'codeBuildProject'] as const;

/**
 * The app's `aws` with KubeApp-level defaults; placement, the Kubernetes version and
 * the pod role are copied only when the app sets them (no `undefined` keys, so a spread
 * override stays readable).
 */
function resolveAws(own: AwsProps): ResolvedAws {
  const builder = own.builder ?? (own.codeBuildProject ? 'codebuild' : own.buildCommand?.length ? 'command' : undefined);
  const placement: Partial<Record<keyof ResolvedAws, unknown>> = {};
  for (const key of ['kubernetesVersion', 'podRoleArn', ...PLACEMENT_FIELDS] as const) {
    if (own[key] !== undefined) placement[key] = own[key];
  }
  return {
    region: own.region ?? DEFAULTS.aws.region,
    supportType: own.supportType ?? DEFAULTS.aws.supportType,
    builder: builder ?? 'none',
    buildCommand: own.buildCommand ?? [],
    createRepository: own.createRepository ?? DEFAULTS.aws.createRepository,
    ...(placement as Partial<ResolvedAws>),
    defaulted: { region: own.region === undefined, builder: builder === undefined },
  };
}
