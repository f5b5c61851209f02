/**
 * App locks: a locked app takes no deploys until unlocked. A lock has one
 * holder: locking again changes the holder's reason, and someone else takes
 * it over (or removes it) only when told to (`force`), each a compare-and-set
 * on the row.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { LockRecord } from './types.js';

/** Who takes or removes a lock: `id` is what is checked, `name` what is shown. */
export interface LockActor {
  readonly id: string;
  readonly name?: string | null;
}

/** What `take` did. */
export type TakeOutcome =
  /** The app was not locked; now it is. */
  | { readonly kind: 'locked'; readonly lock: LockRecord }
  /** The holder locked again: the reason changed, the lock (and its `at`) stayed theirs. */
  | { readonly kind: 'updated'; readonly lock: LockRecord; readonly previous: LockRecord }
  /** Someone else held it and `force` was given: it is the caller's now. */
  | { readonly kind: 'taken_over'; readonly lock: LockRecord; readonly previous: LockRecord }
  /** Someone else holds it and `force` was not given: nothing changed. */
  | { readonly kind: 'held'; readonly holder: LockRecord };

/** What `release` did. */
export type ReleaseOutcome =
  | { readonly kind: 'not_locked' }
  /** The lock is gone; `previous` says whose it was. */
  | { readonly kind: 'unlocked'; readonly previous: LockRecord }
  /** Someone else holds it and the caller may not remove it: nothing changed. */
  | { readonly kind: 'held'; readonly holder: LockRecord };

/** Whether `by` holds `lock`: by id, or, for a lock taken before ids were kept, by the name it shows. */
export function holds(lock: LockRecord, by: LockActor): boolean {
  if (lock.lockedById !== null) return lock.lockedById === by.id;
  return lock.lockedBy === by.id || (!!by.name && lock.lockedBy === by.name);
}

export class LocksRepo {
  private readonly getStmt;
  private readonly setStmt;
  private readonly reasonStmt;
  private readonly delStmt;
  private readonly allStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.getStmt = db.prepare('SELECT * FROM locks WHERE app = ?');
    this.setStmt = db.prepare(
      `INSERT INTO locks (app, reason, locked_by, locked_by_id, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (app) DO UPDATE SET reason = excluded.reason, locked_by = excluded.locked_by, locked_by_id = excluded.locked_by_id, at = excluded.at`,
    );
    this.reasonStmt = db.prepare('UPDATE locks SET reason = ?, locked_by = ?, locked_by_id = ? WHERE app = ?');
    this.delStmt = db.prepare('DELETE FROM locks WHERE app = ?');
    this.allStmt = db.prepare('SELECT * FROM locks');
  }

  get(app: string): LockRecord | undefined {
    const row = this.getStmt.get(app);
    return row ? toRecord<LockRecord>(row) : undefined;
  }

  /**
   * Sets the lock whoever holds it (no check): for tools and tests. Commands go through `take`.
   * `by` is the name shown; `byId` the id checked (null: known only by the name).
   */
  lock(app: string, reason: string, by: string, at = this.now(), byId: string | null = null): void {
    this.setStmt.run(app, reason, by, byId, at);
  }

  /**
   * Locks `app` for `by`, in one transaction with the check of who holds it:
   * free → locked; held by `by` → its reason updated (since when is kept);
   * held by someone else → taken over with `force`, else left as it is (`held`).
   */
  take(app: string, reason: string, by: LockActor, opts: { force: boolean }, at = this.now()): TakeOutcome {
    return this.db.transaction((): TakeOutcome => {
      const shown = by.name || by.id;
      const previous = this.get(app);
      if (!previous) {
        this.setStmt.run(app, reason, shown, by.id, at);
        return { kind: 'locked', lock: this.get(app)! };
      }
      if (holds(previous, by)) {
        this.reasonStmt.run(reason, shown, by.id, app);
        return { kind: 'updated', lock: this.get(app)!, previous };
      }
      if (!opts.force) return { kind: 'held', holder: previous };
      this.setStmt.run(app, reason, shown, by.id, at);
      return { kind: 'taken_over', lock: this.get(app)!, previous };
    })();
  }

  /**
   * Removes `app`'s lock when `by` holds it or `mayRemoveOthers` (an owner, or `--force`),
   * in one transaction with the check; says whose it was.
   */
  release(app: string, by: LockActor, opts: { mayRemoveOthers: boolean }): ReleaseOutcome {
    return this.db.transaction((): ReleaseOutcome => {
      const previous = this.get(app);
      if (!previous) return { kind: 'not_locked' };
      if (!holds(previous, by) && !opts.mayRemoveOthers) return { kind: 'held', holder: previous };
      this.delStmt.run(app);
      return { kind: 'unlocked', previous };
    })();
  }

  /** Removes the lock whoever holds it (no check): for tools and tests. Returns whether there was one. */
  unlock(app: string): boolean {
    return this.delStmt.run(app).changes > 0;
  }

  /** Every lock, by app: one read of the (small) table, for `status` of every app. */
  byApp(): Map<string, LockRecord> {
    return new Map(toRecords<LockRecord>(this.allStmt.all()).map((l) => [l.app, l]));
  }

  all(): LockRecord[] {
    return toRecords<LockRecord>(this.db.prepare('SELECT * FROM locks ORDER BY app').all());
  }
}
