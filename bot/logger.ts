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
    debug: (...msg: unknown[]) => log.debug(toText(secrets, msg)),
    info: (...msg: unknown[]) => log.info(toText(secrets, msg)),
    warn: (...msg: unknown[]) => log.warn(toText(secrets, msg)),
    error: (...msg: unknown[]) => log.error(toText(secrets, msg)),
    // pino's level stays in charge; these exist because the interface asks for them.
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
