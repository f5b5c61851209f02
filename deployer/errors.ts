/**
 * One error type for infrastructure: a stable `code` that callers branch on,
 * a message people can read, and the low-level error kept as `cause`.
 * (bolt-js's coded errors and kubernetes-client's `{ cause }` wrapping.)
 * Nobody tells errors apart by `name` or by message text.
 */

/** The codes an infrastructure error can carry. */
export type InfraErrorCode =
  /** A wait or call was stopped by a cancel, a step timeout or a shutdown (see `AbortReason`). */
  | 'aborted'
  /** The cloud or cluster refused or failed the call (AWS, Kubernetes, a build). */
  | 'provider_failed'
  /** Something that should exist does not (a cluster, an image, a record). */
  | 'not_found'
  /** The resource exists but belongs to another kubecontrol installation (or to nobody): never adopted, changed or deleted. */
  | 'not_owned'
  /** A rollout or a health check never became healthy. */
  | 'unhealthy'
  /** A wait ran past its limit. */
  | 'timed_out'
  /** Configuration that cannot work (missing setting, unsupported value). */
  | 'misconfigured'
  /** A KubeApp a deploy needs is no longer defined. */
  | 'app_missing';

export class InfraError extends Error {
  constructor(
    readonly code: InfraErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InfraError';
  }
}

/** Whether `err` is an InfraError (optionally with `code`). */
export function isInfraError(err: unknown, code?: InfraErrorCode): err is InfraError {
  return err instanceof InfraError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an InfraError, keeping an existing code. */
export function asInfraError(err: unknown, code: InfraErrorCode = 'provider_failed'): InfraError {
  if (err instanceof InfraError) return err;
  return new InfraError(code, errorMessage(err), { cause: err });
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why a running step was stopped: carried as an AbortSignal's reason.
 * `shutdown` keeps the deploy's state for the next process; `cancelled` and
 * `timeout` end the step.
 */
export class AbortReason extends InfraError {
  constructor(
    readonly kind: 'cancelled' | 'timeout' | 'shutdown',
    message: string,
  ) {
    super(kind === 'timeout' ? 'timed_out' : 'aborted', message);
    this.name = 'AbortReason';
  }
}

/** The AbortReason of a signal, if it carries one. */
export function abortKind(signal: AbortSignal | undefined): AbortReason['kind'] | undefined {
  const reason: unknown = signal?.reason;
  return reason instanceof AbortReason ? reason.kind : undefined;
}
