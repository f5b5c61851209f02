/**
 * The Slack surface: a Bolt app on the command core, in one of two
 * transports, plus the thread reporter.
 *
 *   HTTP (SLACK_SIGNING_SECRET): `POST /slack/events` on the kubecontrol server.
 *   Socket Mode (SLACK_APP_TOKEN, no signing secret): Bolt's SocketModeReceiver.
 *
 * Slack is optional at runtime: if it cannot be reached at start the server
 * starts anyway and the surface connects in the background (with backoff)
 * once Slack answers; meanwhile `/slack/events` verifies each request and
 * answers "kubecontrol is starting". Only a token Slack refuses stops the start.
 * Every Web API call is bounded (a per-attempt timeout, a few retries within
 * a time budget), and every retry Slack caused (429, 5xx, no answer) is logged.
 *
 * Wiring (system/main.ts, the composition root's caller):
 *   const slack = connectSlack(config.slack, { logger });          // no network yet
 *   const k = await startKubecontrol(config, { logger, groups: slack.groups });
 *   const bot = await startSlackBot(slackSurfaceOf(k), slack);       // auth.test, listeners, reporter
 *   bot.statusLine()                                                  // for the banner
 *   …  await bot.stop(); await k.close();
 */
import { App, SocketModeReceiver, webApi, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import { SLACK_USER_ID, SlackGroups, SlackUsers } from './identity.js';
import { registerListeners } from './listeners.js';
import { boltLogger, describeSlackError, isTokenRefused, warningFetch } from './logger.js';
import { MountedHttpReceiver, type Mount } from './receiver.js';
import { ThreadReporter, type DeliveryBacklog } from './reporter.js';
import { ScheduleAnnouncer } from './schedule-announcer.js';

export { ACTION_APPROVE, ACTION_REJECT, SLACK_EVENTS_PATH, SLASH_COMMAND } from './constants.js';
export { SlackGroups, SlackUsers } from './identity.js';
export { ThreadReporter } from './reporter.js';
export { ScheduleAnnouncer } from './schedule-announcer.js';

/**
 * The Web API client's retries of one call (HTTP 429 after its Retry-After,
 * 5xx, no answer): a few, within 20 s, so that no call waits minutes (the
 * client's own default, ten retries in about thirty minutes, is what once
 * stopped the whole server when Slack was down at start).
 */
export const BOUNDED_RETRIES: webApi.RetryOptions = { retries: 3, factor: 2, minTimeout: 1000, maxTimeout: 5000, maxRetryTime: 20_000, randomize: true };

/** How long one attempt of a Web API call may take. */
export const DEFAULT_SLACK_TIMEOUT_MS = 5000;

/** The Slack part of the configuration (console/config.ts). */
export interface SlackSettings {
  readonly botToken?: string;
  readonly signingSecret?: string;
  readonly appToken?: string;
  /** Web API base URL, e.g. http://127.0.0.1:PORT/api/ for a local fake. @default https://slack.com/api/ */
  readonly apiUrl?: string;
}

export interface ConnectOptions {
  readonly logger: Logger;
  /** The Web API client's retries (5xx, no answer, and 429s after their Retry-After). @default BOUNDED_RETRIES */
  readonly retryConfig?: webApi.RetryOptions;
  /** How long one attempt of a Web API call may take before it counts as failed (and is retried). @default 5000 */
  readonly timeoutMs?: number;
  /** How long user-group member lists are trusted. @default 60_000 */
  readonly groupTtlMs?: number;
  /** After how long a user-group lookup without an answer is reported to the asker as failed. @default 2 × timeoutMs */
  readonly groupLookupTimeoutMs?: number;
}

/** The Web API client and the identity caches, made before the server so the core can use the group resolver. */
export interface SlackConnection {
  readonly settings: SlackSettings & { readonly botToken: string };
  readonly client: webApi.WebClient;
  readonly clientOptions: webApi.WebClientOptions;
  /** auth.test at start and while reconnecting: one attempt per call (the connect loop does its own backoff). */
  readonly probe: webApi.WebClient;
  /**
   * The thread reporter's client: no retries of its own. The reporter retries each delivery with its own
   * backoff (honouring Retry-After) and, after an answer that was lost, looks the message up before posting
   * again; a client-level retry of a chat.postMessage whose answer was lost would post it twice.
   */
  readonly reporterClient: webApi.WebClient;
  readonly groups: SlackGroups;
  readonly users: SlackUsers;
  readonly boltLogger: BoltLogger;
  readonly logger: Logger;
}

/** Creates the Slack Web API client and the caches. Makes no request. */
export function connectSlack(settings: SlackSettings, options: ConnectOptions): SlackConnection {
  if (!settings.botToken) throw new Error('Slack needs SLACK_BOT_TOKEN');
  if (!settings.signingSecret && !settings.appToken) throw new Error('Slack needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)');
  const secrets = [settings.botToken, settings.signingSecret ?? '', settings.appToken ?? ''];
  const bLogger = boltLogger(options.logger, secrets);
  const log = options.logger.child({ component: 'slack' });
  const retryConfig = options.retryConfig ?? BOUNDED_RETRIES;
  const timeout = options.timeoutMs ?? DEFAULT_SLACK_TIMEOUT_MS;
  const base: webApi.WebClientOptions = {
    logger: bLogger,
    timeout,
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl.endsWith('/') ? settings.apiUrl : `${settings.apiUrl}/` } : {}),
  };
  const budget = `the client retries (at most ${retryConfig.retries ?? 10} times${retryConfig.maxRetryTime ? ` within ${retryConfig.maxRetryTime / 1000}s` : ''})`;
  const clientOptions: webApi.WebClientOptions = { ...base, retryConfig, fetch: warningFetch(log, budget, timeout) };
  const client = new webApi.WebClient(settings.botToken, clientOptions);
  const probe = new webApi.WebClient(settings.botToken, { ...base, retryConfig: { retries: 0 }, fetch: warningFetch(log, 'kubecontrol tries again in the background', timeout) });
  const reporterClient = new webApi.WebClient(settings.botToken, {
    ...base,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    fetch: warningFetch(log, 'the thread reporter retries it with its own backoff', timeout),
  });
  return {
    settings: { ...settings, botToken: settings.botToken },
    client,
    clientOptions,
    probe,
    reporterClient,
    groups: new SlackGroups(client, { ttlMs: options.groupTtlMs, logger: log, lookupTimeoutMs: options.groupLookupTimeoutMs ?? 2 * timeout }),
    users: new SlackUsers(client, { logger: log }),
    boltLogger: bLogger,
    logger: options.logger,
  };
}

