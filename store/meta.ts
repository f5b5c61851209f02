/** Facts about this database, such as the installation's identity. */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export class MetaRepo {
  private readonly getStmt;
  private readonly insertStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
  }

  get(key: string): string | undefined {
    return (this.getStmt.get(key) as { value: string } | undefined)?.value;
  }

  /**
   * This installation's identity: created once per database (8 hex digits) and
   * carried by every resource it creates, so that no installation adopts,
   * changes or deletes another's.
   */
  installation(): string {
    const existing = this.get('installation');
    if (existing) return existing;
    this.insertStmt.run('installation', `kc${randomBytes(4).toString('hex')}`);
    return this.get('installation')!;
  }

  /**
   * The console's CSRF secret: 32 random bytes (hex), created once per database and never shown.
   * Kept with the data, so every process serving this database checks the same forms, and a form
   * survives a restart.
   */
  csrfSecret(): string {
    const existing = this.get('csrf_secret');
    if (existing) return existing;
    this.insertStmt.run('csrf_secret', randomBytes(32).toString('hex'));
    return this.get('csrf_secret')!;
  }
}
