/**
 * The `kubecontrol` commander program: the core's verbs (derived from the
 * grammar, see cli/verbs.ts) and the CLI's own commands (follow, apps
 * validate, faults, gc). Built by a function so tests can inspect it, or run
 * it with the words sent somewhere else, without a server.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Command, Option, type OutputConfiguration } from 'commander';
import type { CommandResult, DeployView } from '../commands/results.js';
import type { GcReport } from '../deployer/gc.js';
import type { EventRecord } from '../store/index.js';
import { addAwsCommands, type AwsCommandDeps } from './aws.js';
import { ApiClient, explainRefusal, UsageError } from './client.js';
import { bold, dim, red, renderEvent, renderGc, renderResult, renderSummary, yellow } from './render.js';
import { addGrammarVerbs, type VerbHandler } from './verbs.js';
import { findServer, type FoundServer } from '../system/server-file.js';
import type { VerbSpec } from '../commands/grammar.js';

/** Exit code of a followed deploy that did not succeed. */
export const EXIT_DEPLOY_FAILED = 1;
/** Exit code of a command that is not (or no longer) the CLI's to run. */
export const EXIT_INVALID = 2;

type Result = CommandResult & { exitCode: number; authenticated: boolean };

/** What `buildProgram` may be given instead of its defaults. */
export interface ProgramOptions {
  /** Acts on the core's verbs; by default, sends them to the server (and follows queued deploys). */
  readonly onVerb?: VerbHandler;
  /** Where commander writes usage errors and help; by default, stdout and stderr. */
  readonly output?: OutputConfiguration;
  /** What `aws check` and `aws policy` read instead of the process's environment, AWS and KubeApps (tests). */
  readonly aws?: AwsCommandDeps;
  /** Where the commands' own output goes; by default, stdout and stderr. */
  readonly io?: { readonly out: (text: string) => void; readonly err: (text: string) => void };
  /** Finds the server started from this folder when neither --url nor KUBECONTROL_URL says where it is. @default findServer() */
  readonly locate?: () => FoundServer | undefined;
}

/** Where the CLI calls when nothing says otherwise and no server.json names a running server. */
export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** The installed kubecontrol's version, from the package.json beside cli/ (read when asked, no server needed). */
export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The envelope `--json` prints for any error that is not a command result: one JSON object on stdout. */
export function jsonError(code: string, message: string, exitCode: number): string {
  return JSON.stringify({ status: 'error', code, message, exitCode });
}

/** The exit code of an API refusal that is not a command result. */
export function refusalExitCode(status: number): number {
  return status === 404 ? 4 : status === 401 || status === 403 ? 3 : status === 409 ? 5 : 2;
}

