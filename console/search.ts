/**
 * The console's one search box: a few words, understood as filters over every app's deploys
 * and answered from the store's indexed search (store/console.ts `find`).
 *
 * The grammar, word by word (case does not matter except inside versions, which are image tags):
 * - a **version**: `v123` (a `v` and a digit, then tag characters) or `1.4.2` (digits and dots) is one
 *   version exactly; anything ending in `*` is a prefix (`v12*`: v12, v120, v12.1 …); `version X` makes
 *   any tag X a version (`version sha-9f2c`).
 * - a **person**: anyone a KubeApp lists (owners, deployers, approvers; not @groups), by id, in any case;
 *   `by X` makes anyone a person (`by zed`). Matches who requested the deploy, by id or by the name shown.
 * - an **outcome**: `failed`, `succeeded`, `rejected`, `cancelled`, `timed out`, and `running` (also
 *   `active`, `queued`, `in progress`: not ended yet); a few plain variants too (`failure`, `canceled`, …).
 * - a **time** (when the deploy was requested; UTC days; weeks start on Monday): `today`, `yesterday`,
 *   `this week`, `last week`, `last N days` / `past N days` (today and the N−1 days before it; N ≤ 366),
 *   an ISO date `2026-11-30` (that day), `since 2026-11-01` (that day until the end of today).
 * - an **app**: its name.
 * - filler words (`what`, `did`, `deploy`, `which`, `put`, `anywhere`, …) are ignored.
 * Each kind at most once. Any other word is a problem that names it, with examples of what works.
 */
import type { KubeApp } from '../kubeapps/index.js';
import type { ConsoleRepo } from '../store/console.js';
import type { DeployRecord, DeployState, VersionFilter } from '../store/index.js';
import { DAY_MS, startOfUtcDay, utcDay } from './dora.js';
import type { SearchHit, SearchResult } from './model.js';

/** What a query was understood as. */
export interface SearchFilter {
  readonly app?: string;
  readonly version?: VersionFilter;
  /** As typed after `by`, or the id a KubeApp lists. */
  readonly person?: string;
  readonly outcome?: DeployState | 'active';
  /** Requested in [from, to) (ms since the epoch); `phrase` as the box shows it back ("this week"). */
  readonly time?: { readonly from: number; readonly to: number; readonly phrase: string };
}

export type ParsedSearch = { readonly ok: true; readonly filter: SearchFilter; readonly understood: string } | { readonly ok: false; readonly problem: string };

/** The names the parser recognises, each lower case → as defined: apps, and people. */
export interface SearchVocabulary {
  readonly apps: ReadonlyMap<string, string>;
  readonly people: ReadonlyMap<string, string>;
}

/** Apps and the people they list (ids as written; @groups are not people who request deploys). */
export function vocabularyOf(apps: ReadonlyMap<string, KubeApp>): SearchVocabulary {
  const people = new Map<string, string>();
  for (const a of apps.values()) {
    for (const p of [...a.owners, ...a.deployers, ...a.approvers]) if (!p.startsWith('@')) people.set(p.toLowerCase(), p);
  }
  return { apps: new Map([...apps.keys()].map((n) => [n.toLowerCase(), n])), people };
}

export const SEARCH_EXAMPLES = ['v123', 'v12*', 'carol this week', 'failed yesterday', 'search-svc last 7 days', 'timed out 2026-11-30'] as const;

const FILLER = new Set(
  `a all an and any anything anywhere app apps are at be been by did do does done during ever every everything find for from get got
   had happen happened has have in is it list me of on or put puts release released releases run ran show shipped ship
   that the them there this those to version versions was went were what when where which who whom whose with deploy deploys
   deployed deploying deployment deployments change changes`.split(/\s+/),
);

const OUTCOMES: ReadonlyMap<string, DeployState | 'active'> = new Map<string, DeployState | 'active'>([
  ['failed', 'failed'], ['fail', 'failed'], ['fails', 'failed'], ['failure', 'failed'], ['failures', 'failed'],
  ['succeeded', 'succeeded'], ['success', 'succeeded'], ['successful', 'succeeded'], ['succeed', 'succeeded'],
  ['rejected', 'rejected'], ['reject', 'rejected'],
  ['cancelled', 'cancelled'], ['canceled', 'cancelled'], ['cancel', 'cancelled'],
  ['timed_out', 'timed_out'], ['timeout', 'timed_out'],
  ['running', 'active'], ['active', 'active'], ['queued', 'active'], ['ongoing', 'active'], ['unfinished', 'active'],
]);
/** Two-word outcomes, read before single words. */
const OUTCOME_PHRASES: ReadonlyMap<string, DeployState | 'active'> = new Map<string, DeployState | 'active'>([
  ['timed out', 'timed_out'], ['time out', 'timed_out'], ['in progress', 'active'],
]);

