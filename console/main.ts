/** `npm start`: the kubecontrol server (deployer, API, and Slack when configured). */
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { startKubecontrol, StartupError } from './server.js';

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
  let k;
  try {
    k = await startKubecontrol(config, { logger });
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`kubecontrol cannot start:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
  const slack = config.slack ? 'on' : 'off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)';
  const banner = [
    `kubecontrol is listening on ${k.url}`,
    `  provider: ${k.provider.label}${k.provider.name === 'sandbox' ? ` — SANDBOX: nothing real is created (scale ${config.sandboxScale})` : ''}`,
    `  mode:     ${config.auth === 'local' ? 'local (unauthenticated: the CLI acts as your OS user, or --as PERSON)' : 'token (per-person bearer tokens)'}`,
    `  database: ${config.dbPath}`,
    `  slack:    ${slack}`,
    `  apps:     ${[...k.apps.keys()].join(', ')}`,
    `Try: npx kubecontrol deploy search-svc v123 --as carol`,
  ];
  process.stdout.write(`${banner.join('\n')}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping; running deploys resume at the next start');
    void k.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
