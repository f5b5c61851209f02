/**
 * The fault matrix on the sandbox: every step that touches infrastructure
 * (build, provision, deploy, cutover, the teardown of the old cluster, and the
 * cleanup that undoes a failed deploy) × {throttled then succeeds, times out,
 * hard error}, injected through the API's sandbox faults. The real server at
 * real durations (scale 1: a cluster takes 12 minutes), driven by a
 * ManualClock: nothing sleeps. Each cell asserts the deploy's end state, that
 * the events name the step and why, and that nothing is left: no ledger row
 * outside a live environment, no simulated cluster, node group, workload or
 * record but the live ones.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../deployer/clock.js';
import type { DeployView } from '../../commands/results.js';
import { TERMINAL_STATES } from '../../store/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { clip, FAULTS, judged, writeMatrix, type Cell, type Fault } from './matrix.js';

const APP = 'web-frontend'; // a node group besides its cluster: two ledger rows per environment
const DEPLOYER = 'carol';
const APPROVER = 'bob';

type Step = 'build' | 'provision' | 'deploy' | 'cutover' | 'teardown' | 'cleanup';
const ROWS: readonly { step: Step; sub: string }[] = [
  { step: 'build', sub: 'the image build (CodeBuild)' },
  { step: 'provision', sub: 'EKS CreateCluster, the cluster becoming ACTIVE' },
  { step: 'deploy', sub: 'Kubernetes apply and rollout' },
  { step: 'cutover', sub: 'health check; Route 53 change and INSYNC' },
  { step: 'teardown', sub: 'deletes of the old cluster after the drain' },
  { step: 'cleanup', sub: 'deletes while undoing a deploy that failed' },
];
/** How each fault is armed on the sandbox. */
const ARMED: Readonly<Record<Fault, { fault: string; times?: number }>> = {
  throttle: { fault: 'throttle', times: 3 },
  timeout: { fault: 'timeout' },
  error: { fault: 'fail' },
};
/** What the hard error of each step says (the sandbox phrases errors as the real service would). */
const HARD: Readonly<Record<Step, RegExp>> = {
  build: /build failed: \[sandbox\] BuildFailed: step "RUN npm ci" exited with code 1/,
  provision: /provision failed: \[sandbox\] ResourceLimitExceeded/,
  deploy: /deploy failed: \[sandbox\] Forbidden/,
  cutover: /cutover failed: \[sandbox\] HealthCheckFailed: GET http:\/\/\S+\/health answered 503/,
  teardown: /deleting (cluster|nodegroup) \S+ failed \(attempt 1\/3\): \[sandbox\] ResourceInUseException/,
  cleanup: /deleting (cluster|nodegroup) \S+ failed \(attempt 1\/3\): \[sandbox\] ResourceInUseException/,
};

let h: Harness;
let clock: ManualClock;
const cells: Cell[] = [];

beforeAll(async () => {
  clock = new ManualClock();
  h = await startHarness({ sandboxScale: 1, approvalTimeoutMs: 24 * 3_600_000 }, { clock });
  // What serves before the matrix: every cell's teardown has an old cluster to delete.
  await run('baseline');
});
afterAll(async () => {
  writeMatrix('sandbox', cells);
  process.stdout.write(`fault matrix (sandbox): ${cells.filter((c) => c.ok).length} of ${cells.length} cells as expected; the table is in test-artifacts/fault-matrix.md\n`);
  await h?.close();
});

const view = (id: number): DeployView => h.k.core.view(id);
const ended = (id: number): boolean => {
  const d = h.k.store.deploys.get(id)!;
  return TERMINAL_STATES.includes(d.state) && d.cleanup !== 'pending';
};

