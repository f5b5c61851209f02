/**
 * `kubecontrol`: a thin client of the kubecontrol server's API (commander).
 * Every command is parsed and checked by the server's command core, the same
 * grammar Slack and the console use; this file only gathers words, shows
 * progress and picks the exit code.
 *
 * Exit codes: 0 ok · 1 the deploy failed / was rejected, timed out or cancelled ·
 * 2 invalid input · 3 refused · 4 not found · 5 conflict (locked, wrong state) ·
 * 6 server unreachable.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CommandResult, DeployView } from '../commands/results.js';
import type { EventRecord } from '../store/index.js';
import { ApiClient, ConnectionError } from './client.js';
import { bold, dim, red, renderEvent, renderResult, renderSummary, yellow } from './render.js';

const EXIT_DEPLOY_FAILED = 1;
const EXIT_UNREACHABLE = 6;

type Result = CommandResult & { exitCode: number; authenticated: boolean };

const program = new Command('kubecontrol')
  .description('Deploy and operate KubeApps from the terminal (talks to the kubecontrol server)')
  .addOption(new Option('--url <url>', 'kubecontrol server').env('KUBECONTROL_URL').default('http://127.0.0.1:3000'))
  .addOption(new Option('--token <token>', 'your API token (outside local mode)').env('KUBECONTROL_TOKEN').hideHelp())
  .option('--as <person>', 'act as a person named in the KubeApps (local mode only)')
  .option('--json', 'print one JSON object instead of text')
  .showSuggestionAfterError(true)
  .exitOverride();

function client(): ApiClient {
  const o = program.opts<{ url: string; token?: string; as?: string }>();
  return new ApiClient({ url: o.url, token: o.token, as: o.as });
}
const json = (): boolean => program.opts<{ json?: boolean }>().json === true;

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Sends words to the command core and prints the result; returns it. */
async function run(args: string[]): Promise<Result> {
  const { status, body } = await client().request<Result & { code?: string; message?: string }>('POST', '/api/commands', { args });
  if (!('kind' in body)) {
    // An API-level refusal (authentication, --as outside local mode).
    const refusal = body as { message?: string };
    process.stderr.write(`${red('✗')} ${refusal.message ?? `HTTP ${status}`}\n`);
    process.exitCode = status === 401 || status === 403 ? 3 : 2;
    return body as Result;
  }
  if (body.status === 'ok') {
    if (json() && body.kind !== 'deploy_queued') out(JSON.stringify(body));
    else if (!json()) out(renderResult(body));
  } else {
    if (json()) out(JSON.stringify(body));
    else process.stderr.write(`${renderResult(body)}\n`);
  }
  process.exitCode = body.exitCode;
  return body;
}

/** Shows a deploy's events live until it ends; exit code 1 unless it succeeded. */
async function follow(deployId: number, first?: DeployView): Promise<void> {
  const started = first?.startedAt ?? first?.createdAt ?? Date.now();
  let last: DeployView | undefined = first;
  let hinted = false;
  await client().follow(deployId, (type, data) => {
    const msg = data as { event?: EventRecord; deploy: DeployView };
    last = msg.deploy;
    if (json()) return;
    if (msg.event) out(renderEvent(msg.event, last.startedAt ?? started));
    const approvers = msg.event?.kind === 'approval' ? (msg.event.data?.approvers as string[] | undefined) : undefined;
    if (last.state === 'awaiting_approval' && approvers && !hinted) {
      hinted = true;
      out(
        yellow(
          `\n  Waiting for approval. An approver (${approvers.join(', ')}) runs, in another terminal:\n` +
            `    npx kubecontrol approve ${deployId}${program.opts<{ as?: string }>().as ? ' --as <approver>' : ''}    (or: reject ${deployId} "reason")\n` +
            `  Still following; Ctrl-C stops following, not the deploy.\n`,
        ),
      );
    }
  });
  if (!last) return;
  const final: DeployView = last;
  if (json()) out(JSON.stringify(final));
  else out(`\n${renderSummary(final)}`);
  process.exitCode = final.state === 'succeeded' ? 0 : EXIT_DEPLOY_FAILED;
}

