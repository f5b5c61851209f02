/**
 * App owners operate their own app — scale, restart, upgrade — through the real
 * server on the sandbox at real durations, driven by a ManualClock (nothing
 * sleeps): the door (who may, the KubeApp's limits, the lock, the versions the
 * provider offers), the queue, the thread's events, the undo of a failure, the
 * history, `status`, and what the next deploy says of a scale.
 */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { finalMessage, resultAnswer, statusCard, stepLine } from '../bot/views.js';
import { renderResult, renderSummary } from '../cli/render.js';
import { runCli } from '../cli/run.js';
import type { CommandResult } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import { withAws } from './fakes/aws-apps.js';
import { blueGreen, deploy, ended, state } from './helpers/clock-flow.js';
import { startHarness, type ApiResult, type Harness } from './helpers/harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => {});
});

let examples: KubeApp[];
beforeAll(async () => {
  examples = [...(await loadKubeApps()).apps];
});
const app = (name: string): KubeApp => examples.find((a) => a.name === name)!;

/** The examples, search-svc pinned to Kubernetes 1.34 (in standard support until 2026-12-02, two days after the clock starts). */
function apps(overrides: Partial<Record<string, (a: KubeApp) => KubeApp>> = {}): KubeApp[] {
  return examples.map((a) => overrides[a.name]?.(a) ?? a);
}

async function start(clock: ManualClock, list: readonly KubeApp[] = apps()): Promise<Harness> {
  const h = await startHarness({ sandboxScale: 1 }, { clock, apps: list });
  open.push(h);
  return h;
}

type World = { replicas: number; restartedAt?: string | null };
const workload = (h: Harness, cluster: string): World => h.k.store.sandbox.get<World>('workload', cluster)!;
const live = (h: Harness, name: string) => h.k.store.environments.live(name)!;
const idOf = (body: ApiResult): number => (body as unknown as { deploy: { id: number } }).deploy.id;
/** A command whose answer waits for the sandbox's simulated time (a dry run reads the registry): the clock runs until it answers. */
async function driven<T>(clock: ManualClock, pending: Promise<T>): Promise<T> {
  let done = false;
  const p = pending.finally(() => void (done = true));
  await clock.runUntil(() => done);
  return p;
}
/** The last command recorded, as the commands table has it. */
const lastCommand = (h: Harness) => h.k.store.commands.recent(1)[0]!;