export interface SlackBotOptions {
  /** At most one round of Slack calls per deploy thread per interval. @default 1000 */
  readonly cardIntervalMs?: number;
  /** How often a running deploy's card refreshes its elapsed time when nothing else happens. @default 30_000 */
  readonly heartbeatMs?: number;
  /** How long the start waits for the first load of the KubeApps' user groups. @default 5000 */
  readonly groupWarmupMs?: number;
  /** When Slack cannot be reached: the first wait before trying again, doubled after each failure up to `maxMs`. @default { firstMs: 2000, maxMs: 60_000 } */
  readonly reconnect?: { readonly firstMs?: number; readonly maxMs?: number };
}

/** What the Slack surface needs from the running system, and nothing more. */
export interface SlackSurfaceDeps {
  readonly core: CommandCore;
  /** Read models (deploys, events, threads) and the committed-event feed; the reporter records its thread state there. */
  readonly store: Store;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly providerLabel: string;
  /** The server's base URL, for the log line. */
  readonly url: string;
  /** Mounts `/slack/events` on the server (HTTP mode). */
  mount(handler: Mount): void;
  /** Tells the server how to say where this surface stands (/api/info): connected or not, what Slack has not caught up with. */
  reportStatus?(surface: string, line: () => string): void;
  /** Where the nightly summary of scheduled refreshes goes (KUBECONTROL_PLATFORM_CHANNEL). @default '#platform' */
  readonly platformChannel?: string;
}

