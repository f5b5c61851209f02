/**
 * AWS SDK clients for the adapters, one set per region, and the small helpers
 * every adapter shares: turning SDK and waiter failures into InfraErrors, and
 * waiter configuration.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient, type EKSClientConfig } from '@aws-sdk/client-eks';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { Route53Client } from '@aws-sdk/client-route-53';
import { STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { InfraError, errorMessage } from '../errors.js';
import type { Installation } from '../ports.js';

/** The SDK clients of one region. */
export interface AwsClients {
  readonly ecr: ECRClient;
  readonly codebuild: CodeBuildClient;
  readonly eks: EKSClient;
  readonly autoscaling: AutoScalingClient;
  readonly route53: Route53Client;
  /** Load balancers and target groups the clusters' load-balancing controller makes. */
  readonly elbv2: ElasticLoadBalancingV2Client;
  /** Subnets, route tables and the controller's security groups. */
  readonly ec2: EC2Client;
  /** Finds what carries kubecontrol's tags, whatever the service (gc, teardown's leak check). */
  readonly tagging: ResourceGroupsTaggingAPIClient;
  /** Roles and their policies (`kubecontrol aws check`); a global service, called in any region. */
  readonly iam: IAMClient;
  readonly sts: STSClient;
}

/** Gives the clients of a region; the same object for the same region. */
export type AwsClientsFor = (region: string) => AwsClients;

/** What every client gets: the standard credential chain and the SDK's adaptive retry. */
export interface AwsClientOptions {
  /**
   * Attempts per call, including the first; throttling and transient errors
   * are retried by the SDK with backoff. @default 8 (AwsSettings.maxAttempts)
   */
  readonly maxAttempts?: number;
  /** @default 'adaptive' (client-side rate limiting after throttling) */
  readonly retryMode?: 'standard' | 'adaptive';
  /** @default fromNodeProviderChain() */
  readonly credentials?: EKSClientConfig['credentials'];
}

/**
 * Creates SDK clients per region and caches them. Endpoints come from the
 * SDK's own resolution (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EKS, … work).
 */
export function createAwsClientsFor(opts: AwsClientOptions = {}): AwsClientsFor {
  const cache = new Map<string, AwsClients>();
  const credentials = opts.credentials ?? fromNodeProviderChain();
  return (region) => {
    let c = cache.get(region);
    if (!c) {
      const config = { region, credentials, maxAttempts: opts.maxAttempts ?? 8, retryMode: opts.retryMode ?? 'adaptive' };
      c = {
        ecr: new ECRClient(config),
        codebuild: new CodeBuildClient(config),
        eks: new EKSClient(config),
        autoscaling: new AutoScalingClient(config),
        route53: new Route53Client(config),
        elbv2: new ElasticLoadBalancingV2Client(config),
        ec2: new EC2Client(config),
        tagging: new ResourceGroupsTaggingAPIClient(config),
        iam: new IAMClient(config),
        sts: new STSClient(config),
      };
      cache.set(region, c);
    }
    return c;
  };
}

/** The AWS error code of an SDK error, for messages (branching uses the SDK's exception classes). */
export function awsErrorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.Code, e.code, e.name]) if (typeof v === 'string' && v && v !== 'Error') return v;
  }
  return 'Error';
}

/**
 * The InfraError of an SDK call stopped by `signal`: code `timed_out` for a step
 * timeout (the signal's AbortReason says so), else `aborted`; `<what> aborted: <why>`.
 */
export function abortError(what: string, signal: AbortSignal | undefined, cause?: unknown): InfraError {
  const reason: unknown = signal?.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
  const code = reason instanceof InfraError && reason.code === 'timed_out' ? 'timed_out' : 'aborted';
  return new InfraError(code, `${what} aborted: ${why}`, { cause: cause ?? reason });
}

/**
 * A failed AWS call as an InfraError that names the service, the operation,
 * the AWS error code and message: `EKS CreateCluster failed: ResourceLimitExceededException: ...`.
 * A call stopped by `signal` is an abort, whatever the SDK threw.
 */
