/** `npm start`: the kubecontrol server (deployer, API, and Slack when configured), built by the composition root. */
import { connectSlack, startSlackBot, SlackStartError, type SlackBot } from '../bot/index.js';
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import type { KubeApp } from '../kubeapps/index.js';
import { slackSurfaceOf, startKubecontrol, StartupError } from './compose.js';
import { localUrl, pidAlive, readServerFile, removeServerFile, serverFilePath, writeServerFile } from './server-file.js';
import { relative } from 'node:path';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kubecontrol: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // One server per database: two would drive the same deploys. The run file names a live one.
  const runFile = serverFilePath(config.dbPath);
  const running = runFile ? readServerFile(runFile) : undefined;
  if (running && running.pid !== process.pid && pidAlive(running.pid)) {
    process.stderr.write(
      `kubecontrol cannot start:\n  - another kubecontrol (pid ${running.pid}, ${running.url}) is using the database ${config.dbPath}: stop it first, or set KUBECONTROL_DB to another file\n`,
    );
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  // Slack's client and group resolver exist before the core, which checks `@group` entries through it.
  // Slack unreachable at start does not stop the server: the surface connects in the background (bot.statusLine()).
  const slackConnection = config.slack ? connectSlack(config.slack, { logger }) : undefined;
  let k;
  let bot: SlackBot | undefined;
  try {
    k = await startKubecontrol(config, { logger, groups: slackConnection?.groups });
    if (slackConnection) bot = await startSlackBot(slackSurfaceOf(k), slackConnection);
  } catch (err) {
    if (err instanceof StartupError || err instanceof SlackStartError) {
      const problems = err instanceof StartupError ? err.problems : [err.message];
      process.stderr.write(`kubecontrol cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      await k?.close();
      process.exit(2);
    }
    throw err;
  }
  const slack = bot ? bot.statusLine() : 'off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)';
  const url = localUrl(k.url.replace(/\/$/, ''));
  // The run file the CLI finds this server by (removed on a clean stop). Not having one is not a reason not to serve.
  let serverFile: string | undefined;
  try {
    serverFile = writeServerFile(config.dbPath, { url, pid: process.pid, installation: k.installation, startedAt: new Date().toISOString() });
  } catch (err) {
    logger.warn({ err }, `cannot write ${serverFilePath(config.dbPath) ?? 'the server file'}: the CLI will not find this server by itself`);
  }
  const banner = [
    `kubecontrol is listening on ${k.url}`,
    `  provider: ${k.provider.label}${k.provider.name === 'sandbox' ? ` — SANDBOX: nothing real is created (scale ${config.sandboxScale})` : ''}`,
    `  mode:     ${MODE_WORDS[config.auth]}`,
    `  console:  ${CONSOLE_WORDS[config.auth](url)}`,
    `  database: ${config.dbPath} (installation ${k.installation}: every resource it creates carries this id)`,
    `  slack:    ${slack}`,
    `  apps:     ${[...k.apps.keys()].join(', ')}`,
    ...k.warnings.map((w) => `  warning:  ${w}`),
    ...cliLines(url, serverFile),
    ...(config.auth === 'local' ? [tryLine(k.apps, url, foundFromHere(serverFile))] : []),
  ];
  process.stdout.write(`${banner.join('\n')}\n`);
  // Slack came back after the start: say so where the banner said it was not reachable.
  if (bot && bot.status().state !== 'connected') void bot.connected().then(() => process.stdout.write(`  slack:    ${bot.statusLine()}\n`));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping; running deploys resume at the next start');
    // Not found by the CLI any more from the moment it stops taking commands (only our own file: another server may have started since).
    removeServerFile(config.dbPath);
    // The bot first: its reporter reads the store, which k.close() closes.
    void (bot ? bot.stop() : Promise.resolve()).then(() => k.close()).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();

/** The banner's words for each KUBECONTROL_AUTH. */
const MODE_WORDS: Readonly<Record<'local' | 'token' | 'proxy', string>> = {
  local: 'local (unauthenticated: the CLI acts as your OS user, or --as PERSON)',
  token: 'token (per-person bearer tokens)',
  proxy: 'proxy (the console trusts the auth proxy; the API per-person bearer tokens)',
};

/** Where the console is, and how people reach it, by mode. */
const CONSOLE_WORDS: Readonly<Record<'local' | 'token' | 'proxy', (url: string) => string>> = {
  local: (url) => `${url}/ (open it in a browser; it says it is unauthenticated and you choose who you act as)`,
  token: () => 'closed: a browser cannot send API tokens; put it behind an auth proxy (KUBECONTROL_AUTH=proxy, see README "Console")',
  proxy: (url) => `${url}/ through the auth proxy only (identity headers are trusted from KUBECONTROL_PROXY_ADDRESSES)`,
};

/** Where the CLI calls when KUBECONTROL_URL is not set and no server.json names a running server (cli/program.ts). */
const DEFAULT_CLI_URL = 'http://127.0.0.1:3000';
/** The database when KUBECONTROL_DB is not set (system/config.ts), beside which the CLI looks for server.json. */
const DEFAULT_DB = './data/kubecontrol.db';

/** Whether a CLI started in this folder without KUBECONTROL_DB or KUBECONTROL_URL looks at `serverFile` (./data/server.json). */
function foundFromHere(serverFile: string | undefined): boolean {
  return serverFile !== undefined && serverFile === serverFilePath(DEFAULT_DB);
}

/**
 * The banner's `cli:` line: how the CLI finds this server — by itself from this folder (the run
 * file beside the database, when the CLI looks there), and `export KUBECONTROL_URL=…` from anywhere
 * else. Nothing to say when the server is where the CLI looks anyway.
 */
function cliLines(url: string, serverFile: string | undefined): string[] {
  if (url === DEFAULT_CLI_URL) return [];
  const elsewhere = `export KUBECONTROL_URL=${url}`;
  if (!serverFile) return [`  cli:      the CLI calls ${DEFAULT_CLI_URL} unless told otherwise: ${elsewhere}`];
  const file = relative(process.cwd(), serverFile) || serverFile;
  if (foundFromHere(serverFile)) return [`  cli:      npx kubecontrol finds this server from this folder (${file}); from other folders: ${elsewhere}`];
  // The database is not where a CLI started here looks by default: it needs the same KUBECONTROL_DB, or the URL.
  return [`  cli:      npx kubecontrol finds this server with KUBECONTROL_DB=${dbPathOf()} set (it reads ${file}); or anywhere: ${elsewhere}`];
}

/** The database as it was given (KUBECONTROL_DB), for a line to copy. */
function dbPathOf(): string {
  return process.env.KUBECONTROL_DB ?? DEFAULT_DB;
}

/**
 * The banner's first thing to try, with this installation's own apps and people (a KubeApps folder
 * may not have search-svc), and the server's URL when the CLI would not find it by itself.
 */
function tryLine(apps: ReadonlyMap<string, KubeApp>, url: string, found: boolean): string {
  const app = apps.get('search-svc') ?? [...apps.values()][0];
  if (!app) return 'Try: npx kubecontrol help';
  const env = url === DEFAULT_CLI_URL || found ? '' : `KUBECONTROL_URL=${url} `;
  const deployer = app.deployers.find((p) => !p.startsWith('@')) ?? app.owners.find((p) => !p.startsWith('@')) ?? 'PERSON';
  const approver = app.approvers.find((p) => p !== deployer && !p.startsWith('@')) ?? 'AN_APPROVER';
  return `Try: ${env}npx kubecontrol deploy ${app.name} v123 --as ${deployer}   (then: ${env}npx kubecontrol approve 1 --as ${approver})`;
}
