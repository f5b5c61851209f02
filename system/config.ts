/**
 * Server configuration from environment variables, validated at start (zod);
 * each problem is one clear line, and a bad configuration stops the server.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/** Parses "90s", "2m", "1500ms", "1h" or a number of seconds into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

const schema = z
  .object({
    KUBECONTROL_HOST: z.string().min(1).default('127.0.0.1'),
    KUBECONTROL_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    KUBECONTROL_DB: z.string().min(1).default('./data/kubecontrol.db'),
    KUBECONTROL_PROVIDER: z.enum(['sandbox', 'aws', 'local']).default('sandbox'),
    // 0.005 makes a full blue/green (~35 real minutes of cloud work) take about ten seconds.
    KUBECONTROL_SANDBOX_SCALE: z.coerce.number().positive().max(10).default(0.005),
    KUBECONTROL_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
    KUBECONTROL_AUTH: z.enum(['local', 'token', 'proxy']).optional(),
    KUBECONTROL_PROXY_PEOPLE: z.string().optional(),
    KUBECONTROL_PROXY_ADDRESSES: z.string().optional(),
    KUBECONTROL_APPROVAL_TIMEOUT: z
      .string()
      .optional()
      .refine((v) => v === undefined || parseDuration(v) !== undefined, 'must be a duration like 90s, 10m or 2h'),
    KUBECONTROL_DRAIN: z
      .string()
      .optional()
      .refine((v) => v === undefined || parseDuration(v) !== undefined, 'must be a duration like 90s, 10m or 2h'),
    KUBECONTROL_ADMINS: z.string().default(''),
    KUBECONTROL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    KUBECONTROL_KUBEAPPS_DIR: z.string().optional(),
    // Where the nightly summary of the scheduled refreshes goes (a Slack channel name or id).
    KUBECONTROL_PLATFORM_CHANNEL: z
      .string()
      .regex(/^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]{6,})$/, 'must be a #channel-name or a channel id')
      .default('#platform'),
    SLACK_BOT_TOKEN: z.string().optional(),
    SLACK_SIGNING_SECRET: z.string().optional(),
    SLACK_APP_TOKEN: z.string().optional(),
    SLACK_API_URL: z.string().url().optional(),
  });

/** Problems that need more than one variable to see; checked on the raw values, so they are reported with the rest. */
function crossProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const host = env.KUBECONTROL_HOST ?? '127.0.0.1';
  const auth = env.KUBECONTROL_AUTH ?? (env.KUBECONTROL_PROVIDER === 'aws' ? 'token' : 'local');
  if (auth === 'local' && !LOOPBACK.test(host)) {
    problems.push(`KUBECONTROL_HOST: local mode is unauthenticated and only listens on loopback (got: ${host}); set KUBECONTROL_AUTH=token to listen on other addresses`);
  }
  if (auth === 'proxy') {
    if (!env.KUBECONTROL_PROXY_PEOPLE?.trim()) {
      problems.push(
        'KUBECONTROL_PROXY_PEOPLE: proxy mode needs the mapping from the identities the auth proxy sends to the people the KubeApps name, e.g. alice@corp.example=alice,bob@corp.example=U0BOB0001',
      );
    } else problems.push(...parseProxyPeople(env.KUBECONTROL_PROXY_PEOPLE).problems);
    if (!env.KUBECONTROL_PROXY_ADDRESSES?.trim()) {
      problems.push('KUBECONTROL_PROXY_ADDRESSES: proxy mode needs the auth proxy\'s addresses (IPs or CIDRs, comma-separated, e.g. 10.0.3.7,10.0.4.0/24): identity headers are trusted from them only');
    } else problems.push(...parseProxyAddresses(env.KUBECONTROL_PROXY_ADDRESSES).problems);
  }
  if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
    problems.push('SLACK_SIGNING_SECRET: SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)');
  }
  if ((env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN) && !env.SLACK_BOT_TOKEN) {
    problems.push('SLACK_BOT_TOKEN: Slack is half configured: SLACK_BOT_TOKEN is missing');
  }
  return problems;
}

/** The validated configuration. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dbPath: string;
  readonly provider: 'sandbox' | 'aws' | 'local';
  readonly sandboxScale: number;
  readonly concurrency: number;
  /**
   * 'local': the API and the console trust the caller's user name (loopback only). 'token': per-person bearer
   * tokens for the API; the console is closed. 'proxy': bearer tokens for the API, and the console trusts the
   * auth proxy's identity header (`proxy`).
   */
  readonly auth: 'local' | 'token' | 'proxy';
  /** Proxy mode: who the auth proxy's identities are, and where the proxy connects from. */
  readonly proxy?: ProxySettings;
  readonly approvalTimeoutMs: number | undefined;
  /**
   * How long the old cluster keeps serving after cutover before teardown; default the provider's (≥ 2 × TTL).
   * Refused at start when shorter than a loaded app's DNS TTL (system/compose.ts), so "≥ DNS TTL" holds.
   */
  readonly drainMs: number | undefined;
  readonly admins: readonly string[];
  readonly logLevel: string;
  readonly kubeappsDir: string | undefined;
  /** The Slack channel of the nightly summary of scheduled refreshes (bot/schedule-announcer.ts). @default '#platform' */
  readonly platformChannel: string;
  readonly slack: { readonly botToken?: string; readonly signingSecret?: string; readonly appToken?: string; readonly apiUrl?: string } | undefined;
}

