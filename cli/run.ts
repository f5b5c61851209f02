/**
 * Runs the `kubecontrol` program on argv and says how it ended: the exit code,
 * and every error said once — on stderr as `✗ …`, or with `--json` as one JSON
 * object on stdout (`{"status":"error","code":…,"message":…,"exitCode":…}`),
 * usage errors and an unreachable server included. cli/main.ts runs it on the
 * process's argv; tests run it in-process with the output kept.
 *
 * Exit codes: 0 ok · 1 the deploy failed / was rejected, timed out or cancelled ·
 * 2 invalid input · 3 refused · 4 not found · 5 conflict (locked, wrong state) ·
 * 6 server unreachable.
 */
import { CommanderError } from 'commander';
import { ConnectionError, UsageError } from './client.js';
import { buildProgram, jsonError, type ProgramOptions } from './program.js';
import { red } from './render.js';

export const EXIT_UNREACHABLE = 6;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: CliIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Whether the words ask for JSON (read before parsing, so a usage error can be JSON too). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs kubecontrol on `argv` (the words after `kubecontrol`); resolves to the
 * exit code. The process's exit code is left as it was found.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo, options: Omit<ProgramOptions, 'io' | 'output'> = {}): Promise<number> {
  const json = wantsJson(argv);
  // With --json, commander's own error text is kept and said once, as JSON; help and --version print as usual.
  let commanderError = '';
  const output = {
    writeOut: (s: string) => io.out(s),
    writeErr: (s: string) => (json ? void (commanderError += s) : io.err(s)),
    outputError: (s: string, write: (s: string) => void) => write(s),
  };
  const said = (code: string, message: string, exitCode: number): number => {
    if (json) io.out(`${jsonError(code, message, exitCode)}\n`);
    else io.err(`${red('✗')} ${message}\n`);
    return exitCode;
  };
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram({ ...options, io, output }).parseAsync([...argv], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (usage errors, --help, --version), unless --json kept it.
      if (err.exitCode === 0) return 0;
      if (json) {
        const message = (commanderError || err.message).replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
        return said('usage', message, 2);
      }
      return 2;
    }
    if (err instanceof UsageError) return said('usage', err.message, 2);
    if (err instanceof ConnectionError) return said('unreachable', err.message, EXIT_UNREACHABLE);
    return said('internal', `unexpected error: ${err instanceof Error ? err.message : String(err)}`, 1);
  } finally {
    process.exitCode = before;
  }
}
