/** The append-only event log of each deploy; reporters read only this. */
import type { Db } from './db.js';
import type { EventFeed } from './feed.js';
import { json, toRecord, toRecords } from './rows.js';
import type { EventKind, EventLevel, EventRecord, StepName } from './types.js';

export interface NewEvent {
  readonly deployId: number;
  readonly kind: EventKind;
  readonly message: string;
  readonly step?: StepName | null;
  readonly level?: EventLevel;
  readonly data?: Record<string, unknown> | null;
}

export class EventsRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly afterStmt;
  private readonly lastStmt;

  constructor(
    db: Db,
    /** Announces each event once its transaction has committed (`Store.feed`). */
    private readonly feed: EventFeed,
    private readonly now: () => number,
  ) {
    this.insertStmt = db.prepare(
      'INSERT INTO events (deploy_id, at, kind, step, level, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.getStmt = db.prepare('SELECT * FROM events WHERE id = ?');
    this.afterStmt = db.prepare('SELECT * FROM events WHERE deploy_id = ? AND id > ? ORDER BY id LIMIT ?');
    this.lastStmt = db.prepare('SELECT * FROM events WHERE deploy_id = ? ORDER BY id DESC LIMIT ?');
  }

  /** Appends an event; `feed` announces it once the surrounding transaction has committed. */
  append(e: NewEvent, at: number = this.now()): EventRecord {
    const info = this.insertStmt.run(e.deployId, at, e.kind, e.step ?? null, e.level ?? 'info', e.message, json(e.data));
    const record: EventRecord = {
      id: Number(info.lastInsertRowid),
      deployId: e.deployId,
      at,
      kind: e.kind,
      step: e.step ?? null,
      level: e.level ?? 'info',
      message: e.message,
      data: e.data ?? null,
    };
    // Held by the feed until the outermost transaction commits (dropped if it rolls back).
    this.feed.appended(record);
    return record;
  }

  get(id: number): EventRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? toRecord<EventRecord>(row) : undefined;
  }

  /** Events of a deploy after event id `afterId`, oldest first. */
  after(deployId: number, afterId = 0, limit = 1000): EventRecord[] {
    return toRecords<EventRecord>(this.afterStmt.all(deployId, afterId, limit));
  }

  /** The newest `limit` events of a deploy, oldest first. */
  last(deployId: number, limit = 20): EventRecord[] {
    return toRecords<EventRecord>(this.lastStmt.all(deployId, limit)).reverse();
  }
}
