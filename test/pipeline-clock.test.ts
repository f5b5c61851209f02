/**
 * The pipeline on the sandbox at REAL durations (scale 1: a cluster takes 12
 * minutes), driven by a ManualClock: nothing sleeps, every wait is a timer the
 * test fires, so each case is deterministic and takes milliseconds. The real
 * server, the real SQLite file and the real HTTP API; the CLI where a person
 * would use it.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/run.js';
import { runAfterAck } from '../commands/core.js';
import { ManualClock } from '../deployer/clock.js';
import { loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import { IllegalTransition, LIFECYCLE, Store, type DeployState } from '../store/index.js';
import { blueGreen, deploy, ended, state } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';

/** `kubecontrol ARGS` against the harness's server, in-process through the CLI's entry; it must exit 0. Its stdout. */
async function cli(h: Harness, ...args: string[]): Promise<string> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--url', h.url, ...args], { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return stdout;
}
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => {});
});

async function start(clock: ManualClock, dbPath?: string, apps?: readonly KubeApp[]): Promise<Harness> {
  const h = await startHarness({ sandboxScale: 1, ...(dbPath ? { dbPath } : {}) }, { clock, ...(apps ? { apps } : {}) });
  open.push(h);
  return h;
}

const clusters = (h: Harness): string[] => h.k.store.sandbox.list<{ name: string }>('cluster').map((c) => c.name).sort();

describe('ownership: a cluster belongs to the environment that serves from it', () => {
  it('blue/green → rolling → gc lists nothing, and the live cluster still exists (through the server and the CLI)', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'web-frontend', 'v1');
    const rolling = await deploy(h, 'carol', 'web-frontend', 'v2', '--strategy', 'rolling');
    await clock.runUntil(() => ended(h, rolling));
    expect(state(h, rolling)).toBe('succeeded');

    const gc = await cli(h, 'gc', '--json');
    expect((JSON.parse(gc) as { orphans: unknown[] }).orphans).toEqual([]);
    const deleted = await cli(h, 'gc', '--yes', '--json');
    expect((JSON.parse(deleted) as { orphans: unknown[] }).orphans).toEqual([]);
    expect(clusters(h)).toEqual(['web-frontend-1']);
    const status = (await h.cmd('dave', 'status', 'web-frontend')).body as unknown as { apps: { live: { version: string; cluster: string } }[] };
    expect(status.apps[0]!.live).toMatchObject({ version: 'v2', cluster: 'web-frontend-1' });
  }, 30_000);

  it('blue/green → rolling → blue/green tears the first cluster down for real (the world and the ledger agree)', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'web-frontend', 'v1');
    const rolling = await deploy(h, 'carol', 'web-frontend', 'v2', '--strategy', 'rolling');
    await clock.runUntil(() => ended(h, rolling));
    const third = await blueGreen(h, clock, 'web-frontend', 'v3');

    expect(clusters(h)).toEqual([`web-frontend-${third}`]);
    const first = h.k.store.environments.byName('sandbox', 'web-frontend-1')!;
    expect(first.state).toBe('retired');
    expect(h.k.store.resources.forEnv(first.id).map((r) => `${r.kind} ${r.state}`)).toEqual(['cluster deleted', 'nodegroup deleted']);
    expect(h.k.store.deploys.steps(third).find((s) => s.name === 'teardown')).toMatchObject({ state: 'succeeded', detail: 'old cluster web-frontend-1 torn down' });
    expect(h.k.store.environments.live('web-frontend')).toMatchObject({ name: `web-frontend-${third}`, version: 'v3' });
  }, 30_000);
});

describe('the lifecycle table', () => {
  const states = Object.keys(LIFECYCLE) as DeployState[];
  const illegal = states.flatMap((from) => states.filter((to) => !LIFECYCLE[from].includes(to)).map((to) => [from, to] as const));

  it(`each of the ${illegal.length} moves the table does not list throws, whatever the row holds`, () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'kc-lifecycle-')), 'db.sqlite'));
    const d = store.deploys.create({ app: 'a', version: 'v1', strategy: 'blue-green', requestedBy: 'x', surface: 'cli', provider: 'sandbox' });
    const allowed = illegal.filter(([from, to]) => {
      try {
        store.deploys.transition(d.id, [from], to);
        return true;
      } catch (err) {
        return !(err instanceof IllegalTransition);
      }
    });
    expect(allowed).toEqual([]);
    expect(illegal).toContainEqual(['succeeded', 'failed']);
    expect(illegal).toContainEqual(['cutting_over', 'cancelled']);
    store.close();
  });

  it('a legal move is a compare-and-set: it happens once', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'kc-lifecycle-')), 'db.sqlite'));
    const d = store.deploys.create({ app: 'a', version: 'v1', strategy: 'blue-green', requestedBy: 'x', surface: 'cli', provider: 'sandbox' });
    expect(store.deploys.transition(d.id, ['queued'], 'building')).toBe(true);
    expect(store.deploys.transition(d.id, ['queued'], 'building')).toBe(false);
    store.close();
  });
});