async function deployLike(args: string[], opts: { detach?: boolean; dryRun?: boolean }): Promise<void> {
  const result = await run(args);
  if (result.kind !== 'deploy_queued') return;
  if (opts.detach) {
    if (json()) out(JSON.stringify(result.deploy));
    else out(dim(`Detached. Follow it with: npx kubecontrol follow ${result.deploy.id}`));
    return;
  }
  if (!json()) out(dim(`Following deploy #${result.deploy.id} (Ctrl-C stops following, not the deploy)…`));
  await follow(result.deploy.id, result.deploy);
}

program
  .command('deploy')
  .description('build, provision and roll out VERSION of APP')
  .argument('<app>')
  .argument('<version>', 'image tag')
  .option('--strategy <strategy>', 'blue-green or rolling (default: the app’s)')
  .option('--dry-run', 'print the plan; change nothing')
  .option('--detach', 'return once queued instead of following progress')
  .action(async (app: string, version: string, o: { strategy?: string; dryRun?: boolean; detach?: boolean }) => {
    await deployLike(['deploy', app, version, ...(o.strategy ? ['--strategy', o.strategy] : []), ...(o.dryRun ? ['--dry-run'] : [])], o);
  });

program
  .command('rollback')
  .description('deploy the last successful version before the running one')
  .argument('<app>')
  .option('--dry-run', 'print the plan; change nothing')
  .option('--detach', 'return once queued')
  .action(async (app: string, o: { dryRun?: boolean; detach?: boolean }) => {
    await deployLike(['rollback', app, ...(o.dryRun ? ['--dry-run'] : [])], o);
  });

program.command('approve').description('approve a cutover waiting for approval').argument('<deploy>').action(async (id: string) => void (await run(['approve', id])));
program
  .command('reject')
  .description('reject a cutover; the new cluster is torn down')
  .argument('<deploy>')
  .argument('[reason...]')
  .action(async (id: string, reason: string[]) => void (await run(['reject', id, ...reason])));
program.command('cancel').description('cancel a queued or running deploy').argument('<deploy>').action(async (id: string) => void (await run(['cancel', id])));
program.command('status').description('what is live and what is deploying').argument('[app]').action(async (app?: string) => void (await run(['status', ...(app ? [app] : [])])));
program
  .command('history')
  .description('recent deploys of an app')
  .argument('<app>')
  .option('--limit <n>', 'how many (1-100)', '10')
  .action(async (app: string, o: { limit: string }) => void (await run(['history', app, '--limit', o.limit])));
program
  .command('lock')
  .description('stop deploys of an app until unlocked')
  .argument('<app>')
  .argument('<reason...>')
  .action(async (app: string, reason: string[]) => void (await run(['lock', app, ...reason])));
program.command('unlock').description('allow deploys of an app again').argument('<app>').action(async (app: string) => void (await run(['unlock', app])));
program
  .command('follow')
  .description('show the live progress of a deploy')
  .argument('<deploy>')
  .action(async (id: string) => {
    const { status, body } = await client().request<DeployView & { message?: string }>('GET', `/api/deploys/${encodeURIComponent(id)}`);
    if (status !== 200) {
      process.stderr.write(`${red('✗')} ${body.message ?? `HTTP ${status}`}\n`);
      process.exitCode = status === 404 ? 4 : 2;
      return;
    }
    await follow(body.id, body);
  });

const apps = program.command('apps').description('the KubeApps, their people and what is live');
apps.action(async () => void (await run(['apps'])));
apps
  .command('validate')
  .description('load every KubeApp (locally, no server) and print every problem')
  .option('--dir <dir>', 'folder of KubeApps (default: kubeapps/)')
  .action(async (o: { dir?: string }) => {
    const { loadKubeApps } = await import('../kubeapps/index.js');
    const { apps: ok, problems } = await loadKubeApps(o.dir);
    if (json()) out(JSON.stringify({ valid: ok.map((a) => a.name), problems }));
    else {
      for (const a of ok) if (!problems.some((p) => p.app === a.name)) out(`✓ ${a.name}`);
      for (const p of problems) {
        process.stderr.write(`${red('✗')} ${bold(p.app)} (${p.file})\n${p.problems.map((l) => `    - ${l}`).join('\n')}\n`);
      }
    }
    process.exitCode = problems.length ? 2 : 0;
  });

