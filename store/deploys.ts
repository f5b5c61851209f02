/** Deploys and their steps. */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { DeployKind, DeployRecord, DeployState, StepName, StepRecord, StepState, Surface } from './types.js';
import { OPERATION_KINDS, TERMINAL_STATES } from './types.js';
import { assertTransition } from './lifecycle.js';

export interface NewDeploy {
  readonly app: string;
  readonly version: string;
  readonly strategy: 'blue-green' | 'rolling';
  readonly kind?: DeployKind;
  readonly requestedBy: string;
  readonly requestedByName?: string | null;
  readonly surface: Surface;
  readonly commandId?: number | null;
  readonly provider: string;
  readonly threadChannel?: string | null;
  /** An upgrade's Kubernetes version. */
  readonly kubernetesVersion?: string | null;
  /** A scale's replicas and node bounds (unset: unchanged). */
  readonly replicas?: number | null;
  readonly minNodes?: number | null;
  readonly maxNodes?: number | null;
  /** Why (scale, restart, upgrade). */
  readonly reason?: string | null;
}

/** Columns the pipeline may set on a deploy as it goes. */
export type DeployPatch = Partial<
  Pick<
    DeployRecord,
    | 'startedAt'
    | 'finishedAt'
    | 'fromVersion'
    | 'fromCluster'
    | 'fromDeployId'
    | 'fromEnvId'
    | 'toCluster'
    | 'toEnvId'
    | 'endpoint'
    | 'previousTarget'
    | 'approvalDeadline'
    | 'error'
    | 'cleanup'
    | 'threadChannel'
    | 'threadTs'
  >
>;

const PATCH_COLUMNS: Record<keyof DeployPatch, string> = {
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  fromVersion: 'from_version',
  fromCluster: 'from_cluster',
  fromDeployId: 'from_deploy_id',
  fromEnvId: 'from_env_id',
  toCluster: 'to_cluster',
  toEnvId: 'to_env_id',
  endpoint: 'endpoint',
  previousTarget: 'previous_target',
  approvalDeadline: 'approval_deadline',
  error: 'error',
  cleanup: 'cleanup',
  threadChannel: 'thread_channel',
  threadTs: 'thread_ts',
};

const TERMINAL_SQL = TERMINAL_STATES.map((s) => `'${s}'`).join(',');
/**
 * How far `ahead` counts the deploys before one in its app's line: a longer line is said to have this many
 * ahead. Counting all of them read one row per deploy in line on every accept (2.4 ms with 6,000 in line).
 */
export const AHEAD_COUNTED = 100;
const OPERATIONS_SQL = OPERATION_KINDS.map((k) => `'${k}'`).join(',');

