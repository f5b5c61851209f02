/**
 * `kubecontrol`: a thin client of the kubecontrol server's API (commander).
 * Every command is parsed and checked by the server's command core, the same
 * grammar Slack and the console use; the CLI only gathers words, shows
 * progress and picks the exit code. The program itself is built in
 * cli/program.ts and run (errors, `--json`, exit codes) by cli/run.ts; this
 * file runs it on the process's argv.
 */
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2));
