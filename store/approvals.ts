/** Cutover decisions: one per deploy, enforced by a unique key. */
import type { Db } from './db.js';
import { toRecord } from './rows.js';
import type { ApprovalRecord, Decision, Surface } from './types.js';

export class ApprovalsRepo {
  private readonly insertStmt;
  private readonly getStmt;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO approvals (deploy_id, decision, actor, actor_name, surface, reason, at)
       VALUES (@deployId, @decision, @actor, @actorName, @surface, @reason, @at)`,
    );
    this.getStmt = db.prepare('SELECT * FROM approvals WHERE deploy_id = ?');
  }

  record(a: { deployId: number; decision: Decision; actor: string; actorName?: string | null; surface: Surface; reason?: string | null }, at = this.now()): void {
    this.insertStmt.run({ ...a, actorName: a.actorName ?? null, reason: a.reason ?? null, at });
  }

  forDeploy(deployId: number): ApprovalRecord | undefined {
    const row = this.getStmt.get(deployId);
    return row ? toRecord<ApprovalRecord>(row) : undefined;
  }
}
