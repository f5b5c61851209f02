/**
 * The one grammar every surface speaks:
 *
 *   deploy APP VERSION [--strategy blue-green|rolling] [--dry-run]
 *   rollback APP [--dry-run]
 *   scale APP [replicas=N] [nodes=MIN..MAX] [reason] [--dry-run] | restart APP [reason] [--dry-run]
 *   upgrade APP [reason] [--kubernetes X.Y] [--dry-run]
 *   approve DEPLOY | reject DEPLOY [reason] | cancel DEPLOY
 *   status [APP] | history APP [--limit N]
 *   lock APP reason [--force] | unlock APP [--force] | apps | help [COMMAND]
 *   schedules [APP] | pause APP [reason] | resume APP
 *
 * Each verb is declared once, in `VERB_SPECS` (arguments, options, summary);
 * the usage lines, the parser's arity and flag checks, `helpText` and the
 * CLI's commander program are derived from it.
 *
 * Parsing is pure: it knows nothing of apps or people. Mistakes come back as a
 * typed `ParseError` with a specific message and, for typos, a suggestion.
 */
import { STRATEGIES, type Strategy } from '../kubeapps/index.js';

export type Command =
  | { readonly verb: 'deploy'; readonly app: string; readonly version: string; readonly strategy?: Strategy; readonly dryRun: boolean }
  | { readonly verb: 'rollback'; readonly app: string; readonly dryRun: boolean }
  | {
      readonly verb: 'scale';
      readonly app: string;
      readonly replicas?: number;
      readonly minNodes?: number;
      readonly maxNodes?: number;
      readonly reason?: string;
      readonly dryRun: boolean;
    }
  | { readonly verb: 'restart'; readonly app: string; readonly reason?: string; readonly dryRun: boolean }
  | { readonly verb: 'upgrade'; readonly app: string; readonly kubernetes?: string; readonly reason?: string; readonly dryRun: boolean }
  | { readonly verb: 'approve'; readonly deployId: number }
  | { readonly verb: 'reject'; readonly deployId: number; readonly reason?: string }
  | { readonly verb: 'cancel'; readonly deployId: number }
  | { readonly verb: 'status'; readonly app?: string }
  | { readonly verb: 'history'; readonly app: string; readonly limit: number }
  | { readonly verb: 'lock'; readonly app: string; readonly reason: string; readonly force: boolean }
  | { readonly verb: 'unlock'; readonly app: string; readonly force: boolean }
  | { readonly verb: 'apps' }
  | { readonly verb: 'schedules'; readonly app?: string }
  | { readonly verb: 'pause'; readonly app: string; readonly reason?: string }
  | { readonly verb: 'resume'; readonly app: string }
  | { readonly verb: 'help'; readonly topic?: Verb };

export type Verb = Command['verb'];

/** What a positional argument names; surfaces use it (e.g. Slack fills in a channel's app). `setting`: a `key=value` word. */
export type ArgKind = 'app' | 'version' | 'deploy' | 'text' | 'verb' | 'setting';

/** One positional argument of a verb. */
export interface ArgSpec {
  /** As usage shows it: `APP`, `VERSION`, `DEPLOY`, `reason`, `COMMAND`. */
  readonly name: string;
  readonly kind: ArgKind;
  /** Whether the command is incomplete without it. */
  readonly required: boolean;
  /** Takes every remaining word, joined with spaces; an option-looking word is part of the text unless it is one of the verb's own options. @default false */
  readonly variadic?: boolean;
  /** How "needs …" messages name it: `an app`, `a deploy id`. */
  readonly noun: string;
  /** Added in brackets when it is the only thing missing: why it is asked for. */
  readonly why?: string;
  /** One line for a CLI's help. */
  readonly description?: string;
}

/** One option of a verb: a switch (`--dry-run`) or an option with a value (`--limit N`). */
export interface OptionSpec {
  /** With its dashes: `--strategy`. */
  readonly flag: `--${string}`;
  /** The value's name (`N`) for options that take one; absent for switches. */
  readonly value?: string;
  /** The values it takes, when they are a fixed few; usage shows them instead of the value's name. */
  readonly choices?: readonly string[];
  /** One line for a CLI's help. */
  readonly description: string;
}

/** One verb of the grammar: everything a surface needs to offer it. */
export interface VerbSpec {
  readonly name: Verb;
  /** One line: what it does. */
  readonly summary: string;
  /** Positional arguments in order: required ones first, at most one variadic and only last. */
  readonly args: readonly ArgSpec[];
  readonly options: readonly OptionSpec[];
  /** Its accepted result is a queued deploy, which a surface may offer to follow. @default false */
  readonly queuesDeploy?: boolean;
}

