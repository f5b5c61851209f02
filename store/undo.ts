/**
 * The undo log (saga): each change a deploy makes to the world appends how to
 * undo it. An exit replays the deploy's pending entries newest first and
 * records each outcome; a success marks them kept. A restart finds what is
 * still pending and goes on from there.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { UndoEntry, UndoRecord, UndoState } from './types.js';

export class UndoLogRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly forDeployStmt;
  private readonly pendingStmt;
  private readonly setStmt;
  private readonly keepStmt;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare('INSERT INTO undo_log (deploy_id, kind, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
    this.getStmt = db.prepare('SELECT * FROM undo_log WHERE id = ?');
    this.forDeployStmt = db.prepare('SELECT * FROM undo_log WHERE deploy_id = ? ORDER BY id');
    this.pendingStmt = db.prepare("SELECT * FROM undo_log WHERE deploy_id = ? AND state = 'pending' ORDER BY id DESC");
    this.setStmt = db.prepare('UPDATE undo_log SET state = ?, outcome = ?, updated_at = ? WHERE id = ?');
    this.keepStmt = db.prepare("UPDATE undo_log SET state = 'kept', updated_at = ? WHERE deploy_id = ? AND state = 'pending'");
  }

  /** Appends an entry (call inside the transaction that records the change). */
  append(deployId: number, entry: UndoEntry): UndoRecord {
    const now = this.now();
    const info = this.insertStmt.run(deployId, entry.kind, JSON.stringify(entry), now, now);
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): UndoRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord<UndoRecord>(row) : undefined;
  }

  /** The deploy's whole log, oldest first. */
  forDeploy(deployId: number): UndoRecord[] {
    return toRecords<UndoRecord>(this.forDeployStmt.all(deployId));
  }

  /** What is left to undo, newest first (the replay order). */
  pending(deployId: number): UndoRecord[] {
    return toRecords<UndoRecord>(this.pendingStmt.all(deployId));
  }

  settle(id: number, state: Exclude<UndoState, 'pending' | 'kept'>, outcome: string): void {
    this.setStmt.run(state, outcome, this.now(), id);
  }

  /** The deploy succeeded: nothing of its log is to be undone any more. */
  keepAll(deployId: number): void {
    this.keepStmt.run(this.now(), deployId);
  }
}