describe('scale', () => {
  it('an owner scales within the limits: the answer names what ran before and how to undo it, the world changes, status and history show it', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const env = live(h, 'search-svc');
    expect(env).toMatchObject({ replicas: 3, minNodes: 3, maxNodes: 12, scaledBy: null, kubernetesVersion: '1.35' });

    const { status, body } = await h.cmd('alice', 'scale', 'search-svc', 'replicas=6', 'nodes=2..8', 'black', 'friday', 'traffic');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      kind: 'deploy_queued',
      deploy: { kind: 'scale', strategy: 'rolling', replicas: 6, minNodes: 2, maxNodes: 8, reason: 'black friday traffic', version: 'v1' },
      scale: { from: { replicas: 3, minNodes: 3, maxNodes: 12 }, to: { replicas: 6, minNodes: 2, maxNodes: 8 }, undo: 'scale search-svc replicas=3 nodes=3..12' },
    });
    expect(body.message).toContain('replicas=3 nodes=3..12 → replicas=6 nodes=2..8');
    expect(body.message).toContain('Was replicas=3 nodes=3..12; to undo: `scale search-svc replicas=3 nodes=3..12`');
    expect(body.message).toMatch(/The next blue\/green deploy, rollback, refresh or upgrade builds its cluster from the KubeApp again \(replicas=3 nodes=3\.\.12\); a rolling update keeps this scale\. To make it permanent, set pods\.replicas and hardware\.minNodes\/maxNodes in search-svc's KubeApp\./);
    const id = idOf(body);
    await clock.runUntil(() => ended(h, id));
    const d = h.k.core.view(id);
    expect(d.state).toBe('succeeded');
    expect(d.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['scale:succeeded']);
    expect(workload(h, env.name).replicas).toBe(6);
    expect(h.k.store.sandbox.get<{ maxNodes: number }>('cluster', env.name)!.maxNodes).toBe(8);
    expect(live(h, 'search-svc')).toMatchObject({ id: env.id, replicas: 6, minNodes: 2, maxNodes: 8, scaledBy: id });

    // Recorded with who and why; the thread's events say what changed; the undo entry was kept.
    expect(lastCommand(h)).toMatchObject({ actor: 'alice', verb: 'scale', app: 'search-svc', outcome: 'accepted', deployId: id });
    const events = h.k.store.events.after(id, 0, 100).map((e) => e.message);
    expect(events[0]).toBe('scale of search-svc on search-svc-1: replicas=3 nodes=3..12 → replicas=6 nodes=2..8 (Auto Mode keeps no minimum: only the maximum applies), requested by alice via cli: “black friday traffic”');
    expect(events).toContain('succeeded: search-svc is scaled on search-svc-1');
    expect(h.k.store.undo.forDeploy(id).map((u) => `${u.kind}:${u.state}`)).toEqual(['scale:kept']);

    const history = (await h.cmd('alice', 'history', 'search-svc')).body as unknown as { deploys: { id: number; kind: string }[] };
    expect(history.deploys[0]).toMatchObject({ id, kind: 'scale' });
    const st = (await h.cmd('alice', 'status', 'search-svc')).body as unknown as { apps: { live: { deployId: number }; scaled: unknown }[] };
    // The live deploy is still the one that deployed v1: a scale deploys no version.
    expect(st.apps[0]!.live.deployId).toBe(1);
    expect(st.apps[0]!.scaled).toEqual({ now: { replicas: 6, minNodes: 2, maxNodes: 8 }, declared: { replicas: 3, minNodes: 3, maxNodes: 12 }, deployId: id, by: 'alice', reason: 'black friday traffic' });
  }, 30_000);

  it('beyond the limits, by a deployer, by a stranger, on Fargate, while locked: refused at the door and recorded, nothing queued', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    await blueGreen(h, clock, 'cache-worker', 'w1', 'erin', 'bob');
    const before = h.k.store.deploys.active().length;

    const tooMany = await h.cmd('alice', 'scale', 'search-svc', 'replicas=31');
    expect(tooMany.status).toBe(403);
    expect(tooMany.body).toMatchObject({ status: 'refused', code: 'beyond_limits', exitCode: 3 });
    expect(tooMany.body.message).toBe(
      "Scale of search-svc refused — search-svc: replicas=31 is beyond its limit of 30 (10 × the KubeApp's pods.replicas 3); to go further, raise pods.replicas in its KubeApp and deploy.",
    );
    expect(lastCommand(h)).toMatchObject({ actor: 'alice', verb: 'scale', outcome: 'refused', message: tooMany.body.message });

    const nodes = await h.cmd('alice', 'scale', 'search-svc', 'nodes=2..13');
    expect(nodes.body).toMatchObject({ status: 'refused', code: 'beyond_limits' });
    expect(nodes.body.message).toContain('at most 12 nodes (hardware.maxNodes in its KubeApp)');
    expect((await h.cmd('alice', 'scale', 'search-svc', 'nodes=5..3')).body.message).toContain('has its minimum above its maximum');
    expect((await h.cmd('alice', 'scale', 'search-svc', 'replicas=0')).body.message).toContain('is below 1');

    const deployer = await h.cmd('carol', 'scale', 'search-svc', 'replicas=4');
    expect(deployer.status).toBe(403);
    expect(deployer.body).toMatchObject({ code: 'forbidden' });
    expect(deployer.body.message).toBe(
      "carol may not scale search-svc: scaling and restarting it need an owner (alice, U0ALICE01); its KubeApp's operators: 'owners-and-deployers' would let its deployers too.",
    );
    expect(lastCommand(h)).toMatchObject({ actor: 'carol', verb: 'scale', outcome: 'refused' });
    const stranger = await h.cmd('mallory', 'scale', 'search-svc', 'replicas=4');
    expect(stranger.body).toMatchObject({ status: 'refused', code: 'forbidden' });
    expect(lastCommand(h)).toMatchObject({ actor: 'mallory', verb: 'scale', app: 'search-svc', outcome: 'refused' });
    expect((await h.cmd('mallory', 'restart', 'search-svc')).body).toMatchObject({ code: 'forbidden' });

    const fargate = await h.cmd('erin', 'scale', 'cache-worker', 'nodes=1..3');
    expect(fargate.body).toMatchObject({ status: 'invalid', code: 'not_supported', exitCode: 2 });
    expect(fargate.body.message).toContain('cache-worker runs on Fargate: it has no nodes to scale');

    expect((await h.cmd('alice', 'lock', 'search-svc', 'incident', '7')).status).toBe(200);
    const locked = await h.cmd('alice', 'scale', 'search-svc', 'replicas=4');
    expect(locked.body).toMatchObject({ status: 'conflict', code: 'locked', exitCode: 5 });
    expect(locked.body.message).toMatch(/^search-svc is locked by alice \(“incident 7”\)/);
    // A dry run while locked says so, and touches nothing.
    const plan = await h.cmd('alice', 'scale', 'search-svc', 'replicas=4', '--dry-run');
    expect(plan.body).toMatchObject({ kind: 'plan', plan: { operation: 'scale', change: ['[sandbox] deployment search-svc on search-svc-1: 3 → 4 replicas (the scale subresource), until they are available'] } });
    expect((plan.body as unknown as { plan: { warnings: string[]; notes: string[] } }).plan.warnings).toEqual(['search-svc is locked by alice: incident 7']);
    expect((plan.body as unknown as { plan: { notes: string[] } }).plan.notes[0]).toBe('now replicas=3 nodes=3..12; to undo: `scale search-svc replicas=3`');

    expect(h.k.store.deploys.active().length).toBe(before);
    expect(workload(h, live(h, 'search-svc').name).replicas).toBe(3);

    // Malformed settings are the parser's.
    expect((await h.cmd('alice', 'scale', 'search-svc')).body).toMatchObject({ code: 'missing_argument', message: expect.stringContaining('`scale` needs `replicas=N` and/or `nodes=MIN..MAX`') });
    expect((await h.cmd('alice', 'scale', 'search-svc', 'nodes=3')).body).toMatchObject({ code: 'bad_argument' });
  }, 30_000);

  it("a KubeApp's operators: 'owners-and-deployers' lets its deployers scale", async () => {
    const clock = new ManualClock();
    const h = await start(clock, apps({ 'web-frontend': (a) => ({ ...a, operators: 'owners-and-deployers' }) }));
    await blueGreen(h, clock, 'web-frontend', 'v1', 'carol', 'dave');
    const { status, body } = await h.cmd('carol', 'scale', 'web-frontend', 'nodes=3..6', 'replicas=8');
    expect(status).toBe(200);
    const id = idOf(body);
    await clock.runUntil(() => ended(h, id));
    expect(state(h, id)).toBe('succeeded');
    const cluster = live(h, 'web-frontend').name;
    // A node group: EKS's rule, the desired size kept inside the new bounds (it was 2, the minimum is now 3).
    expect(h.k.store.sandbox.get('capacity', `${cluster}-nodes`)).toMatchObject({ minNodes: 3, maxNodes: 6, desiredNodes: 3 });
    expect(workload(h, cluster).replicas).toBe(8);
  }, 30_000);

  it('waits in the app line behind a deploy (one change per app at a time), then runs on what that deploy made live', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const second = await deploy(h, 'carol', 'search-svc', 'v2');
    const { body } = await h.cmd('alice', 'scale', 'search-svc', 'replicas=5');
    expect(body).toMatchObject({ position: { position: 1, ahead: [second] } });
    expect(body.message).toContain(`1 ahead of it in search-svc's line (#${second})`);
    const id = idOf(body);
    await clock.runUntil(() => state(h, second) === 'awaiting_approval');
    expect(state(h, id)).toBe('queued');
    expect((await h.cmd('bob', 'approve', String(second))).status).toBe(200);
    await clock.runUntil(() => ended(h, second) && ended(h, id));
    expect(state(h, id)).toBe('succeeded');
    expect(h.k.core.view(id).toCluster).toBe(`search-svc-${second}`);
    expect(workload(h, `search-svc-${second}`).replicas).toBe(5);
  }, 30_000);
});

