/**
 * The Slack surface: a Bolt app on the command core, in one of two
 * transports, plus the thread reporter.
 *
 *   HTTP (SLACK_SIGNING_SECRET): `POST /slack/events` on the kubecontrol server.
 *   Socket Mode (SLACK_APP_TOKEN, no signing secret): Bolt's SocketModeReceiver.
 *
 * Wiring (system/main.ts, the composition root's caller):
 *   const slack = connectSlack(config.slack, { logger });          // no network yet
 *   const k = await startKubecontrol(config, { logger, groups: slack.groups });
 *   const bot = await startSlackBot(slackSurfaceOf(k), slack);       // auth.test, listeners, reporter
 *   …  await bot.stop(); await k.close();
 */
import { App, SocketModeReceiver, webApi, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import { SLACK_USER_ID, SlackGroups, SlackUsers } from './identity.js';
import { registerListeners } from './listeners.js';
import { boltLogger } from './logger.js';
import { MountedHttpReceiver, type Mount } from './receiver.js';
import { ThreadReporter } from './reporter.js';

export { ACTION_APPROVE, ACTION_REJECT, SLACK_EVENTS_PATH, SLASH_COMMAND } from './constants.js';
export { SlackGroups, SlackUsers } from './identity.js';
export { ThreadReporter } from './reporter.js';

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
  /** The Web API client's retries (5xx, network errors and 429s after their Retry-After). @default Slack's tenRetriesInAboutThirtyMinutes */
  readonly retryConfig?: webApi.RetryOptions;
  /** How long user-group member lists are trusted. @default 60_000 */
  readonly groupTtlMs?: number;
}

/** The Web API client and the identity caches, made before the server so the core can use the group resolver. */
export interface SlackConnection {
  readonly settings: SlackSettings & { readonly botToken: string };
  readonly client: webApi.WebClient;
  readonly clientOptions: webApi.WebClientOptions;
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
  const clientOptions: webApi.WebClientOptions = {
    logger: bLogger,
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl.endsWith('/') ? settings.apiUrl : `${settings.apiUrl}/` } : {}),
    ...(options.retryConfig ? { retryConfig: options.retryConfig } : {}),
  };
  const client = new webApi.WebClient(settings.botToken, clientOptions);
  const log = options.logger.child({ component: 'slack' });
  return {
    settings: { ...settings, botToken: settings.botToken },
    client,
    clientOptions,
    groups: new SlackGroups(client, { ttlMs: options.groupTtlMs, logger: log }),
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
}

/** The running Slack surface. */
export interface SlackBot {
  readonly mode: 'http' | 'socket';
  readonly app: App;
  readonly reporter: ThreadReporter;
  /** The bot's own user id, from auth.test. */
  readonly botUserId: string;
  /** Stops the reporter, the transport and the group refresh. Call before Kubecontrol.close(). */
  stop(): Promise<void>;
}

/** Thrown when Slack refuses the configuration at start (bad token, …). */
export class SlackStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlackStartError';
  }
}

/** Starts the Bolt app (HTTP on the server, or Socket Mode) and the thread reporter. */
export async function startSlackBot(k: SlackSurfaceDeps, slack: SlackConnection, options: SlackBotOptions = {}): Promise<SlackBot> {
  const { settings } = slack;
  // Who the bot is, once, before any request: Bolt then never calls auth.test on the ack path.
  let auth: webApi.AuthTestResponse;
  try {
    auth = await slack.client.auth.test();
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    throw new SlackStartError(`Slack refused SLACK_BOT_TOKEN (auth.test: ${code ?? (err instanceof Error ? err.message : String(err))})`, { cause: err });
  }

  let receiver: Receiver;
  let mode: SlackBot['mode'];
  let http: MountedHttpReceiver | undefined;
  if (settings.signingSecret) {
    http = new MountedHttpReceiver({ signingSecret: settings.signingSecret, logger: slack.boltLogger });
    receiver = http;
    mode = 'http';
  } else {
    receiver = new SocketModeReceiver({
      appToken: settings.appToken!,
      logger: slack.boltLogger,
      // Without clientId/clientSecret this only points apps.connections.open at SLACK_API_URL (no OAuth server is started).
      installerOptions: { clientOptions: { slackApiUrl: slack.clientOptions.slackApiUrl, retryConfig: slack.clientOptions.retryConfig } },
    });
    mode = 'socket';
  }

  const app = new App({
    token: settings.botToken,
    botId: auth.bot_id,
    botUserId: auth.user_id,
    receiver,
    logger: slack.boltLogger,
    clientOptions: slack.clientOptions,
  });
  // One global error handler: Bolt's own messages are already scrubbed of tokens by the logger.
  app.error(async (error) => {
    slack.logger.error({ err: { name: error.name, code: (error as { code?: unknown }).code, message: error.message } }, 'Slack listener failed');
  });
  // Keep the groups the KubeApps name warm, so permission checks answer from memory (authorisation
  // never waits on Slack). The first load is awaited, briefly, before commands are taken.
  const handles = [...k.apps.values()].flatMap((a) => [...a.owners, ...a.deployers, ...a.approvers]).filter((p) => p.startsWith('@'));
  let warmTimer: NodeJS.Timeout | undefined;
  await Promise.race([slack.groups.keepWarm(handles), new Promise((r) => (warmTimer = setTimeout(r, options.groupWarmupMs ?? 5000)))]);
  clearTimeout(warmTimer);
  registerListeners(app, { core: k.core, apps: k.apps, users: slack.users, logger: slack.logger });
  await app.start();
  if (http) k.mount(http.mount);

  const reporter = new ThreadReporter({
    store: k.store,
    core: k.core,
    apps: k.apps,
    client: slack.client,
    logger: slack.logger,
    providerLabel: k.providerLabel,
    intervalMs: options.cardIntervalMs,
    heartbeatMs: options.heartbeatMs,
    groupIds: (handle) => slack.groups.idOf(handle),
  });
  reporter.start();

  // And the names of the people they name, so answers say "Bob" rather than a user name or an id.
  const people = new Set([...k.apps.values()].flatMap((a) => [...a.owners, ...a.deployers, ...a.approvers]).filter((p) => SLACK_USER_ID.test(p)));
  for (const id of people) void slack.users.resolve(id);

  slack.logger.info({ mode, botUserId: auth.user_id, team: auth.team }, `Slack is on (${mode === 'http' ? `POST ${k.url}/slack/events` : 'Socket Mode'})`);
  return {
    mode,
    app,
    reporter,
    botUserId: auth.user_id ?? '',
    async stop() {
      http?.close();
      slack.groups.stop();
      await reporter.stop();
      await app.stop().catch((err: unknown) => slack.logger.warn({ err }, 'stopping the Slack transport failed'));
    },
  };
}