const APP: ArgSpec = { name: 'APP', kind: 'app', required: true, noun: 'an app' };
const DEPLOY: ArgSpec = { name: 'DEPLOY', kind: 'deploy', required: true, noun: 'a deploy id', description: 'the number shown when it was queued' };
const DRY_RUN: OptionSpec = { flag: '--dry-run', description: 'print the plan; change nothing' };
const REASON: ArgSpec = { name: 'reason', kind: 'text', required: false, variadic: true, noun: 'a reason', description: 'why (recorded, shown in history and the thread)' };
const FORCE_LOCK: OptionSpec = { flag: '--force', description: 'take over a lock someone else holds (who held it and why is recorded)' };
const FORCE_UNLOCK: OptionSpec = { flag: '--force', description: 'remove a lock someone else holds (who held it and why is recorded)' };

/**
 * The grammar, once: the parser, `helpText` (Slack's `/kubeapp help`, the
 * CLI's help) and the CLI's commander program are all derived from it, so a
 * verb added here reaches every surface. Keyed by verb so the compiler
 * insists on one entry per `Command`; the order is the order help shows.
 */
const TABLE: Readonly<Record<Verb, Omit<VerbSpec, 'name'>>> = {
  deploy: {
    summary: 'build, provision and roll out VERSION of APP (blue/green waits for approval before traffic moves)',
    args: [APP, { name: 'VERSION', kind: 'version', required: true, noun: 'a version', description: 'image tag' }],
    options: [{ flag: '--strategy', value: 'STRATEGY', choices: STRATEGIES, description: 'blue-green or rolling (default: the app’s)' }, DRY_RUN],
    queuesDeploy: true,
  },
  rollback: {
    summary: 'within a deploy’s drain, flip traffic straight back to the previous cluster; later, deploy the last successful version before the running one',
    args: [APP],
    options: [DRY_RUN],
    queuesDeploy: true,
  },
  scale: {
    summary:
      'change the live app in place: its replicas and the minimum..maximum of its nodes, within its KubeApp’s limits (owners; deployers when the KubeApp allows); the next blue/green deploy resets it to the KubeApp’s values',
    args: [
      APP,
      { name: 'replicas=N', kind: 'setting', required: false, noun: 'replicas=N', description: 'pods of the app, from 1 to 10× the KubeApp’s pods.replicas (at most 500)' },
      { name: 'nodes=MIN..MAX', kind: 'setting', required: false, noun: 'nodes=MIN..MAX', description: 'node bounds, up to the KubeApp’s hardware.maxNodes (not on Fargate)' },
      REASON,
    ],
    options: [DRY_RUN],
    queuesDeploy: true,
  },
  restart: {
    summary: 'a rolling restart of the live pods (as kubectl rollout restart), put back as it was if the rollout fails (owners; deployers when the KubeApp allows)',
    args: [APP, REASON],
    options: [DRY_RUN],
    queuesDeploy: true,
  },
  upgrade: {
    summary:
      'the live version onto a new cluster with the newest Kubernetes in standard support (or --kubernetes X.Y) and fresh nodes: a blue/green deploy that waits for approval before traffic moves',
    args: [APP, REASON],
    options: [{ flag: '--kubernetes', value: 'X.Y', description: 'the Kubernetes version (default: the newest in standard support); never older than the live cluster’s' }, DRY_RUN],
    queuesDeploy: true,
  },
  approve: { summary: 'approve the cutover of a blue/green deploy waiting for approval', args: [DEPLOY], options: [] },
  reject: {
    summary: 'reject a cutover: the new cluster is torn down, traffic stays where it is',
    args: [DEPLOY, { name: 'reason', kind: 'text', required: false, variadic: true, noun: 'a reason' }],
    options: [],
  },
  cancel: { summary: 'cancel a queued or running deploy; what it created is torn down', args: [DEPLOY], options: [] },
  status: { summary: 'what is running and deploying, for one app or all', args: [{ ...APP, required: false }], options: [] },
  history: {
    summary: 'recent deploys of an app (default 10, at most 100)',
    args: [APP],
    options: [{ flag: '--limit', value: 'N', description: 'how many, from 1 to 100 (default 10)' }],
  },
  lock: {
    summary: 'stop all deploys of an app until it is unlocked; locking again changes your reason, and a lock someone else holds is taken over only with --force',
    args: [APP, { name: 'reason', kind: 'text', required: true, variadic: true, noun: 'a reason', why: 'say why, so others know' }],
    options: [FORCE_LOCK],
  },
  unlock: {
    summary: 'allow deploys of an app again: your own lock, or as an owner anyone’s; someone else’s lock otherwise only with --force',
    args: [APP],
    options: [FORCE_UNLOCK],
  },
  apps: { summary: 'the KubeApps and who may deploy and approve them', args: [], options: [] },
  schedules: {
    summary: 'the scheduled refreshes: when each runs next, how its last run ended, whether it is paused',
    args: [{ ...APP, required: false }],
    options: [],
  },
  pause: {
    summary: 'stop an app’s scheduled refreshes until it is resumed (owners; its ticks are recorded as skipped, with your reason)',
    args: [APP, { name: 'reason', kind: 'text', required: false, variadic: true, noun: 'a reason' }],
    options: [],
  },
  resume: { summary: 'let an app’s scheduled refreshes run again (owners)', args: [APP], options: [] },
  help: { summary: 'this help, or the usage of one command', args: [{ name: 'COMMAND', kind: 'verb', required: false, noun: 'a command' }], options: [] },
};

