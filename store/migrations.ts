/**
 * Numbered schema migrations, applied in order at start (tracked in
 * `PRAGMA user_version`). Append new ones; never edit one that has shipped.
 */
import type { Db } from './db.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** Runs after `sql`, in the same transaction: for changes SQL alone cannot make (a table rebuilt from its own schema). */
  readonly up?: (db: Db) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core schema',
    sql: `
CREATE TABLE commands (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_name TEXT,
  surface TEXT NOT NULL,
  text TEXT NOT NULL,
  verb TEXT,
  app TEXT,
  deploy_id INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('received','accepted','refused','invalid','failed')),
  message TEXT,
  idempotency_key TEXT UNIQUE
);
CREATE INDEX commands_app ON commands(app, id);
CREATE INDEX commands_actor ON commands(actor, id);

CREATE TABLE deploys (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  strategy TEXT NOT NULL CHECK (strategy IN ('blue-green','rolling')),
  kind TEXT NOT NULL DEFAULT 'deploy' CHECK (kind IN ('deploy','rollback','refresh')),
  state TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_by_name TEXT,
  surface TEXT NOT NULL,
  command_id INTEGER REFERENCES commands(id),
  provider TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  updated_at INTEGER NOT NULL,
  from_version TEXT,
  from_cluster TEXT,
  from_deploy_id INTEGER,
  to_cluster TEXT,
  endpoint TEXT,
  previous_target TEXT,
  approval_deadline INTEGER,
  error TEXT,
  cleanup TEXT NOT NULL DEFAULT 'none' CHECK (cleanup IN ('none','pending','done','failed')),
  thread_channel TEXT,
  thread_ts TEXT
);
CREATE INDEX deploys_app ON deploys(app, id);
CREATE INDEX deploys_version ON deploys(version);
-- Partial index on id: the few non-terminal deploys, in order, without scanning history.
CREATE INDEX deploys_active ON deploys(id) WHERE state NOT IN ('succeeded','failed','rejected','timed_out','cancelled');
CREATE INDEX deploys_last_success ON deploys(app, id) WHERE state = 'succeeded';
CREATE INDEX deploys_cleanup ON deploys(id) WHERE cleanup = 'pending';

CREATE TABLE steps (
  deploy_id INTEGER NOT NULL REFERENCES deploys(id),
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed','skipped','cancelled')),
  started_at INTEGER,
  finished_at INTEGER,
  detail TEXT,
  PRIMARY KEY (deploy_id, name)
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  deploy_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  step TEXT,
  level TEXT NOT NULL DEFAULT 'info',
  message TEXT NOT NULL,
  data TEXT
);
-- (deploy_id, id): readers follow a deploy by event id (the SSE cursor), so no sort is needed.
CREATE INDEX events_deploy ON events(deploy_id, id);

CREATE TABLE approvals (
  id INTEGER PRIMARY KEY,
  deploy_id INTEGER NOT NULL UNIQUE REFERENCES deploys(id),
  decision TEXT NOT NULL CHECK (decision IN ('approved','rejected','timed_out')),
  actor TEXT NOT NULL,
  actor_name TEXT,
  surface TEXT NOT NULL,
  reason TEXT,
  at INTEGER NOT NULL
);

CREATE TABLE locks (
  app TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  locked_by TEXT NOT NULL,
  at INTEGER NOT NULL
);

CREATE TABLE resources (
  id INTEGER PRIMARY KEY,
  deploy_id INTEGER NOT NULL,
  app TEXT NOT NULL,
  provider TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  parent_id INTEGER,
  state TEXT NOT NULL CHECK (state IN ('intent','created','deleting','deleted','failed')),
  data TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (provider, kind, name)
);
CREATE INDEX resources_deploy ON resources(deploy_id, id);
CREATE INDEX resources_live ON resources(state) WHERE state <> 'deleted';

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  person TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  label TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);

CREATE TABLE sandbox_objects (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);

CREATE TABLE sandbox_faults (
  id INTEGER PRIMARY KEY,
  step TEXT NOT NULL,
  fault TEXT NOT NULL,
  app TEXT,
  remaining INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'slack threads',
    sql: `