export function awsError(service: string, operation: string, err: unknown, signal?: AbortSignal): InfraError {
  if (err instanceof InfraError) return err;
  if (signal?.aborted) return abortError(`${service} ${operation}`, signal, err);
  return new InfraError('provider_failed', `${service} ${operation} failed: ${awsErrorCode(err)}: ${errorMessage(err)}`, { cause: err });
}

/** Calls `fn`, turning its failure into `awsError`. */
export async function call<T>(service: string, operation: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw awsError(service, operation, err, signal);
  }
}

/** Polling delays of the SDK waiters, in seconds (tests make them small). */
export interface WaiterDelays {
  /** @default the waiter's service default (EKS 30 s, Route 53 30 s, Auto Scaling 15 s) */
  readonly minDelay?: number;
  /** @default 120 */
  readonly maxDelay?: number;
}

/** What a wait waits for: each polls at its own pace (WAIT_POLLING). */
export type WaitFor =
  | 'cluster'
  | 'cluster-deleted'
  | 'nodegroup'
  | 'nodegroup-deleted'
  | 'fargate-profile'
  | 'fargate-profile-deleted'
  | 'addon'
  | 'instances'
  | 'load-balancer'
  | 'targets'
  | 'load-balancer-deleted'
  | 'dns-change';

/**
 * How each wait polls, in seconds: the SDK waiter's first pause is `minDelay`, each next one up to
 * twice the last (with jitter), never more than `maxDelay`. So a wait ends at most `maxDelay` after the
 * resource is ready: `maxDelay` is ~8% of how long the resource usually takes, which keeps every wait
 * within 10% of the resource being ready; `minDelay` keeps the first looks quick for what is often
 * fast already (an adopted resource, a change already in sync). The SDK's own defaults (30 s at least
 * for EKS and Route 53, 15 s for ELBv2) would add up to 30 s to a 60-s DNS change. One wait of each
 * kind polls one resource at most every `minDelay` s: far under EKS's and ELBv2's Describe* rates and
 * Route 53's 5 requests/s per account, even with tens of deploys at once.
 */
export const WAIT_POLLING: Readonly<Record<WaitFor, Required<WaiterDelays>>> = {
  cluster: { minDelay: 10, maxDelay: 60 }, // CREATING → ACTIVE: ~12 min (10–15)
  'cluster-deleted': { minDelay: 10, maxDelay: 45 }, // ~9 min
  nodegroup: { minDelay: 5, maxDelay: 20 }, // ~4 min
  'nodegroup-deleted': { minDelay: 5, maxDelay: 20 }, // ~5 min
  'fargate-profile': { minDelay: 3, maxDelay: 10 }, // ~2 min
  'fargate-profile-deleted': { minDelay: 3, maxDelay: 10 }, // ~2 min
  addon: { minDelay: 2, maxDelay: 6 }, // ~1 min
  instances: { minDelay: 2, maxDelay: 10 }, // a node group's instances InService: usually by the time it is ACTIVE
  'load-balancer': { minDelay: 2, maxDelay: 10 }, // an NLB provisioning: 1.5–3 min
  targets: { minDelay: 2, maxDelay: 5 }, // registration and 3 health checks at 10 s: ~1 min
  'load-balancer-deleted': { minDelay: 2, maxDelay: 10 },
  'dns-change': { minDelay: 1, maxDelay: 5 }, // Route 53 PENDING → INSYNC: ~60 s
};

/** The polling of each wait (a bench scales WAIT_POLLING with its simulated time). */
export type WaitPolling = (what: WaitFor) => WaiterDelays;

/** One setting for every wait (`waiterDelays`, tests), else the wait's own (`waitPolling`, else WAIT_POLLING). */
export function pollingFor(what: WaitFor, opts: { readonly waiterDelays?: WaiterDelays; readonly waitPolling?: WaitPolling }): WaiterDelays {
  return opts.waiterDelays ?? opts.waitPolling?.(what) ?? WAIT_POLLING[what];
}