describe('events are announced after the outermost commit', () => {
  it('nothing of a rolled-back transaction is announced; a committed one is, in order, after commit', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'kc-feed-')), 'db.sqlite'));
    const d = store.deploys.create({ app: 'a', version: 'v1', strategy: 'blue-green', requestedBy: 'x', surface: 'cli', provider: 'sandbox' });
    const seen: string[] = [];
    store.feed.on('appended', (e) => seen.push(`${e.message}${store.events.get(e.id) ? '' : ' (not stored!)'}`));
    expect(() =>
      store.tx(() => {
        store.events.append({ deployId: d.id, kind: 'progress', message: 'lost' });
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    store.tx(() => {
      store.events.append({ deployId: d.id, kind: 'progress', message: 'one' });
      store.tx(() => store.events.append({ deployId: d.id, kind: 'progress', message: 'two' }));
      expect(seen).toEqual([]); // not before the outermost commit
    });
    expect(seen).toEqual(['one', 'two']);
    store.close();
  });
});

describe('an ack that only records', () => {
  it("an accepted deploy's command, deploy row and first event are committed before the answer, and nothing of the deployer has run", async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const result = await h.k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['deploy', 'search-svc', 'v1'] });
    expect(result.kind).toBe('deploy_queued');
    const id = (result as { deploy: { id: number; state: string } }).deploy.id;
    expect((result as { deploy: { state: string } }).deploy.state).toBe('queued');
    // Read back through a second connection: committed, not just visible to the writer.
    const other = Store.open(h.dbPath);
    expect(other.commands.get(result.commandId!)).toMatchObject({ outcome: 'accepted', deployId: id });
    expect(other.deploys.get(id)).toMatchObject({ state: 'queued', startedAt: null });
    expect(other.events.after(id).map((e) => e.kind)).toEqual(['command']);
    other.close();
    await clock.settle();
    expect(h.k.store.deploys.steps(id)).toEqual([]);
    expect(h.k.deployer.load).toEqual({ running: 0, waiting: 0 });
    // The surface answered; now the deploy joins its line.
    runAfterAck(result);
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    expect(JSON.stringify(result)).not.toContain('afterAck');
  });

  it('the HTTP answer says queued, and its place in line comes from the store', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const first = await h.cmd('carol', 'deploy', 'search-svc', 'v1');
    const second = await h.cmd('carol', 'deploy', 'search-svc', 'v2');
    expect(first.body).toMatchObject({ kind: 'deploy_queued', deploy: { state: 'queued' } });
    expect(second.body.message).toMatch(/1 ahead of it in search-svc's line \(#1\)/);
  });
});

const STOPPABLE: DeployState[] = ['queued', 'building', 'provisioning', 'deploying', 'awaiting_approval'];

describe('authorisation that cannot be checked', () => {
  it('a failing group lookup is answered as such (and recorded), not as a silent refusal', async () => {
    const clock = new ManualClock();
    const h = await startHarness({ sandboxScale: 1 }, { clock, groups: { membersNow: () => ({ known: false, reason: 'ratelimited' }) } });
    open.push(h);
    const res = await h.cmd('zed', 'deploy', 'search-svc', 'v1');
    expect(res.body).toMatchObject({ status: 'error', code: 'group_lookup_failed' });
    expect(res.body.message).toBe("Couldn't check your group membership for search-svc (@search-team: ratelimited); try again.");
    expect(h.k.store.commands.get(res.body.commandId!)).toMatchObject({ actor: 'zed', outcome: 'failed' });
    // Someone named directly is not held up by the failing group.
    expect((await h.cmd('carol', 'deploy', 'search-svc', 'v1')).status).toBe(200);
  });
});