CREATE TABLE slack_threads (
  deploy_id INTEGER PRIMARY KEY REFERENCES deploys(id),
  channel TEXT NOT NULL,
  ts TEXT NOT NULL,
  last_event_id INTEGER NOT NULL DEFAULT 0,
  approval_ts TEXT,
  final_ts TEXT,
  done INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE INDEX slack_threads_open ON slack_threads(deploy_id) WHERE done = 0;
`,
  },
  {
    version: 3,
    name: 'installation, environments (ownership), undo log',
    sql: `
-- One row per fact about this database; 'installation' is created once and tags every resource.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- An app's environment: one cluster and everything in it. Resources belong to the
-- environment, not to the deploy that happened to run last. At most one is live per app.
CREATE TABLE environments (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  provider TEXT NOT NULL,
  created_by INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('building','live','retiring','retired','discarded')),
  version TEXT,
  endpoint TEXT,
  retiring_by INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  live_since INTEGER,
  UNIQUE (provider, name)
);
CREATE UNIQUE INDEX environments_live ON environments(app) WHERE state = 'live';
CREATE INDEX environments_app ON environments(app, id);

ALTER TABLE resources ADD COLUMN env_id INTEGER REFERENCES environments(id);
CREATE INDEX resources_env ON resources(env_id, id);
ALTER TABLE deploys ADD COLUMN to_env_id INTEGER REFERENCES environments(id);
ALTER TABLE deploys ADD COLUMN from_env_id INTEGER REFERENCES environments(id);
CREATE INDEX deploys_active_app ON deploys(app, id) WHERE state NOT IN ('succeeded','failed','rejected','timed_out','cancelled');

