/**
 * The web console's reads (KMC): an app's history with filters, the search box across apps,
 * the rows DORA needs, the newest ended deploy and the unfinished deploys per app. Every
 * statement stays on an index (migrations 6 and 9 add the ones these need; `statements()` lists
 * every SQL text this repository can run, so test/console-query-plans.test.ts checks each
 * plan rather than a copy of it).
 *
 * Filters compose: one SQL text per combination of filters (its "shape"), prepared once and
 * kept, like `DeploysRepo.transition`. Values are always bound, never spliced into the SQL.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { DeploysRepo } from './deploys.js';
import type { EnvironmentsRepo } from './environments.js';
import type { EventsRepo } from './events.js';
import { TERMINAL_STATES, type DeployKind, type DeployRecord, type DeployState } from './types.js';

const TERMINAL_SQL = TERMINAL_STATES.map((s) => `'${s}'`).join(',');
/** The final states other than success: word for word the condition of the partial index deploys_unsuccessful. */
const UNSUCCESSFUL: readonly DeployState[] = TERMINAL_STATES.filter((s) => s !== 'succeeded');
const UNSUCCESSFUL_SQL = UNSUCCESSFUL.map((s) => `'${s}'`).join(',');
/** The kinds of deploy that are changes (DORA): not a refresh, nor any maintenance kind added later. */
const CHANGE_KINDS_SQL = "'deploy','rollback'";

/** A version filter: one version, or every version that starts with `prefix` (`v12*`). */
export type VersionFilter = { readonly exact: string } | { readonly prefix: string };

/**
 * What to find among deploys; every field optional, combined with AND. At least one of `app`,
 * `version`, `person`, `outcome` or a `created` bound must be given (else the read would walk
 * every deploy: `find` refuses it).
 */
export interface DeployFilter {
  readonly app?: string;
  readonly version?: VersionFilter;
  /** Who requested it: matches `requested_by` (the id) or `requested_by_name` (the name shown), whole, in any case. */
  readonly person?: string;
  /** A final state, or 'active' (not ended: queued or running). */
  readonly outcome?: DeployState | 'active';
  /** Requested at or after `from`, and before `to` (ms since the epoch). */
  readonly created?: { readonly from?: number; readonly to?: number };
  /** Keyset paging: only deploys with an id below this one. */
  readonly before?: number;
  /** Rows per page. @default 25 */
  readonly limit?: number;
}

/** A page of deploys, newest first (id DESC). */
export interface DeployPageRows {
  readonly rows: readonly DeployRecord[];
  /** The `before` that reads the next (older) page; null when there is none. */
  readonly nextBefore: number | null;
}

/** A deploy not yet ended, with the step(s) running now (" + " between parallel ones). */
export interface ActiveDeployRow extends DeployRecord {
  readonly runningStep: string | null;
}

/** What the fleet page shows of an app's newest ended deploy (see ConsoleRepo.lastEndedOf). */
export type LastEndedRow = Pick<DeployRecord, 'app' | 'id' | 'version' | 'state' | 'kind' | 'requestedBy' | 'requestedByName' | 'finishedAt'>;

/**
 * What the DORA arithmetic (console/dora.ts) reads of a deploy: its outcome and times, and
 * when its cutover step succeeded (blue/green: the moment it went live).
 */
export interface DoraRow {
  readonly id: number;
  readonly app: string;
  readonly version: string;
  readonly kind: DeployKind;
  readonly strategy: 'blue-green' | 'rolling';
  readonly state: DeployState;
  readonly requestedBy: string;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  /** When its `cutover` step succeeded; null for a rolling update or one that never cut over. */
  readonly cutoverAt: number | null;
}

/**
 * The shape of a `find`: which filters it has, which decides its SQL text. Outcomes come in four
 * shapes, each matching a partial index's condition word for word (SQLite uses a partial index only
 * then): succeeded (deploys_succeeded, deploys_last_success), another final state
 * (deploys_unsuccessful), a state not final, and any state not final (deploys_active, deploys_active_app).
 */
interface Shape {
  readonly app: boolean;
  readonly version: 'none' | 'exact' | 'prefix';
  readonly person: boolean;
  readonly outcome: 'none' | 'succeeded' | 'unsuccessful' | 'unfinished' | 'active';
  readonly from: boolean;
  readonly to: boolean;
  readonly before: boolean;
  /** A closed time window no longer than NARROW_WINDOW_MS: read first, from the index on created_at. */
  readonly narrow: boolean;
}