/** Every verb's spec, in the order help lists them. */
export const VERB_SPECS: readonly VerbSpec[] = (Object.keys(TABLE) as Verb[]).map((name) => ({ name, ...TABLE[name] }));

/** The spec of each verb, by name. */
export const SPECS: Readonly<Record<Verb, VerbSpec>> = Object.fromEntries(VERB_SPECS.map((s) => [s.name, s])) as Record<Verb, VerbSpec>;

export const VERBS: readonly Verb[] = VERB_SPECS.map((s) => s.name);

/** The usage line of a spec: `history APP [--limit N]`. A variadic argument is shown like any other (`lock APP reason`). */
export function usageOf(spec: VerbSpec): string {
  const args = spec.args.map((a) => (a.required ? a.name : `[${a.name}]`));
  const options = spec.options.map((o) => `[${o.flag}${o.value ? ` ${o.choices ? o.choices.join('|') : o.value}` : ''}]`);
  return [spec.name, ...args, ...options].join(' ');
}

/** One usage line per verb, shown in help and in errors. */
export const USAGE: Readonly<Record<Verb, string>> = Object.fromEntries(VERB_SPECS.map((s) => [s.name, usageOf(s)])) as Record<Verb, string>;

/** What each verb does, for help. */
export const SUMMARY: Readonly<Record<Verb, string>> = Object.fromEntries(VERB_SPECS.map((s) => [s.name, s.summary])) as Record<Verb, string>;

export type ParseErrorCode = 'empty' | 'unknown_command' | 'missing_argument' | 'bad_argument' | 'unknown_flag' | 'extra_argument';

export interface ParseError {
  readonly code: ParseErrorCode;
  readonly message: string;
  /** The nearest valid word, for "did you mean …?". */
  readonly suggestion?: string;
  /** The verb, when it was recognised. */
  readonly verb?: Verb;
}

export type ParseResult = { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly error: ParseError };

/**
 * An image tag as registries accept it (Docker's rule: at most 128 characters of
 * letters, digits, `_`, `.`, `-`, not starting with `.` or `-`). A tag that cannot be a
 * Kubernetes label value (over 63 characters, or ending in `-`, `.`, `_`) is still a
 * version: the manifests carry it as an annotation and set the version label only when
 * it fits (deployer/kube/manifests.ts `versionMetadata`).
 */
export const VERSION_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DEPLOY_ID_PATTERN = /^#?(\d{1,12})$/;

/** A refused version as a message shows it: whole up to 60 characters, else its start and its length. */
function shownVersion(version: string): string {
  return version.length <= 60 ? version : `${version.slice(0, 40)}… (${version.length} characters)`;
}

/** Splits a command line into words, honouring "double" and 'single' quotes. */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|“([^”]*)”|(\S+)/g;
  for (const m of text.matchAll(re)) words.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');
  return words;
}