describe('cancel in every state', () => {
  it.each(STOPPABLE)('cancelled while %s: the undo log is replayed and nothing is left', async (at) => {
    const clock = new ManualClock();
    const h = await start(clock);
    // Queued: behind a deploy of the same app that is running.
    const first = at === 'queued' ? await deploy(h, 'carol', 'search-svc', 'v1') : undefined;
    const id = await deploy(h, 'carol', 'search-svc', 'v2');
    await clock.runUntil(() => state(h, id) === at && (!first || state(h, first) === 'building'));
    const res = await h.cmd('carol', 'cancel', String(id));
    expect(res.status).toBe(200);
    await clock.runUntil(() => ended(h, id));
    const d = h.k.store.deploys.get(id)!;
    expect(d.state).toBe('cancelled');
    expect(d.cleanup).toBe(at === 'queued' ? 'none' : 'done');
    expect(h.k.store.undo.forDeploy(id).filter((u) => u.state !== 'done')).toEqual([]);
    expect(h.k.store.resources.forDeploy(id).filter((r) => r.state !== 'deleted')).toEqual([]);
    expect(clusters(h)).toEqual(first ? ['search-svc-1'] : []);
    if (first) expect(state(h, first)).toBe('building'); // the deploy ahead was not disturbed
  }, 20_000);

  it.each(['cutting_over', 'tearing_down'] as DeployState[])('refused while %s: traffic is moving', async (at) => {
    const clock = new ManualClock();
    const h = await start(clock);
    if (at === 'tearing_down') await blueGreen(h, clock, 'search-svc', 'v1');
    const id = await deploy(h, 'carol', 'search-svc', 'v2');
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    await clock.runUntil(() => state(h, id) === at);
    const res = await h.cmd('carol', 'cancel', String(id));
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/cannot be cancelled: traffic is already moving/);
    await clock.runUntil(() => ended(h, id));
    expect(state(h, id)).toBe('succeeded');
  }, 20_000);
});

describe('approval deadlines on the clock', () => {
  it('an approve racing the timeout: exactly one decision wins and is recorded', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const id = await deploy(h, 'carol', 'search-svc', 'v1');
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    const deadline = h.k.store.deploys.get(id)!.approvalDeadline!;
    // The deadline timer fires in the same turn as the approval request arrives.
    const approving = h.cmd('bob', 'approve', String(id));
    await clock.advance(deadline - clock.now());
    const res = await approving;
    const decision = h.k.store.approvals.forDeploy(id)!;
    expect(['approved', 'timed_out']).toContain(decision.decision);
    expect(res.status).toBe(decision.decision === 'approved' ? 200 : 409);
    await clock.runUntil(() => ended(h, id));
    expect(state(h, id)).toBe(decision.decision === 'approved' ? 'succeeded' : 'timed_out');
  }, 20_000);

  it('the deadline is re-armed from the store after a restart', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const id = await deploy(h, 'carol', 'search-svc', 'v1');
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    const deadline = h.k.store.deploys.get(id)!.approvalDeadline!;
    await h.close();
    const later = new ManualClock(clock.now() + 60_000);
    const again = await start(later, h.dbPath);
    await later.advance(deadline - later.now() - 1);
    expect(state(again, id)).toBe('awaiting_approval');
    await later.runUntil(() => ended(again, id));
    expect(again.k.store.deploys.get(id)).toMatchObject({ state: 'timed_out', cleanup: 'done' });
    expect(clusters(again)).toEqual([]);
  }, 20_000);
});