describe('a deploy after a scale', () => {
  it('says it resets the scale (answer and thread), and the new cluster runs the KubeApp’s values', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const scaled = idOf((await h.cmd('alice', 'scale', 'search-svc', 'replicas=7')).body);
    await clock.runUntil(() => ended(h, scaled));
    expect(state(h, scaled)).toBe('succeeded');

    const answer = (await h.cmd('carol', 'deploy', 'search-svc', 'v2')).body;
    expect(answer.message).toContain(`It resets the scale of search-svc: search-svc-1 runs replicas=7 nodes=3..12 (scale #${scaled}); the new cluster gets the KubeApp's replicas=3 nodes=3..12.`);
    const id = idOf(answer);
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    const warning = h.k.store.events.after(id, 0, 100).find((e) => e.level === 'warn')!;
    expect(warning.message).toBe(`this deploy resets the scale of search-svc: search-svc-1 runs replicas=7 nodes=3..12 (scale #${scaled}); search-svc-${id} gets the KubeApp's replicas=3 nodes=3..12`);
    expect((await h.cmd('bob', 'approve', String(id))).status).toBe(200);
    await clock.runUntil(() => ended(h, id));
    expect(live(h, 'search-svc')).toMatchObject({ name: `search-svc-${id}`, replicas: 3, scaledBy: null });
    expect(workload(h, `search-svc-${id}`).replicas).toBe(3);
    const st = (await h.cmd('alice', 'status', 'search-svc')).body as unknown as { apps: { scaled: unknown }[] };
    expect(st.apps[0]!.scaled).toBeNull();

    // A rolling update keeps a scale, and says so.
    const again = idOf((await h.cmd('alice', 'scale', 'search-svc', 'replicas=4')).body);
    await clock.runUntil(() => ended(h, again));
    const rolling = (await h.cmd('carol', 'deploy', 'search-svc', 'v3', '--strategy', 'rolling')).body;
    expect(rolling.message).toContain(`The rolling update keeps the scale of search-svc-${id} (replicas=4 nodes=3..12, scale #${again}).`);
  }, 30_000);
});

