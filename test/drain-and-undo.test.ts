/**
 * The drain and the undo on the sandbox at real durations, driven by a
 * ManualClock (nothing sleeps): a restart mid-teardown waits only what is left
 * of the drain; a flip-back never sends traffic to an environment that fails
 * its health check; a deploy cancelled while its cluster is still CREATING is
 * cleaned up once the cloud lets it delete the cluster, or says why not.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../deployer/clock.js';
import type { FlipBackOutcome } from '../deployer/driver.js';
import { InfraError } from '../deployer/errors.js';
import type { Provider } from '../deployer/ports.js';
import { createSandboxProvider } from '../deployer/sandbox/index.js';
import { dnsRecord } from '../deployer/specs.js';
import { drainDeadline } from '../deployer/steps/teardown.js';
import type { Store } from '../store/index.js';
import { blueGreen as blueGreenOf, deploy as deployAs, ended, state } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => {});
});

type ProviderFactory = (deps: { store: Store; clock: ManualClock; installation: string }) => Provider;

async function start(clock: ManualClock, dbPath?: string, provider?: ProviderFactory): Promise<Harness> {
  const h = await startHarness(
    { sandboxScale: 1, ...(dbPath ? { dbPath } : {}) },
    { clock, ...(provider ? { provider: (deps) => provider({ ...deps, clock }) } : {}) },
  );
  open.push(h);
  return h;
}

const dnsTarget = (h: Harness): string | undefined => h.k.store.sandbox.get<{ target: string }>('dns', 'search-svc.example.com')?.target;
const messages = (h: Harness, id: number): string[] => h.k.store.events.after(id, 0, 10_000).map((e) => e.message);

const deploy = (h: Harness, version: string): Promise<number> => deployAs(h, 'carol', 'search-svc', version, '--strategy', 'blue-green');

/** A blue/green of search-svc taken to its drain (tearing_down, the drain under way). */
async function toDrain(h: Harness, clock: ManualClock, version: string): Promise<number> {
  const id = await deploy(h, version);
  await clock.runUntil(() => state(h, id) === 'awaiting_approval');
  expect((await h.cmd('bob', 'approve', String(id))).status).toBe(200);
  await clock.runUntil(() => drainDeadline(h.k.store, id) !== undefined);
  return id;
}

const blueGreen = (h: Harness, clock: ManualClock, version: string): Promise<number> => blueGreenOf(h, clock, 'search-svc', version);

describe('a restart mid-teardown', () => {
  it('waits only what is left of the drain, then tears the old cluster down', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'v1');
    const id = await toDrain(h, clock, 'v2');
    const drain = h.k.provider.drainMs({ record: dnsRecord(h.k.apps.get('search-svc')!) });
    const until = drainDeadline(h.k.store, id)!;
    expect(until - clock.now()).toBe(drain);
    // 90 s of the 120 s drain pass, then the process stops.
    await clock.advance(drain - 30_000);
    expect(state(h, id)).toBe('tearing_down');
    await h.close();

    const next = new ManualClock(clock.now());
    const again = await start(next, h.dbPath);
    await next.runUntil(() => ended(again, id));
    expect(state(again, id)).toBe('succeeded');
    expect(messages(again, id)).toContain('resumed: the drain of search-svc-1 started before the restart; waiting the 30.0s left of it');
    // The old cluster's deletion started when the first drain ended, not a whole drain after the restart.
    const firstDeletion = again.k.store.events.after(id, 0, 10_000).find((e) => e.kind === 'resource' && /search-svc-1.*: deleting/.test(e.message))!;
    expect(firstDeletion.at).toBe(until);
    expect(again.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retired');
  }, 20_000);

  it('a restart after the drain ended does not wait again', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'v1');
    const id = await toDrain(h, clock, 'v2');
    const until = drainDeadline(h.k.store, id)!;
    await h.close();

    const next = new ManualClock(until + 60_000);
    const again = await start(next, h.dbPath);
    await next.runUntil(() => ended(again, id));
    expect(messages(again, id)).toContain('resumed: the drain of search-svc-1 ended during the restart; tearing down now');
    const firstDeletion = again.k.store.events.after(id, 0, 10_000).find((e) => e.kind === 'resource' && /search-svc-1.*: deleting/.test(e.message))!;
    expect(firstDeletion.at).toBe(until + 60_000);
  }, 20_000);
});