describe('shutdown, then resume, in every state', () => {
  it.each(['building', 'provisioning', 'deploying', 'awaiting_approval', 'cutting_over', 'tearing_down'] as DeployState[])(
    'stopped while %s, the next process finishes the deploy',
    async (at) => {
      const clock = new ManualClock();
      const h = await start(clock);
      await blueGreen(h, clock, 'search-svc', 'v1');
      const id = await deploy(h, 'carol', 'search-svc', 'v2');
      await clock.runUntil(() => state(h, id) === at || state(h, id) === 'awaiting_approval');
      if (at === 'cutting_over' || at === 'tearing_down') {
        await h.cmd('bob', 'approve', String(id));
        await clock.runUntil(() => state(h, id) === at);
      }
      await h.close();
      const next = new ManualClock(clock.now());
      const again = await start(next, h.dbPath);
      await next.runUntil(() => state(again, id) === 'awaiting_approval' || ended(again, id));
      if (state(again, id) === 'awaiting_approval') await again.cmd('bob', 'approve', String(id));
      await next.runUntil(() => ended(again, id));
      expect(state(again, id)).toBe('succeeded');
      expect(clusters(again)).toEqual([`search-svc-${id}`]);
      expect(again.k.store.environments.live('search-svc')).toMatchObject({ name: `search-svc-${id}`, version: 'v2' });
      expect(again.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retired');
    },
    20_000,
  );
});

describe('failures undo what the deploy did, newest first, each outcome recorded', () => {
  it('a replay stopped by a shutdown goes on in the next process from where it stopped', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    // web-frontend runs on a managed node group: two resources, undone newest first.
    const id = await deploy(h, 'carol', 'web-frontend', 'v1', '--strategy', 'blue-green');
    await clock.runUntil(() => state(h, id) === 'deploying');
    await h.cmd('carol', 'cancel', String(id));
    // The node group is deleted first (newest first); stop while the cluster's deletion is under way.
    await clock.runUntil(() => h.k.store.undo.forDeploy(id).some((u) => u.kind === 'resource' && u.state === 'done'));
    const before = h.k.store.undo.forDeploy(id).map((u) => `${u.kind}:${u.state}`);
    expect(before).toEqual(['environment:pending', 'resource:pending', 'resource:done']);
    await h.close();
    const next = new ManualClock(clock.now());
    const again = await start(next, h.dbPath);
    await next.runUntil(() => ended(again, id));
    expect(again.k.store.deploys.get(id)).toMatchObject({ state: 'cancelled', cleanup: 'done' });
    expect(again.k.store.undo.forDeploy(id).map((u) => `${u.kind}:${u.state}`)).toEqual(['environment:done', 'resource:done', 'resource:done']);
    expect(clusters(again)).toEqual([]);
    expect(again.k.store.environments.byName('sandbox', `web-frontend-${id}`)!.state).toBe('discarded');
  }, 20_000);

  it('a cutover that dies after DNS moved: ownership back, DNS back, resources deleted, environment discarded', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const before = h.k.store.sandbox.get<{ target: string }>('dns', 'search-svc.example.com')!.target;
    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'timeout', app: 'search-svc' });
    const id = await deploy(h, 'carol', 'search-svc', 'v2');
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    await clock.runUntil(() => ended(h, id));
    expect(state(h, id)).toBe('failed');
    expect(h.k.store.deploys.get(id)!.error).toMatch(/cutover timed out after/);
    const log = h.k.store.undo.forDeploy(id);
    // search-svc runs on EKS Auto Mode: its cluster is its only ledger resource (the NodePool goes with it).
    expect(log.map((u) => `${u.kind}:${u.state}`)).toEqual(['environment:done', 'resource:done', 'dns:done']);
    expect(log.find((u) => u.kind === 'dns')!.outcome).toBe(`search-svc.example.com points back at ${before}`);
    expect(h.k.store.sandbox.get<{ target: string }>('dns', 'search-svc.example.com')!.target).toBe(before);
    expect(h.k.store.environments.live('search-svc')!.name).toBe('search-svc-1');
    expect(clusters(h)).toEqual(['search-svc-1']);
  }, 20_000);

  it('teardown retries exhausted: the deploy succeeds, the retiring cluster stays for gc', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    h.k.store.sandbox.addFault({ step: 'teardown', fault: 'fail', app: 'search-svc', times: 3 });
    const id = await blueGreen(h, clock, 'search-svc', 'v2');
    // The deploy succeeded, and its teardown says plainly that it did not finish.
    expect(h.k.store.deploys.steps(id).find((s) => s.name === 'teardown')).toMatchObject({ state: 'failed', detail: expect.stringMatching(/1 resource\(s\) of the old cluster search-svc-1 could not be deleted/) });
    expect(h.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retiring');
    const gc = (await (await fetch(`${h.url}/api/gc`, { headers: { 'x-kubecontrol-user': 'alice' } })).json()) as { orphans: { name: string; reason: string }[] };
    expect(gc.orphans.map((o) => o.name).sort()).toEqual(['search-svc-1']);
    expect(gc.orphans[0]!.reason).toMatch(/environment search-svc-1 \(built by deploy #1\) retired, and its teardown did not finish/);
    expect(clusters(h)).toEqual([`search-svc-1`, `search-svc-${id}`]);
  }, 20_000);

  it('a KubeApp removed while its deploy runs: the deploy fails saying so, and gc lists what it left', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const id = await deploy(h, 'carol', 'search-svc', 'v1');
    await clock.runUntil(() => state(h, id) === 'deploying');
    await h.close();
    const loaded = await loadKubeApps(undefined);
    const next = new ManualClock(clock.now());
    const again = await start(next, h.dbPath, loaded.apps.filter((a) => a.name !== 'search-svc'));
    await next.runUntil(() => ended(again, id));
    expect(again.k.store.deploys.get(id)).toMatchObject({ state: 'failed', error: 'KubeApp search-svc is no longer defined in kubeapps/', cleanup: 'failed' });
    const gc = (await (await fetch(`${again.url}/api/gc`)).json()) as { orphans: { name: string }[] };
    expect(gc.orphans.map((o) => o.name).sort()).toEqual([`search-svc-${id}`]);
  }, 20_000);
});
