/**
 * The Slack thread of each deploy: where its status card lives, the last event
 * the reporter turned into Slack messages, and the approval message (whose
 * buttons disappear once someone decided). A restarted server continues each
 * thread from `lastEventId` instead of starting a new one.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';

/** One deploy's thread. `channel` is the channel id Slack answered with; `ts` is the status card's (and the thread's) ts. */
export interface SlackThreadRecord {
  readonly deployId: number;
  readonly channel: string;
  readonly ts: string;
  /** Events up to this id have been reported. */
  readonly lastEventId: number;
  /** The thread reply holding the Approve / Reject buttons, once posted. */
  readonly approvalTs: string | null;
  /**
   * The card being edited: null while it is the thread's first message (`ts`); the ts of the
   * reply that replaced it once Slack would not edit the first one any more (edit window closed, deleted).
   */
  readonly cardTs: string | null;
  /** The final result message, once posted. */
  readonly finalTs: string | null;
  /** 1 when the deploy ended and everything about it was reported. */
  readonly done: number;
  readonly updatedAt: number;
}

/** Columns the reporter moves forward as it reports. */
export type SlackThreadPatch = Partial<Pick<SlackThreadRecord, 'lastEventId' | 'approvalTs' | 'finalTs' | 'cardTs'>> & { readonly done?: boolean };

export class SlackThreadsRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly openStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO slack_threads (deploy_id, channel, ts, last_event_id, updated_at) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (deploy_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at`,
    );
    this.getStmt = db.prepare('SELECT * FROM slack_threads WHERE deploy_id = ?');
    this.openStmt = db.prepare('SELECT * FROM slack_threads WHERE done = 0 ORDER BY deploy_id');
  }

  /** Records a deploy's new thread. */
  create(deployId: number, channel: string, ts: string, now = this.now()): SlackThreadRecord {
    this.insertStmt.run(deployId, channel, ts, now);
    return this.get(deployId)!;
  }

  get(deployId: number): SlackThreadRecord | undefined {
    const row = this.getStmt.get(deployId);
    return row ? toRecord<SlackThreadRecord>(row) : undefined;
  }

  /** Moves the thread's bookkeeping forward. `lastEventId` never goes back. */
  patch(deployId: number, patch: SlackThreadPatch, now = this.now()): void {
    const sets: string[] = ['updated_at = @now'];
    if (patch.lastEventId !== undefined) sets.push('last_event_id = max(last_event_id, @lastEventId)');
    if (patch.approvalTs !== undefined) sets.push('approval_ts = @approvalTs');
    if (patch.finalTs !== undefined) sets.push('final_ts = @finalTs');
    if (patch.cardTs !== undefined) sets.push('card_ts = @cardTs');
    if (patch.done !== undefined) sets.push('done = @done');
    this.db
      .prepare(`UPDATE slack_threads SET ${sets.join(', ')} WHERE deploy_id = @deployId`)
      .run({ deployId, now, lastEventId: patch.lastEventId ?? null, approvalTs: patch.approvalTs ?? null, finalTs: patch.finalTs ?? null, cardTs: patch.cardTs ?? null, done: patch.done ? 1 : 0 });
  }

  /** Threads whose deploy was still being reported on (a restart continues them). */
  open(): SlackThreadRecord[] {
    return toRecords<SlackThreadRecord>(this.openStmt.all());
  }
}