/** One SQL text this repository runs, named for the plan test. */
export interface NamedStatement {
  readonly name: string;
  readonly sql: string;
}

/**
 * A closed time window (`from` and `to`) this long or shorter — today, yesterday, this or last week,
 * the last 7 days, one date — is read first, from the index on created_at (with an app: on (app,
 * created_at)), every other filter checked row by row, then sorted: at most a week and a day of deploys
 * (≈ 1,100 across 60 apps at 100,000 deploys in two years), whatever else the filter says. Any other
 * index would be walked newest first until a page matched — back through the whole history of a
 * person or an outcome when the window holds fewer than a page, as "yesterday" usually does.
 */
export const NARROW_WINDOW_MS = 8 * 86_400_000;

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;

/**
 * The exclusive upper bound of a prefix range: `v12` → `v13`, so that `version >= 'v12' AND
 * version < 'v13'` is every version starting with `v12`, on the index. SQLite compares TEXT byte
 * by byte (UTF-8, BINARY collation); versions are image tags (ASCII), whose last character is
 * incremented. A prefix ending in anything else gets U+10FFFF appended, above every character.
 */
export function prefixUpperBound(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix.length && last < 0x7f) return prefix.slice(0, -1) + String.fromCharCode(last + 1);
  return `${prefix}\u{10FFFF}`;
}

const LIVE_STEP = "(SELECT s.finished_at FROM steps s WHERE s.deploy_id = deploys.id AND s.name = 'cutover' AND s.state = 'succeeded') AS cutoverAt";
/** Named as DoraRow names them, so that the rows need no mapping (a few hundred per report). */
const DORA_COLUMNS = `id, app, version, kind, strategy, state, requested_by AS requestedBy, created_at AS createdAt, finished_at AS finishedAt, ${LIVE_STEP}`;

export class ConsoleRepo {
  private readonly byShape = new Map<string, ReturnType<Db['prepare']>>();
  private readonly lastEndedStmt;
  private readonly lastEndedOfStmt;
  private readonly activeStmt;
  private readonly doraRowsStmt;
  private readonly nextLiveStmt;
  private readonly eventPlanStmt;

  constructor(private readonly db: Db) {
    this.lastEndedStmt = db.prepare(ConsoleRepo.SQL.lastEnded);
    this.lastEndedOfStmt = db.prepare(ConsoleRepo.SQL.lastEndedOf);
    this.activeStmt = db.prepare(ConsoleRepo.SQL.active);
    this.doraRowsStmt = db.prepare(ConsoleRepo.SQL.doraRows);
    this.nextLiveStmt = db.prepare(ConsoleRepo.SQL.nextLive);
    this.eventPlanStmt = db.prepare(ConsoleRepo.SQL.eventWithPlan);
  }

  /** The fixed statements; `find`'s are built per shape (`findSql`). */
  static readonly SQL = {
    /**
     * The app's newest deploy that ended (any outcome), by finish time, on deploys_app_finished.
     * A deploy ends with its finished_at set (deployer/driver.ts), so a NULL one is unfinished.
     */
    lastEnded: `SELECT * FROM deploys WHERE app = ? AND finished_at IS NOT NULL AND state IN (${TERMINAL_SQL}) ORDER BY finished_at DESC LIMIT 1`,
    /**
     * `lastEnded` of each app of a JSON list, in one statement (the fleet page): the same probe of
     * deploys_app_finished per app, only the columns the page shows, named as the record names them.
     */
    lastEndedOf: `SELECT d.app, d.id, d.version, d.state, d.kind, d.requested_by AS requestedBy, d.requested_by_name AS requestedByName, d.finished_at AS finishedAt
                  FROM json_each(@apps) AS a
                  JOIN deploys d ON d.id = (SELECT x.id FROM deploys x WHERE x.app = a.value AND x.finished_at IS NOT NULL AND x.state IN (${TERMINAL_SQL}) ORDER BY x.finished_at DESC LIMIT 1)`,
    /** Every unfinished deploy (a handful), oldest first, with its running step(s): the partial index deploys_active, the steps' primary key. */
    active: `SELECT *, (SELECT group_concat(s.name, ' + ') FROM steps s WHERE s.deploy_id = deploys.id AND s.state = 'running') AS running_step
             FROM deploys WHERE state NOT IN (${TERMINAL_SQL}) ORDER BY id`,
    /**
     * The deploys of `app` that may count in a DORA window [from, to): ended at or after `from`
     * (a change happens no later than its deploy ends) and requested before `to`. Only deploys and
     * rollbacks are changes (a refresh redeploys the live version). On deploys_app_finished.
     */
    doraRows: `SELECT ${DORA_COLUMNS} FROM deploys
               WHERE app = @app AND finished_at >= @from AND created_at < @to AND kind IN (${CHANGE_KINDS_SQL}) ORDER BY id`,
    /** The first change of `app` after deploy `after` that went live (replaced it): deploys_last_success. */
    nextLive: `SELECT ${DORA_COLUMNS} FROM deploys
               WHERE app = @app AND state = 'succeeded' AND id > @after AND kind IN (${CHANGE_KINDS_SQL}) ORDER BY id LIMIT 1`,
    /** The first event of a deploy that carries a plan (events_deploy). */
    eventWithPlan: "SELECT data FROM events WHERE deploy_id = ? AND data IS NOT NULL AND json_type(data, '$.plan') IS NOT NULL ORDER BY id LIMIT 1",
  } as const;

