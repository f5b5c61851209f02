/**
 * Scheduled refreshes as the store keeps them: per app the last tick reached
 * (so a restarted server knows which ticks it missed) and who paused it; each
 * tick as decided (the refresh it started, or why it was skipped); and how far
 * Slack got with each tick's notice and each night's summary (so a restart
 * keeps editing the same messages instead of posting new ones).
 *
 * Readers (the Slack announcer) are woken by `onChange` after a write; what
 * they show they read from the rows, so a wake-up that is lost or spurious
 * changes nothing.
 */
import type { Db } from './db.js';
import { toRecord, toRecords } from './rows.js';
import type { ScheduleRunOutcome, ScheduleRunRecord, ScheduleStateRecord, ScheduleSummaryRecord } from './types.js';

/** Who pauses a schedule: `id` is what is recorded and checked, `name` what is shown. */
export interface PauseActor {
  readonly id: string;
  readonly name?: string | null;
}

/** What `pause` did. */
export type PauseOutcome =
  | { readonly kind: 'paused'; readonly state: ScheduleStateRecord }
  /** It was paused already: the reason (and who) changed, since when stayed. */
  | { readonly kind: 'updated'; readonly state: ScheduleStateRecord; readonly previous: ScheduleStateRecord };

/** A tick to record. */
export interface NewScheduleRun {
  readonly app: string;
  readonly plannedAt: number;
  readonly outcome: ScheduleRunOutcome;
  readonly reason?: string | null;
  readonly missed?: boolean;
  readonly deployId?: number | null;
  readonly commandId?: number | null;
  /** The refresh channel. */
  readonly channel: string;
}

/** What the announcer moves forward on a run's notice. */
export type RunNoticePatch = Partial<Pick<ScheduleRunRecord, 'noticeChannel' | 'noticeTs' | 'noticeShown'>> & { readonly noticeDone?: boolean };

/** What the announcer moves forward on a night's summary. */
export type SummaryPatch = Partial<Pick<ScheduleSummaryRecord, 'channel' | 'ts' | 'shown'>> & { readonly done?: boolean };

const HOUR = 3_600_000;

/**
 * The night a tick belongs to, for the nightly summary: noon to noon UTC, named by the date of its
 * evening (`2026-11-30` runs from 30 Nov 12:00 UTC to 1 Dec 11:59 UTC).
 */
export function nightOf(ms: number): string {
  return new Date(ms - 12 * HOUR).toISOString().slice(0, 10);
}