describe('restart', () => {
  it('a rolling restart of the live pods: the template annotation changes, every pod rolls', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const cluster = live(h, 'search-svc').name;
    const plan = (await h.cmd('alice', 'restart', 'search-svc', '--dry-run')).body as unknown as { plan: { operation: string; change: string[]; notes: string[] } };
    expect(plan.plan).toMatchObject({
      operation: 'restart',
      change: ["[sandbox] deployment search-svc on search-svc-1: a rolling restart of its 3 pods (the pod template's kubectl.kubernetes.io/restartedAt), waited for like a rolling update"],
      notes: ['if the rollout fails, the pod template is put back as it was and its pods roll back to it'],
    });
    expect(workload(h, cluster).restartedAt).toBeNull();
    const { body } = await h.cmd('alice', 'restart', 'search-svc', 'stuck', 'connections');
    expect(body.message).toMatch(/^Restart #\d+ of search-svc queued on sandbox \(simulated infrastructure\): a rolling restart of its 3 pods on search-svc-1/);
    const id = idOf(body);
    await clock.runUntil(() => ended(h, id));
    expect(h.k.core.view(id)).toMatchObject({ state: 'succeeded', kind: 'restart', reason: 'stuck connections' });
    expect(workload(h, cluster)).toMatchObject({ replicas: 3, restartedAt: '2026-11-30T09:' + workload(h, cluster).restartedAt!.slice(14) });
    expect(workload(h, cluster).restartedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(h.k.store.events.after(id, 0, 100).map((e) => e.message)).toContain('succeeded: every pod of search-svc on search-svc-1 was restarted');
  }, 30_000);

  it('a restart whose rollout fails is undone: the pod template goes back as it was, and the failure says why', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const cluster = live(h, 'search-svc').name;
    h.k.store.sandbox.addFault({ step: 'deploy', fault: 'unhealthy', app: 'search-svc' });
    const id = idOf((await h.cmd('alice', 'restart', 'search-svc')).body);
    await clock.runUntil(() => ended(h, id));
    const d = h.k.core.view(id);
    expect(d).toMatchObject({ state: 'failed', cleanup: 'done' });
    expect(d.error).toMatch(/ProgressDeadlineExceeded: rollout of search-svc did not become healthy/);
    expect(d.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['restart:failed', 'cleanup:succeeded']);
    // Put back: no restartedAt, as before the restart; the undo is recorded as done.
    expect(workload(h, cluster).restartedAt).toBeNull();
    expect(h.k.store.undo.forDeploy(id).map((u) => `${u.kind}:${u.state}`)).toEqual(['restart:done']);
    expect(h.k.store.events.after(id, 0, 200).map((e) => e.message)).toContain('undone: pod template of search-svc-1 back as it was; its pods rolled back to it');
    // The app is still live and can be restarted again.
    const again = idOf((await h.cmd('alice', 'restart', 'search-svc')).body);
    await clock.runUntil(() => ended(h, again));
    expect(state(h, again)).toBe('succeeded');
  }, 30_000);

  it('a scale whose rollout fails is put back too', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const cluster = live(h, 'search-svc').name;
    h.k.store.sandbox.addFault({ step: 'deploy', fault: 'unhealthy', app: 'search-svc' });
    const id = idOf((await h.cmd('alice', 'scale', 'search-svc', 'replicas=9', 'nodes=3..10')).body);
    await clock.runUntil(() => ended(h, id));
    expect(h.k.core.view(id)).toMatchObject({ state: 'failed', cleanup: 'done' });
    expect(workload(h, cluster).replicas).toBe(3);
    expect(h.k.store.sandbox.get<{ maxNodes: number }>('cluster', cluster)!.maxNodes).toBe(12);
    expect(live(h, 'search-svc')).toMatchObject({ replicas: 3, maxNodes: 12, scaledBy: null });
  }, 30_000);
});