/** The `kubecontrol` program. Commander errors are thrown (exitOverride), never exit the process. */
export function buildProgram(options: ProgramOptions = {}): Command {
  const program = new Command('kubecontrol')
    .description('Deploy and operate KubeApps from the terminal (talks to the kubecontrol server)')
    .addOption(
      new Option('--url <url>', 'kubecontrol server (default: the one whose server.json is beside $KUBECONTROL_DB, else in ./data/, while it runs)')
        .env('KUBECONTROL_URL')
        .default(DEFAULT_URL),
    )
    .addOption(new Option('--token <token>', 'your API token (outside local mode)').env('KUBECONTROL_TOKEN').hideHelp())
    .option('--as <person>', 'act as a person named in the KubeApps (local mode only)')
    .option('--json', 'print one JSON object instead of text')
    .version(cliVersion(), '-V, --version', 'print the version of kubecontrol')
    .showSuggestionAfterError(true)
    .exitOverride();
  // Before any subcommand is added: subcommands copy these settings when created.
  if (options.output) program.configureOutput(options.output);

  function client(): ApiClient {
    const o = program.opts<{ url: string; token?: string; as?: string }>();
    // Neither --url nor KUBECONTROL_URL: the server started from this folder (its server.json), if it still runs.
    const found = program.getOptionValueSource('url') === 'default' ? (options.locate ?? findServer)() : undefined;
    return new ApiClient({ url: found?.url ?? o.url, origin: found ? relative(process.cwd(), found.file) || found.file : undefined, token: o.token, as: o.as });
  }
  const json = (): boolean => program.opts<{ json?: boolean }>().json === true;
  // `--as ''` names nobody: refused before anything runs, instead of falling back to the OS user.
  program.hook('preAction', () => {
    const as = program.opts<{ as?: string }>().as;
    if (as !== undefined && as.trim() === '') throw new UsageError("--as needs a person's name");
  });

  const io = options.io ?? { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };
  function out(text: string): void {
    io.out(`${text}\n`);
  }
  /** An error that is not a command result: text on stderr, or with --json the JSON envelope on stdout. */
  function fail(code: string, message: string, exitCode: number): void {
    if (json()) out(jsonError(code, message, exitCode));
    else io.err(`${red('✗')} ${message}\n`);
    process.exitCode = exitCode;
  }

  /** Sends words to the command core and prints the result; returns it. */
  async function run(args: string[], spec?: VerbSpec): Promise<Result> {
    const { status, body } = await client().request<Result & { code?: string; message?: string }>('POST', '/api/commands', { args });
    if (!('kind' in body)) {
      // An API-level refusal (authentication, --as outside local mode, a request it would not take).
      const refusal = body as { code?: string; message?: string };
      fail(refusal.code ?? 'refused', explainRefusal(status, refusal), refusalExitCode(status));
      return body as Result;
    }
    if (body.status === 'ok') {
      if (json() && body.kind !== 'deploy_queued') out(JSON.stringify(body));
      else if (!json()) out(renderResult(body));
    } else {
      if (json()) out(JSON.stringify(body));
      else io.err(`${renderResult(body)}\n`);
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

  /** A verb that may queue a deploy: follow it unless detached. */
  async function deployLike(args: string[], opts: { detach?: boolean }, spec?: VerbSpec): Promise<void> {
    const result = await run(args, spec);
    if (result.kind !== 'deploy_queued') return;
    if (opts.detach) {
      if (json()) out(JSON.stringify(result.deploy));
      else out(dim(`Detached. Follow it with: npx kubecontrol follow ${result.deploy.id}`));
      return;
    }
    if (!json()) out(dim(`Following deploy #${result.deploy.id} (Ctrl-C stops following, not the deploy)…`));
    await follow(result.deploy.id, result.deploy);
  }

  function printPlain(status: number, body: unknown): void {
    if (status >= 400) {
      const refusal = (body ?? {}) as { code?: string; message?: string };
      fail(refusal.code ?? 'refused', explainRefusal(status, refusal), refusalExitCode(status));
      return;
    }
    out(JSON.stringify(body, null, json() ? 0 : 2));
  }

  // The core's verbs, from the grammar.
  const send: VerbHandler = async (spec, words, cli) => {
    if (spec.queuesDeploy) await deployLike(words, cli, spec);
    else await run(words, spec);
  };
  const verbs = addGrammarVerbs(program, options.onVerb ?? send);

  // The CLI's own commands.
  program
    .command('follow')
    .description('show the live progress of a deploy')
    .argument('<deploy>')
    .action(async (id: string) => {
      // `#42` as the core's verbs take it; anything else is not a deploy id, whatever the server would say.
      const m = /^#?(\d{1,15})$/.exec(id.trim());
      if (!m) throw new UsageError(`deploy id must be a number (got: ${id})`);
      const { status, body } = await client().request<DeployView & { code?: string; message?: string }>('GET', `/api/deploys/${m[1]}`);
      if (status !== 200) {
        fail(body.code ?? 'refused', explainRefusal(status, body), refusalExitCode(status));
        return;
      }
      await follow(body.id, body);
    });

  verbs
    .get('apps')!
    .command('validate')
    .description('load every KubeApp (locally, no server) and print every problem')
    .option('--dir <dir>', 'folder of KubeApps (default: $KUBECONTROL_KUBEAPPS_DIR, else the examples in kubeapps/examples/)')
    .action(async (o: { dir?: string }) => {
      const { loadKubeApps } = await import('../kubeapps/index.js');
      const { apps: ok, problems } = await loadKubeApps(o.dir ?? (process.env.KUBECONTROL_KUBEAPPS_DIR || undefined));
      // Not problems (the apps load): a schedule whose next run is more than a year away, say.
      const { scheduleWarnings } = await import('../schedules/cron.js');
      const warnings = scheduleWarnings(ok, Date.now());
      // --json carries each app as resolved (every default applied): what a deploy of it would use.
      if (json()) out(JSON.stringify({ valid: ok.map((a) => a.name), problems, warnings, apps: ok }));
      else {
        for (const a of ok) if (!problems.some((p) => p.app === a.name)) out(`✓ ${a.name}`);
        for (const w of warnings) io.err(`${yellow('!')} ${w}`);
        for (const p of problems) {
          io.err(`${red('✗')} ${bold(p.app)} (${p.file})\n${p.problems.map((l) => `    - ${l}`).join('\n')}\n`);
        }
      }
      process.exitCode = problems.length ? 2 : 0;
    });

  verbs
    .get('apps')!
    .command('init')
    .description('start a KubeApps repository in DIR: package.json, tsconfig.json, kubeapps/defaults.ts, a first app, and this kubecontrol installed into it')
    .argument('<dir>', 'the repository folder (created if missing; existing files are kept)')
    .action(async (dir: string) => {
      const { initKubeAppsRepo } = await import('./apps-init.js');
      const r = initKubeAppsRepo(dir);
      if (json()) out(JSON.stringify(r));
      else {
        for (const f of r.written) out(`+ ${f}`);
        for (const f of r.kept) out(`= ${f} (exists, kept)`);
        if (!r.installProblem) out(`Next: KUBECONTROL_KUBEAPPS_DIR=${r.kubeappsDir} npm start   (and \`npx kubecontrol apps validate --dir ${r.kubeappsDir}\`)`);
      }
      if (r.installProblem) fail('install_failed', r.installProblem, 1);
    });

  const faults = program.command('faults').description('inject failures into the sandbox provider (demos, drills)');
  faults
    .command('add')
    .argument('<step>', 'build | provision | deploy | cutover | teardown')
    .argument('<fault>', 'fail | timeout | unhealthy | throttle')
    .option('--app <app>', 'only this app')
    .option('--times <n>', 'how many times it triggers', '1')
    .action(async (step: string, fault: string, o: { app?: string; times: string }) => {
      const times = Number(o.times);
      if (!/^\d+$/.test(o.times.trim()) || times < 1) throw new UsageError(`--times must be a whole number of at least 1 (got: ${o.times})`);
      const { status, body } = await client().request<unknown>('POST', '/api/sandbox/faults', { step, fault, app: o.app, times });
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
      const { status, body } = await client().request<GcReport>(o.yes ? 'POST' : 'GET', '/api/gc');
      if (json() || status !== 200) return printPlain(status, body);
      out(renderGc(body));
      const orphans = body.orphans ?? [];
      if (orphans.some((r) => r.outcome && r.outcome !== 'deleted')) process.exitCode = 1;
    });

  // Tokens are managed on the server host by `npm run admin`, which says which database it opens;
  // this client never opens the SQLite file. The old spelling points there instead of guessing a path.
  program
    .command('tokens', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action((words: string[]) => {
      io.err(`kubecontrol tokens moved: on the server host, run \`npm run admin -- tokens ${words.join(' ') || 'create|revoke|list …'}\`\n`);
      process.exitCode = EXIT_INVALID;
    });
  addAwsCommands(program, json, options.aws);
  program.addHelpText('after', '\nAPI tokens: on the server host, `npm run admin -- tokens create|revoke|list` (it names the database it opens).');

  return program;
}