const OUTCOME_WORDS: Readonly<Record<DeployState | 'active', string>> = {
  queued: 'queued', building: 'building', provisioning: 'provisioning', deploying: 'deploying', awaiting_approval: 'awaiting approval',
  cutting_over: 'cutting over', tearing_down: 'tearing down',
  succeeded: 'succeeded', failed: 'failed', rejected: 'rejected', timed_out: 'timed out', cancelled: 'cancelled', active: 'running',
};

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const LOOKS_LIKE_VERSION = /^(v\d[A-Za-z0-9_.-]*|\d+(\.\d+)+[A-Za-z0-9_.-]*)$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The instant of midnight UTC of an ISO date, or undefined when it is not a real day. */
function isoDay(word: string): number | undefined {
  const m = ISO_DATE.exec(word);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return utcDay(t) === word ? t : undefined;
}

/** Monday 00:00 UTC of the week of `ms`. */
function startOfUtcWeek(ms: number): number {
  const day = startOfUtcDay(ms);
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  return day - weekday * DAY_MS;
}

/** Words as typed (for versions and names) with a lower-case twin; punctuation around them dropped. */
function words(text: string): { raw: string; low: string }[] {
  return text
    .split(/[\s,;]+/)
    .map((w) => w.replace(/^["'“”‘’(\[]+/, '').replace(/["'“”‘’)\]?!.:]+$/, '').replace(/['’]s$/i, ''))
    .filter((w) => w.length > 0)
    .map((raw) => ({ raw, low: raw.toLowerCase() }));
}

function versionOf(raw: string): VersionFilter | undefined {
  if (raw.endsWith('*')) {
    const prefix = raw.slice(0, -1);
    return TAG.test(prefix) ? { prefix } : undefined;
  }
  return TAG.test(raw) ? { exact: raw } : undefined;
}

/** Understands `text` at `now` (the clock's), or says what it could not understand. */
export function parseSearch(text: string, now: number, vocab: SearchVocabulary): ParsedSearch {
  const ws = words(text);
  const filter: { -readonly [K in keyof SearchFilter]: SearchFilter[K] } = {};
  const unknown: string[] = [];
  const twice: string[] = [];
  const set = <K extends keyof SearchFilter>(key: K, value: SearchFilter[K], label: string): void => {
    if (filter[key] !== undefined) twice.push(label);
    else filter[key] = value;
  };
  const today = startOfUtcDay(now);
  const setTime = (from: number, to: number, phrase: string): void => set('time', { from, to, phrase }, `a time (${phrase})`);

  for (let i = 0; i < ws.length; i++) {
    const { raw, low } = ws[i]!;
    const next = ws[i + 1];
    const pair = next ? `${low} ${next.low}` : '';
    // Two- and three-word phrases first.
    if (OUTCOME_PHRASES.has(pair)) {
      set('outcome', OUTCOME_PHRASES.get(pair)!, `an outcome (${pair})`);
      i++;
      continue;
    }
    if (pair === 'this week' || pair === 'last week') {
      const monday = startOfUtcWeek(now);
      if (low === 'this') setTime(monday, monday + 7 * DAY_MS, 'this week');
      else setTime(monday - 7 * DAY_MS, monday, 'last week');
      i++;
      continue;
    }
    if ((low === 'last' || low === 'past') && next && /^\d+$/.test(next.low) && /^days?$/.test(ws[i + 2]?.low ?? '')) {
      const n = Number(next.low);
      if (n < 1 || n > 366) unknown.push(`${raw} ${next.raw} ${ws[i + 2]!.raw} (1 to 366 days)`);
      else setTime(today - (n - 1) * DAY_MS, today + DAY_MS, `last ${n} day${n === 1 ? '' : 's'}`);
      i += 2;
      continue;
    }
    if (low === 'since' && next && isoDay(next.low) !== undefined) {
      setTime(isoDay(next.low)!, today + DAY_MS, `since ${next.low}`);
      i++;
      continue;
    }
    if (low === 'by' && next) {
      set('person', vocab.people.get(next.low) ?? next.raw, `a person (${next.raw})`);
      i++;
      continue;
    }
    if ((low === 'version' || low === 'versions') && next && versionOf(next.raw)) {
      set('version', versionOf(next.raw)!, `a version (${next.raw})`);
      i++;
      continue;
    }
    // Single words.
    const day = isoDay(low);
    if (day !== undefined) setTime(day, day + DAY_MS, low);
    else if (low === 'today') setTime(today, today + DAY_MS, 'today');
    else if (low === 'yesterday') setTime(today - DAY_MS, today, 'yesterday');
    else if (OUTCOMES.has(low)) set('outcome', OUTCOMES.get(low)!, `an outcome (${raw})`);
    else if (vocab.apps.has(low)) set('app', vocab.apps.get(low)!, `an app (${raw})`);
    else if (vocab.people.has(low)) set('person', vocab.people.get(low)!, `a person (${raw})`);
    else if ((raw.endsWith('*') || LOOKS_LIKE_VERSION.test(raw)) && versionOf(raw)) set('version', versionOf(raw)!, `a version (${raw})`);
    else if (!FILLER.has(low)) unknown.push(raw);
  }

  const examples = SEARCH_EXAMPLES.map((e) => `“${e}”`).join(', ');
  if (unknown.length) {
    return {
      ok: false,
      problem: `I don't know ${unknown.map((w) => `“${w}”`).join(', ')}: not an app, a person any app lists, a version, an outcome or a time. Try ${examples} (or “by NAME” for someone no app lists, “version TAG” for any tag).`,
    };
  }
  if (twice.length) return { ok: false, problem: `One of each at a time: ${twice.join(', ')} comes after another. Try ${examples}.` };
  if (!filter.app && !filter.version && !filter.person && !filter.outcome && !filter.time) {
    return { ok: false, problem: `Search by app, version, person, outcome or time: try ${examples}.` };
  }
  return { ok: true, filter, understood: describeFilter(filter) };
}

