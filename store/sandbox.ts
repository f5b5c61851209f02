/** The sandbox provider's simulated world, kept in SQLite so a restart sees the same world. */
import type { Db } from './db.js';

export interface SandboxFault {
  readonly id: number;
  readonly step: string;
  readonly fault: string;
  readonly app: string | null;
  readonly remaining: number;
}

export class SandboxRepo {
  private readonly getStmt;
  private readonly putStmt;
  private readonly delStmt;
  private readonly listStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT data FROM sandbox_objects WHERE kind = ? AND key = ?');
    this.putStmt = db.prepare(
      'INSERT INTO sandbox_objects (kind, key, data) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data',
    );
    this.delStmt = db.prepare('DELETE FROM sandbox_objects WHERE kind = ? AND key = ?');
    this.listStmt = db.prepare('SELECT data FROM sandbox_objects WHERE kind = ? ORDER BY key');
  }

  get<T>(kind: string, key: string): T | undefined {
    const row = this.getStmt.get(kind, key) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }

  put(kind: string, key: string, data: unknown): void {
    this.putStmt.run(kind, key, JSON.stringify(data));
  }

  delete(kind: string, key: string): boolean {
    return this.delStmt.run(kind, key).changes > 0;
  }

  list<T>(kind: string): T[] {
    return (this.listStmt.all(kind) as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }

  addFault(f: { step: string; fault: string; app?: string | null; times?: number }, now = Date.now()): number {
    return Number(
      this.db
        .prepare('INSERT INTO sandbox_faults (step, fault, app, remaining, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(f.step, f.fault, f.app ?? null, f.times ?? 1, now).lastInsertRowid,
    );
  }

  faults(): SandboxFault[] {
    return this.db.prepare('SELECT id, step, fault, app, remaining FROM sandbox_faults WHERE remaining > 0 ORDER BY id').all() as SandboxFault[];
  }

  /** Takes one use of the first matching fault (of one of `kinds`, if given), if any. */
  takeFault(step: string, app: string, kinds?: readonly string[]): SandboxFault | undefined {
    return this.db.transaction(() => {
      const f = (
        this.db
          .prepare('SELECT id, step, fault, app, remaining FROM sandbox_faults WHERE step = ? AND (app IS NULL OR app = ?) AND remaining > 0 ORDER BY id')
          .all(step, app) as SandboxFault[]
      ).find((x) => !kinds || kinds.includes(x.fault));
      if (f) this.db.prepare('UPDATE sandbox_faults SET remaining = remaining - 1 WHERE id = ?').run(f.id);
      return f;
    })();
  }

  clearFaults(): void {
    this.db.prepare('DELETE FROM sandbox_faults').run();
  }
}
