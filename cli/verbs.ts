/**
 * The command core's verbs as commander subcommands, derived from the grammar
 * (`VERB_SPECS` in commands/grammar.ts): a verb, argument or option added
 * there appears here without a line of CLI code. What the CLI adds is only
 * what a terminal needs (`--detach` for verbs that queue a deploy); the words
 * still go to the server's parser, which stays the judge of what they mean.
 */
import { Argument, Option, type Command } from 'commander';
import { SPECS, VERB_SPECS, type ArgSpec, type OptionSpec, type Verb, type VerbSpec } from '../commands/grammar.js';

/** Options the CLI adds to a verb; they never reach the core. */
export interface CliOnlyOptions {
  /** Return once queued instead of following the deploy (verbs that queue one). */
  readonly detach?: boolean;
}

/**
 * Acts on one verb typed at the terminal: `words` are what the core's parser
 * takes (`['history', 'search-svc', '--limit', '5']`).
 */
export type VerbHandler = (spec: VerbSpec, words: string[], cli: CliOnlyOptions) => Promise<void>;

/** `<app>`, `[app]`, `<reason...>`: commander's spelling of a grammar argument. */
export function argumentSyntax(a: ArgSpec): string {
  const name = `${a.name.toLowerCase()}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

function commanderArgument(a: ArgSpec): Argument {
  return new Argument(argumentSyntax(a), a.description);
}

/** `--limit <n>`, `--dry-run`: commander's spelling of a grammar option. */
function commanderOption(o: OptionSpec): Option {
  return new Option(o.value ? `${o.flag} <${o.value.toLowerCase()}>` : o.flag, o.description);
}

const DETACH = (): Option => new Option('--detach', 'return once queued instead of following progress');

/**
 * Adds one subcommand per verb of the grammar to `program`, each handing its
 * words to `handler`. `help` is commander's own help command (it answers
 * without a server), described from the grammar. Returns the subcommands by
 * verb, for CLI-only subcommands to hang under (`apps validate`).
 */
export function addGrammarVerbs(program: Command, handler: VerbHandler): ReadonlyMap<Verb, Command> {
  const added = new Map<Verb, Command>();
  for (const spec of VERB_SPECS) {
    if (spec.name === 'help') continue;
    const cmd = program.command(spec.name).description(spec.summary);
    for (const a of spec.args) cmd.addArgument(commanderArgument(a));
    const options = spec.options.map((o) => ({ spec: o, option: commanderOption(o) }));
    for (const { option } of options) cmd.addOption(option);
    if (spec.queuesDeploy) cmd.addOption(DETACH());
    // Free text (a lock's reason) may contain `--words`, as the parser allows; the CLI's own options still apply.
    if (spec.args.some((a) => a.variadic)) cmd.allowUnknownOption();
    cmd.action(async (...params: unknown[]) => {
      // commander passes the arguments, then the options, then the command itself.
      const self = params[params.length - 1] as Command;
      const values = self.opts<Record<string, unknown>>();
      const words: string[] = [spec.name];
      for (const value of self.processedArgs as unknown[]) {
        if (Array.isArray(value)) words.push(...value.map(String));
        else if (value !== undefined) words.push(String(value));
      }
      for (const { spec: o, option } of options) {
        const value = values[option.attributeName()];
        if (value === undefined || value === false) continue;
        words.push(...(o.value ? [o.flag, String(value)] : [o.flag]));
      }
      await handler(spec, words, { detach: values.detach === true });
    });
    added.set(spec.name, cmd);
  }
  const help = SPECS.help;
  program.helpCommand([help.name, ...help.args.map(argumentSyntax)].join(' '), help.summary);
  return added;
}