-- The saga: what each deploy changed in the world and how to undo it, newest replayed first.
CREATE TABLE undo_log (
  id INTEGER PRIMARY KEY,
  deploy_id INTEGER NOT NULL REFERENCES deploys(id),
  kind TEXT NOT NULL CHECK (kind IN ('environment','resource','dns','images','ownership')),
  data TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','done','failed','kept')),
  outcome TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX undo_log_deploy ON undo_log(deploy_id, id);

-- Backfill: each deploy that created resources made one environment (its to_cluster).
INSERT INTO environments (app, name, provider, created_by, state, version, endpoint, created_at, updated_at, live_since)
  SELECT d.app, d.to_cluster, d.provider, d.id,
         CASE
           WHEN d.to_cluster = (SELECT l.to_cluster FROM deploys l WHERE l.app = d.app AND l.state = 'succeeded' ORDER BY l.id DESC LIMIT 1) THEN 'live'
           WHEN d.state <> 'succeeded' THEN 'discarded'
           WHEN NOT EXISTS (SELECT 1 FROM resources r WHERE r.deploy_id = d.id AND r.state <> 'deleted') THEN 'retired'
           ELSE 'retiring'
         END,
         d.version, d.endpoint, d.created_at, d.updated_at, d.finished_at
  FROM deploys d
  WHERE d.to_cluster IS NOT NULL AND EXISTS (SELECT 1 FROM resources r WHERE r.deploy_id = d.id)
  GROUP BY d.to_cluster;
UPDATE resources SET env_id = (SELECT e.id FROM environments e WHERE e.created_by = resources.deploy_id);
UPDATE environments SET version = (SELECT l.version FROM deploys l WHERE l.app = environments.app AND l.state = 'succeeded' ORDER BY l.id DESC LIMIT 1) WHERE state = 'live';
UPDATE deploys SET to_env_id = (SELECT e.id FROM environments e WHERE e.name = deploys.to_cluster AND e.provider = deploys.provider);
`,
  },
  {
    version: 4,
    name: 'slack threads: the card that replaced one Slack would not edit any more',
    sql: `
-- NULL: the card is the thread's first message (ts); else the reply that replaced it.
ALTER TABLE slack_threads ADD COLUMN card_ts TEXT;
`,
  },
  {
    version: 5,
    name: 'locks: the id of the person who holds the lock (locked_by stays the name shown)',
    sql: `
-- NULL for a lock taken before: its holder is known only by the name shown (locked_by).
ALTER TABLE locks ADD COLUMN locked_by_id TEXT;
`,
  },
  {
    version: 6,
    name: 'the console: indexes for history filters, search, DORA and the fleet',
    sql: `
-- Each chosen from EXPLAIN QUERY PLAN of store/console.ts's statements, with and without ANALYZE
-- (test/console-query-plans.test.ts), and checked not to take over an older read (test/store.test.ts).
-- An index on (x) is (x, rowid): "x = ? ORDER BY id DESC" reads it backwards with no sort.
-- An app's history within a time range (from / to), read as a range, then sorted by id.
CREATE INDEX deploys_app_created ON deploys(app, created_at);
-- The newest deploy that ended per app (fleet), and the deploys a DORA window needs (ended since its start).
CREATE INDEX deploys_app_finished ON deploys(app, finished_at);
-- Search across apps by time alone ("yesterday", "2026-11-30").
CREATE INDEX deploys_created ON deploys(created_at);
-- Search by person: the id, or the name shown, in any case (two indexes, read as a UNION of ids).
CREATE INDEX deploys_requested_by ON deploys(requested_by COLLATE NOCASE);
CREATE INDEX deploys_requested_by_name ON deploys(requested_by_name COLLATE NOCASE);
-- Search across apps by outcome, newest first. Partial, so that they serve only queries that name
-- their condition word for word (store/console.ts): a plain index on state would also be chosen, on a
-- database without ANALYZE, for "the app's last success" — over deploys_last_success, and slower.
CREATE INDEX deploys_unsuccessful ON deploys(state) WHERE state IN ('failed','rejected','timed_out','cancelled');
CREATE INDEX deploys_succeeded ON deploys(id) WHERE state = 'succeeded';
`,
  },
  {
    version: 7,
    name: 'schedules: the last tick reached, pauses, each tick decided, and the nightly summary',
    sql: `
-- One row per scheduled app: the last tick reached (ticks after it that are past at a start were
-- missed while kubecontrol was down) and who paused it, why and since when (paused_by NULL: not paused).
CREATE TABLE schedules (
  app TEXT PRIMARY KEY,
  last_planned_at INTEGER,
  paused_by TEXT,
  paused_by_name TEXT,
  paused_reason TEXT,
  paused_at INTEGER,
  updated_at INTEGER NOT NULL
);
-- Each tick as decided: the refresh it started, or why it was skipped; and how far the Slack
-- notice in the refresh channel got (posted, then edited with the result).
CREATE TABLE schedule_runs (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL,
  planned_at INTEGER NOT NULL,
  at INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('started','skipped')),
  reason TEXT,
  missed INTEGER NOT NULL DEFAULT 0,
  deploy_id INTEGER REFERENCES deploys(id),
  command_id INTEGER REFERENCES commands(id),
  night TEXT NOT NULL,
  channel TEXT NOT NULL,
  notice_channel TEXT,
  notice_ts TEXT,
  notice_shown TEXT,
  notice_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX schedule_runs_app ON schedule_runs(app, id);
CREATE INDEX schedule_runs_night ON schedule_runs(night, id);
CREATE INDEX schedule_runs_deploy ON schedule_runs(deploy_id) WHERE deploy_id IS NOT NULL;
CREATE INDEX schedule_runs_open ON schedule_runs(id) WHERE notice_done = 0;
-- One summary per night in the platform channel, edited in place (its ts survives a restart).
CREATE TABLE schedule_summaries (
  night TEXT PRIMARY KEY,
  channel TEXT,
  ts TEXT,
  shown TEXT,
  done INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
`,
  },
  {
    version: 8,
    name: 'operations: upgrade, scale and restart as deploy kinds; what an environment runs with',
    sql: `
-- An upgrade's Kubernetes version; a scale's replicas and node bounds; why (scale, restart, upgrade).
ALTER TABLE deploys ADD COLUMN kubernetes_version TEXT;
ALTER TABLE deploys ADD COLUMN replicas INTEGER;
ALTER TABLE deploys ADD COLUMN min_nodes INTEGER;
ALTER TABLE deploys ADD COLUMN max_nodes INTEGER;
ALTER TABLE deploys ADD COLUMN reason TEXT;
-- What an environment runs with: its cluster's Kubernetes version as created, its replicas and node
-- bounds (the KubeApp's when created, a scale's since) and the scale that last changed them.
ALTER TABLE environments ADD COLUMN kubernetes_version TEXT;
ALTER TABLE environments ADD COLUMN replicas INTEGER;
ALTER TABLE environments ADD COLUMN min_nodes INTEGER;
ALTER TABLE environments ADD COLUMN max_nodes INTEGER;
ALTER TABLE environments ADD COLUMN scaled_by INTEGER REFERENCES deploys(id);
`,
    // SQLite cannot change a CHECK constraint in place: both tables are rebuilt from their own schema.
    up: (db) => {
      widenCheck(db, 'deploys', "CHECK (kind IN ('deploy','rollback','refresh'))", "CHECK (kind IN ('deploy','rollback','refresh','upgrade','scale','restart'))");
      widenCheck(db, 'undo_log', "CHECK (kind IN ('environment','resource','dns','images','ownership'))", "CHECK (kind IN ('environment','resource','dns','images','ownership','scale','restart'))");
    },
  },
  {
    version: 9,
    name: 'the console: indexes that let an app’s failures and versions be read a page at a time',
    sql: `
-- Each chosen from EXPLAIN QUERY PLAN of store/console.ts's statements at 100,000 deploys (bench/reads.ts) and
-- checked by test/console-query-plans.test.ts, as migration 6's.
-- An app's failures (or rejections, timeouts, cancellations) newest first: (app, state, id), walked backwards,
-- stopping after a page. Before, the outcome's index across apps was walked until a page of the app matched
-- (1 in 60 here). Partial, on migration 6's condition word for word: only the deploys that did not succeed.
CREATE INDEX deploys_app_unsuccessful ON deploys(app, state) WHERE state IN ('failed','rejected','timed_out','cancelled');
-- An app's versions starting with a prefix: a range of (app, version, id), whose ids are sorted for the page
-- without reading a row (before: the app's history walked newest first until a page matched, all of it for
-- an old prefix).
CREATE INDEX deploys_app_version ON deploys(app, version);
`,
  },
];

/**
 * Rebuilds `table` with `from` replaced by `to` in its CREATE statement, keeping every column,
 * row, index and trigger as the database has them (whatever earlier migrations made), as SQLite's
 * "other kinds of table schema changes" procedure does. Foreign keys that point at the table are
 * checked at commit (defer_foreign_keys): its rows are the same rows again by then. Throws when
 * the statement does not hold `from`, so a schema that changed otherwise is never half-migrated.
 */
function widenCheck(db: Db, table: string, from: string, to: string): void {
  const create = (db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined)?.sql;
  if (!create?.includes(from)) throw new Error(`migration 8: table ${table} has no ${from} to widen`);
  const dependents = (db.prepare("SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('index','trigger') AND sql IS NOT NULL").all(table) as { sql: string }[]).map((r) => r.sql);
  const columns = (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => `"${c.name}"`).join(', ');
  db.pragma('defer_foreign_keys = ON');
  db.exec(`CREATE TEMP TABLE migration_copy AS SELECT * FROM "${table}"`);
  db.exec(`DROP TABLE "${table}"`);
  db.exec(create.replace(from, to));
  db.exec(`INSERT INTO "${table}" (${columns}) SELECT ${columns} FROM temp.migration_copy`);
  db.exec('DROP TABLE temp.migration_copy');
  for (const sql of dependents) db.exec(sql);
}
