/** The resources ledger: every cloud resource a deploy creates, intent → created → deleted. */
import type { Db } from './db.js';
import { json, toRecord, toRecords } from './rows.js';
import type { ResourceRecord, ResourceState } from './types.js';

export interface NewResource {
  readonly deployId: number;
  /** The environment that owns it. */
  readonly envId?: number | null;
  readonly app: string;
  readonly provider: string;
  readonly kind: string;
  readonly name: string;
  readonly parentId?: number | null;
  readonly data?: Record<string, unknown> | null;
}

export class ResourcesRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly findStmt;
  private readonly setStmt;
  private readonly forDeployStmt;
  private readonly forEnvStmt;
  private readonly liveStmt;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO resources (deploy_id, env_id, app, provider, kind, name, parent_id, state, data, created_at, updated_at)
       VALUES (@deployId, @envId, @app, @provider, @kind, @name, @parentId, 'intent', @data, @now, @now)`,
    );
    this.getStmt = db.prepare('SELECT * FROM resources WHERE id = ?');
    this.findStmt = db.prepare('SELECT * FROM resources WHERE provider = ? AND kind = ? AND name = ?');
    this.setStmt = db.prepare(
      'UPDATE resources SET state = @state, data = coalesce(@data, data), error = @error, updated_at = @now WHERE id = @id',
    );
    this.forDeployStmt = db.prepare('SELECT * FROM resources WHERE deploy_id = ? ORDER BY id');
    this.forEnvStmt = db.prepare('SELECT * FROM resources WHERE env_id = ? ORDER BY id');
    this.liveStmt = db.prepare("SELECT * FROM resources WHERE state <> 'deleted' ORDER BY id");
  }

  /**
   * Writes the intent to create a resource, before it is created. Idempotent:
   * a resumed step gets the existing row back (a deleted one is revived as intent).
   */
  intend(r: NewResource, now = this.now()): ResourceRecord {
    const existing = this.findStmt.get(r.provider, r.kind, r.name);
    if (existing) {
      const rec = toRecord<ResourceRecord>(existing);
      if (rec.state === 'deleted' || rec.state === 'failed') this.set(rec.id, 'intent', { data: r.data ?? null });
      return this.get(rec.id)!;
    }
    const info = this.insertStmt.run({
      deployId: r.deployId,
      envId: r.envId ?? null,
      app: r.app,
      provider: r.provider,
      kind: r.kind,
      name: r.name,
      parentId: r.parentId ?? null,
      data: json(r.data),
      now,
    });
    return this.get(Number(info.lastInsertRowid))!;
  }

  set(id: number, state: ResourceState, extra: { data?: Record<string, unknown> | null; error?: string | null } = {}, now = this.now()): void {
    this.setStmt.run({ id, state, data: json(extra.data), error: extra.error ?? null, now });
  }

  get(id: number): ResourceRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord<ResourceRecord>(row) : undefined;
  }

  find(provider: string, kind: string, name: string): ResourceRecord | undefined {
    const row = this.findStmt.get(provider, kind, name);
    return row ? toRecord<ResourceRecord>(row) : undefined;
  }

  forDeploy(deployId: number): ResourceRecord[] {
    return toRecords<ResourceRecord>(this.forDeployStmt.all(deployId));
  }

  /** The resources an environment owns, oldest first. */
  forEnv(envId: number): ResourceRecord[] {
    return toRecords<ResourceRecord>(this.forEnvStmt.all(envId));
  }

  /** Every resource not yet deleted, across deploys. */
  live(): ResourceRecord[] {
    return toRecords<ResourceRecord>(this.liveStmt.all());
  }
}
