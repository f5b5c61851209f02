/** `npm start`: the kubecontrol server (deployer, API, and Slack when configured), built by the composition root. */
import { connectSlack, startSlackBot, SlackStartError, type SlackBot } from '../bot/index.js';
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { slackSurfaceOf, startKubecontrol, StartupError } from './compose.js';

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
  const banner = [
    `kubecontrol is listening on ${k.url}`,
    `  provider: ${k.provider.label}${k.provider.name === 'sandbox' ? ` — SANDBOX: nothing real is created (scale ${config.sandboxScale})` : ''}`,
    `  mode:     ${config.auth === 'local' ? 'local (unauthenticated: the CLI acts as your OS user, or --as PERSON)' : 'token (per-person bearer tokens)'}`,
    `  database: ${config.dbPath} (installation ${k.installation}: every resource it creates carries this id)`,
    `  slack:    ${slack}`,
    `  apps:     ${[...k.apps.keys()].join(', ')}`,
    ...k.warnings.map((w) => `  warning:  ${w}`),
    ...(config.auth === 'local' ? ['Try: npx kubecontrol deploy search-svc v123 --as carol   (then: npx kubecontrol approve 1 --as bob)'] : []),
  ];
  process.stdout.write(`${banner.join('\n')}\n`);
  // Slack came back after the start: say so where the banner said it was not reachable.
  if (bot && bot.status().state !== 'connected') void bot.connected().then(() => process.stdout.write(`  slack:    ${bot.statusLine()}\n`));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping; running deploys resume at the next start');
    // The bot first: its reporter reads the store, which k.close() closes.
    void (bot ? bot.stop() : Promise.resolve()).then(() => k.close()).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