const faults = program.command('faults').description('inject failures into the sandbox provider (demos, drills)');
faults
  .command('add')
  .argument('<step>', 'build | provision | deploy | cutover | teardown')
  .argument('<fault>', 'fail | timeout | unhealthy')
  .option('--app <app>', 'only this app')
  .option('--times <n>', 'how many times it triggers', '1')
  .action(async (step: string, fault: string, o: { app?: string; times: string }) => {
    const { status, body } = await client().request<unknown>('POST', '/api/sandbox/faults', { step, fault, app: o.app, times: Number(o.times) });
    printPlain(status, body);
  });
faults.command('list').action(async () => {
  const { status, body } = await client().request<unknown>('GET', '/api/sandbox/faults');
  printPlain(status, body);
});
faults.command('clear').action(async () => {
  const { status, body } = await client().request<unknown>('DELETE', '/api/sandbox/faults');
  printPlain(status, body);
});

program
  .command('gc')
  .description('list cloud resources kubecontrol tagged that no live deploy owns; delete them with --yes')
  .option('--yes', 'delete them')
  .action(async (o: { yes?: boolean }) => {
    const { status, body } = await client().request<{ orphans?: { kind: string; name: string; reason: string; outcome?: string }[]; message?: string; provider?: string }>(
      o.yes ? 'POST' : 'GET',
      '/api/gc',
    );
    if (json() || status !== 200) return printPlain(status, body);
    const orphans = body.orphans ?? [];
    out(dim(`provider: ${body.provider}`));
    if (!orphans.length) out('Nothing to collect: every tagged resource belongs to a live or running deploy.');
    for (const r of orphans) out(`${r.outcome ? (r.outcome === 'deleted' ? '✓ deleted' : red(`✗ ${r.outcome}`)) : '·'} ${r.kind} ${r.name} — ${r.reason}`);
    if (orphans.length && !o.yes) out(dim('Run `kubecontrol gc --yes` to delete them.'));
    if (orphans.some((r) => r.outcome && r.outcome !== 'deleted')) process.exitCode = 1;
  });

const tokens = program.command('tokens').description('manage API tokens (runs on the server host, against KUBECONTROL_DB)');
tokens
  .command('create')
  .argument('<person>', 'the person, as named in the KubeApps')
  .option('--label <label>')
  .action(async (person: string, o: { label?: string }) => {
    const { Store } = await import('../store/index.js');
    const store = Store.open(process.env.KUBECONTROL_DB ?? './data/kubecontrol.db');
    const token = store.tokens.create(person, o.label);
    store.close();
    if (json()) out(JSON.stringify({ person, token }));
    else out(`Token for ${person} (shown once; only its hash is stored):\n${token}`);
  });
tokens
  .command('revoke')
  .argument('<person>')
  .action(async (person: string) => {
    const { Store } = await import('../store/index.js');
    const store = Store.open(process.env.KUBECONTROL_DB ?? './data/kubecontrol.db');
    out(`Revoked ${store.tokens.revoke(person)} token(s) of ${person}.`);
    store.close();
  });

function printPlain(status: number, body: unknown): void {
  if (status >= 400) {
    const message = (body as { message?: string }).message ?? `HTTP ${status}`;
    if (json()) out(JSON.stringify(body));
    else process.stderr.write(`${red('✗')} ${message}\n`);
    process.exitCode = status === 404 ? 4 : status === 403 || status === 401 ? 3 : 2;
    return;
  }
  out(JSON.stringify(body, null, json() ? 0 : 2));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed its message (usage errors, --help, --version).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof ConnectionError) {
    process.stderr.write(`${red('✗')} ${err.message}\n`);
    process.exitCode = EXIT_UNREACHABLE;
  } else {
    process.stderr.write(`${red('✗')} unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