/** Damerau–Levenshtein (optimal string alignment) distance. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a typo's reach (≤ 2 edits, or a unique prefix), if any. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => w.length >= 3 && c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  const limit = Math.min(2, Math.max(1, Math.floor(w.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

function fail(code: ParseErrorCode, message: string, extra: { suggestion?: string; verb?: Verb } = {}): ParseResult {
  return { ok: false, error: { code, message, ...extra } };
}

/** Parses words (from `tokenize` or a CLI's argv) into a Command. */
export function parse(input: string | readonly string[]): ParseResult {
  const words = typeof input === 'string' ? tokenize(input) : [...input];
  if (words.length === 0 || !words[0]) {
    return fail('empty', `No command given. Try \`help\` — commands: ${VERBS.join(', ')}.`);
  }
  const head = words[0].toLowerCase();
  if (!(VERBS as readonly string[]).includes(head)) {
    const suggestion = nearest(head, VERBS);
    return fail(
      'unknown_command',
      suggestion
        ? `Unknown command \`${words[0]}\`. Did you mean \`${suggestion}\`?`
        : `Unknown command \`${words[0]}\`. Commands: ${VERBS.join(', ')}.`,
      { suggestion },
    );
  }
  const verb = head as Verb;
  const usage = `Usage: \`${USAGE[verb]}\``;
  const verbSpec = SPECS[verb];

  // Separate flags from positionals; `--flag=value` and `--flag value` both work.
  // A verb ending in free text (a lock's or a rejection's reason) takes `--words` as part of it,
  // except its own options (`lock APP reason --force`), wherever they are.
  const freeText = verbSpec.args.some((a) => a.variadic);
  const spec: Readonly<Record<string, 'boolean' | 'value'>> = Object.fromEntries(verbSpec.options.map((o) => [o.flag, o.value ? 'value' : 'boolean']));
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word.startsWith('--') && (!freeText || spec[word] !== undefined)) {
      const [name, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
      const kind = spec[name!];
      if (!kind) {
        const suggestion = nearest(name!, Object.keys(spec));
        return fail(
          'unknown_flag',
          `\`${verb}\` has no option \`${name}\`${suggestion ? `. Did you mean \`${suggestion}\`?` : '.'} ${usage}`,
          { suggestion, verb },
        );
      }
      if (kind === 'boolean') {
        if (inline !== undefined) return fail('bad_argument', `\`${name}\` takes no value. ${usage}`, { verb });
        flags[name!] = true;
      } else {
        const value = inline ?? words[++i];
        if (value === undefined || value.startsWith('--')) return fail('missing_argument', `\`${name}\` needs a value. ${usage}`, { verb });
        flags[name!] = value;
      }
    } else {
      positionals.push(word);
    }
  }

  // How many positionals the verb takes, from its spec: too few or too many is the same mistake for every verb.
  const missing = verbSpec.args.slice(positionals.length).filter((a) => a.required);
  if (missing.length) {
    const names = missing.length === 1 && missing[0]!.why ? `${missing[0]!.noun} (${missing[0]!.why})` : missing.map((a) => a.noun).join(' and ');
    return fail('missing_argument', `\`${verb}\` needs ${names}. ${usage}`, { verb });
  }
  if (!freeText && positionals.length > verbSpec.args.length) {
    const extra = positionals.slice(verbSpec.args.length).join(' ');
    return fail('extra_argument', `Unexpected \`${extra}\` after \`${verb}\`. ${usage}`, { verb });
  }
  const deployId = (word: string): number | ParseResult => {
    const m = DEPLOY_ID_PATTERN.exec(word);
    return m ? Number(m[1]) : fail('bad_argument', `\`${word}\` is not a deploy id: use the number shown when it was queued, like \`42\`. ${usage}`, { verb });
  };
  const dryRun = flags['--dry-run'] === true;

  switch (verb) {
    case 'deploy': {
      const [app, version] = positionals as [string, string];
      if (!VERSION_PATTERN.test(version)) {
        return fail(
          'bad_argument',
          `\`${shownVersion(version)}\` is not a valid version: use an image tag (letters, digits, \`_\`, \`.\`, \`-\`; at most 128 characters, not starting with \`.\` or \`-\`). ${usage}`,
          { verb },
        );
      }
      let strategy: Strategy | undefined;
      if (flags['--strategy'] !== undefined) {
        const s = String(flags['--strategy']);
        if (!(STRATEGIES as readonly string[]).includes(s)) {
          const suggestion = nearest(s, STRATEGIES);
          return fail(
            'bad_argument',
            `\`--strategy ${s}\` is not a strategy: use ${STRATEGIES.map((x) => `\`${x}\``).join(' or ')}${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}.`,
            { verb, suggestion },
          );
        }
        strategy = s as Strategy;
      }
      return { ok: true, command: { verb, app: app.toLowerCase(), version, strategy, dryRun } };
    }
    case 'rollback': {
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), dryRun } };
    }
    case 'scale': {
      // `replicas=N` and `nodes=MIN..MAX` first, in any order; the words after them are the reason.
      const settings: { replicas?: number; minNodes?: number; maxNodes?: number } = {};
      let i = 1;
      for (; i < positionals.length; i++) {
        const m = /^(replicas|nodes)=(.*)$/i.exec(positionals[i]!);
        if (!m) break;
        const key = m[1]!.toLowerCase();
        const value = m[2]!;
        if ((key === 'replicas' && settings.replicas !== undefined) || (key === 'nodes' && settings.maxNodes !== undefined)) {
          return fail('bad_argument', `\`${key}=\` is given twice. ${usage}`, { verb });
        }
        if (key === 'replicas') {
          if (!/^\d{1,6}$/.test(value)) return fail('bad_argument', `\`${positionals[i]}\` is not a number of replicas: use a whole number, like \`replicas=3\`. ${usage}`, { verb });
          settings.replicas = Number(value);
        } else {
          const n = /^(\d{1,4})\.\.(\d{1,4})$/.exec(value);
          if (!n) return fail('bad_argument', `\`${positionals[i]}\` is not a node range: use \`nodes=MIN..MAX\`, like \`nodes=2..8\`. ${usage}`, { verb });
          settings.minNodes = Number(n[1]);
          settings.maxNodes = Number(n[2]);
        }
      }
      if (settings.replicas === undefined && settings.maxNodes === undefined) {
        return fail('missing_argument', `\`scale\` needs \`replicas=N\` and/or \`nodes=MIN..MAX\`. ${usage}`, { verb });
      }
      const reason = positionals.slice(i).join(' ').trim();
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), ...settings, ...(reason ? { reason } : {}), dryRun } };
    }
    case 'restart': {
      const reason = positionals.slice(1).join(' ').trim();
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), ...(reason ? { reason } : {}), dryRun } };
    }
    case 'upgrade': {
      const kubernetes = flags['--kubernetes'] === undefined ? undefined : String(flags['--kubernetes']);
      if (kubernetes !== undefined && !/^1\.\d{1,3}$/.test(kubernetes)) {
        return fail('bad_argument', `\`--kubernetes ${kubernetes}\` is not a Kubernetes minor version: use one like \`1.35\`. ${usage}`, { verb });
      }
      const reason = positionals.slice(1).join(' ').trim();
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), ...(kubernetes ? { kubernetes } : {}), ...(reason ? { reason } : {}), dryRun } };
    }
    case 'approve':
    case 'cancel': {
      const id = deployId(positionals[0]!);
      return typeof id === 'number' ? { ok: true, command: { verb, deployId: id } } : id;
    }
    case 'reject': {
      const id = deployId(positionals[0]!);
      if (typeof id !== 'number') return id;
      const reason = positionals.slice(1).join(' ').trim();
      return { ok: true, command: { verb, deployId: id, reason: reason || undefined } };
    }
    case 'status': {
      return { ok: true, command: { verb, app: positionals[0]?.toLowerCase() } };
    }
    case 'history': {
      let limit = 10;
      if (flags['--limit'] !== undefined) {
        const raw = String(flags['--limit']);
        if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100) {
          return fail('bad_argument', `\`--limit ${raw}\` must be a whole number from 1 to 100.`, { verb });
        }
        limit = Number(raw);
      }
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), limit } };
    }
    case 'lock': {
      const reason = positionals.slice(1).join(' ').trim();
      if (!reason) return fail('missing_argument', `\`lock\` needs a reason (say why, so others know). ${usage}`, { verb });
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), reason, force: flags['--force'] === true } };
    }
    case 'unlock': {
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), force: flags['--force'] === true } };
    }
    case 'apps': {
      return { ok: true, command: { verb } };
    }
    case 'schedules': {
      return { ok: true, command: { verb, app: positionals[0]?.toLowerCase() } };
    }
    case 'pause': {
      const reason = positionals.slice(1).join(' ').trim();
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), reason: reason || undefined } };
    }
    case 'resume': {
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase() } };
    }
    case 'help': {
      const topic = positionals[0]?.toLowerCase();
      if (topic && !(VERBS as readonly string[]).includes(topic)) {
        const suggestion = nearest(topic, VERBS);
        return fail('unknown_command', `There is no command \`${topic}\`${suggestion ? `. Did you mean \`${suggestion}\`?` : '.'}`, { suggestion, verb });
      }
      return { ok: true, command: { verb, topic: topic as Verb | undefined } };
    }
  }
}

/** The help text: every command, or one command's usage. */
export function helpText(topic?: Verb): string {
  if (topic) return `\`${USAGE[topic]}\`\n${SUMMARY[topic]}`;
  return VERBS.map((v) => `\`${USAGE[v]}\` — ${SUMMARY[v]}`).join('\n');
}
