/**
 * AWS SDK clients for the adapters, one set per region, and the small helpers
 * every adapter shares: error wrapping and waiter configuration.
 */
import { abortedError } from '../time.js';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient, type EKSClientConfig } from '@aws-sdk/client-eks';
import { Route53Client } from '@aws-sdk/client-route-53';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

/** The SDK clients of one region. */
export interface AwsClients {
  readonly ecr: ECRClient;
  readonly codebuild: CodeBuildClient;
  readonly eks: EKSClient;
  readonly autoscaling: AutoScalingClient;
  readonly route53: Route53Client;
}

/** Gives the clients of a region; the same object for the same region. */
export type AwsClientsFor = (region: string) => AwsClients;

/** What every client gets: the standard credential chain and the SDK's adaptive retry. */
export interface AwsClientOptions {
  /**
   * Attempts per call, including the first; throttling and transient errors
   * are retried by the SDK with backoff. @default AWS_MAX_ATTEMPTS, else 8
   */
  readonly maxAttempts?: number;
  /** @default AWS_RETRY_MODE, else 'adaptive' (client-side rate limiting after throttling) */
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
      // AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, when set, are left for the SDK to read.
      const config = {
        region,
        credentials,
        maxAttempts: opts.maxAttempts ?? (process.env.AWS_MAX_ATTEMPTS ? undefined : 8),
        retryMode: opts.retryMode ?? (process.env.AWS_RETRY_MODE ? undefined : 'adaptive'),
      };
      c = {
        ecr: new ECRClient(config),
        codebuild: new CodeBuildClient(config),
        eks: new EKSClient(config),
        autoscaling: new AutoScalingClient(config),
        route53: new Route53Client(config),
      };
      cache.set(region, c);
    }
    return c;
  };
}

/** The error code of an SDK error (its `name`, or `Code`/`code` for older shapes). */
export function awsErrorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.Code, e.code, e.name]) if (typeof v === 'string' && v && v !== 'Error') return v;
  }
  return 'Error';
}

/** The message of an SDK (or any) error. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

/** Whether `err` is one of the named AWS error codes. */
export function isAwsError(err: unknown, ...codes: string[]): boolean {
  return codes.includes(awsErrorCode(err));
}

/**
 * Wraps a failed AWS call into an Error that names the service, the operation,
 * the AWS error code and message: `EKS CreateCluster failed: ResourceLimitExceededException: ...`.
 */
export function awsFailure(service: string, operation: string, err: unknown): Error {
  if (isAbort(err)) return err as Error;
  return new Error(`${service} ${operation} failed: ${awsErrorCode(err)}: ${errorMessage(err)}`, { cause: err });
}

/** Calls `fn`, wrapping its failure with `awsFailure`. */
export async function call<T>(service: string, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw awsFailure(service, operation, err);
  }
}

/** Whether `err` is an abort (cancel or step timeout). */
export function isAbort(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { name?: unknown }).name === 'AbortError';
}

/** Polling delays of the SDK waiters, in seconds (tests make them small). */
export interface WaiterDelays {
  /** @default the waiter's service default (EKS 30 s, Route 53 30 s, Auto Scaling 15 s) */
  readonly minDelay?: number;
  /** @default 120 */
  readonly maxDelay?: number;
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

/** What an SDK waiter throws, made readable. */
export function waiterFailure(what: string, err: unknown, signal?: AbortSignal): Error {
  const name = err && typeof err === 'object' ? (err as { name?: unknown }).name : undefined;
  if (name === 'AbortError' || signal?.aborted) return abortedError(`waiting for ${what}`, signal);
  if (name === 'TimeoutError') return new Error(`timed out waiting for ${what}`, { cause: err });
  // A FAILURE state or an unexpected error: the waiter's message is the JSON of its result.
  let detail = errorMessage(err);
  try {
    const parsed = JSON.parse(detail) as { state?: string; reason?: unknown };
    if (parsed.state) detail = `${parsed.state}${describeReason(parsed.reason)}`;
  } catch {
    // not JSON: keep the message
  }
  return new Error(`failed waiting for ${what}: ${detail}`, { cause: err });
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

/** The tags kubecontrol puts on every AWS resource it creates. */
export function kubecontrolTags(app: string, deployId: number): Record<string, string> {
  return { 'kubecontrol:app': app, 'kubecontrol:deploy': String(deployId), 'kubecontrol:managed-by': 'kubecontrol' };
}