export class DeploysRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly historyStmt;
  private readonly historyBeforeStmt;
  private readonly activeStmt;
  private readonly aheadStmt;
  private readonly aheadCountStmt;
  private readonly lastSuccessStmt;
  private readonly lastSuccessOtherVersionStmt;
  private readonly stepsStmt;
  private readonly stepUpsertStmt;
  /** Statements built for a set of columns (transition / patch), prepared once per shape. */
  private readonly shaped = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO deploys (app, version, strategy, kind, state, requested_by, requested_by_name, surface, command_id, provider,
                            created_at, updated_at, thread_channel, kubernetes_version, replicas, min_nodes, max_nodes, reason)
       VALUES (@app, @version, @strategy, @kind, 'queued', @requestedBy, @requestedByName, @surface, @commandId, @provider,
               @now, @now, @threadChannel, @kubernetesVersion, @replicas, @minNodes, @maxNodes, @reason)`,
    );
    this.getStmt = db.prepare('SELECT * FROM deploys WHERE id = ?');
    this.historyStmt = db.prepare('SELECT * FROM deploys WHERE app = ? ORDER BY id DESC LIMIT ?');
    this.historyBeforeStmt = db.prepare('SELECT * FROM deploys WHERE app = ? AND id < ? ORDER BY id DESC LIMIT ?');
    this.activeStmt = db.prepare(`SELECT * FROM deploys WHERE state NOT IN (${TERMINAL_SQL}) ORDER BY id`);
    // Both on the partial index deploys_active_app: the cost follows the app's own line, never the history.
    this.aheadStmt = db.prepare(`SELECT id FROM deploys WHERE app = ? AND id < ? AND state NOT IN (${TERMINAL_SQL}) ORDER BY id LIMIT ?`);
    // Counted up to AHEAD_COUNTED: a count of the whole line would cost one row per deploy in it, on every accept.
    this.aheadCountStmt = db.prepare(
      `SELECT count(*) AS n FROM deploys WHERE id IN (SELECT id FROM deploys WHERE app = ? AND id < ? AND state NOT IN (${TERMINAL_SQL}) LIMIT ${AHEAD_COUNTED})`,
    );
    // A scale or a restart changes the live environment in place: it deploys no version, so it is never "the live deploy".
    this.lastSuccessStmt = db.prepare(
      `SELECT * FROM deploys WHERE app = ? AND state = 'succeeded' AND kind NOT IN (${OPERATIONS_SQL}) ORDER BY id DESC LIMIT 1`,
    );
    this.lastSuccessOtherVersionStmt = db.prepare(
      `SELECT * FROM deploys WHERE app = ? AND state = 'succeeded' AND version <> ? AND kind NOT IN (${OPERATIONS_SQL}) ORDER BY id DESC LIMIT 1`,
    );
    this.stepsStmt = db.prepare('SELECT * FROM steps WHERE deploy_id = ? ORDER BY rowid');
    this.stepUpsertStmt = db.prepare(
      `INSERT INTO steps (deploy_id, name, state, started_at, finished_at, detail) VALUES (@deployId, @name, @state, @startedAt, @finishedAt, @detail)
       ON CONFLICT (deploy_id, name) DO UPDATE SET state = excluded.state,
         started_at = coalesce(steps.started_at, excluded.started_at),
         finished_at = excluded.finished_at,
         detail = coalesce(excluded.detail, steps.detail)`,
    );
  }

  create(d: NewDeploy, now: number = this.now()): DeployRecord {
    const info = this.insertStmt.run({
      app: d.app,
      version: d.version,
      strategy: d.strategy,
      kind: d.kind ?? 'deploy',
      requestedBy: d.requestedBy,
      requestedByName: d.requestedByName ?? null,
      surface: d.surface,
      commandId: d.commandId ?? null,
      provider: d.provider,
      threadChannel: d.threadChannel ?? null,
      kubernetesVersion: d.kubernetesVersion ?? null,
      replicas: d.replicas ?? null,
      minNodes: d.minNodes ?? null,
      maxNodes: d.maxNodes ?? null,
      reason: d.reason ?? null,
      now,
    });
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): DeployRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord<DeployRecord>(row) : undefined;
  }

  /**
   * Moves a deploy to `to` only if it is in one of `from` (compare-and-set), so two
   * racing decisions cannot both win. Returns whether this call made the change.
   * Throws IllegalTransition when the lifecycle table (store/lifecycle.ts) does not
   * allow `from → to`, whatever the row's state.
   */
  transition(id: number, from: readonly DeployState[], to: DeployState, patch: DeployPatch = {}, now = this.now()): boolean {
    assertTransition(from, to);
    const sets = ['state = @to', 'updated_at = @now'];
    const params: Record<string, unknown> = { id, to, now };
    for (const [key, value] of Object.entries(patch)) {
      const col = PATCH_COLUMNS[key as keyof DeployPatch];
      sets.push(`${col} = @${key}`);
      params[key] = value;
    }
    const placeholders = from.map((_, i) => `@from${i}`);
    from.forEach((s, i) => (params[`from${i}`] = s));
    const info = this.prepared(`UPDATE deploys SET ${sets.join(', ')} WHERE id = @id AND state IN (${placeholders.join(',')})`).run(params);
    return info.changes === 1;
  }

  /** Sets columns without changing state. */
  patch(id: number, patch: DeployPatch, now = this.now()): void {
    const entries = Object.entries(patch);
    if (!entries.length) return;
    const sets = entries.map(([key]) => `${PATCH_COLUMNS[key as keyof DeployPatch]} = @${key}`);
    this.prepared(`UPDATE deploys SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run({ ...patch, id, now });
  }

  private prepared(sql: string): ReturnType<Db['prepare']> {
    let stmt = this.shaped.get(sql);
    if (!stmt) this.shaped.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  /**
   * Newest first; `beforeId` pages back. On deploys_app (app, id), read backwards: the rows themselves are
   * the cost (no index can cover SELECT *), so they are mapped with the column keys worked out once.
   */
  history(app: string, limit = 10, beforeId?: number): DeployRecord[] {
    const rows = beforeId ? this.historyBeforeStmt.all(app, beforeId, limit) : this.historyStmt.all(app, limit);
    return toRecords<DeployRecord>(rows);
  }

  /** Deploys not yet in a terminal state, oldest first. */
  active(): DeployRecord[] {
    return toRecords<DeployRecord>(this.activeStmt.all());
  }

  /** The app's unfinished deploys older than `id`: how many (at most AHEAD_COUNTED), and the first `limit` ids (oldest first). */
  ahead(app: string, id: number, limit = 10): { count: number; ids: number[] } {
    const { n } = this.aheadCountStmt.get(app, id) as { n: number };
    if (!n) return { count: 0, ids: [] };
    return { count: n, ids: (this.aheadStmt.all(app, id, limit) as { id: number }[]).map((r) => r.id) };
  }

  /** Terminal deploys whose cleanup did not finish (a restart must finish it). */
  pendingCleanup(): DeployRecord[] {
    return toRecords<DeployRecord>(this.db.prepare("SELECT * FROM deploys WHERE cleanup = 'pending' ORDER BY id").all());
  }

  /** The app's live deploy: its last successful one (a scale or restart is not one: it deploys no version). */
  lastSucceeded(app: string): DeployRecord | undefined {
    const row = this.lastSuccessStmt.get(app);
    return row ? toRecord<DeployRecord>(row) : undefined;
  }

  /** The last successful deploy of a version other than `version` (what `rollback` goes back to). */
  lastSucceededOtherThan(app: string, version: string): DeployRecord | undefined {
    const row = this.lastSuccessOtherVersionStmt.get(app, version);
    return row ? toRecord<DeployRecord>(row) : undefined;
  }

  steps(deployId: number): StepRecord[] {
    return toRecords<StepRecord>(this.stepsStmt.all(deployId));
  }

  /** Records a step's state; the first start time is kept. */
  step(deployId: number, name: StepName, state: StepState, detail?: string | null, now = this.now()): void {
    const running = state === 'running' || state === 'pending';
    this.stepUpsertStmt.run({
      deployId,
      name,
      state,
      startedAt: state === 'pending' ? null : now,
      finishedAt: running ? null : now,
      detail: detail ?? null,
    });
  }
}