/** The filter in words, as shown above the hits. */
export function describeFilter(f: SearchFilter): string {
  const parts: string[] = [f.app ? `of ${f.app}` : 'of every app'];
  if (f.version) parts.push('exact' in f.version ? `version ${f.version.exact}` : `versions starting ${f.version.prefix}`);
  if (f.person) parts.push(`requested by ${f.person}`);
  if (f.outcome) parts.push(f.outcome === 'active' ? 'not ended yet (queued or running)' : `that ${OUTCOME_WORDS[f.outcome]}`);
  if (f.time) parts.push(`requested ${timeWords(f.time)}`);
  return `Deploys ${parts.join(', ')}.`;
}

function timeWords(t: NonNullable<SearchFilter['time']>): string {
  const last = utcDay(t.to - 1);
  const first = utcDay(t.from);
  const span = first === last ? first : `${first} to ${last}`;
  return t.phrase === first ? `on ${first} (UTC)` : `${t.phrase} (${span}, UTC)`;
}

/** Why a deploy matched, in words: "version v123", "carol, this week", "failed yesterday". */
export function whyOf(f: SearchFilter, d: DeployRecord): string {
  const parts: string[] = [];
  if (f.app) parts.push(d.app);
  if (f.version) parts.push(`version ${d.version}`);
  if (f.person) parts.push(d.requestedByName && d.requestedByName !== d.requestedBy ? `${d.requestedBy} (${d.requestedByName})` : d.requestedBy);
  const when = f.time ? (/^\d{4}-/.test(f.time.phrase) ? `on ${f.time.phrase}` : f.time.phrase) : '';
  const outcome = f.outcome ? OUTCOME_WORDS[f.outcome === 'active' ? 'active' : d.state] : '';
  const tail = [outcome, when].filter(Boolean).join(' ');
  if (tail) parts.push(tail);
  return parts.join(', ');
}

/** Runs a parsed query through the store's indexed search; newest first. */
export function runSearch(repo: Pick<ConsoleRepo, 'find'>, parsed: ParsedSearch, limit = 25): SearchResult {
  if (!parsed.ok) return { understood: '', hits: [], problem: parsed.problem };
  const f = parsed.filter;
  const page = repo.find({
    app: f.app,
    version: f.version,
    person: f.person,
    outcome: f.outcome,
    created: f.time ? { from: f.time.from, to: f.time.to } : undefined,
    limit,
  });
  const hits: SearchHit[] = page.rows.map((deploy) => ({ deploy, why: whyOf(f, deploy) }));
  return { understood: parsed.understood, hits };
}

/** Understands and runs `text` (the search box) at `now`. */
export function search(repo: Pick<ConsoleRepo, 'find'>, vocab: SearchVocabulary, text: string, now: number, limit = 25): SearchResult {
  return runSearch(repo, parseSearch(text, now, vocab), limit);
}
