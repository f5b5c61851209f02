/**
 * The queue (per-app serialisation, global cap, cancel) and failures at every
 * step: whatever goes wrong, the ledger ends with nothing undeleted and the
 * events say what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeployView } from '../commands/results.js';
import type { DeployState } from '../store/index.js';
import { ManualClock } from '../deployer/clock.js';
import { clusterRef, dnsRecord } from '../deployer/specs.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

const idOf = (body: unknown): number => (body as { deploy: DeployView }).deploy.id;
const BUSY: readonly DeployState[] = ['building', 'provisioning', 'deploying', 'cutting_over', 'tearing_down'];

describe('the deploy queue', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ concurrency: 2, approvalTimeoutMs: 60_000 }, { clock: new ManualClock() });
  });
  afterAll(() => h.close());

  it('runs one deploy per app at a time, at most the global cap at once, and tells each requester its place', async () => {
    // Watch every state change: count busy deploys overall and per app.
    let maxBusy = 0;
    const perAppViolations: string[] = [];
    const onEvent = (): void => {
      const active = h.k.store.deploys.active();
      const busy = active.filter((d) => BUSY.includes(d.state));
      maxBusy = Math.max(maxBusy, busy.length);
      const started = active.filter((d) => d.state !== 'queued');
      for (const app of new Set(started.map((d) => d.app))) {
        if (started.filter((d) => d.app === app).length > 1) perAppViolations.push(app);
      }
    };
    h.k.store.feed.on('appended', onEvent);

    const first = await h.cmd('carol', 'deploy', 'search-svc', 'q1');
    const second = await h.cmd('carol', 'deploy', 'search-svc', 'q2');
    const third = await h.cmd('erin', 'deploy', 'cache-worker', 'q1');
    const fourth = await h.cmd('alice', 'deploy', 'search-svc', 'q3');
    expect((first.body as unknown as { position: { position: number } }).position.position).toBe(0);
    expect(second.body.message).toMatch(new RegExp(`1 ahead of it in search-svc's line \\(#${idOf(first.body)}\\)`));
    expect((fourth.body as unknown as { position: { position: number; ahead: number[] } }).position).toEqual({ position: 2, ahead: [idOf(first.body), idOf(second.body)] });
    expect((third.body as unknown as { position: { position: number } }).position.position).toBe(0);

    // Each search-svc deploy waits for approval, then the next one starts.
    for (const body of [first.body, second.body, fourth.body]) {
      const id = idOf(body);
      await h.waitState(id, 'awaiting_approval');
      expect(h.k.store.events.after(id).some((e) => e.kind === 'queue' && e.message.startsWith('your turn'))).toBe(true);
      await h.cmd('bob', 'approve', String(id));
      await h.waitState(id, 'succeeded');
    }
    await h.waitState(idOf(third.body), 'awaiting_approval');
    await h.cmd('erin', 'approve', String(idOf(third.body)));
    await h.waitState(idOf(third.body), 'succeeded');
    h.k.store.feed.off('appended', onEvent);

    expect(perAppViolations).toEqual([]);
    expect(maxBusy).toBeLessThanOrEqual(2);
    expect(maxBusy).toBeGreaterThanOrEqual(2); // two apps did run side by side
  }, 60_000);

  it('cancels a queued deploy without touching the one running ahead of it', async () => {
    const running = idOf((await h.cmd('carol', 'deploy', 'search-svc', 'c1')).body);
    const queued = idOf((await h.cmd('carol', 'deploy', 'search-svc', 'c2')).body);
    const res = await h.cmd('carol', 'cancel', String(queued));
    expect(res.body.message).toBe(`Deploy #${queued} cancelled; anything it created is being torn down.`);
    const cancelled = await h.waitState(queued, 'cancelled');
    expect(cancelled.steps).toEqual([]);
    await h.waitState(running, 'awaiting_approval');
    await h.cmd('carol', 'cancel', String(running));
    const done = await h.waitState(running, 'cancelled');
    expect(done.cleanup).toBe('done');
    expect(undeleted(h, running)).toEqual([]);
  }, 30_000);

  it('cancels a running deploy mid-provision and tears down what it had created', async () => {
    const id = idOf((await h.cmd('carol', 'deploy', 'search-svc', 'c3')).body);
    await h.waitFor(id, () => h.k.store.resources.forDeploy(id).some((r) => r.kind === 'cluster'));
    const res = await h.cmd('alice', 'cancel', String(id));
    expect(res.status).toBe(200);
    const done = await h.waitState(id, 'cancelled');
    expect(done.error).toBe('cancelled by alice');
    expect(done.steps.find((s) => s.name === 'provision')?.state).toBe('cancelled');
    expect(undeleted(h, id)).toEqual([]);
    const messages = h.k.store.events.after(id).map((e) => e.message);
    expect(messages).toEqual(expect.arrayContaining([`cluster search-svc-${id}: deleted`, 'cleanup finished: nothing left behind']));
    // Too late to cancel once it has ended.
    const again = await h.cmd('alice', 'cancel', String(id));
    expect(again.body.message).toBe(`Deploy #${id} cannot be cancelled: it already ended (cancelled).`);
  }, 30_000);
});

describe('approval timeout', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ approvalTimeoutMs: 300 }, { clock: new ManualClock() });
  });
  afterAll(() => h.close());

  it('times out, tears the new cluster down, and refuses a late click', async () => {
    const id = idOf((await h.cmd('carol', 'deploy', 'search-svc', 't1')).body);
    const done = await h.waitState(id, 'timed_out');
    expect(done.approval).toMatchObject({ decision: 'timed_out', actor: 'kubecontrol' });
    expect(undeleted(h, id)).toEqual([]);
    const late = await h.cmd('bob', 'approve', String(id));
    expect(late.status).toBe(409);
    expect(late.body.message).toBe(`Deploy #${id} cannot be approved: it was already timed out.`);
  }, 30_000);
});

describe('a fault at every step', () => {
  let h: Harness;
  beforeAll(async () => {
    // Faster than the other suites: the timeouts below wait for the scaled step limits.
    h = await startHarness({ sandboxScale: 0.0005, approvalTimeoutMs: 60_000, concurrency: 4 }, { clock: new ManualClock() });
  });
  afterAll(() => h.close());

  it.each([
    ['build', 'fail', 'search-svc', /build failed: \[sandbox\] BuildFailed: step "RUN npm ci" exited with code 1/],
    ['build', 'timeout', 'web-frontend', /build timed out after/],
    ['provision', 'fail', 'cache-worker', /provision failed: \[sandbox\] ResourceLimitExceeded/],
    ['provision', 'timeout', 'search-svc', /provision timed out after/],
    ['deploy', 'fail', 'web-frontend', /deploy failed: \[sandbox\] Forbidden/],
    ['deploy', 'unhealthy', 'cache-worker', /ProgressDeadlineExceeded: rollout of cache-worker did not become healthy: 0\/2 replicas available; pod .* CrashLoopBackOff/],
    ['deploy', 'timeout', 'search-svc', /deploy timed out after/],
    ['cutover', 'fail', 'web-frontend', /cutover failed: \[sandbox\] HealthCheckFailed: GET http:\/\/web-frontend-\d+-external\.elb\.sandbox\.local\/health answered 503/],
    ['cutover', 'unhealthy', 'cache-worker', /cutover failed: .*timed out after 3 attempts/],
  ])('%s %s: the deploy fails, says why, and leaves nothing behind', async (step, fault, app, why) => {
    const owner = { 'search-svc': 'alice', 'web-frontend': 'dave', 'cache-worker': 'erin' }[app]!;
    const approver = { 'search-svc': 'bob', 'web-frontend': 'bob', 'cache-worker': 'bob' }[app]!;
    h.k.store.sandbox.addFault({ step, fault, app });
    const res = await h.cmd(owner, 'deploy', app, `${step}-${fault}`, '--strategy', 'blue-green');
    const id = idOf(res.body);
    const d = await h.waitState(id, 'failed', 'awaiting_approval');
    if (d.state === 'awaiting_approval') {
      await h.cmd(approver, 'approve', String(id));
    }
    const done = await h.waitState(id, 'failed');
    expect(done.error).toMatch(why);
    expect(done.cleanup).toBe('done');
    expect(undeleted(h, id)).toEqual([]);
    const events = h.k.store.events.after(id);
    expect(events.some((e) => e.kind === 'step' && e.step === step && e.level === 'error' && why.test(e.message))).toBe(true);
    expect(events.at(-1)?.message).toBe('cleanup finished: nothing left behind');
    // Traffic never moved to the failed deploy's cluster.
    expect((await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get(app)!) })) ?? '(no record)').not.toMatch(new RegExp(`${app}-${id}-`));
  }, 30_000);

  it('teardown of the old cluster retries a failed delete and ends with nothing left', async () => {
    const first = idOf((await h.cmd('alice', 'deploy', 'search-svc', 'td1')).body);
    await h.waitState(first, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(first));
    await h.waitState(first, 'succeeded');
    h.k.store.sandbox.addFault({ step: 'teardown', fault: 'fail', app: 'search-svc' });
    const second = idOf((await h.cmd('alice', 'deploy', 'search-svc', 'td2')).body);
    await h.waitState(second, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(second));
    const done = await h.waitState(second, 'succeeded');
    expect(done.steps.find((s) => s.name === 'teardown')?.state).toBe('succeeded');
    expect(undeleted(h, first)).toEqual([]);
    const messages = h.k.store.events.after(second).map((e) => e.message);
    // search-svc runs on EKS Auto Mode: the cluster is its only ledger resource, and the first to be refused.
    expect(messages.some((m) => /deleting cluster search-svc-\d+ failed \(attempt 1\/3\): \[sandbox\] ResourceInUseException/.test(m))).toBe(true);
  }, 30_000);

  it('a cutover that times out after DNS moved puts DNS back before deleting its cluster', async () => {
    const live = h.k.store.deploys.lastSucceeded('search-svc')!;
    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'timeout', app: 'search-svc' });
    const id = idOf((await h.cmd('alice', 'deploy', 'search-svc', 'stuck-dns')).body);
    await h.waitState(id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    const done = await h.waitState(id, 'failed');
    expect(done.error).toMatch(/cutover timed out after/);
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(live.endpoint);
    expect(h.k.store.events.after(id).map((e) => e.message)).toContain(`search-svc.example.com points at this deploy's cluster; moving it back to ${live.endpoint} first`);
    expect(undeleted(h, id)).toEqual([]);
    // The live cluster was not touched.
    expect(await h.k.provider.clusters.describe({ cluster: clusterRef(h.k.apps.get('search-svc')!, live.toCluster!) })).toMatchObject({ status: 'ACTIVE' });
  }, 30_000);

  it('a teardown that times out does not fail the deploy that already took the traffic; gc finds and deletes what is left', async () => {
    const before = h.k.store.deploys.lastSucceeded('search-svc')!;
    h.k.store.sandbox.addFault({ step: 'teardown', fault: 'timeout', app: 'search-svc' });
    const id = idOf((await h.cmd('alice', 'deploy', 'search-svc', 'slow-teardown')).body);
    await h.waitState(id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    const done = await h.waitState(id, 'succeeded', 'failed');
    expect(done.state).toBe('succeeded');
    expect(done.steps.find((s) => s.name === 'teardown')?.state).toBe('failed');
    // Ownership: the environment that retired at cutover is still retiring, owed to gc.
    expect(h.k.store.environments.byName('sandbox', before.toCluster!)!.state).toBe('retiring');
    expect(undeleted(h, id)).toEqual([`cluster ${done.toCluster} (created)`]); // the new, live cluster is intact (Auto Mode: no node group)

    const listed = (await (await fetch(`${h.url}/api/gc`, { headers: { 'x-kubecontrol-user': 'alice' } })).json()) as { orphans: { name: string; reason: string }[] };
    expect(listed.orphans.map((o) => o.name).sort()).toEqual(undeleted(h, before.id).map((r) => r.split(' ')[1]).sort());
    expect(listed.orphans.every((o) => /retired, and its teardown did not finish/.test(o.reason))).toBe(true);
    // gc's deletions wait on the (manual) clock: drive it while the request runs.
    const clock = h.k.clock as ManualClock;
    let answered = false;
    const request = fetch(`${h.url}/api/gc`, { method: 'POST', headers: { 'x-kubecontrol-user': 'alice' } }).finally(() => (answered = true));
    await clock.runUntil(() => answered);
    const collected = (await (await request).json()) as { orphans: { outcome: string }[] };
    expect(collected.orphans.map((o) => o.outcome)).toEqual(collected.orphans.map(() => 'deleted'));
    expect(undeleted(h, before.id)).toEqual([]);
    expect(h.k.store.environments.byName('sandbox', before.toCluster!)!.state).toBe('retired');
    expect(await h.k.provider.clusters.describe({ cluster: clusterRef(h.k.apps.get('search-svc')!, done.toCluster!) })).toMatchObject({ status: 'ACTIVE' });
  }, 30_000);

  it('a failed rolling update puts the previous images back', async () => {
    h.k.store.sandbox.addFault({ step: 'deploy', fault: 'fail', app: 'search-svc' });
    const live = h.k.store.deploys.lastSucceeded('search-svc')!;
    const id = idOf((await h.cmd('alice', 'deploy', 'search-svc', 'bad-roll', '--strategy', 'rolling')).body);
    const done = await h.waitState(id, 'failed');
    expect(done.cleanup).toBe('done');
    expect(h.k.store.sandbox.get<{ version: string }>('workload', live.toCluster!)?.version).toBe(live.version);
    expect(h.k.store.events.after(id).map((e) => e.message)).toContain(`images restored to ${live.version}`);
  }, 30_000);
});