/** The auth proxy in front of the console (KUBECONTROL_AUTH=proxy). */
export interface ProxySettings {
  /** The proxy's identity (X-Forwarded-Email or X-Forwarded-User, lower-cased) → the person the KubeApps name. */
  readonly people: ReadonlyMap<string, string>;
  /** The proxy's addresses: IPs and CIDRs (`10.0.3.7`, `10.0.4.0/24`, `::1`), as written. */
  readonly addresses: readonly string[];
}

const PERSON = /^[\w.@-]{1,64}$/;

/** `alice@corp.example=alice,bob@corp.example=U0BOB0001` → a map, and one problem per malformed entry. */
export function parseProxyPeople(raw: string): { people: Map<string, string>; problems: string[] } {
  const people = new Map<string, string>();
  const problems: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const identity = eq > 0 ? entry.slice(0, eq).trim().toLowerCase() : '';
    const person = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!identity || !person) {
      problems.push(`KUBECONTROL_PROXY_PEOPLE: ${JSON.stringify(entry)} is not IDENTITY=PERSON (e.g. alice@corp.example=alice)`);
    } else if (!PERSON.test(person) || person.startsWith('@')) {
      problems.push(`KUBECONTROL_PROXY_PEOPLE: ${JSON.stringify(person)} (for ${identity}) is not a person's name or id (letters, digits, _ . @ -; not a @group)`);
    } else if (people.has(identity) && people.get(identity) !== person) {
      problems.push(`KUBECONTROL_PROXY_PEOPLE: ${identity} is mapped twice (${people.get(identity)} and ${person})`);
    } else people.set(identity, person);
  }
  if (!people.size && !problems.length) problems.push('KUBECONTROL_PROXY_PEOPLE: maps nobody');
  return { people, problems };
}

/** `10.0.3.7,10.0.4.0/24,::1` → the entries, and one problem per entry that is not an IP or a CIDR. */
export function parseProxyAddresses(raw: string): { addresses: string[]; problems: string[] } {
  const addresses: string[] = [];
  const problems: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [ip, bits, extra] = entry.split('/');
    const version = isIP(ip ?? '');
    const max = version === 6 ? 128 : 32;
    if (!version || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
      problems.push(`KUBECONTROL_PROXY_ADDRESSES: ${JSON.stringify(entry)} is not an IP address or a CIDR (e.g. 10.0.3.7 or 10.0.4.0/24)`);
    } else addresses.push(entry);
  }
  return { addresses, problems };
}

/** Thrown with one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Bad configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration from `env`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => {
        const key = String(i.path[0] ?? '');
        const raw = key ? env[key] : undefined;
        // Never echo secrets back.
        const shown = /TOKEN|SECRET/.test(key) ? '' : raw !== undefined ? ` (got: ${JSON.stringify(raw)})` : '';
        return `${key}: ${i.message.replace(/^Invalid (input|option): /, '')}${shown}`;
      });
  problems.push(...crossProblems(env));
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const e = parsed.data;
  const slackOn = !!e.SLACK_BOT_TOKEN;
  return {
    // An IPv6 literal may be written as in a URL ([::1]); listening takes it bare.
    host: e.KUBECONTROL_HOST.replace(/^\[(.*)\]$/, '$1'),
    port: e.KUBECONTROL_PORT,
    dbPath: e.KUBECONTROL_DB,
    provider: e.KUBECONTROL_PROVIDER,
    sandboxScale: e.KUBECONTROL_SANDBOX_SCALE,
    concurrency: e.KUBECONTROL_CONCURRENCY,
    auth: e.KUBECONTROL_AUTH ?? (e.KUBECONTROL_PROVIDER === 'aws' ? 'token' : 'local'),
    ...(e.KUBECONTROL_AUTH === 'proxy'
      ? { proxy: { people: parseProxyPeople(e.KUBECONTROL_PROXY_PEOPLE!).people, addresses: parseProxyAddresses(e.KUBECONTROL_PROXY_ADDRESSES!).addresses } }
      : {}),
    approvalTimeoutMs: e.KUBECONTROL_APPROVAL_TIMEOUT ? parseDuration(e.KUBECONTROL_APPROVAL_TIMEOUT) : undefined,
    drainMs: e.KUBECONTROL_DRAIN ? parseDuration(e.KUBECONTROL_DRAIN) : undefined,
    admins: e.KUBECONTROL_ADMINS.split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: e.KUBECONTROL_LOG_LEVEL,
    kubeappsDir: e.KUBECONTROL_KUBEAPPS_DIR,
    platformChannel: e.KUBECONTROL_PLATFORM_CHANNEL,
    slack: slackOn
      ? { botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET, appToken: e.SLACK_APP_TOKEN, apiUrl: e.SLACK_API_URL }
      : undefined,
  };
}