/**
 * The waiter options for `client`: only the delays that are set (an explicit
 * `undefined` would replace the SDK's default and make the waiter spin).
 */
export function waiterOptions<C>(client: C, delays: WaiterDelays | undefined, maxWaitTime: number, abortSignal?: AbortSignal) {
  return {
    client,
    abortSignal,
    maxWaitTime,
    ...(delays?.minDelay !== undefined ? { minDelay: delays.minDelay } : {}),
    ...(delays?.maxDelay !== undefined ? { maxDelay: delays.maxDelay } : {}),
  };
}

/**
 * What an SDK waiter throws, as an InfraError. The waiter reports its final
 * state as the JSON of its result (`{"state":"TIMEOUT"|"FAILURE"|"ABORTED",...}`);
 * anything else is an SDK error from one of its calls.
 */
export function waiterFailure(what: string, err: unknown, signal?: AbortSignal): InfraError {
  if (err instanceof InfraError) return err;
  if (signal?.aborted) return abortError(`waiting for ${what}`, signal, err);
  let detail = errorMessage(err);
  try {
    const parsed = JSON.parse(detail) as { state?: string; reason?: unknown };
    if (parsed.state === 'TIMEOUT') return new InfraError('timed_out', `timed out waiting for ${what}`, { cause: err });
    if (parsed.state === 'ABORTED') return abortError(`waiting for ${what}`, signal, err);
    if (parsed.state) detail = `${parsed.state}${describeReason(parsed.reason)}`;
  } catch {
    // not JSON: an SDK error, e.g. AccessDeniedException from DescribeCluster
    detail = `${awsErrorCode(err)}: ${detail}`;
  }
  return new InfraError('provider_failed', `failed waiting for ${what}: ${detail}`, { cause: err });
}

/** A short description of a waiter's final response (status and health issues). */
function describeReason(reason: unknown): string {
  if (!reason || typeof reason !== 'object') return '';
  const r = reason as Record<string, unknown>;
  for (const key of ['cluster', 'nodegroup', 'fargateProfile']) {
    const o = r[key] as { status?: string; health?: { issues?: { code?: string; message?: string }[] } } | undefined;
    if (o) {
      const issues = (o.health?.issues ?? []).map((i) => `${i.code}: ${i.message}`).join('; ');
      return ` (status ${o.status ?? 'unknown'}${issues ? `; ${issues}` : ''})`;
    }
  }
  if (typeof r.message === 'string') return ` (${r.name ?? 'error'}: ${r.message})`;
  return '';
}

/** The tag that says which kubecontrol installation a resource belongs to. */
export const INSTALLATION_TAG = 'kubecontrol:installation';

/** The tags kubecontrol puts on every EKS resource it creates. */
export function kubecontrolTags(app: string, deployId: number, installation: Installation): Record<string, string> {
  return {
    'kubecontrol:app': app,
    'kubecontrol:deploy': String(deployId),
    'kubecontrol:managed-by': 'kubecontrol',
    [INSTALLATION_TAG]: installation.id,
  };
}

/**
 * Refuses a resource whose installation tag is not ours (another installation's,
 * or none): `cluster search-svc-1 exists but belongs to another kubecontrol
 * installation (abc123); not adopting it`. Undefined when it is ours.
 */
export function notOwned(
  what: string,
  tags: Record<string, string> | undefined,
  installation: Installation,
  action: string,
): InfraError | undefined {
  const owner = tags?.[INSTALLATION_TAG];
  if (owner === installation.id) return undefined;
  const whose = owner ? `another kubecontrol installation (${owner})` : `no kubecontrol installation (it has no ${INSTALLATION_TAG} tag)`;
  return new InfraError('not_owned', `${what} exists but belongs to ${whose}; not ${action}`);
}
