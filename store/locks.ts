/** App locks: a locked app takes no deploys until unlocked. */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { LockRecord } from './types.js';

export class LocksRepo {
  private readonly getStmt;
  private readonly setStmt;
  private readonly delStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.getStmt = db.prepare('SELECT * FROM locks WHERE app = ?');
    this.setStmt = db.prepare(
      'INSERT INTO locks (app, reason, locked_by, at) VALUES (?, ?, ?, ?) ON CONFLICT (app) DO UPDATE SET reason = excluded.reason, locked_by = excluded.locked_by, at = excluded.at',
    );
    this.delStmt = db.prepare('DELETE FROM locks WHERE app = ?');
  }

  get(app: string): LockRecord | undefined {
    const row = this.getStmt.get(app);
    return row ? toRecord<LockRecord>(row) : undefined;
  }

  lock(app: string, reason: string, by: string, at = this.now()): void {
    this.setStmt.run(app, reason, by, at);
  }

  /** Returns whether there was a lock. */
  unlock(app: string): boolean {
    return this.delStmt.run(app).changes > 0;
  }

  all(): LockRecord[] {
    return toRecords<LockRecord>(this.db.prepare('SELECT * FROM locks ORDER BY app').all());
  }
}