describe('upgrade', () => {
  const pinned = (): KubeApp[] => apps({ 'search-svc': (a) => withAws(a, { kubernetesVersion: '1.34' }) });

  it('status warns 60 days before the end of standard support; an upgrade goes through approval and cutover onto the newest version, the old cluster torn down', async () => {
    const clock = new ManualClock();
    const h = await start(clock, pinned());
    await blueGreen(h, clock, 'search-svc', 'v1');
    expect(live(h, 'search-svc').kubernetesVersion).toBe('1.34');
    const before = (await h.cmd('alice', 'status')).body as unknown as { apps: { app: string; kubernetes: unknown }[] };
    expect(before.apps.find((a) => a.app === 'search-svc')!.kubernetes).toEqual({
      version: '1.34',
      status: 'STANDARD_SUPPORT',
      endOfStandardSupport: '2026-12-02',
      daysLeft: 3,
      warning: 'Kubernetes 1.34 leaves standard support on 2026-12-02 (in 3 days): `upgrade search-svc` to 1.35',
    });

    const plan = (await driven(clock, h.cmd('carol', 'upgrade', 'search-svc', '--dry-run'))).body as unknown as { plan: { operation: string; create: string[]; notes: string[] } };
    expect(plan.plan.operation).toBe('upgrade');
    expect(plan.plan.create[0]).toBe('[sandbox] EKS cluster search-svc-<deploy id> (Kubernetes 1.35)');
    expect(plan.plan.notes[0]).toBe('Kubernetes 1.35, in standard support until 2027-03-27; now 1.34 on search-svc-1');

    const { status, body } = await h.cmd('carol', 'upgrade', 'search-svc', 'leave', '1.34');
    expect(status).toBe(200);
    expect(body).toMatchObject({ deploy: { kind: 'upgrade', strategy: 'blue-green', version: 'v1', kubernetesVersion: '1.35', reason: 'leave 1.34' } });
    expect(body.message).toContain('v1 onto a new cluster with Kubernetes 1.35 and fresh nodes (now 1.34 on search-svc-1)');
    expect(body.message).toContain('it waits for approval by one of bob, alice, U0BOB0001 before search-svc.example.com moves, then search-svc-1 is torn down after the drain');
    expect(body.message).toContain("Note: search-svc's KubeApp pins aws.kubernetesVersion 1.34: the next deploy creates 1.34 again unless you set it to 1.35.");
    const id = idOf(body);
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    expect((await h.cmd('bob', 'approve', String(id))).status).toBe(200);
    await clock.runUntil(() => ended(h, id));
    const d = h.k.core.view(id);
    expect(d.state).toBe('succeeded');
    expect(d.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['build:succeeded', 'provision:succeeded', 'deploy:succeeded', 'approval:succeeded', 'cutover:succeeded', 'teardown:succeeded']);
    expect(live(h, 'search-svc')).toMatchObject({ name: `search-svc-${id}`, version: 'v1', kubernetesVersion: '1.35' });
    expect(h.k.store.sandbox.get('cluster', 'search-svc-1')).toBeUndefined();
    expect(h.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retired');
    const after = (await h.cmd('alice', 'status', 'search-svc')).body as unknown as { apps: { kubernetes: { version: string; warning: string | null } }[] };
    expect(after.apps[0]!.kubernetes).toMatchObject({ version: '1.35', warning: null });

    // Now a downgrade is refused at the door, naming app, field and value.
    const down = await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.34');
    expect(down.body).toMatchObject({ status: 'invalid', code: 'unsupported_version' });
    expect(down.body.message).toBe('Upgrade of search-svc refused — search-svc: --kubernetes 1.34 is older than the live cluster\'s Kubernetes 1.35: downgrades are refused; use 1.35 (the newest in standard support, until 2027-03-27).');
  }, 30_000);

  it('an upgrade to a version out of standard support, or one no provider offers, is refused at the door and recorded', async () => {
    const clock = new ManualClock();
    const h = await start(clock, pinned());
    await blueGreen(h, clock, 'search-svc', 'v1');
    const before = h.k.store.deploys.history('search-svc').length;
    const old = await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.33');
    expect(old.status).toBe(400);
    expect(old.body).toMatchObject({ status: 'invalid', code: 'unsupported_version', exitCode: 2 });
    expect(old.body.message).toBe(
      'Upgrade of search-svc refused — search-svc: --kubernetes 1.33 is out of standard support (it ended 2026-07-29; extended support until 2027-07-29); use 1.35 (the newest in standard support, until 2027-03-27).',
    );
    expect(lastCommand(h)).toMatchObject({ actor: 'carol', verb: 'upgrade', outcome: 'invalid', message: old.body.message });
    const unknown = await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.40');
    expect(unknown.body.message).toContain('search-svc: --kubernetes 1.40 is not a version the provider offers (1.32, 1.33, 1.34, 1.35)');
    expect((await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.31')).body.message).toContain('is no longer supported (its extended support ended 2026-11-26)');
    expect((await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', 'latest')).body).toMatchObject({ code: 'bad_argument' });
    expect((await h.cmd('mallory', 'upgrade', 'search-svc')).body).toMatchObject({ code: 'forbidden' });
    expect((await h.cmd('erin', 'upgrade', 'cache-worker')).body).toMatchObject({ code: 'no_live_version' });
    expect(h.k.store.deploys.history('search-svc').length).toBe(before);
  }, 30_000);
});

describe('every surface', () => {
  /** `kubecontrol ARGS` against the harness's server, in-process through the CLI's entry (runCli); it must exit 0. */
  const cli = async (h: Harness, ...args: string[]): Promise<{ stdout: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(['--url', h.url, ...args], { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    return { stdout };
  };

  it('the CLI queues a scale (its own subcommand) and shows the Kubernetes version and the scale in status; Slack says the same', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'search-svc', 'v1');
    const queued = await cli(h, 'scale', 'search-svc', 'replicas=5', 'warm', 'caches', '--detach', '--as', 'alice');
    expect(queued.stdout).toMatch(/^✓ Scale #\d+ of search-svc on search-svc-1 queued on sandbox/);
    expect(queued.stdout).toContain('to undo: `scale search-svc replicas=3`');
    const id = h.k.store.deploys.history('search-svc', 1)[0]!.id;
    await clock.runUntil(() => ended(h, id));
    const view = h.k.core.view(id);

    const status = await cli(h, 'status', 'search-svc', '--as', 'alice');
    expect(status.stdout).toMatch(/APP\s+LIVE \(DNS\)\s+CLUSTER\s+DEPLOY\s+SINCE \(UTC\)\s+KUBERNETES\n/);
    expect(status.stdout).toContain('1.35 (standard support until 2027-03-27)');
    expect(status.stdout).toContain(`search-svc: scaled to replicas=5 nodes=3..12 by alice (scale #${id}: “warm caches”); the KubeApp says replicas=3 nodes=3..12, which the next blue/green deploy brings back`);
    expect(renderSummary(view)).toMatch(new RegExp(`^✓ scale #${id} succeeded in .*: search-svc is scaled on search-svc-1\n✓ scale`));

    // Slack: the thread's card and result, the steps of a scale, status.
    expect(stepLine(view, clock.now())).toMatch(/^✓ scale /);
    const card = statusCard(view, { provider: 'sandbox', now: clock.now() });
    expect(card.text).toBe(`✅ search-svc: scale replicas=5: succeeded (deploy #${id})`);
    expect(JSON.stringify(card.blocks)).toContain('✅ *Scaled* in');
    expect(finalMessage(view, app('search-svc')).text).toMatch(new RegExp(`^✅ \\*search-svc is scaled\\* on \`search-svc-1\` — scale #${id}, .*, requested by .*: “warm caches”\\.$`));
    const answer = resultAnswer((await h.cmd('alice', 'status', 'search-svc')).body as unknown as CommandResult);
    const text = JSON.stringify(answer.blocks);
    expect(text).toContain('☸ Kubernetes 1.35 · standard support until 2027-03-27');
    expect(text).toContain('↕ scaled to `replicas=5 nodes=3..12`');
    // A refusal as each surface shows it.
    const refused = (await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.33')).body as unknown as CommandResult;
    expect(renderResult(refused)).toMatch(/^✗ Upgrade of search-svc refused — search-svc: --kubernetes 1\.33 is out of standard support/);
    expect(resultAnswer(refused).text).toMatch(/^⚠️ Upgrade of search-svc refused/);
  }, 60_000);
});

describe('help and the grammar', () => {
  it('each operation has its own verb in help', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    const help = (await h.cmd('alice', 'help')).body as unknown as { text: string };
    expect(help.text).toContain('`scale APP [replicas=N] [nodes=MIN..MAX] [reason] [--dry-run]`');
    expect(help.text).toContain('`restart APP [reason] [--dry-run]`');
    expect(help.text).toContain('`upgrade APP [reason] [--kubernetes X.Y] [--dry-run]`');
  });
});