/** Deploys `version` of APP as a blue/green, approves it when it waits, and drives the clock until it has ended. */
async function run(version: string): Promise<DeployView> {
  const res = await h.cmd(DEPLOYER, 'deploy', APP, version, '--strategy', 'blue-green');
  expect(res.status).toBe(200);
  const id = (res.body as unknown as { deploy: { id: number } }).deploy.id;
  await clock.runUntil(() => ended(id) || h.k.store.deploys.get(id)!.state === 'awaiting_approval');
  if (!ended(id)) {
    expect((await h.cmd(APPROVER, 'approve', String(id))).status).toBe(200);
    await clock.runUntil(() => ended(id));
  }
  return view(id);
}

/** Injects a fault through the API, as a person would (`kubecontrol faults add`). */
async function arm(step: string, fault: string, times?: number): Promise<void> {
  const res = await fetch(`${h.url}/api/sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kubecontrol-user': DEPLOYER },
    body: JSON.stringify({ step, fault, app: APP, ...(times ? { times } : {}) }),
  });
  expect(res.status).toBe(200);
}

/** gc through the API, driving the clock while its deletions wait on it. */
async function gc(): Promise<{ orphans: { kind: string; name: string; outcome?: string }[] }> {
  let answered = false;
  const request = fetch(`${h.url}/api/gc`, { method: 'POST', headers: { 'x-kubecontrol-user': 'alice' } }).finally(() => (answered = true));
  await clock.runUntil(() => answered);
  return (await (await request).json()) as { orphans: { kind: string; name: string; outcome?: string }[] };
}

/** What is left that should not be: ledger rows outside a live environment, simulated objects of clusters that do not serve. */
function leftovers(): string[] {
  const live = h.k.store.environments.allLive();
  const liveIds = new Set(live.map((e) => e.id));
  const liveNames = new Set(live.map((e) => e.name));
  const world = h.k.store.sandbox;
  const out = [
    ...h.k.store.resources.live().filter((r) => r.envId === null || !liveIds.has(r.envId)).map((r) => `ledger: ${r.kind} ${r.name} (${r.state})`),
    ...world.list<{ name: string }>('cluster').filter((c) => !liveNames.has(c.name)).map((c) => `sandbox: cluster ${c.name}`),
    ...world.list<{ name: string; cluster: string }>('capacity').filter((c) => !liveNames.has(c.cluster)).map((c) => `sandbox: capacity ${c.name}`),
    ...world.list<{ cluster: string }>('workload').filter((w) => !liveNames.has(w.cluster)).map((w) => `sandbox: workload on ${w.cluster}`),
  ];
  const serving = h.k.store.environments.live(APP);
  const record = world.list<{ name: string; target: string }>('dns').find((r) => r.name.startsWith(`${APP}.`));
  if (record && record.target !== serving?.endpoint) out.push(`sandbox: DNS ${record.name} → ${record.target}, not the live ${serving?.endpoint}`);
  return out;
}

/** The outcome in a few words, for the table. */
function describeOutcome(d: DeployView, extra: string[] = []): string {
  const why = d.error ? ` (${clip(d.error.replace(/^\S+ failed: /, '').replace(/\[sandbox\] /g, ''), 70)})` : '';
  const cleanup = d.cleanup === 'none' ? '' : d.cleanup === 'done' ? ', undone' : `, cleanup ${d.cleanup}`;
  return `${d.state}${why}${cleanup}${extra.length ? `; ${extra.join('; ')}` : ''}`;
}

const grid = ROWS.flatMap((r) => FAULTS.map((f) => [r.step, f, r.sub] as const));

describe('the fault matrix on the sandbox', () => {
  it.each(grid)('%s × %s', async (step, fault, sub) => {
    const cell: Cell = { provider: 'sandbox', step, sub, fault, outcome: 'did not end', ok: false };
    cells.push(cell);
    const before = h.k.store.environments.live(APP)!;
    const armed = ARMED[fault];
    if (step === 'cleanup') await arm('deploy', 'fail'); // the deploy fails, then its cleanup meets the fault
    await arm(step === 'cleanup' ? 'teardown' : step, armed.fault, armed.times);
    await judged(cell, async () => {
      const d = await run(`${step}-${fault}`);
      const events = h.k.store.events.after(d.id);
      const stepOf = step === 'cleanup' ? 'cleanup' : step;
      const said = (re: RegExp, level?: string): boolean => events.some((e) => (e.step === stepOf || (step === 'teardown' && e.kind === 'resource')) && re.test(e.message) && (!level || e.level === level));
      cell.outcome = describeOutcome(d);

      if (fault === 'throttle') {
        expect(d.state).toBe(step === 'cleanup' ? 'failed' : 'succeeded');
        expect(said(/ThrottlingException: Rate exceeded; retrying in 2s \(attempt 3\/8\)/)).toBe(true);
        cell.outcome = 'succeeded after 3 throttled attempts';
      }
      if (step === 'teardown') {
        // After the cutover, traffic is on the new cluster: the deploy succeeds whatever the old one's teardown meets.
        expect(d.state).toBe('succeeded');
        expect(h.k.store.environments.live(APP)!.name).toBe(d.toCluster);
        if (fault === 'timeout') {
          expect(d.steps.find((s) => s.name === 'teardown')).toMatchObject({ state: 'failed', detail: expect.stringMatching(/^teardown timed out after 40m 00s/) });
          expect(events.some((e) => e.level === 'error' && e.message.startsWith(`the old cluster ${before.name} was not fully torn down (teardown timed out after 40m 00s)`))).toBe(true);
          const left = leftovers();
          const collected = await gc();
          expect(collected.orphans.map((o) => o.outcome)).toEqual(collected.orphans.map(() => 'deleted'));
          cell.outcome = `succeeded; teardown timed out after 40m, ${left.filter((l) => l.startsWith('ledger')).length} resources left to gc, which deleted them`;
        } else if (fault === 'error') {
          expect(d.steps.find((s) => s.name === 'teardown')?.state).toBe('succeeded');
          expect(events.some((e) => HARD.teardown.test(e.message))).toBe(true);
          cell.outcome = 'succeeded; a delete refused once (ResourceInUseException), retried, old cluster gone';
        }
      } else if (step === 'cleanup') {
        expect(d.state).toBe('failed');
        expect(d.error).toMatch(HARD.deploy);
        expect(d.cleanup).toBe('done');
        if (fault === 'throttle') cell.outcome = 'failed (deploy), undone: the deletes went through after 3 throttled attempts';
        if (fault === 'error') {
          expect(events.some((e) => HARD.cleanup.test(e.message))).toBe(true);
          cell.outcome = 'failed (deploy), undone: a delete refused once (ResourceInUseException), retried';
        }
        if (fault === 'timeout') {
          expect(events.some((e) => e.step === 'cleanup' && /deleting (cluster|nodegroup) \S+ failed \(attempt 1\/3\): .*timed out after/.test(e.message))).toBe(true);
          cell.outcome = 'failed (deploy), undone: a delete that never answered was given up and retried';
        }
      } else if (fault !== 'throttle') {
        expect(d.state).toBe('failed');
        expect(d.cleanup).toBe('done');
        const why = fault === 'timeout' ? new RegExp(`^${step} timed out after`) : HARD[step];
        expect(d.error).toMatch(why);
        // The step's own event says it failed and why.
        expect(events.some((e) => e.kind === 'step' && e.step === step && e.level === 'error' && why.test(e.message))).toBe(true);
        expect(events.at(-1)?.message).toBe('cleanup finished: nothing left behind');
        // Traffic stayed where it was.
        expect(h.k.store.environments.live(APP)!.id).toBe(before.id);
        cell.outcome = describeOutcome(d);
        if (step === 'cutover' && fault === 'timeout') {
          expect(events.map((e) => e.message)).toContain(`${APP}.example.com points at this deploy's cluster; moving it back to ${before.endpoint} first`);
          cell.outcome += '; DNS had moved and was put back';
        }
      }
      expect(leftovers()).toEqual([]);
      // Every armed fault was used: the cell tested what it says.
      expect(h.k.store.sandbox.faults()).toEqual([]);
    });
  }, 60_000);
});