  /**
   * Deploys matching `f`, newest first, one page at a time (keyset: `before` the last id shown).
   * Throws RangeError for a filter with nothing to narrow it down (see DeployFilter).
   */
  find(f: DeployFilter): DeployPageRows {
    const shape = shapeOf(f);
    if (!narrowed(shape)) throw new RangeError('a deploy search needs an app, a version, a person, an outcome or a time range');
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(f.limit ?? DEFAULT_LIMIT)));
    const params: Record<string, unknown> = { limit: limit + 1 };
    if (f.app !== undefined) params.app = f.app;
    if (f.version && 'exact' in f.version) params.version = f.version.exact;
    if (f.version && 'prefix' in f.version) {
      params.lo = f.version.prefix;
      params.hi = prefixUpperBound(f.version.prefix);
    }
    if (f.person !== undefined) params.person = f.person;
    if (shape.outcome === 'unsuccessful' || shape.outcome === 'unfinished') params.state = f.outcome;
    if (f.created?.from !== undefined) params.from = f.created.from;
    if (f.created?.to !== undefined) params.to = f.created.to;
    if (f.before !== undefined) params.before = f.before;
    const rows = toRecords<DeployRecord>(this.statement(shape).all(params));
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { rows: page, nextBefore: more ? page[page.length - 1]!.id : null };
  }

  /** The app's newest deploy that ended, or undefined. */
  lastEnded(app: string): DeployRecord | undefined {
    const row = this.lastEndedStmt.get(app);
    return row ? toRecord<DeployRecord>(row) : undefined;
  }

  /** The newest ended deploy of each of `apps` that has one (as `lastEnded`), by app. */
  lastEndedOf(apps: readonly string[]): Map<string, LastEndedRow> {
    const rows = this.lastEndedOfStmt.all({ apps: JSON.stringify(apps) }) as LastEndedRow[];
    return new Map(rows.map((r) => [r.app, r]));
  }

  /** Every deploy not yet ended (any app), oldest first, with what runs now. */
  active(): ActiveDeployRow[] {
    return toRecords<ActiveDeployRow>(this.activeStmt.all());
  }

  /**
   * What the DORA arithmetic needs for `app` over [from, to): the window's deploys (see
   * SQL.doraRows), then the first deploy that went live after the last of them, which tells
   * whether the last ones were replaced (rolled back, rolled forward) or restored.
   */
  doraRows(app: string, from: number, to: number): DoraRow[] {
    const rows = this.doraRowsStmt.all({ app, from, to }) as DoraRow[];
    const after = rows.length ? rows[rows.length - 1]!.id : 0;
    const next = this.nextLiveStmt.get({ app, after }) as DoraRow | undefined;
    if (next) rows.push(next);
    return rows;
  }

  /** The `plan` an event of the deploy carries (its `data.plan`), or undefined. */
  eventPlan(deployId: number): unknown {
    const row = this.eventPlanStmt.get(deployId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as { plan?: unknown }).plan : undefined;
  }

  /** Every SQL text this repository runs: each `find` shape, then the fixed statements. */
  statements(): NamedStatement[] {
    return [
      ...allShapes().map((s) => ({ name: `find ${shapeName(s)}`, sql: findSql(s) })),
      ...Object.entries(ConsoleRepo.SQL).map(([name, sql]) => ({ name, sql })),
    ];
  }

  private statement(shape: Shape): ReturnType<Db['prepare']> {
    const sql = findSql(shape);
    let stmt = this.byShape.get(sql);
    if (!stmt) this.byShape.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }
}

