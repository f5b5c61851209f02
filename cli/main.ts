/**
 * `kubecontrol`: a thin client of the kubecontrol server's API (commander).
 * Every command is parsed and checked by the server's command core, the same
 * grammar Slack and the console use; the CLI only gathers words, shows
 * progress and picks the exit code. The program itself is built in
 * cli/program.ts; this file runs it on argv.
 *
 * Exit codes: 0 ok · 1 the deploy failed / was rejected, timed out or cancelled ·
 * 2 invalid input · 3 refused · 4 not found · 5 conflict (locked, wrong state) ·
 * 6 server unreachable.
 */
import { CommanderError } from 'commander';
import { ConnectionError } from './client.js';
import { buildProgram } from './program.js';
import { red } from './render.js';

const EXIT_UNREACHABLE = 6;

try {
  await buildProgram().parseAsync(process.argv);
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
