/**
 * The web console's reads (KMC): an app's history with filters, the search box across apps,
 * the rows DORA needs, the newest ended deploy and the unfinished deploys per app. Every
 * statement stays on an index (migration 6 adds the ones these need; `statements()` lists
 * every SQL text this repository can run, so test/console-query-plans.test.ts checks each
 * plan rather than a copy of it).
 *
 * Filters compose: one SQL text per combination of filters (its "shape"), prepared once and
 * kept, like `DeploysRepo.transition`. Values are always bound, never spliced into the SQL.
 */
import type { Db } from './db.js';
import type { DeploysRepo } from './deploys.js';
import type { EventsRepo } from './events.js';
import { toRecord, toRecords } from './rows.js';
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
}

/** One SQL text this repository runs, named for the plan test. */
export interface NamedStatement {
  readonly name: string;
  readonly sql: string;
}

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

const LIVE_STEP = "(SELECT s.finished_at FROM steps s WHERE s.deploy_id = deploys.id AND s.name = 'cutover' AND s.state = 'succeeded') AS cutover_at";
const DORA_COLUMNS = `id, app, version, kind, strategy, state, requested_by, created_at, finished_at, ${LIVE_STEP}`;

export class ConsoleRepo {
  private readonly byShape = new Map<string, ReturnType<Db['prepare']>>();
  private readonly lastEndedStmt;
  private readonly activeStmt;
  private readonly doraRowsStmt;
  private readonly nextLiveStmt;
  private readonly eventPlanStmt;

  constructor(private readonly db: Db) {
    this.lastEndedStmt = db.prepare(ConsoleRepo.SQL.lastEnded);
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
    const rows = toRecords<DoraRow>(this.doraRowsStmt.all({ app, from, to }));
    const after = rows.length ? rows[rows.length - 1]!.id : 0;
    const next = this.nextLiveStmt.get({ app, after });
    return next ? [...rows, toRecord<DoraRow>(next)] : rows;
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
  };
}

/** A shape with something an index can narrow down (a page alone, or `before` alone, would walk every deploy). */
function narrowed(s: Shape): boolean {
  return s.app || s.version !== 'none' || s.person || s.outcome !== 'none' || s.from || s.to;
}

/** The SQL text of a shape: fixed for the shape, values bound by name. */
export function findSql(s: Shape): string {
  const where: string[] = [];
  if (s.app) where.push('app = @app');
  if (s.version === 'exact') where.push('version = @version');
  // A range the index on version can seek, instead of LIKE (case-insensitive, so not on a BINARY index).
  if (s.version === 'prefix') where.push('version >= @lo AND version < @hi');
  // Two indexes, one per column: as a list of ids (a UNION of two index searches). Written as an OR,
  // the planner walks the whole table in id order instead (it prefers that to sorting, for the LIMIT).
  // Case does not matter (a name typed "bob" finds "Bob"): the indexes are NOCASE, as the comparisons.
  if (s.person) {
    where.push('id IN (SELECT id FROM deploys WHERE requested_by = @person COLLATE NOCASE UNION SELECT id FROM deploys WHERE requested_by_name = @person COLLATE NOCASE)');
  }
  // Each word for word a partial index's condition, so that it applies (see Shape).
  if (s.outcome === 'succeeded') where.push("state = 'succeeded'");
  if (s.outcome === 'unsuccessful') where.push(`state IN (${UNSUCCESSFUL_SQL}) AND state = @state`);
  if (s.outcome === 'unfinished' || s.outcome === 'active') where.push(`state NOT IN (${TERMINAL_SQL})`);
  if (s.outcome === 'unfinished') where.push('state = @state');
  if (s.from) where.push('created_at >= @from');
  if (s.to) where.push('created_at < @to');
  if (s.before) where.push('id < @before');
  return `SELECT * FROM deploys${indexedBy(s)} WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`;
}

/**
 * The index a shape must use, where the planner could otherwise choose to walk the whole table in id
 * order (it prefers that to sorting when a LIMIT is given and no equality narrows the rows, and with
 * the statistics of a busy day it may): unfinished deploys are a handful in their partial index, a
 * time range alone (or with "succeeded") is read from the index on created_at, then sorted, and every
 * success is read from the partial index of successes. Named here (SQLite's INDEXED BY)
 * so that a plan that stops using it is an error, not a slow page.
 */
function indexedBy(s: Shape): string {
  if (s.outcome === 'active' || s.outcome === 'unfinished') return s.app ? ' INDEXED BY deploys_active_app' : ' INDEXED BY deploys_active';
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
              for (const before of bools) {
                const s: Shape = { app, version, person, outcome, from, to, before };
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
  ].filter(Boolean);
  return parts.join('+');
}

/**
 * The read statements of the deploys and events repositories that serve history, status and
 * the event feed, as SQL text, for the plan test. They are private fields of those repositories;
 * this reads them by name (and throws if one is renamed, so the test cannot pass vacuously).
 */
export function existingReadStatements(repos: { deploys: DeploysRepo; events: EventsRepo }): NamedStatement[] {
  const read = (owner: string, repo: object, fields: readonly string[]): NamedStatement[] =>
    fields.map((field) => {
      const stmt = (repo as Record<string, { source?: unknown } | undefined>)[field];
      if (typeof stmt?.source !== 'string') throw new Error(`${owner}.${field} is not a prepared statement any more`);
      return { name: `${owner}.${field}`, sql: stmt.source };
    });
  return [
    ...read('deploys', repos.deploys, ['getStmt', 'historyStmt', 'historyBeforeStmt', 'activeStmt', 'aheadStmt', 'aheadCountStmt', 'lastSuccessStmt', 'lastSuccessOtherVersionStmt', 'stepsStmt']),
    ...read('events', repos.events, ['getStmt', 'afterStmt', 'lastStmt']),
  ];
}