function shapeOf(f: DeployFilter): Shape {
  return {
    app: f.app !== undefined,
    version: !f.version ? 'none' : 'exact' in f.version ? 'exact' : 'prefix',
    person: f.person !== undefined,
    outcome:
      f.outcome === undefined ? 'none'
      : f.outcome === 'active' ? 'active'
      : f.outcome === 'succeeded' ? 'succeeded'
      : UNSUCCESSFUL.includes(f.outcome) ? 'unsuccessful'
      : 'unfinished',
    from: f.created?.from !== undefined,
    to: f.created?.to !== undefined,
    before: f.before !== undefined,
    narrow: f.created?.from !== undefined && f.created.to !== undefined && f.created.to - f.created.from <= NARROW_WINDOW_MS,
  };
}

/** A shape with something an index can narrow down (a page alone, or `before` alone, would walk every deploy). */
function narrowed(s: Shape): boolean {
  return s.app || s.version !== 'none' || s.person || s.outcome !== 'none' || s.from || s.to;
}

/**
 * The SQL text of a shape: fixed for the shape, values bound by name. Every shape reads newest first
 * and stops after a page (LIMIT @limit, one more than the page, which says whether there is a next):
 * - a person is two ordered walks, one per column (the id, the name shown: each index is (column, id)),
 *   each stopping after a page, merged: the page is the newest of at most two pages of ids. (A UNION of
 *   the two whole index searches, or an OR, read every deploy of the person, then sorted them.)
 * - a version prefix, alone or with an app, finds the page's ids on the index of versions alone (covering:
 *   no row is read to be thrown away), then reads those rows: the prefix's matches are in version order,
 *   so they are sorted, but as index entries (6,600 for "1.4*") rather than rows.
 * - a narrow time window is read first (NARROW_WINDOW_MS), and a person with an app is looked for among
 *   the app's deploys (`appIndexFor`): the person as an OR of the two columns, checked row by row.
 * - otherwise one index in id order where there is one ((app, id), (app, state, id) for an app's
 *   failures, (state, id), the partial indexes), else a range then a sort (see `indexedBy`).
 */
export function findSql(s: Shape): string {
  const where: string[] = [];
  if (s.app) where.push('app = @app');
  if (s.version === 'exact') where.push('version = @version');
  // A range the index on version can seek, instead of LIKE (case-insensitive, so not on a BINARY index).
  if (s.version === 'prefix') where.push('version >= @lo AND version < @hi');
  // Each word for word a partial index's condition, so that it applies (see Shape).
  if (s.outcome === 'succeeded') where.push("state = 'succeeded'");
  if (s.outcome === 'unsuccessful') where.push(`state IN (${UNSUCCESSFUL_SQL}) AND state = @state`);
  if (s.outcome === 'unfinished' || s.outcome === 'active') where.push(`state NOT IN (${TERMINAL_SQL})`);
  if (s.outcome === 'unfinished') where.push('state = @state');
  if (s.from) where.push('created_at >= @from');
  if (s.to) where.push('created_at < @to');
  if (s.before) where.push('id < @before');
  const page = 'ORDER BY id DESC LIMIT @limit';
  // Case does not matter (a name typed "bob" finds "Bob"): the indexes are NOCASE, as the comparisons.
  if (s.person && !s.narrow && !s.app) {
    const walk = (column: string): string =>
      `SELECT id FROM (SELECT id FROM deploys${indexedBy(s)} WHERE ${[`${column} = @person COLLATE NOCASE`, ...where].join(' AND ')} ${page})`;
    return `SELECT * FROM deploys WHERE id IN (${walk('requested_by')} UNION ALL ${walk('requested_by_name')}) ${page}`;
  }
  if (s.person) where.push('(requested_by = @person COLLATE NOCASE OR requested_by_name = @person COLLATE NOCASE)');
  if (s.version === 'prefix' && !s.person && s.outcome === 'none' && !s.from && !s.to) {
    return `SELECT * FROM deploys WHERE id IN (SELECT id FROM deploys${s.app ? ' INDEXED BY deploys_app_version' : ' INDEXED BY deploys_version'} WHERE ${where.join(' AND ')} ${page}) ${page}`;
  }
  return `SELECT * FROM deploys${s.person && s.app ? appIndexFor(s) : indexedBy(s)} WHERE ${where.join(' AND ')} ${page}`;
}

