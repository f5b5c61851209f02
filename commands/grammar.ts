/**
 * The one grammar every surface speaks:
 *
 *   deploy APP VERSION [--strategy blue-green|rolling] [--dry-run]
 *   rollback APP [--dry-run]
 *   approve DEPLOY | reject DEPLOY [reason] | cancel DEPLOY
 *   status [APP] | history APP [--limit N]
 *   lock APP reason | unlock APP | apps | help [COMMAND]
 *
 * Parsing is pure: it knows nothing of apps or people. Mistakes come back as a
 * typed `ParseError` with a specific message and, for typos, a suggestion.
 */
import { STRATEGIES, type Strategy } from '../kubeapps/index.js';

export type Command =
  | { readonly verb: 'deploy'; readonly app: string; readonly version: string; readonly strategy?: Strategy; readonly dryRun: boolean }
  | { readonly verb: 'rollback'; readonly app: string; readonly dryRun: boolean }
  | { readonly verb: 'approve'; readonly deployId: number }
  | { readonly verb: 'reject'; readonly deployId: number; readonly reason?: string }
  | { readonly verb: 'cancel'; readonly deployId: number }
  | { readonly verb: 'status'; readonly app?: string }
  | { readonly verb: 'history'; readonly app: string; readonly limit: number }
  | { readonly verb: 'lock'; readonly app: string; readonly reason: string }
  | { readonly verb: 'unlock'; readonly app: string }
  | { readonly verb: 'apps' }
  | { readonly verb: 'help'; readonly topic?: Verb };

export type Verb = Command['verb'];

export const VERBS: readonly Verb[] = ['deploy', 'rollback', 'approve', 'reject', 'cancel', 'status', 'history', 'lock', 'unlock', 'apps', 'help'];

/** One usage line per verb, shown in help and in errors. */
export const USAGE: Readonly<Record<Verb, string>> = {
  deploy: 'deploy APP VERSION [--strategy blue-green|rolling] [--dry-run]',
  rollback: 'rollback APP [--dry-run]',
  approve: 'approve DEPLOY',
  reject: 'reject DEPLOY [reason]',
  cancel: 'cancel DEPLOY',
  status: 'status [APP]',
  history: 'history APP [--limit N]',
  lock: 'lock APP reason',
  unlock: 'unlock APP',
  apps: 'apps',
  help: 'help [COMMAND]',
};

/** What each verb does, for help. */
export const SUMMARY: Readonly<Record<Verb, string>> = {
  deploy: 'build, provision and roll out VERSION of APP (blue/green waits for approval before traffic moves)',
  rollback: 'within a deploy’s drain, flip traffic straight back to the previous cluster; later, deploy the last successful version before the running one',
  approve: 'approve the cutover of a blue/green deploy waiting for approval',
  reject: 'reject a cutover: the new cluster is torn down, traffic stays where it is',
  cancel: 'cancel a queued or running deploy; what it created is torn down',
  status: 'what is running and deploying, for one app or all',
  history: 'recent deploys of an app (default 10, at most 100)',
  lock: 'stop all deploys of an app until it is unlocked',
  unlock: 'allow deploys of an app again',
  apps: 'the KubeApps and who may deploy and approve them',
  help: 'this help, or the usage of one command',
};

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

/** An image tag as registries accept it. */
export const VERSION_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DEPLOY_ID_PATTERN = /^#?(\d{1,12})$/;

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

const FLAGS: Partial<Record<Verb, Readonly<Record<string, 'boolean' | 'value'>>>> = {
  deploy: { '--strategy': 'value', '--dry-run': 'boolean' },
  rollback: { '--dry-run': 'boolean' },
  history: { '--limit': 'value' },
};

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

  // Separate flags from positionals; `--flag=value` and `--flag value` both work.
  const spec = FLAGS[verb] ?? {};
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word.startsWith('--') && verb !== 'lock' && verb !== 'reject') {
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

  const need = (count: number, names: string): ParseResult | undefined =>
    positionals.length < count ? fail('missing_argument', `\`${verb}\` needs ${names}. ${usage}`, { verb }) : undefined;
  const noExtra = (count: number): ParseResult | undefined =>
    positionals.length > count
      ? fail('extra_argument', `Unexpected \`${positionals.slice(count).join(' ')}\` after \`${verb}\`. ${usage}`, { verb })
      : undefined;
  const deployId = (word: string): number | ParseResult => {
    const m = DEPLOY_ID_PATTERN.exec(word);
    return m ? Number(m[1]) : fail('bad_argument', `\`${word}\` is not a deploy id: use the number shown when it was queued, like \`42\`. ${usage}`, { verb });
  };
  const dryRun = flags['--dry-run'] === true;

  switch (verb) {
    case 'deploy': {
      const missing = need(2, positionals.length === 0 ? 'an app and a version' : 'a version') ?? noExtra(2);
      if (missing) return missing;
      const [app, version] = positionals as [string, string];
      if (!VERSION_PATTERN.test(version)) {
        return fail(
          'bad_argument',
          `\`${version}\` is not a valid version: use an image tag (letters, digits, \`_\`, \`.\`, \`-\`; at most 128, not starting with \`.\` or \`-\`). ${usage}`,
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
      const missing = need(1, 'an app') ?? noExtra(1);
      if (missing) return missing;
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), dryRun } };
    }
    case 'approve':
    case 'cancel': {
      const missing = need(1, 'a deploy id') ?? noExtra(1);
      if (missing) return missing;
      const id = deployId(positionals[0]!);
      return typeof id === 'number' ? { ok: true, command: { verb, deployId: id } } : id;
    }
    case 'reject': {
      const missing = need(1, 'a deploy id');
      if (missing) return missing;
      const id = deployId(positionals[0]!);
      if (typeof id !== 'number') return id;
      const reason = positionals.slice(1).join(' ').trim();
      return { ok: true, command: { verb, deployId: id, reason: reason || undefined } };
    }
    case 'status': {
      const extra = noExtra(1);
      if (extra) return extra;
      return { ok: true, command: { verb, app: positionals[0]?.toLowerCase() } };
    }
    case 'history': {
      const missing = need(1, 'an app') ?? noExtra(1);
      if (missing) return missing;
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
      const missing = need(2, positionals.length === 0 ? 'an app and a reason' : 'a reason (say why, so others know)');
      if (missing) return missing;
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase(), reason: positionals.slice(1).join(' ') } };
    }
    case 'unlock': {
      const missing = need(1, 'an app') ?? noExtra(1);
      if (missing) return missing;
      return { ok: true, command: { verb, app: positionals[0]!.toLowerCase() } };
    }
    case 'apps': {
      const extra = noExtra(0);
      return extra ?? { ok: true, command: { verb } };
    }
    case 'help': {
      const extra = noExtra(1);
      if (extra) return extra;
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