describe('a restart mid-cutover', () => {
  it('calls pointRecord again on resume although the record already points at the new cluster (the port waits for sync there)', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'v1');
    // The DNS change is made but never gets in sync before the process stops.
    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'timeout', app: 'search-svc' });
    const id = await deploy(h, 'v2');
    await clock.runUntil(() => state(h, id) === 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    await clock.runUntil(() => messages(h, id).includes('[sandbox] search-svc.example.com change is PENDING and does not get in sync'));
    const endpoint = h.k.store.deploys.get(id)!.endpoint!;
    expect(dnsTarget(h)).toBe(endpoint);
    await h.close();

    const pointed: string[] = [];
    const next = new ManualClock(clock.now());
    const again = await start(next, h.dbPath, ({ store, clock: c, installation }) => {
      const p = createSandboxProvider(store, { scale: 1, clock: c, installation });
      return { ...p, dns: { ...p.dns, pointRecord: (cmd) => (pointed.push(cmd.target), p.dns.pointRecord(cmd)) } };
    });
    await next.runUntil(() => state(again, id) === 'tearing_down');
    expect(pointed).toEqual([endpoint]);
    expect(messages(again, id)).toContain(`resumed: search-svc.example.com already points at ${endpoint}; making sure the change is in sync`);
    expect(again.k.store.deploys.steps(id).find((s) => s.name === 'cutover')!.state).toBe('succeeded');
  }, 20_000);
});

describe('a flip-back during the drain', () => {
  const by = { actor: 'alice', surface: 'api' as const };

  it('is refused while the previous environment fails its health check, and nothing changes', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'v1');
    const id = await toDrain(h, clock, 'v2');
    const newTarget = h.k.store.deploys.get(id)!.endpoint;
    expect(dnsTarget(h)).toBe(newTarget);

    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'unhealthy', app: 'search-svc' });
    let outcome: FlipBackOutcome | undefined;
    void h.k.deployer.flipBackIfHealthy(id, by).then((o) => (outcome = o));
    await clock.runUntil(() => outcome !== undefined);
    expect(outcome).toMatchObject({ ok: false, reason: 'unhealthy' });
    expect(outcome!.ok === false && outcome!.reason === 'unhealthy' && outcome!.message).toMatch(
      /^search-svc-1 \(v1\) does not pass its health check \(\[sandbox\] HealthCheckFailed: GET http:\/\/\S+\/healthz timed out after 3 attempts\): traffic stays on search-svc-2 and nothing was changed$/,
    );
    // Everything as it was: the deploy drains on, traffic and ownership stay with the new cluster.
    expect(state(h, id)).toBe('tearing_down');
    expect(dnsTarget(h)).toBe(newTarget);
    expect(h.k.store.environments.live('search-svc')!.name).toBe('search-svc-2');
    expect(h.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retiring');
    expect(messages(h, id).some((m) => m.startsWith('rollback by alice refused: search-svc-1 (v1) does not pass its health check'))).toBe(true);

    // Healthy again: the flip-back goes through.
    let second: FlipBackOutcome | undefined;
    void h.k.deployer.flipBackIfHealthy(id, by).then((o) => (second = o));
    await clock.runUntil(() => second !== undefined);
    expect(second).toMatchObject({ ok: true });
    await clock.runUntil(() => ended(h, id));
    expect(h.k.store.deploys.get(id)).toMatchObject({ state: 'cancelled', cleanup: 'done' });
    expect(dnsTarget(h)).toBe(h.k.store.deploys.get(1)!.endpoint);
    expect(h.k.store.environments.live('search-svc')!.name).toBe('search-svc-1');
  }, 20_000);

  it('is refused as wrong_state once the drain is over and the teardown has begun', async () => {
    const clock = new ManualClock();
    const h = await start(clock);
    await blueGreen(h, clock, 'v1');
    const id = await toDrain(h, clock, 'v2');
    await clock.runUntil(() => h.k.store.resources.forEnv(h.k.store.deploys.get(id)!.fromEnvId!).some((r) => r.state === 'deleting'));
    const outcome = await h.k.deployer.flipBackIfHealthy(id, by);
    expect(outcome).toMatchObject({ ok: false, reason: 'wrong_state' });
  }, 20_000);
});