/** Where the Slack surface stands. */
export type SlackStatus =
  | { readonly state: 'connected'; readonly since: number }
  /** Slack could not be reached (network, 5xx, no answer); trying again in the background. */
  | { readonly state: 'connecting'; readonly reason: string; readonly attempts: number; readonly nextAttemptAt: number | undefined }
  /** Slack refused the token while reconnecting: the surface stays off until a restart with a valid token. */
  | { readonly state: 'refused'; readonly reason: string }
  | { readonly state: 'stopped' };

/** The running Slack surface. */
export interface SlackBot {
  readonly mode: 'http' | 'socket';
  /** The Bolt app, once Slack has answered. */
  readonly app: App | undefined;
  readonly reporter: ThreadReporter;
  /** Scheduled refreshes in Slack: announcements in their channels, the nightly summary. */
  readonly announcer: ScheduleAnnouncer;
  /** The bot's own user id, from auth.test (once connected). */
  readonly botUserId: string | undefined;
  status(): SlackStatus;
  /** One line for the start banner: "on (…)", "not reachable yet (…); retrying …". */
  statusLine(): string;
  /** Resolves once the surface is connected (at once if it is). */
  connected(): Promise<void>;
  /** Stops the reporter, the transport, the group refresh and any reconnecting. Call before Kubecontrol.close(). */
  stop(): Promise<void>;
}

/** Thrown when Slack refuses the configuration at start (bad token, …). */
export class SlackStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlackStartError';
  }
}

/**
 * Starts the Slack surface: Bolt (HTTP on the server, or Socket Mode) and the
 * thread reporter. Waits for one auth.test (bounded by the client's timeout):
 * a token Slack refuses throws `SlackStartError`; Slack unreachable returns a
 * bot that is `connecting` and keeps trying in the background.
 */
