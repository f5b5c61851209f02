/** Every command received from any surface, accepted or not. */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { CommandOutcome, CommandRecord, Surface } from './types.js';

export interface NewCommand {
  readonly actor: string;
  readonly actorName?: string | null;
  readonly surface: Surface;
  readonly text: string;
  readonly verb?: string | null;
  readonly app?: string | null;
  readonly outcome: CommandOutcome;
  readonly message?: string | null;
  readonly deployId?: number | null;
  /** A surface's delivery id (e.g. a Slack retry's trigger id): a second record with it is refused. */
  readonly idempotencyKey?: string | null;
}

export class CommandsRepo {
  private readonly insertStmt;
  private readonly insertOnceStmt;
  private readonly byKeyStmt;
  private readonly byIdStmt;
  private readonly finishStmt;
  private readonly forAppStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO commands (at, actor, actor_name, surface, text, verb, app, deploy_id, outcome, message, idempotency_key)
       VALUES (@at, @actor, @actorName, @surface, @text, @verb, @app, @deployId, @outcome, @message, @idempotencyKey)`,
    );
    // A delivery seen before (same idempotency key) inserts nothing: the unique index is the check.
    this.insertOnceStmt = db.prepare(
      `INSERT INTO commands (at, actor, actor_name, surface, text, verb, app, deploy_id, outcome, message, idempotency_key)
       VALUES (@at, @actor, @actorName, @surface, @text, @verb, @app, @deployId, @outcome, @message, @idempotencyKey)
       ON CONFLICT (idempotency_key) DO NOTHING`,
    );
    this.byKeyStmt = db.prepare('SELECT * FROM commands WHERE idempotency_key = ?');
    this.byIdStmt = db.prepare('SELECT * FROM commands WHERE id = ?');
    this.finishStmt = db.prepare(
      `UPDATE commands SET outcome = @outcome, message = @message, deploy_id = coalesce(@deployId, deploy_id), app = coalesce(@app, app),
         verb = coalesce(@verb, verb) WHERE id = @id`,
    );
    this.forAppStmt = db.prepare('SELECT * FROM commands WHERE app = ? ORDER BY id DESC LIMIT ?');
  }

  /** Records a command; returns its id. */
  record(c: NewCommand, at: number = this.now()): number {
    return Number(this.insertStmt.run(this.params(c, at)).lastInsertRowid);
  }

  /**
   * Records a command unless one with the same idempotency key was recorded before: its id, or
   * undefined for a repeated delivery (then `byIdempotencyKey` says what became of the first).
   */
  recordOnce(c: NewCommand, at: number = this.now()): number | undefined {
    const info = this.insertOnceStmt.run(this.params(c, at));
    return info.changes ? Number(info.lastInsertRowid) : undefined;
  }

  private params(c: NewCommand, at: number): Record<string, unknown> {
    return {
      at,
      actor: c.actor,
      actorName: c.actorName ?? null,
      surface: c.surface,
      text: c.text,
      verb: c.verb ?? null,
      app: c.app ?? null,
      deployId: c.deployId ?? null,
      outcome: c.outcome,
      message: c.message ?? null,
      idempotencyKey: c.idempotencyKey ?? null,
    };
  }

  /** Sets the outcome of a command recorded as 'received'. */
  finish(id: number, f: { outcome: CommandOutcome; message?: string | null; deployId?: number | null; app?: string | null; verb?: string | null }): void {
    this.finishStmt.run({ id, outcome: f.outcome, message: f.message ?? null, deployId: f.deployId ?? null, app: f.app ?? null, verb: f.verb ?? null });
  }

  byIdempotencyKey(key: string): CommandRecord | undefined {
    const row = this.byKeyStmt.get(key);
    return row ? toRecord<CommandRecord>(row) : undefined;
  }

  get(id: number): CommandRecord | undefined {
    const row = this.byIdStmt.get(id);
    return row ? toRecord<CommandRecord>(row) : undefined;
  }

  forApp(app: string, limit = 50): CommandRecord[] {
    return toRecords<CommandRecord>(this.forAppStmt.all(app, limit));
  }

  /** Every command, newest first (for audits and tests). */
  recent(limit = 100): CommandRecord[] {
    return toRecords<CommandRecord>(this.db.prepare('SELECT * FROM commands ORDER BY id DESC LIMIT ?').all(limit));
  }
}
