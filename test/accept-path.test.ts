/**
 * The accept path (issue 15): a command is recorded and acted on in one
 * transaction, answered from what was written, and placed in its app's line
 * from the deployer's own line; WAL checkpoints run off the event loop.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAfterAck } from '../commands/core.js';
import type { CommandResult } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { BACKSTOP_PAGES, startCheckpointer } from '../store/checkpointer.js';
import { Store } from '../store/index.js';
import { startHarness, type Harness } from './helpers/harness.js';

const CAROL = { id: 'carol', name: 'carol' };
type Queued = Extract<CommandResult, { kind: 'deploy_queued' }>;

describe('accepting a deploy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { clock: new ManualClock() });
  });
  afterAll(() => h.close());

  it('tells two deploys accepted before either joined the deployer its true place, and starts only the first', () => {
    // Both accepted before any surface answered (no afterAck has run yet): the second is behind the first.
    const first = h.k.core.execute({ actor: CAROL, surface: 'api', input: 'deploy search-svc t1' }) as Queued;
    const second = h.k.core.execute({ actor: CAROL, surface: 'api', input: 'deploy search-svc t2' }) as Queued;
    expect(first.kind).toBe('deploy_queued');
    expect(first.position).toEqual({ position: 0, ahead: [] });
    expect(second.position).toEqual({ position: 1, ahead: [first.deploy.id] });
    expect(second.message).toContain(`1 ahead of it in search-svc's line (#${first.deploy.id})`);
    // The answer is what the store holds.
    const stored = h.k.store.deploys.get(second.deploy.id)!;
    expect({ ...second.deploy }).toMatchObject({ id: stored.id, state: 'queued', version: 't2', commandId: second.commandId, steps: [], approval: null });
    expect(h.k.store.commands.get(second.commandId!)).toMatchObject({ outcome: 'accepted', deployId: second.deploy.id, verb: 'deploy' });
    // The "queued behind" event was written with the deploy, in the same transaction.
    expect(h.k.store.events.after(second.deploy.id).map((e) => e.kind)).toEqual(['command', 'queue']);
    // Nothing ran before the answers: both still queued, and status shows the second behind the first.
    expect(h.k.core.view(first.deploy.id).state).toBe('queued');
    expect(h.k.core.view(second.deploy.id).queue).toEqual({ position: 1, ahead: [first.deploy.id] });
    runAfterAck(first);
    runAfterAck(second);
    // Cancelled, so the next test starts with an empty line.
    for (const r of [second, first]) expect((h.k.core.execute({ actor: CAROL, surface: 'api', input: `cancel ${r.deploy.id}` }) as CommandResult).kind).toBe('cancelled');
  });

  it('keeps the command recorded as failed, and nothing else, when acting on it throws', async () => {
    const events = h.k.store.events;
    const append = events.append.bind(events);
    const before = h.k.store.deploys.history('cache-worker', 100).length;
    // A bug or a full disk in the middle of the accept: the deploy row is written, its first event is not.
    events.append = () => {
      throw new Error('disk I/O error');
    };
    let result: CommandResult;
    try {
      result = h.k.core.execute({ actor: { id: 'erin', name: 'erin' }, surface: 'api', input: 'deploy cache-worker f1' }) as CommandResult;
    } finally {
      events.append = append;
    }
    expect(result).toMatchObject({ kind: 'error', status: 'error', code: 'infrastructure' });
    expect(result.message).toContain('disk I/O error');
    expect(result.message).not.toMatch(/\n\s+at /);
    // The record stays, as failed; the deploy it had half written is gone, and no line holds it.
    expect(h.k.store.commands.get(result.commandId!)).toMatchObject({ outcome: 'failed', text: 'deploy cache-worker f1' });
    expect(h.k.store.deploys.history('cache-worker', 100)).toHaveLength(before);
    const next = h.k.core.execute({ actor: { id: 'erin', name: 'erin' }, surface: 'api', input: 'deploy cache-worker f2' }) as Queued;
    expect(next.position).toEqual({ position: 0, ahead: [] });
    runAfterAck(next);
    expect((h.k.core.execute({ actor: { id: 'erin', name: 'erin' }, surface: 'api', input: `cancel ${next.deploy.id}` }) as CommandResult).kind).toBe('cancelled');
  });
});

describe('WAL checkpoints', () => {
  const rows = (path: string): number => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM commands').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const write = (store: Store, n: number): void => {
    for (let i = 0; i < n; i++) store.commands.record({ actor: 'carol', actorName: null, surface: 'api', text: `help ${i}`, outcome: 'received', idempotencyKey: null });
  };

  it('are left to a worker once the WAL has grown: the server connection no longer copies the WAL back on small commits, the worker does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-wal-'));
    const store = Store.open(join(dir, 'k.db'));
    // The schema into the file, so the copies below can be read.
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const checkpointer = startCheckpointer(store.db, { intervalMs: 60_000, startAtPages: 500, watchMs: 3_600_000 })!;
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    // A few commits: no thread.
    write(store, 10);
    checkpointer.poll();
    expect(checkpointer.running).toBe(false);
    write(store, 2000);
    // The database file alone (without its -wal) does not have them: nobody checkpointed during the commits.
    copyFileSync(join(dir, 'k.db'), join(dir, 'before.db'));
    expect(rows(join(dir, 'before.db'))).toBe(0);
    // Past 500 pages the worker starts; its checkpoint (its last, on stop) copies them into the file.
    checkpointer.poll();
    expect(checkpointer.running).toBe(true);
    await checkpointer.stop();
    copyFileSync(join(dir, 'k.db'), join(dir, 'after.db'));
    expect(rows(join(dir, 'after.db'))).toBe(2010);
    store.close();
  });

  it('are not started for a database in memory', () => {
    const store = Store.open(':memory:');
    expect(startCheckpointer(store.db)).toBeUndefined();
    store.close();
  });
});
