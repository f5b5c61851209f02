/**
 * Numbered schema migrations, applied in order at start (tracked in
 * `PRAGMA user_version`). Append new ones; never edit one that has shipped.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
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
];
