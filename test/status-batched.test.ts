/**
 * `status` of every app reads each table once for all apps (commands/core.ts `statusRows`: live
 * environments with their last success, locks, unfinished deploys, grouped by app); `status APP` reads
 * the app's own rows one by one, as every app's used to be read. Both must answer the same: on a real
 * server with an app draining (blue/green in teardown), a scaled and locked app, an app with a running
 * and a queued deploy, and one never deployed, each app's status from the whole-fleet read equals its
 * status read alone — through `statuses()` (the console) and the `status` verb (a recorded command).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../deployer/clock.js';
import { defineKubeApp, loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import type { AppStatus } from '../commands/results.js';
import { blueGreen, deploy, ended, state } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';

describe('status of every app, read in a few statements, says what each app’s own status says', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 26, 12));
  let h: Harness;
  let draining: number;
  let scaled: number;
  let running: number;
  let queued: number;

  beforeAll(async () => {
    const examples: KubeApp[] = [...(await loadKubeApps()).apps];
    const idle = defineKubeApp({
      name: 'idle-svc',
      image: { repository: 'idle-svc' },
      pods: { replicas: 1, containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] },
      owners: ['alice'],
      approvers: ['bob'],
      channel: '#idle',
    });
    h = await startHarness({}, { clock, apps: [...examples, idle] });
    // web-frontend: live, scaled by its owner, then locked.
    await blueGreen(h, clock, 'web-frontend', 'v5', 'alice', 'bob');
    const scale = await h.cmd('dave', 'scale', 'web-frontend', 'replicas=6', 'more', 'traffic');
    expect(scale.status).toBe(200);
    scaled = (scale.body as { deploy: { id: number } }).deploy.id;
    await clock.runUntil(() => ended(h, scaled));
    expect(state(h, scaled)).toBe('succeeded');
    expect((await h.cmd('dave', 'lock', 'web-frontend', 'release', 'freeze')).status).toBe(200);
    await blueGreen(h, clock, 'search-svc', 'v1');
    // cache-worker: one deploy under way, one queued behind it.
    running = await deploy(h, 'erin', 'cache-worker', 'v7');
    queued = await deploy(h, 'erin', 'cache-worker', 'v8');
    await clock.runUntil(() => h.k.store.deploys.steps(running).some((s) => s.state === 'running'));
    // search-svc: v2 cut over, draining v1's cluster (last: the drain ends when the clock runs on).
    draining = await deploy(h, 'carol', 'search-svc', 'v2', '--strategy', 'blue-green');
    await clock.runUntil(() => state(h, draining) === 'awaiting_approval');
    expect((await h.cmd('bob', 'approve', String(draining))).status).toBe(200);
    await clock.runUntil(() => state(h, draining) === 'tearing_down');
  }, 60_000);
  afterAll(() => h?.close());

  const byApp = (list: readonly AppStatus[]): Map<string, AppStatus> => new Map(list.map((s) => [s.app, s]));

  it('the scene has each case: a drain, a scale, a lock, a running and a queued deploy, an app never deployed', () => {
    const all = byApp(h.k.core.statuses());
    expect([...all.keys()]).toEqual([...h.k.apps.keys()]);
    expect(all.get('search-svc')).toMatchObject({
      live: { version: 'v2', deployId: draining },
      draining: { version: 'v1', deployId: draining },
      active: [expect.objectContaining({ id: draining, state: 'tearing_down' })],
      lock: null,
    });
    expect(all.get('search-svc')!.kubernetes).not.toBeNull();
    expect(all.get('web-frontend')).toMatchObject({
      live: { version: 'v5' },
      draining: null,
      active: [],
      lock: { app: 'web-frontend', lockedBy: 'dave', reason: 'release freeze' },
      scaled: { deployId: scaled, now: expect.objectContaining({ replicas: 6 }) },
    });
    expect(all.get('cache-worker')).toMatchObject({ live: null, lock: null, active: [expect.objectContaining({ id: running }), expect.objectContaining({ id: queued, state: 'queued' })] });
    expect(state(h, running)).not.toBe('queued');
    expect(all.get('cache-worker')!.active[1]!.queue).not.toBeNull();
    expect(all.get('idle-svc')).toEqual({ app: 'idle-svc', live: null, draining: null, active: [], lock: null, kubernetes: null, scaled: null });
  });

  it('each app’s status from the whole-fleet read equals its status read alone', () => {
    const all = h.k.core.statuses();
    for (const s of all) expect(h.k.core.statuses([s.app])).toEqual([s]);
    // The named ones, in the order named (unknown names left out), as before.
    expect(h.k.core.statuses(['web-frontend', 'nope', 'search-svc'])).toEqual([byApp(all).get('web-frontend'), byApp(all).get('search-svc')]);
  });

  it('the status verb answers the same, for every app and for one', async () => {
    const all = h.k.core.statuses();
    const every = h.k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['status'] });
    expect(every).toMatchObject({ kind: 'status', status: 'ok', apps: all, message: expect.stringContaining(`2 of ${all.length} app(s) deploying`) });
    for (const s of all) {
      const one = h.k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['status', s.app] });
      expect(one).toMatchObject({ kind: 'status', status: 'ok', apps: [s] });
    }
  });

  it('after the drain ends and the lock is gone, both reads move together', async () => {
    await clock.runUntil(() => ended(h, draining));
    expect((await h.cmd('dave', 'unlock', 'web-frontend')).status).toBe(200);
    const all = byApp(h.k.core.statuses());
    expect(all.get('search-svc')).toMatchObject({ live: { version: 'v2', deployId: draining }, draining: null, active: [] });
    expect(all.get('web-frontend')!.lock).toBeNull();
    for (const s of all.values()) expect(h.k.core.statuses([s.app])).toEqual([s]);
  });
});
