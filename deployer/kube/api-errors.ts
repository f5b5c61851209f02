/**
 * Kubernetes API failures as InfraErrors: the HTTP status and the API's own
 * message in the text, the client's error kept as `cause`. Callers branch on
 * `httpStatus` (404, 409, ...) or on the InfraError's code, never on text.
 */
import { InfraError, errorMessage } from '../errors.js';

/** The HTTP status of a failed @kubernetes/client-node call (its ApiException's `code`), if it had one. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof InfraError) return httpStatus(err.cause);
  const code: unknown = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** Whether the API answered 404 Not Found. */
export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;

/** Whether the API answered 409 Conflict (AlreadyExists, or a stale resourceVersion/uid precondition). */
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;

/** The reason and message of a Kubernetes Status body, as client-node hands it over (string or parsed). */
function statusDetail(err: { body?: unknown; message?: unknown }): string {
  let body: unknown = err.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text.split('\n')[0]!.slice(0, 200);
    }
  }
  if (typeof body === 'object' && body !== null) {
    const { reason, message } = body as { reason?: unknown; message?: unknown };
    const detail = [reason, message].filter((v): v is string => typeof v === 'string' && v !== '').join(': ');
    if (detail) return detail;
  }
  // client-node puts the status text in the message when the body is not a Status object.
  return /\nMessage: ([^\n]*)/.exec(typeof err.message === 'string' ? err.message : '')?.[1] ?? '';
}

/**
 * A failed Kubernetes API call: `Kubernetes <operation> failed: HTTP <status>: <reason>: <message>`.
 * 404 is `not_found` (what the call needed is not there); everything else `provider_failed`.
 */
export function kubeFailure(operation: string, err: unknown): InfraError {
  const status = httpStatus(err);
  if (status !== undefined) {
    const detail = statusDetail(err as { body?: unknown; message?: unknown });
    return new InfraError(status === 404 ? 'not_found' : 'provider_failed', `Kubernetes ${operation} failed: HTTP ${status}${detail ? `: ${detail}` : ''}`, { cause: err });
  }
  return new InfraError('provider_failed', `Kubernetes ${operation} failed: ${errorMessage(err)}`, { cause: err });
}