/** The sandbox, with a cluster that refuses DeleteCluster while it is CREATING (as real EKS may). */
function refusingWhileCreating(opts: { stuck?: boolean } = {}): ProviderFactory {
  return ({ store, clock, installation }) => {
    const p = createSandboxProvider(store, { scale: 1, clock, installation });
    const status = async (name: string): Promise<string | undefined> => (opts.stuck ? 'CREATING' : (await p.clusters.describe({ cluster: { name } }))?.status);
    return {
      ...p,
      clusters: {
        ...p.clusters,
        describe: async (cmd) => {
          const found = await p.clusters.describe(cmd);
          return found && opts.stuck ? { ...found, status: 'CREATING' } : found;
        },
        destroy: async (cmd) => {
          if (cmd.resource.kind === 'cluster' && (await status(cmd.resource.name)) === 'CREATING') {
            throw new InfraError('provider_failed', `ResourceInUseException: Cluster ${cmd.resource.name} is in CREATING state and cannot be deleted until it is ACTIVE`);
          }
          return p.clusters.destroy(cmd);
        },
      },
    };
  };
}

describe('a deploy cancelled while its cluster is still CREATING', () => {
  it('retries the delete on the clock until the cluster can be deleted, saying so, and leaves nothing', async () => {
    const clock = new ManualClock();
    const h = await start(clock, undefined, refusingWhileCreating());
    const id = await deploy(h, 'v1');
    await clock.runUntil(() => h.k.store.sandbox.get<{ status: string }>('cluster', `search-svc-${id}`)?.status === 'CREATING');
    const readyAt = h.k.store.sandbox.get<{ readyAt: number }>('cluster', `search-svc-${id}`)!.readyAt;
    expect((await h.cmd('carol', 'cancel', String(id))).status).toBe(200);
    await clock.runUntil(() => ended(h, id));

    expect(h.k.store.deploys.get(id)).toMatchObject({ state: 'cancelled', cleanup: 'done' });
    expect(h.k.store.sandbox.get('cluster', `search-svc-${id}`)).toBeUndefined();
    const waits = messages(h, id).filter((m) => m.startsWith(`cluster search-svc-${id} is CREATING and cannot be deleted yet (ResourceInUseException`));
    expect(waits.length).toBeGreaterThan(1);
    // No attempt was spent on a cluster that only needed time, and it went once it could.
    expect(messages(h, id).filter((m) => /attempt \d\/\d/.test(m))).toEqual([]);
    const deleted = h.k.store.events.after(id, 0, 10_000).find((e) => e.message === `cluster search-svc-${id}: deleted`)!;
    expect(deleted.at).toBeGreaterThanOrEqual(readyAt);
  }, 20_000);

  it('gives up after the provision time limit with a message saying what is left and why', async () => {
    const clock = new ManualClock();
    const h = await start(clock, undefined, refusingWhileCreating({ stuck: true }));
    const id = await deploy(h, 'v1');
    await clock.runUntil(() => h.k.store.sandbox.get<{ status: string }>('cluster', `search-svc-${id}`)?.status === 'CREATING');
    await h.cmd('carol', 'cancel', String(id));
    await clock.runUntil(() => ended(h, id));

    expect(h.k.store.deploys.get(id)).toMatchObject({ state: 'cancelled', cleanup: 'failed' });
    const undo = h.k.store.undo.forDeploy(id).find((u) => u.kind === 'resource')!;
    expect(undo.state).toBe('failed');
    expect(undo.outcome).toMatch(/^cluster search-svc-\d+ was still CREATING after 40m 00s \(ResourceInUseException: .*\); `kubecontrol gc` deletes it once it can be deleted$/);
    expect(messages(h, id)).toContain(`cleanup incomplete: 2 change(s) could not be undone; \`kubecontrol gc\` lists what is left`);
    expect(h.k.store.resources.forDeploy(id).map((r) => `${r.kind} ${r.state}`)).toEqual(['cluster failed']);
  }, 20_000);
});
