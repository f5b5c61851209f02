/**
 * Environments: which cluster serves each app, and who owns every resource.
 * Ownership is read from here by teardown, gc, status and rollback alike.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { DeployRecord, EnvironmentRecord, EnvironmentScale, EnvironmentState } from './types.js';
import { OPERATION_KINDS } from './types.js';

const OPERATIONS_SQL = OPERATION_KINDS.map((k) => `'${k}'`).join(',');

/** What `status` needs of an app's live deploy (its last successful one; see DeploysRepo.lastSucceeded). */
export type LastSuccess = Pick<DeployRecord, 'id' | 'version' | 'finishedAt'>;

/** The prefix of the last success's columns in `liveWithLastSuccess`'s rows (not the environment's). */
const LAST_SUCCESS_COLUMN = 'last_success_';

/** A live environment with its app's last successful deploy (null when it has none). */
export interface LiveEnvironment {
  readonly env: EnvironmentRecord;
  readonly lastSuccess: LastSuccess | null;
}

export class EnvironmentsRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly byNameStmt;
  private readonly liveStmt;
  private readonly setStateStmt;
  private readonly servingStmt;
  private readonly allLiveStmt;
  private readonly kubernetesStmt;
  private readonly scaleStmt;
  private readonly liveWithLastSuccessStmt;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO environments (app, name, provider, created_by, state, version, created_at, updated_at, replicas, min_nodes, max_nodes)
       VALUES (@app, @name, @provider, @createdBy, 'building', @version, @now, @now, @replicas, @minNodes, @maxNodes)`,
    );
    this.getStmt = db.prepare('SELECT * FROM environments WHERE id = ?');
    this.byNameStmt = db.prepare('SELECT * FROM environments WHERE provider = ? AND name = ?');
    this.liveStmt = db.prepare("SELECT * FROM environments WHERE app = ? AND state = 'live'");
    this.allLiveStmt = db.prepare("SELECT * FROM environments WHERE state = 'live' ORDER BY app");
    this.setStateStmt = db.prepare(
      `UPDATE environments SET state = @state, retiring_by = coalesce(@retiringBy, retiring_by),
         live_since = CASE WHEN @state = 'live' THEN @now ELSE live_since END, updated_at = @now WHERE id = @id`,
    );
    this.kubernetesStmt = db.prepare('UPDATE environments SET kubernetes_version = @version, updated_at = @now WHERE id = @id');
    this.scaleStmt = db.prepare(
      'UPDATE environments SET replicas = @replicas, min_nodes = @minNodes, max_nodes = @maxNodes, scaled_by = @scaledBy, updated_at = @now WHERE id = @id',
    );
    // Every app's live environment (the partial unique index environments_live, walked whole: one row per
    // app) with its app's last successful deploy — the condition of DeploysRepo.lastSucceeded, word for
    // word, one probe of deploys_last_success per app — in one statement: what `status` of every app reads.
    this.liveWithLastSuccessStmt = db.prepare(
      `SELECT e.*, d.id AS last_success_id, d.version AS last_success_version, d.finished_at AS last_success_finished_at
       FROM environments e INDEXED BY environments_live
       LEFT JOIN deploys d ON d.id = (SELECT x.id FROM deploys x WHERE x.app = e.app AND x.state = 'succeeded' AND x.kind NOT IN (${OPERATIONS_SQL}) ORDER BY x.id DESC LIMIT 1)
       WHERE e.state = 'live'`,
    );
    this.servingStmt = db.prepare('UPDATE environments SET version = coalesce(@version, version), endpoint = coalesce(@endpoint, endpoint), updated_at = @now WHERE id = @id');
  }

  /** The environment a blue/green deploy builds, with what it will run with (`scale`); idempotent for a resumed deploy. */
  create(e: { app: string; name: string; provider: string; createdBy: number; version: string; scale?: EnvironmentScale }): EnvironmentRecord {
    const existing = this.byName(e.provider, e.name);
    if (existing) return existing;
    const { scale, ...rest } = e;
    const info = this.insertStmt.run({ ...rest, replicas: scale?.replicas ?? null, minNodes: scale?.minNodes ?? null, maxNodes: scale?.maxNodes ?? null, now: this.now() });
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): EnvironmentRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord<EnvironmentRecord>(row) : undefined;
  }

  byName(provider: string, name: string): EnvironmentRecord | undefined {
    const row = this.byNameStmt.get(provider, name);
    return row ? toRecord<EnvironmentRecord>(row) : undefined;
  }

  /** The environment serving `app` now, if any. */
  live(app: string): EnvironmentRecord | undefined {
    const row = this.liveStmt.get(app);
    return row ? toRecord<EnvironmentRecord>(row) : undefined;
  }

  /** Every live environment, by app. */
  allLive(): EnvironmentRecord[] {
    return toRecords<EnvironmentRecord>(this.allLiveStmt.all());
  }

  /**
   * Every live environment with its app's last successful deploy (what `live` and
   * `DeploysRepo.lastSucceeded` answer app by app), in one statement, in no particular order.
   */
  liveWithLastSuccess(): LiveEnvironment[] {
    return (this.liveWithLastSuccessStmt.all() as Record<string, unknown>[]).map((row) => {
      const id = row.last_success_id as number | null;
      return {
        env: toRecord<EnvironmentRecord>(row, LAST_SUCCESS_COLUMN),
        lastSuccess: id === null ? null : { id, version: row.last_success_version as string, finishedAt: row.last_success_finished_at as number | null },
      };
    });
  }

  setState(id: number, state: EnvironmentState, extra: { retiringBy?: number } = {}): void {
    this.setStateStmt.run({ id, state, retiringBy: extra.retiringBy ?? null, now: this.now() });
  }

  /** Records the Kubernetes version its cluster was created with. */
  kubernetes(id: number, version: string): void {
    this.kubernetesStmt.run({ id, version, now: this.now() });
  }

  /** Records what it runs with after a scale (`scaledBy`), or after that scale was undone (the previous values and scaler). */
  scaled(id: number, scale: EnvironmentScale, scaledBy: number | null): void {
    this.scaleStmt.run({ id, replicas: scale.replicas, minNodes: scale.minNodes, maxNodes: scale.maxNodes, scaledBy, now: this.now() });
  }

  /** Records what an environment serves (version, load balancer). */
  serving(id: number, s: { version?: string; endpoint?: string }): void {
    this.servingStmt.run({ id, version: s.version ?? null, endpoint: s.endpoint ?? null, now: this.now() });
  }
}