export async function startSlackBot(k: SlackSurfaceDeps, slack: SlackConnection, options: SlackBotOptions = {}): Promise<SlackBot> {
  const { settings } = slack;
  const log = slack.logger.child({ component: 'slack' });
  const mode: SlackBot['mode'] = settings.signingSecret ? 'http' : 'socket';
  // HTTP: mounted now, so that Slack's requests are verified and answered ("starting") before Slack is reachable.
  const http = settings.signingSecret ? new MountedHttpReceiver({ signingSecret: settings.signingSecret, logger: slack.boltLogger }) : undefined;
  if (http) k.mount(http.mount);

  const announcer = new ScheduleAnnouncer({
    store: k.store,
    core: k.core,
    apps: k.apps,
    client: slack.reporterClient,
    logger: slack.logger,
    platformChannel: k.platformChannel ?? '#platform',
    providerLabel: k.providerLabel,
    intervalMs: options.cardIntervalMs,
    groupIds: (handle) => slack.groups.idOf(handle),
  });
  const reporter = new ThreadReporter({
    beforeCard: (deployId) => announcer.beforeCard(deployId),
    store: k.store,
    core: k.core,
    apps: k.apps,
    client: slack.reporterClient,
    logger: slack.logger,
    providerLabel: k.providerLabel,
    intervalMs: options.cardIntervalMs,
    heartbeatMs: options.heartbeatMs,
    groupIds: (handle) => slack.groups.idOf(handle),
  });
  const named = [...k.apps.values()].flatMap((a) => [...a.owners, ...a.deployers, ...a.approvers]);
  const handles = named.filter((p) => p.startsWith('@'));
  const people = new Set(named.filter((p) => SLACK_USER_ID.test(p)));

  let app: App | undefined;
  let botUserId: string | undefined;
  let status: SlackStatus = { state: 'connecting', reason: 'not tried yet', attempts: 0, nextAttemptAt: undefined };
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let markConnected!: () => void;
  const connectedP = new Promise<void>((resolve) => (markConnected = resolve));
  const firstMs = options.reconnect?.firstMs ?? 2000;
  const maxMs = options.reconnect?.maxMs ?? 60_000;

  /** Builds the Bolt app on the identity auth.test gave, and starts the transport. Throws if the transport cannot start (Socket Mode). */
  const goLive = async (auth: webApi.AuthTestResponse): Promise<void> => {
    let receiver: Receiver;
    if (http) receiver = http;
    else
      receiver = new SocketModeReceiver({
        appToken: settings.appToken!,
        logger: slack.boltLogger,
        // Without clientId/clientSecret this only points apps.connections.open at SLACK_API_URL (no OAuth server is started).
        installerOptions: { clientOptions: { slackApiUrl: slack.clientOptions.slackApiUrl, retryConfig: slack.clientOptions.retryConfig, timeout: slack.clientOptions.timeout, fetch: slack.clientOptions.fetch } },
      });
    const candidate = new App({
      token: settings.botToken,
      // Who the bot is, from auth.test: Bolt then never calls auth.test on the ack path.
      botId: auth.bot_id,
      botUserId: auth.user_id,
      receiver,
      logger: slack.boltLogger,
      clientOptions: slack.clientOptions,
    });
    // One global error handler: Bolt's own messages are already scrubbed of tokens by the logger.
    candidate.error(async (error) => {
      slack.logger.error({ err: { name: error.name, code: (error as { code?: unknown }).code, message: error.message } }, 'Slack listener failed');
    });
    // Keep the groups the KubeApps name warm, so permission checks answer from memory (authorisation
    // never waits on Slack). The first load is awaited, briefly, before commands are taken.
    let warmTimer: NodeJS.Timeout | undefined;
    await Promise.race([slack.groups.keepWarm(handles), new Promise((r) => (warmTimer = setTimeout(r, options.groupWarmupMs ?? 5000)))]);
    clearTimeout(warmTimer);
    registerListeners(candidate, { core: k.core, apps: k.apps, users: slack.users, logger: slack.logger });
    if (stopped) throw new Error('the Slack surface was stopped while connecting');
    try {
      await candidate.start();
    } catch (err) {
      await candidate.stop().catch(() => undefined);
      throw err;
    }
    if (stopped) {
      await candidate.stop().catch(() => undefined);
      throw new Error('the Slack surface was stopped while connecting');
    }
    app = candidate;
    botUserId = auth.user_id;
    reporter.start();
    announcer.start();
    // And the names of the people they name, so answers say "Bob" rather than a user name or an id.
    for (const id of people) void slack.users.resolve(id);
    status = { state: 'connected', since: Date.now() };
    markConnected();
    log.info({ mode, botUserId: auth.user_id, team: auth.team }, `Slack is on (${mode === 'http' ? `POST ${k.url}/slack/events` : 'Socket Mode'})`);
  };

  /** One try: 'refused' when Slack refuses the token, else connected or still connecting (status says why). */
  const attempt = async (): Promise<'connected' | 'refused' | 'unreachable'> => {
    const attempts = status.state === 'connecting' ? status.attempts + 1 : 1;
    let auth: webApi.AuthTestResponse;
    try {
      auth = await slack.probe.auth.test();
    } catch (err) {
      if (stopped) return 'unreachable';
      const reason = `auth.test: ${describeSlackError(err)}`;
      if (isTokenRefused(err)) {
        status = { state: 'refused', reason };
        return 'refused';
      }
      status = { state: 'connecting', reason, attempts, nextAttemptAt: undefined };
      return 'unreachable';
    }
    try {
      await goLive(auth);
      return 'connected';
    } catch (err) {
      if (stopped) return 'unreachable';
      status = { state: 'connecting', reason: `${mode === 'socket' ? 'Socket Mode' : 'Bolt'}: ${describeSlackError(err)}`, attempts, nextAttemptAt: undefined };
      return 'unreachable';
    }
  };

  const scheduleRetry = (): void => {
    if (status.state !== 'connecting') return;
    const delay = Math.min(maxMs, firstMs * 2 ** Math.max(0, status.attempts - 1));
    status = { ...status, nextAttemptAt: Date.now() + delay };
    log.warn({ attempts: status.attempts, reason: status.reason, retryInMs: delay }, `Slack is not reachable yet (${status.reason}); trying again in ${Math.round(delay / 100) / 10}s`);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void attempt().then((outcome) => {
        const now = status as SlackStatus;
        if (outcome === 'refused' && now.state === 'refused') {
          log.error({ reason: now.reason }, `Slack refused SLACK_BOT_TOKEN (${now.reason}); Slack stays off until kubecontrol is restarted with a valid token`);
        } else if (outcome === 'unreachable') scheduleRetry();
      });
    }, delay);
    retryTimer.unref();
  };

  const first = await attempt();
  if (first === 'refused') {
    http?.close();
    const refused = status as SlackStatus;
    throw new SlackStartError(`Slack refused SLACK_BOT_TOKEN (${refused.state === 'refused' ? refused.reason : 'auth.test'})`);
  }
  if (first === 'unreachable') scheduleRetry();
  k.reportStatus?.('slack', () => statusLine(status, mode, k.url, reporter.backlog()));

  return {
    mode,
    get app() {
      return app;
    },
    reporter,
    announcer,
    get botUserId() {
      return botUserId;
    },
    status: () => status,
    statusLine: () => statusLine(status, mode, k.url, reporter.backlog()),
    connected: () => connectedP,
    async stop() {
      stopped = true;
      status = { state: 'stopped' };
      clearTimeout(retryTimer);
      http?.close();
      slack.groups.stop();
      await reporter.stop();
      await announcer.stop();
      await app?.stop().catch((err: unknown) => slack.logger.warn({ err }, 'stopping the Slack transport failed'));
    },
  };
}

