/**
 * Bolt's and the Web API client's logger, backed by our pino logger. Their
 * messages are strings, which pino's path redaction cannot see into, so every
 * string is scrubbed of Slack tokens (xoxb-, xapp-, …) and of the configured
 * secrets before it is written.
 */
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';

const TOKEN_PATTERN = /\b(xox[abposre]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+/g;

/** Replaces Slack tokens and the given secrets in `text` with [redacted]. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(TOKEN_PATTERN, '[redacted]');
  for (const secret of secrets) if (secret && secret.length >= 8) out = out.split(secret).join('[redacted]');
  return out;
}

const toText = (secrets: readonly string[], parts: unknown[]): string =>
  scrub(
    parts
      .map((p) => (typeof p === 'string' ? p : p instanceof Error ? `${p.name}: ${p.message}` : safeJson(p)))
      .join(' '),
    secrets,
  );

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A Bolt/Web API logger writing to `logger` (a child named `component`), with secrets scrubbed. */
export function boltLogger(logger: Logger, secrets: readonly string[], component = 'slack'): BoltLogger {
  const log = logger.child({ component });
  let level: LogLevel = LogLevel.INFO;
  return {
    // Formatted (and scrubbed) only when pino will write it: the Web API client logs every request at debug, payload included.
    debug: (...msg: unknown[]) => void (log.isLevelEnabled('debug') && log.debug(toText(secrets, msg))),
    info: (...msg: unknown[]) => void (log.isLevelEnabled('info') && log.info(toText(secrets, msg))),
    warn: (...msg: unknown[]) => void (log.isLevelEnabled('warn') && log.warn(toText(secrets, msg))),
    error: (...msg: unknown[]) => void (log.isLevelEnabled('error') && log.error(toText(secrets, msg))),
    // pino's level stays in charge; these exist because the interface asks for them.
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/**
 * One line for why a Slack Web API call failed, for logs and for people
 * ("ratelimited", "Slack answered HTTP 503", "Slack did not answer (timed out)",
 * "cannot reach Slack (ECONNREFUSED)"): never a stack, never a token.
 */
export function describeSlackError(err: unknown): string {
  const e = err as { code?: unknown; data?: { error?: unknown }; statusCode?: unknown; retryAfter?: unknown; original?: unknown; message?: unknown };
  if (e?.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string') return e.data.error;
  if (e?.code === 'slack_webapi_http_error') return `Slack answered HTTP ${String(e.statusCode)}`;
  if (e?.code === 'slack_webapi_rate_limited_error') return `rate limited by Slack (retry after ${String(e.retryAfter)}s)`;
  if (e?.code === 'slack_webapi_request_error') {
    const original = e.original as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
    // The abort's DOMException may come from another realm and be re-wrapped as a plain Error: match its text too.
    if (original?.name === 'TimeoutError' || original?.name === 'AbortError' || /TimeoutError|aborted due to timeout/.test(original?.message ?? '')) return 'Slack did not answer (timed out)';
    const why = original?.cause?.code ?? original?.cause?.message ?? original?.message ?? 'network error';
    return `cannot reach Slack (${scrub(String(why)).replace(/^TypeError: /, '')})`;
  }
  if (err instanceof Error && /rate limit was exceeded/.test(err.message)) return 'rate limited by Slack';
  // The retry library's own error when the time budget (maxRetryTime) ran out.
  if (err instanceof Error && /RetryOperation timeout occurred/.test(err.message)) return 'Slack kept failing for the whole retry budget';
  return scrub(err instanceof Error ? err.message : String(err)).slice(0, 200);
}

/** Whether a Slack error is Slack refusing the token itself (as opposed to Slack being unreachable or failing). */
export function isTokenRefused(err: unknown): boolean {
  const e = err as { code?: unknown; data?: { error?: unknown } };
  return e?.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string' && TOKEN_REFUSALS.has(e.data.error);
}

const TOKEN_REFUSALS: ReadonlySet<string> = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);

/**
 * A `fetch` for the Web API client (and Bolt's `respond`, which borrows it)
 * that logs a warning for every answer the client will retry (HTTP 429 and
 * 5xx) and every call that got no answer, with the method's name: the
 * client's own retries are otherwise silent (429s are logged at info, 5xx
 * not at all). A request that brings no deadline of its own (a response_url
 * POST from Bolt's `respond`) gets `timeoutMs`.
 */
export function warningFetch(log: Logger, retries: string, timeoutMs: number, base: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname;
    const api = /\/api\/([\w.]+)$/.exec(path);
    // A response_url is not the Web API: nobody retries it, and its path is a secret-ish token.
    const method = api ? api[1]! : 'response_url';
    const next = api ? retries : 'not retried';
    let res: Response;
    try {
      res = await base(input, init?.signal ? init : { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string } };
      const why = e?.name === 'TimeoutError' || e?.name === 'AbortError' || /aborted due to timeout/.test(e?.message ?? '') ? 'no answer (timed out)' : `cannot reach Slack (${e?.cause?.code ?? e?.message ?? 'network error'})`;
      log.warn({ method, error: why }, `Slack ${method}: ${why}; ${next}`);
      throw err;
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = res.headers.get('retry-after');
      const why = res.status === 429 ? `rate limited (HTTP 429, Retry-After ${retryAfter ?? '?'}s)` : `HTTP ${res.status}`;
      log.warn({ method, status: res.status, retryAfter }, `Slack ${method}: ${why}; ${next}`);
    }
    return res;
  };
}
