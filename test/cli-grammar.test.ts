/**
 * The CLI's core verbs come from the grammar's spec: each verb is a commander
 * subcommand with the spec's arguments and options, the words it sends are
 * the ones the core's parser accepts, and help lists every verb. The CLI never
 * opens the database (only cli/admin.ts imports the store for real).
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { helpText, parse, USAGE, VERB_SPECS, type VerbSpec } from '../commands/grammar.js';
import { buildProgram } from '../cli/program.js';
import type { CliOnlyOptions } from '../cli/verbs.js';

const execFileP = promisify(execFile);
const CLI_DIR = new URL('../cli/', import.meta.url).pathname;

interface Sent {
  readonly verb: string;
  readonly words: string[];
  readonly cli: CliOnlyOptions;
}

/** A program whose verbs are recorded instead of sent to a server, with commander's output kept. */
function recordingProgram(): { program: Command; sent: Sent[]; output: string[] } {
  const sent: Sent[] = [];
  const output: string[] = [];
  const program = buildProgram({
    onVerb: async (spec: VerbSpec, words, cli) => void sent.push({ verb: spec.name, words, cli }),
    output: { writeOut: (s) => void output.push(s), writeErr: (s) => void output.push(s) },
  });
  return { program, sent, output };
}

/** Argv the core's parser accepts, at least one per verb: the CLI must accept each and send the same command. */
const ACCEPTED: readonly string[][] = [
  ['deploy', 'search-svc', 'v123'],
  ['deploy', 'search-svc', '1.4.2-rc.1', '--strategy', 'blue-green', '--dry-run'],
  ['deploy', 'search-svc', 'v9', '--strategy=rolling'],
  ['rollback', 'web-frontend'],
  ['rollback', 'web-frontend', '--dry-run'],
  ['scale', 'search-svc', 'replicas=6'],
  ['scale', 'search-svc', 'nodes=2..8', 'replicas=6', 'black', 'friday', '--dry-run'],
  ['restart', 'search-svc'],
  ['restart', 'search-svc', 'stuck connections', '--dry-run'],
  ['upgrade', 'search-svc'],
  ['upgrade', 'search-svc', 'leave 1.34', '--kubernetes', '1.35', '--dry-run'],
  ['approve', '42'],
  ['approve', '#42'],
  ['reject', '42', 'error', 'rate', 'too', 'high'],
  ['reject', '5', 'p99 latency doubled'],
  ['reject', '42'],
  ['reject', '3', '--not', 'today'],
  ['cancel', '7'],
  ['status'],
  ['status', 'search-svc'],
  ['history', 'search-svc'],
  ['history', 'search-svc', '--limit', '25'],
  ['lock', 'search-svc', 'incident 123: bad index'],
  ['lock', 'search-svc', 'freeze', 'for', '--black-friday'],
  ['lock', 'search-svc', 'game', 'day', '--force'],
  ['lock', 'search-svc', '--force', 'game day'],
  ['unlock', 'search-svc'],
  ['unlock', 'search-svc', '--force'],
  ['apps'],
  ['schedules'],
  ['schedules', 'search-svc'],
  ['pause', 'search-svc'],
  ['pause', 'search-svc', 'black', 'friday', 'freeze'],
  ['resume', 'search-svc'],
];

const subcommand = (program: Command, name: string): Command | undefined => program.commands.find((c) => c.name() === name);