/** The banner's Slack line for a status, with what Slack has not taken yet (the reporter's backlog), if anything. */
export function statusLine(status: SlackStatus, mode: SlackBot['mode'], url: string, backlog: readonly DeliveryBacklog[] = []): string {
  const undelivered = backlogLine(backlog);
  switch (status.state) {
    case 'connected':
      return `on (${mode === 'http' ? `HTTP: Slack posts to ${url}/slack/events` : 'Socket Mode'})${undelivered ? `; ${undelivered}` : ''}`;
    case 'connecting':
      return `not reachable yet (${status.reason}); retrying in the background${mode === 'http' ? ' (until then /kubeapp answers "kubecontrol is starting")' : ''}`;
    case 'refused':
      return `off: Slack refused SLACK_BOT_TOKEN (${status.reason}); restart with a valid token`;
    case 'stopped':
      return 'stopped';
  }
}

/** "not yet delivered: #4 card (service_unavailable, 3 tries), #5 final (channel_not_found, stopped)"; '' when nothing is owed. */
export function backlogLine(backlog: readonly DeliveryBacklog[], max = 3): string {
  if (!backlog.length) return '';
  const parts = backlog.slice(0, max).map((b) =>
    b.pending.map((p) => `#${b.deployId} ${p.kind} (${p.lastError}, ${p.permanent ? 'stopped' : `${p.attempts} ${p.attempts === 1 ? 'try' : 'tries'}`})`).join(', '),
  );
  const more = backlog.length > max ? ` and ${backlog.length - max} more deploys` : '';
  return `not yet delivered to Slack: ${parts.join(', ')}${more}`;
}
