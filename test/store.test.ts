import { describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDb } from '../store/db.js';
import { MIGRATIONS } from '../store/migrations.js';
import { Store } from '../store/index.js';

const file = (): string => join(mkdtempSync(join(tmpdir(), 'kubecontrol-store-')), 'k.db');

describe('the store', () => {
  it('applies the numbered migrations once, in WAL mode', () => {
    const path = file();
    const db = openDb(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(migrate(db)).toBe(0); // nothing left to apply
    db.close();
    const again = openDb(path);
    expect(again.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    again.close();
  });

  it('an existing database gains environments on upgrade: the live one from its last success, a retired one with nothing left', () => {
    const path = file();
    const db = openDb(path, MIGRATIONS.filter((m) => m.version < 3));
    const deploy = db.prepare(
      `INSERT INTO deploys (app, version, strategy, state, requested_by, surface, provider, created_at, updated_at, to_cluster, endpoint, finished_at)
       VALUES ('web', ?, ?, 'succeeded', 'carol', 'cli', 'sandbox', 1, 1, ?, ?, 1)`,
    );
    const resource = db.prepare(
      `INSERT INTO resources (deploy_id, app, provider, kind, name, state, created_at, updated_at) VALUES (?, 'web', 'sandbox', ?, ?, ?, 1, 1)`,
    );
    deploy.run('v1', 'blue-green', 'web-1', 'lb-1'); // #1, torn down by #2
    resource.run(1, 'cluster', 'web-1', 'deleted');
    deploy.run('v2', 'blue-green', 'web-2', 'lb-2'); // #2, live
    resource.run(2, 'cluster', 'web-2', 'created');
    resource.run(2, 'nodegroup', 'web-2-nodes', 'created');
    deploy.run('v3', 'rolling', 'web-2', 'lb-2'); // #3, a rolling update on web-2: owns nothing
    db.close();
    const store = Store.open(path);
    expect(store.environments.live('web')).toMatchObject({ name: 'web-2', createdBy: 2, version: 'v3' });
    expect(store.environments.byName('sandbox', 'web-1')).toMatchObject({ state: 'retired' });
    expect(store.resources.forEnv(store.environments.live('web')!.id).map((r) => r.name)).toEqual(['web-2', 'web-2-nodes']);
    expect(store.deploys.get(3)!.toEnvId).toBe(store.environments.live('web')!.id);
    expect(store.meta.installation()).toMatch(/^kc[0-9a-f]{8}$/);
    expect(store.meta.installation()).toBe(store.meta.installation());
    store.close();
  });

  it.each([
    ['history of an app', "SELECT * FROM deploys WHERE app = 'a' ORDER BY id DESC LIMIT 10", /USING INDEX deploys_app/],
    ['the live deploy of an app', "SELECT * FROM deploys WHERE app = 'a' AND state = 'succeeded' ORDER BY id DESC LIMIT 1", /USING INDEX deploys_last_success/],
    ['deploys of a version', "SELECT * FROM deploys WHERE version = 'v1'", /USING INDEX deploys_version/],
    ['a deploy’s events after a cursor', 'SELECT * FROM events WHERE deploy_id = 1 AND id > 0 ORDER BY id LIMIT 1000', /USING INDEX events_deploy/],
    ['active deploys', "SELECT * FROM deploys WHERE state NOT IN ('succeeded','failed','rejected','timed_out','cancelled') ORDER BY id", /USING INDEX deploys_active/],
    ['unfinished cleanups', "SELECT * FROM deploys WHERE cleanup = 'pending' ORDER BY id", /USING INDEX deploys_cleanup/],
  ])('reads %s from an index, without sorting', (_, sql, index) => {
    const db = openDb(':memory:');
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan).toMatch(index);
    expect(plan).not.toMatch(/TEMP B-TREE/);
    db.close();
  });

  it('a state change is a compare-and-set: of two racing decisions only one wins', () => {
    const store = Store.open(file());
    const d = store.deploys.create({ app: 'a', version: 'v1', strategy: 'blue-green', requestedBy: 'carol', surface: 'cli', provider: 'sandbox' });
    expect(store.deploys.transition(d.id, ['queued'], 'building')).toBe(true);
    expect(store.deploys.transition(d.id, ['queued'], 'cancelled')).toBe(false);
    expect(store.deploys.get(d.id)!.state).toBe('building');
    store.close();
  });

  it('the ledger is idempotent: asking to create the same resource again returns the same row', () => {
    const store = Store.open(file());
    const a = store.resources.intend({ deployId: 1, app: 'a', provider: 'sandbox', kind: 'cluster', name: 'a-1' });
    store.resources.set(a.id, 'created');
    const b = store.resources.intend({ deployId: 1, app: 'a', provider: 'sandbox', kind: 'cluster', name: 'a-1' });
    expect(b).toMatchObject({ id: a.id, state: 'created' });
    store.close();
  });

  it('records a Slack-style retry key once', () => {
    const store = Store.open(file());
    store.commands.record({ actor: 'U1', surface: 'slack', text: 'deploy a v1', outcome: 'accepted', idempotencyKey: 'trigger-1' });
    expect(() => store.commands.record({ actor: 'U1', surface: 'slack', text: 'deploy a v1', outcome: 'accepted', idempotencyKey: 'trigger-1' })).toThrow(/UNIQUE/);
    expect(store.commands.byIdempotencyKey('trigger-1')?.actor).toBe('U1');
    store.close();
  });
});