describe('the CLI derives the core verbs from the grammar', () => {
  it('has one subcommand per verb (help is commander’s own), with the spec’s arguments and options', () => {
    const { program } = recordingProgram();
    for (const spec of VERB_SPECS.filter((s) => s.name !== 'help')) {
      const cmd = subcommand(program, spec.name);
      expect(cmd).toBeDefined();
      expect(cmd!.description()).toBe(spec.summary);
      expect(cmd!.registeredArguments.map((a) => ({ name: a.name(), required: a.required, variadic: a.variadic }))).toEqual(
        spec.args.map((a) => ({ name: a.name.toLowerCase(), required: a.required, variadic: a.variadic ?? false })),
      );
      const options = cmd!.options.map((o) => ({ flag: o.long, takesValue: o.required }));
      expect(options).toEqual([
        ...spec.options.map((o) => ({ flag: o.flag, takesValue: o.value !== undefined })),
        // The only option the CLI adds: whether to follow a queued deploy.
        ...(spec.queuesDeploy ? [{ flag: '--detach', takesValue: false }] : []),
      ]);
    }
  });

  it.each(ACCEPTED.map((argv): [string, readonly string[]] => [argv.join(' '), argv]))('sends `%s` as words the core parses exactly as it parses the argv', async (_, argv) => {
    const { program, sent } = recordingProgram();
    await program.parseAsync(argv, { from: 'user' });
    expect(sent).toHaveLength(1);
    const expected = parse(argv);
    expect(expected.ok).toBe(true);
    expect(parse(sent[0]!.words)).toEqual(expected);
  });

  it('has a case above for every verb of the grammar', () => {
    // A verb added to the spec needs a case here (help aside: the CLI answers it itself, below).
    const covered = new Set(ACCEPTED.map((argv) => argv[0]));
    expect(VERB_SPECS.map((s) => s.name).filter((v) => v !== 'help' && !covered.has(v))).toEqual([]);
  });

  it('answers `help VERB` itself, from the spec, without a server', async () => {
    const { program, sent, output } = recordingProgram();
    await expect(program.parseAsync(['help', 'history'], { from: 'user' })).rejects.toMatchObject({ exitCode: 0 });
    expect(sent).toEqual([]);
    expect(output.join('')).toMatch(/Usage: kubecontrol history \[options\] <app>[\s\S]*recent deploys of an app[\s\S]*--limit <n>/);
  });

  it('keeps CLI-only options to itself: --detach is not sent to the core', async () => {
    const { program, sent } = recordingProgram();
    await program.parseAsync(['deploy', 'search-svc', 'v1', '--detach', '--dry-run'], { from: 'user' });
    expect(sent).toEqual([{ verb: 'deploy', words: ['deploy', 'search-svc', 'v1', '--dry-run'], cli: { detach: true } }]);
  });

  it('refuses with a usage error (exit 2 in main) what the spec says is missing, before any request', async () => {
    for (const argv of [['deploy', 'search-svc'], ['lock', 'search-svc'], ['approve'], ['history']]) {
      const { program, sent, output } = recordingProgram();
      await expect(program.parseAsync(argv, { from: 'user' })).rejects.toMatchObject({ code: 'commander.missingArgument' });
      expect(sent).toEqual([]);
      expect(output.join('')).toMatch(/missing required argument/);
    }
  });

  it('lists every verb in its help, and Slack’s help lists every usage line', () => {
    const { program } = recordingProgram();
    const help = program.helpInformation();
    for (const spec of VERB_SPECS) expect(help).toMatch(new RegExp(`^  ${spec.name}\\b`, 'm'));
    expect(help).toMatch(/^ {2}help \[command\] +this help, or the usage of one command$/m);
    const slack = helpText();
    for (const spec of VERB_SPECS) expect(slack).toContain(`\`${USAGE[spec.name]}\` — ${spec.summary}`);
  });

  it('derives the same usage lines the grammar has always shown', () => {
    expect(USAGE).toEqual({
      deploy: 'deploy APP VERSION [--strategy blue-green|rolling] [--dry-run]',
      rollback: 'rollback APP [--dry-run]',
      scale: 'scale APP [replicas=N] [nodes=MIN..MAX] [reason] [--dry-run]',
      restart: 'restart APP [reason] [--dry-run]',
      upgrade: 'upgrade APP [reason] [--kubernetes X.Y] [--dry-run]',
      approve: 'approve DEPLOY',
      reject: 'reject DEPLOY [reason]',
      cancel: 'cancel DEPLOY',
      status: 'status [APP]',
      history: 'history APP [--limit N]',
      lock: 'lock APP reason [--force]',
      unlock: 'unlock APP [--force]',
      apps: 'apps',
      schedules: 'schedules [APP]',
      pause: 'pause APP [reason]',
      resume: 'resume APP',
      help: 'help [COMMAND]',
    });
  });
});

describe('the CLI and the database', () => {
  it('imports the store only for types, except cli/admin.ts', () => {
    const offenders: string[] = [];
    for (const file of readdirSync(CLI_DIR).filter((f) => /\.(ts|js)$/.test(f))) {
      const source = readFileSync(`${CLI_DIR}${file}`, 'utf8');
      const valueImports = [
        ...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"]\.\.\/store\/[^'"]*['"]/gm),
        ...source.matchAll(/import\(\s*['"]\.\.\/store\//g),
      ];
      if (valueImports.length && file !== 'admin.ts') offenders.push(file);
    }
    expect(offenders).toEqual([]);
    expect(readFileSync(`${CLI_DIR}admin.ts`, 'utf8')).toMatch(/the one module in cli\/ that imports the\s+\* store/);
  });

  it('`kubecontrol tokens …` points to the admin command and exits 2, opening nothing', async () => {
    const bin = `${CLI_DIR}bin.js`;
    const run = await execFileP(process.execPath, [bin, 'tokens', 'create', 'carol', '--label', 'laptop'], {
      env: { ...process.env, NO_COLOR: '1', KUBECONTROL_DB: '/nonexistent/kubecontrol.db' },
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual(['kubecontrol tokens moved: on the server host, run `npm run admin -- tokens create carol --label laptop`']);
  });
});
