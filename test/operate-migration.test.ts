/**
 * Migration 8 (operations as deploy kinds): SQLite cannot widen a CHECK in place, so
 * `deploys` and `undo_log` are rebuilt from their own schema. Whatever the earlier
 * migrations made of them — every column, index and row, and the foreign keys that
 * point at `deploys` — is still there afterwards.
 */
import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, type Db } from '../store/db.js';
import { MIGRATIONS } from '../store/migrations.js';
import { Store } from '../store/index.js';

const fresh = (): Db => {
  const db = new Database(join(mkdtempSync(join(tmpdir(), 'kc-migration-')), 'db.sqlite'));
  db.pragma('foreign_keys = ON');
  return db;
};
const columns = (db: Db, table: string): string[] => (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name);
const indexes = (db: Db, table: string): string[] =>
  (db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name").all(table) as { name: string; sql: string }[]).map(
    (i) => `${i.name}: ${i.sql}`,
  );

describe('migration 8', () => {
  it('rebuilds deploys and undo_log with every column, index and row they had, the foreign keys intact', () => {
    const db = fresh();
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version < 8),
    );
    const now = 1_796_000_000_000;
    db.prepare("INSERT INTO commands (at, actor, surface, text, outcome) VALUES (?, 'carol', 'cli', 'deploy a v1', 'accepted')").run(now);
    db.prepare(
      "INSERT INTO deploys (app, version, strategy, kind, state, requested_by, surface, command_id, provider, created_at, updated_at) VALUES ('a', 'v1', 'blue-green', 'refresh', 'succeeded', 'carol', 'cli', 1, 'sandbox', ?, ?)",
    ).run(now, now);
    db.prepare("INSERT INTO steps (deploy_id, name, state) VALUES (1, 'build', 'succeeded')").run();
    db.prepare("INSERT INTO undo_log (deploy_id, kind, data, state, created_at, updated_at) VALUES (1, 'dns', '{}', 'kept', ?, ?)").run(now, now);
    const before = { deploys: columns(db, 'deploys'), undo: columns(db, 'undo_log'), deployIndexes: indexes(db, 'deploys'), undoIndexes: indexes(db, 'undo_log') };
    const rows = db.prepare('SELECT * FROM deploys').all();

    // Up to migration 8 only: later ones may add indexes of their own (migration 9's are checked by test/console-query-plans.test.ts).
    migrate(db, MIGRATIONS.filter((m) => m.version <= 8));
    expect(db.pragma('user_version', { simple: true })).toBe(8);
    expect(columns(db, 'deploys')).toEqual([...before.deploys, 'kubernetes_version', 'replicas', 'min_nodes', 'max_nodes', 'reason']);
    expect(columns(db, 'undo_log')).toEqual(before.undo);
    expect(indexes(db, 'deploys')).toEqual(before.deployIndexes);
    expect(indexes(db, 'undo_log')).toEqual(before.undoIndexes);
    expect(db.prepare('SELECT * FROM deploys').all()).toEqual(rows.map((r) => ({ ...(r as object), kubernetes_version: null, replicas: null, min_nodes: null, max_nodes: null, reason: null })));
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // The new kinds are taken, an unknown one still refused; a step of a deploy that does not exist still is.
    db.prepare(
      "INSERT INTO deploys (app, version, strategy, kind, state, requested_by, surface, provider, created_at, updated_at) VALUES ('a', 'v1', 'rolling', 'scale', 'queued', 'alice', 'cli', 'sandbox', ?, ?)",
    ).run(now, now);
    expect(() =>
      db
        .prepare("INSERT INTO deploys (app, version, strategy, kind, state, requested_by, surface, provider, created_at, updated_at) VALUES ('a', 'v1', 'rolling', 'resize', 'queued', 'alice', 'cli', 'sandbox', ?, ?)")
        .run(now, now),
    ).toThrow(/CHECK constraint failed/);
    db.prepare("INSERT INTO undo_log (deploy_id, kind, data, created_at, updated_at) VALUES (2, 'restart', '{}', ?, ?)").run(now, now);
    expect(() => db.prepare("INSERT INTO steps (deploy_id, name, state) VALUES (99, 'scale', 'running')").run()).toThrow(/FOREIGN KEY constraint failed/);
    db.close();
  });

  it('a store opened on the migrated file reads the old deploys and writes operations', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-migration-'));
    const store = Store.open(join(dir, 'db.sqlite'));
    const d = store.deploys.create({ app: 'a', version: 'v1', strategy: 'rolling', kind: 'scale', requestedBy: 'alice', surface: 'cli', provider: 'sandbox', replicas: 4, reason: 'spike' });
    expect(store.deploys.get(d.id)).toMatchObject({ kind: 'scale', replicas: 4, minNodes: null, maxNodes: null, reason: 'spike', kubernetesVersion: null });
    const env = store.environments.create({ app: 'a', name: 'a-1', provider: 'sandbox', createdBy: d.id, version: 'v1', scale: { replicas: 3, minNodes: 2, maxNodes: 6 } });
    expect(env).toMatchObject({ replicas: 3, minNodes: 2, maxNodes: 6, scaledBy: null, kubernetesVersion: null });
    store.environments.scaled(env.id, { replicas: 4, minNodes: 2, maxNodes: 6 }, d.id);
    store.environments.kubernetes(env.id, '1.35');
    expect(store.environments.get(env.id)).toMatchObject({ replicas: 4, scaledBy: d.id, kubernetesVersion: '1.35' });
    store.close();
  });
});