/**
 * The index of an app's deploys a person's are looked for in, checked row by row (an app has a few
 * people who deploy it: a page is near): in id order where one is ((app, id), (app, state, id) for its
 * failures, its successes), else the narrowest range, then sorted. Named, because the planner would
 * otherwise read every deploy of the person from the two person indexes (an OR of two indexed columns).
 */
function appIndexFor(s: Shape): string {
  if (s.outcome === 'active' || s.outcome === 'unfinished') return ' INDEXED BY deploys_active_app';
  if (s.narrow) return ' INDEXED BY deploys_app_created';
  if (s.version !== 'none') return ' INDEXED BY deploys_app_version';
  if (s.outcome === 'unsuccessful') return ' INDEXED BY deploys_app_unsuccessful';
  if (s.outcome === 'succeeded') return ' INDEXED BY deploys_last_success';
  return ' INDEXED BY deploys_app';
}

/**
 * The index a shape must use, where the planner could otherwise choose to walk the whole table in id
 * order (it prefers that to sorting when a LIMIT is given and no equality narrows the rows, and with
 * the statistics of a busy day it may), or walk a person's or an outcome's index back through history:
 * unfinished deploys are a handful in their partial index; a narrow time window (NARROW_WINDOW_MS) is
 * read from the index on created_at (with an app, on (app, created_at)), then sorted; a time range alone
 * (or with "succeeded") likewise; every success is read from the partial index of successes. Named
 * here (SQLite's INDEXED BY) so that a plan that stops using it is an error, not a slow page.
 */
function indexedBy(s: Shape): string {
  if (s.outcome === 'active' || s.outcome === 'unfinished') return s.app ? ' INDEXED BY deploys_active_app' : ' INDEXED BY deploys_active';
  if (s.narrow) return s.app ? ' INDEXED BY deploys_app_created' : ' INDEXED BY deploys_created';
  const other = s.app || s.version !== 'none' || s.person;
  if (!other && (s.outcome === 'none' || s.outcome === 'succeeded') && (s.from || s.to)) return ' INDEXED BY deploys_created';
  // Every success, newest first: the partial index of successes walked backwards, stopping at the page's end.
  if (!other && s.outcome === 'succeeded') return ' INDEXED BY deploys_succeeded';
  return '';
}

function allShapes(): Shape[] {
  const shapes: Shape[] = [];
  const bools = [false, true];
  for (const app of bools)
    for (const version of ['none', 'exact', 'prefix'] as const)
      for (const person of bools)
        for (const outcome of ['none', 'succeeded', 'unsuccessful', 'unfinished', 'active'] as const)
          for (const from of bools)
            for (const to of bools)
              for (const before of bools)
                for (const narrow of from && to ? bools : [false]) {
                  const s: Shape = { app, version, person, outcome, from, to, before, narrow };
                  if (narrowed(s)) shapes.push(s);
                }
  return shapes;
}

function shapeName(s: Shape): string {
  const parts = [
    s.app && 'app',
    s.version !== 'none' && `version:${s.version}`,
    s.person && 'person',
    s.outcome !== 'none' && `outcome:${s.outcome}`,
    s.from && 'from',
    s.to && 'to',
    s.before && 'before',
    s.narrow && 'narrow',
  ].filter(Boolean);
  return parts.join('+');
}

/**
 * The read statements of the deploys, events and environments repositories that serve history,
 * status and the event feed, as SQL text, for the plan test. They are private fields of those repositories;
 * this reads them by name (and throws if one is renamed, so the test cannot pass vacuously).
 */
export function existingReadStatements(repos: { deploys: DeploysRepo; events: EventsRepo; environments: EnvironmentsRepo }): NamedStatement[] {
  const read = (owner: string, repo: object, fields: readonly string[]): NamedStatement[] =>
    fields.map((field) => {
      const stmt = (repo as Record<string, { source?: unknown } | undefined>)[field];
      if (typeof stmt?.source !== 'string') throw new Error(`${owner}.${field} is not a prepared statement any more`);
      return { name: `${owner}.${field}`, sql: stmt.source };
    });
  return [
    ...read('deploys', repos.deploys, ['getStmt', 'historyStmt', 'historyBeforeStmt', 'activeStmt', 'aheadStmt', 'aheadCountStmt', 'lastSuccessStmt', 'lastSuccessOtherVersionStmt', 'stepsStmt']),
    ...read('events', repos.events, ['getStmt', 'afterStmt', 'lastStmt']),
    // What `status` of every app reads in one statement (commands/core.ts statusRows).
    ...read('environments', repos.environments, ['liveStmt', 'liveWithLastSuccessStmt']),
  ];
}