export class SchedulesRepo {
  private readonly listeners = new Set<() => void>();
  private readonly stateStmt;
  private readonly plannedStmt;
  private readonly insertRunStmt;
  private readonly reopenStmt;
  private readonly lastRunStmt;
  private readonly runsStmt;
  private readonly runStmt;
  private readonly forDeployStmt;
  private readonly openRunsStmt;
  private readonly nightStmt;
  private readonly summaryStmt;
  private readonly openSummariesStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.stateStmt = db.prepare('SELECT * FROM schedules WHERE app = ?');
    this.plannedStmt = db.prepare(
      `INSERT INTO schedules (app, last_planned_at, updated_at) VALUES (@app, @at, @now)
       ON CONFLICT (app) DO UPDATE SET last_planned_at = max(coalesce(last_planned_at, 0), excluded.last_planned_at), updated_at = excluded.updated_at`,
    );
    this.insertRunStmt = db.prepare(
      `INSERT INTO schedule_runs (app, planned_at, at, outcome, reason, missed, deploy_id, command_id, night, channel)
       VALUES (@app, @plannedAt, @at, @outcome, @reason, @missed, @deployId, @commandId, @night, @channel)`,
    );
    this.reopenStmt = db.prepare(
      `INSERT INTO schedule_summaries (night, done, updated_at) VALUES (?, 0, ?)
       ON CONFLICT (night) DO UPDATE SET done = 0, updated_at = excluded.updated_at`,
    );
    this.lastRunStmt = db.prepare('SELECT * FROM schedule_runs WHERE app = ? ORDER BY id DESC LIMIT 1');
    this.runsStmt = db.prepare('SELECT * FROM schedule_runs WHERE app = ? ORDER BY id DESC LIMIT ?');
    this.runStmt = db.prepare('SELECT * FROM schedule_runs WHERE id = ?');
    this.forDeployStmt = db.prepare('SELECT * FROM schedule_runs WHERE deploy_id = ?');
    this.openRunsStmt = db.prepare('SELECT * FROM schedule_runs WHERE notice_done = 0 ORDER BY id');
    this.nightStmt = db.prepare('SELECT * FROM schedule_runs WHERE night = ? ORDER BY id');
    this.summaryStmt = db.prepare('SELECT * FROM schedule_summaries WHERE night = ?');
    this.openSummariesStmt = db.prepare('SELECT * FROM schedule_summaries WHERE done = 0 ORDER BY night');
  }

  /** Calls `listener` after each write (on a microtask, so after the writer's transaction committed). */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  offChange(listener: () => void): void {
    this.listeners.delete(listener);
  }

  private changed(): void {
    if (!this.listeners.size) return;
    queueMicrotask(() => {
      for (const l of [...this.listeners]) {
        try {
          l();
        } catch {
          // A reader's failure is its own: the writer goes on.
        }
      }
    });
  }

  state(app: string): ScheduleStateRecord | undefined {
    const row = this.stateStmt.get(app);
    return row ? toRecord<ScheduleStateRecord>(row) : undefined;
  }

  /** Records that the schedule reached the tick at `at` (never moves back). */
  markPlanned(app: string, at: number): void {
    this.plannedStmt.run({ app, at, now: this.now() });
  }

  /** Pauses `app`'s schedule; pausing again changes who and why, and keeps since when. */
  pause(app: string, by: PauseActor, reason: string | null, at = this.now()): PauseOutcome {
    return this.db.transaction((): PauseOutcome => {
      const previous = this.state(app);
      const name = by.name || by.id;
      if (previous?.pausedBy) {
        this.db
          .prepare('UPDATE schedules SET paused_by = ?, paused_by_name = ?, paused_reason = ?, updated_at = ? WHERE app = ?')
          .run(by.id, name, reason, at, app);
        return { kind: 'updated', state: this.state(app)!, previous };
      }
      this.db
        .prepare(
          `INSERT INTO schedules (app, paused_by, paused_by_name, paused_reason, paused_at, updated_at) VALUES (@app, @by, @name, @reason, @at, @at)
           ON CONFLICT (app) DO UPDATE SET paused_by = excluded.paused_by, paused_by_name = excluded.paused_by_name,
             paused_reason = excluded.paused_reason, paused_at = excluded.paused_at, updated_at = excluded.updated_at`,
        )
        .run({ app, by: by.id, name, reason, at });
      return { kind: 'paused', state: this.state(app)! };
    })();
  }

  /** Resumes `app`'s schedule; returns the pause it removed, or undefined when it was not paused. */
  resume(app: string, at = this.now()): ScheduleStateRecord | undefined {
    return this.db.transaction(() => {
      const previous = this.state(app);
      if (!previous?.pausedBy) return undefined;
      this.db
        .prepare('UPDATE schedules SET paused_by = NULL, paused_by_name = NULL, paused_reason = NULL, paused_at = NULL, updated_at = ? WHERE app = ?')
        .run(at, app);
      return previous;
    })();
  }

  /** Records a tick as decided, moves the app's last tick to it, and reopens its night's summary. */
  recordRun(r: NewScheduleRun, at = this.now()): ScheduleRunRecord {
    const night = nightOf(r.plannedAt);
    const id = this.db.transaction(() => {
      const info = this.insertRunStmt.run({
        app: r.app,
        plannedAt: r.plannedAt,
        at,
        outcome: r.outcome,
        reason: r.reason ?? null,
        missed: r.missed ? 1 : 0,
        deployId: r.deployId ?? null,
        commandId: r.commandId ?? null,
        night,
        channel: r.channel,
      });
      this.plannedStmt.run({ app: r.app, at: r.plannedAt, now: at });
      this.reopenStmt.run(night, at);
      return Number(info.lastInsertRowid);
    })();
    this.changed();
    return this.run(id)!;
  }

  run(id: number): ScheduleRunRecord | undefined {
    const row = this.runStmt.get(id);
    return row ? toRecord<ScheduleRunRecord>(row) : undefined;
  }

  /** The newest tick of `app`. */
  lastRun(app: string): ScheduleRunRecord | undefined {
    const row = this.lastRunStmt.get(app);
    return row ? toRecord<ScheduleRunRecord>(row) : undefined;
  }

  /** `app`'s ticks, newest first. */
  runs(app: string, limit = 20): ScheduleRunRecord[] {
    return toRecords<ScheduleRunRecord>(this.runsStmt.all(app, limit));
  }

  /** The tick that started deploy `deployId`, if a schedule started it. */
  runForDeploy(deployId: number): ScheduleRunRecord | undefined {
    const row = this.forDeployStmt.get(deployId);
    return row ? toRecord<ScheduleRunRecord>(row) : undefined;
  }

  /** Ticks whose notice in the refresh channel does not say all it will yet, oldest first. */
  openRuns(): ScheduleRunRecord[] {
    return toRecords<ScheduleRunRecord>(this.openRunsStmt.all());
  }

  /** The ticks of one night, in order. */
  runsOfNight(night: string): ScheduleRunRecord[] {
    return toRecords<ScheduleRunRecord>(this.nightStmt.all(night));
  }

  patchRun(id: number, patch: RunNoticePatch): void {
    const sets: string[] = [];
    if (patch.noticeChannel !== undefined) sets.push('notice_channel = @noticeChannel');
    if (patch.noticeTs !== undefined) sets.push('notice_ts = @noticeTs');
    if (patch.noticeShown !== undefined) sets.push('notice_shown = @noticeShown');
    if (patch.noticeDone !== undefined) sets.push('notice_done = @noticeDone');
    if (!sets.length) return;
    this.db
      .prepare(`UPDATE schedule_runs SET ${sets.join(', ')} WHERE id = @id`)
      .run({ id, noticeChannel: patch.noticeChannel ?? null, noticeTs: patch.noticeTs ?? null, noticeShown: patch.noticeShown ?? null, noticeDone: patch.noticeDone ? 1 : 0 });
  }

  summary(night: string): ScheduleSummaryRecord | undefined {
    const row = this.summaryStmt.get(night);
    return row ? toRecord<ScheduleSummaryRecord>(row) : undefined;
  }

  /** Nights whose summary does not show every run ended yet, oldest first. */
  openSummaries(): ScheduleSummaryRecord[] {
    return toRecords<ScheduleSummaryRecord>(this.openSummariesStmt.all());
  }

  patchSummary(night: string, patch: SummaryPatch, at = this.now()): void {
    const sets: string[] = ['updated_at = @at'];
    if (patch.channel !== undefined) sets.push('channel = @channel');
    if (patch.ts !== undefined) sets.push('ts = @ts');
    if (patch.shown !== undefined) sets.push('shown = @shown');
    if (patch.done !== undefined) sets.push('done = @done');
    this.db
      .prepare(`UPDATE schedule_summaries SET ${sets.join(', ')} WHERE night = @night`)
      .run({ night, at, channel: patch.channel ?? null, ts: patch.ts ?? null, shown: patch.shown ?? null, done: patch.done ? 1 : 0 });
  }
}
