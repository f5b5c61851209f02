/**
 * `gc` with what a load-balancing controller leaves and with another
 * installation's resources in the same account: the load balancer, target
 * group and security group of a cluster no environment uses are listed by
 * that cluster and deleted before it, in dependency order; whatever another
 * installation tagged is listed apart and never deleted, even under a cluster
 * name this ledger knows.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { renderGc } from '../cli/render.js';
import { ManualClock } from '../deployer/clock.js';
import type { GcReport } from '../deployer/gc.js';
import type { Provider, TaggedResource } from '../deployer/ports.js';
import { createDeployLedger } from '../deployer/ledger.js';
import { createSandboxProvider } from '../deployer/sandbox/index.js';
import { blueGreen as blueGreenOf } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => {});
});

const ELB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
const OTHER = 'inst-7f3a0c1e';

/** Tagged resources the sandbox does not simulate, as the aws provider would list them, and every delete asked for. */
interface Account {
  extra: TaggedResource[];
  deletes: string[];
  /** A delete of this resource name is refused once. */
  refuse?: string;
  /** A delete of this resource name is always refused (a namespace stuck Terminating). */
  stuck?: string;
}

function start(clock: ManualClock, account: Account): Promise<Harness> {
  return startHarness(
    { sandboxScale: 1 },
    {
      clock,
      provider: ({ store, installation }): Provider => {
        const p = createSandboxProvider(store, { scale: 1, clock, installation });
        return {
          ...p,
          clusters: {
            ...p.clusters,
            listTagged: async (cmd) => [...(await p.clusters.listTagged(cmd)), ...account.extra],
            destroy: async (cmd) => {
              const { kind, name } = cmd.resource;
              account.deletes.push(`${kind} ${name}`);
              if (account.stuck === name) throw new Error(`timed out waiting for ${kind} ${name} to be deleted: still Terminating`);
              if (account.refuse === name) {
                account.refuse = undefined;
                throw new Error(`ResourceInUse: ${kind} ${name} is in use`);
              }
              const found = account.extra.find((r) => r.kind === kind && r.name === name);
              if (found?.installation) throw new Error(`deleted another installation's ${kind} ${name}`);
              if (found) account.extra = account.extra.filter((r) => r !== found);
              else await p.clusters.destroy(cmd);
            },
          },
        };
      },
    },
  ).then((h) => (open.push(h), h));
}


const blueGreen = (h: Harness, clock: ManualClock, version: string, app = 'search-svc'): Promise<number> => blueGreenOf(h, clock, app, version);

async function gc(h: Harness, clock: ManualClock, del: boolean): Promise<GcReport> {
  let answered = false;
  const request = fetch(`${h.url}/api/gc`, { method: del ? 'POST' : 'GET', headers: { 'x-kubecontrol-user': 'alice' } }).finally(() => (answered = true));
  // Deletions wait on the (manual) clock: drive it while the request runs.
  await clock.runUntil(() => answered);
  return (await (await request).json()) as GcReport;
}

describe('gc with load balancers and another installation in the account', () => {
  it('lists and deletes what a retired cluster’s controller left; never touches another installation’s, even under a name this ledger knows', async () => {
    const clock = new ManualClock();
    const account: Account = { extra: [], deletes: [] };
    const h = await start(clock, account);
    await blueGreen(h, clock, 'v1');
    const second = await blueGreen(h, clock, 'v2');
    // search-svc-1 was torn down; its load balancer controller's resources stayed behind.
    expect(h.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retired');
    account.deletes = [];

    const mine = (kind: TaggedResource['kind'], name: string, cluster: string, deployId: number): TaggedResource => ({ kind, name, cluster, app: 'search-svc', deployId });
    account.extra = [
      mine('security-group', 'sg-0a1b2c3d4e5f60718', 'search-svc-1', 1),
      mine('target-group', `${ELB}:targetgroup/k8s-searchsv-searchsv-9f8e7d6c5b/0123456789abcdef`, 'search-svc-1', 1),
      mine('load-balancer', `${ELB}:loadbalancer/net/k8s-searchsv-searchsv-9f8e7d6c5b/fedcba9876543210`, 'search-svc-1', 1),
      // The live cluster's: in use, never listed.
      mine('load-balancer', `${ELB}:loadbalancer/net/k8s-searchsv-live/1111111111111111`, `search-svc-${second}`, second),
      // Another installation's cluster under a name this ledger knows as retired (a database restored from a copy), and its load balancer.
      { kind: 'cluster', name: 'search-svc-1', app: 'search-svc', deployId: 1, installation: OTHER },
      { kind: 'load-balancer', name: `${ELB}:loadbalancer/net/k8s-searchsv-theirs/2222222222222222`, cluster: 'search-svc-1', app: 'search-svc', deployId: 1, installation: OTHER },
    ];

    const listed = await gc(h, clock, false);
    const controller = "left by cluster search-svc-1's load balancer controller; environment search-svc-1 (built by deploy #1) was retired";
    expect(listed.orphans.map((o) => `${o.kind} ${o.name} — ${o.reason}`)).toEqual([
      `security-group sg-0a1b2c3d4e5f60718 — ${controller}`,
      `target-group ${ELB}:targetgroup/k8s-searchsv-searchsv-9f8e7d6c5b/0123456789abcdef — ${controller}`,
      `load-balancer ${ELB}:loadbalancer/net/k8s-searchsv-searchsv-9f8e7d6c5b/fedcba9876543210 — ${controller}`,
    ]);
    expect(listed.others.map((o) => `${o.kind} ${o.name} — ${o.reason}`)).toEqual([
      `cluster search-svc-1 — belongs to another kubecontrol installation (${OTHER}): not touched`,
      `load-balancer ${ELB}:loadbalancer/net/k8s-searchsv-theirs/2222222222222222 — belongs to another kubecontrol installation (${OTHER}): not touched`,
    ]);

    const collected = await gc(h, clock, true);
    // Load balancers before the target groups and security groups they use; nothing of the other installation.
    expect(account.deletes).toEqual([
      `load-balancer ${ELB}:loadbalancer/net/k8s-searchsv-searchsv-9f8e7d6c5b/fedcba9876543210`,
      `target-group ${ELB}:targetgroup/k8s-searchsv-searchsv-9f8e7d6c5b/0123456789abcdef`,
      'security-group sg-0a1b2c3d4e5f60718',
    ]);
    expect(collected.orphans.map((o) => o.outcome)).toEqual(['deleted', 'deleted', 'deleted']);
    expect(collected.others).toHaveLength(2);
    expect(account.extra.map((r) => r.installation ?? 'ours')).toEqual(['ours', OTHER, OTHER]);
    expect(h.k.store.environments.live('search-svc')!.name).toBe(`search-svc-${second}`);

    // The CLI shows another installation's resources in their own section.
    expect(renderGc(listed).split('\n')).toEqual([
      `provider: ${listed.provider}`,
      ...listed.orphans.map((o) => `· ${o.kind} ${o.name} — ${o.reason}`),
      'Run `kubecontrol gc --yes` to delete them.',
      '',
      `belongs to another kubecontrol installation (${OTHER}): not touched`,
      '  · cluster search-svc-1',
      `  · load-balancer ${ELB}:loadbalancer/net/k8s-searchsv-theirs/2222222222222222 (cluster search-svc-1)`,
    ]);
  }, 30_000);

  it('deletes a retiring cluster’s capacity, then its load balancers, target groups and security groups, the cluster last', async () => {
    const clock = new ManualClock();
    const account: Account = { extra: [], deletes: [] };
    const h = await start(clock, account);
    // web-frontend runs on a managed node group; its old cluster's teardown fails and it stays, retiring, for gc.
    await blueGreen(h, clock, 'v1', 'web-frontend');
    h.k.store.sandbox.addFault({ step: 'teardown', fault: 'fail', app: 'web-frontend', times: 6 });
    await blueGreen(h, clock, 'v2', 'web-frontend');
    expect(h.k.store.environments.byName('sandbox', 'web-frontend-1')!.state).toBe('retiring');
    account.deletes = [];
    const lb = (kind: TaggedResource['kind'], name: string): TaggedResource => ({ kind, name, cluster: 'web-frontend-1', app: 'web-frontend', deployId: 1 });
    account.extra = [lb('security-group', 'sg-0fedcba987654321'), lb('target-group', `${ELB}:targetgroup/k8s-webfront/aaaa`), lb('load-balancer', `${ELB}:loadbalancer/net/k8s-webfront/bbbb`)];

    const collected = await gc(h, clock, true);
    expect(account.deletes).toEqual([
      'nodegroup web-frontend-1-nodes',
      `load-balancer ${ELB}:loadbalancer/net/k8s-webfront/bbbb`,
      `target-group ${ELB}:targetgroup/k8s-webfront/aaaa`,
      'security-group sg-0fedcba987654321',
      'cluster web-frontend-1',
    ]);
    expect(collected.orphans.every((o) => o.outcome === 'deleted')).toBe(true);
    expect(h.k.store.sandbox.get('cluster', 'web-frontend-1')).toBeUndefined();
    expect(h.k.store.environments.byName('sandbox', 'web-frontend-1')!.state).toBe('retired');
  }, 30_000);

  it('a cluster is not deleted around a load balancer of it that could not be deleted', async () => {
    const clock = new ManualClock();
    const account: Account = { extra: [], deletes: [] };
    const h = await start(clock, account);
    await blueGreen(h, clock, 'v1');
    h.k.store.sandbox.addFault({ step: 'teardown', fault: 'fail', app: 'search-svc', times: 3 });
    await blueGreen(h, clock, 'v2');
    const stuck = `${ELB}:loadbalancer/net/k8s-stuck/3333333333333333`;
    account.extra = [{ kind: 'load-balancer', name: stuck, cluster: 'search-svc-1', app: 'search-svc', deployId: 1 }];
    account.refuse = stuck;
    const collected = await gc(h, clock, true);
    expect(collected.orphans.map((o) => `${o.kind} ${o.outcome}`)).toEqual([
      `load-balancer failed: ResourceInUse: load-balancer ${stuck} is in use`,
      `cluster failed: not deleted: load-balancer ${stuck} of it could not be deleted first`,
    ]);
    expect(h.k.store.sandbox.get('cluster', 'search-svc-1')).toBeDefined();
  }, 30_000);
});

describe('a teardown whose namespace will not go', () => {
  it('keeps the cluster (its load balancer would be orphaned) and says why; nothing else of the environment is deleted around it', async () => {
    const clock = new ManualClock();
    const account: Account = { extra: [], deletes: [] };
    const h = await start(clock, account);
    await blueGreen(h, clock, 'v1');
    // The app's namespace on search-svc-1, in the ledger as the aws provider records it (its Service holds the NLB).
    const env = h.k.store.environments.byName('sandbox', 'search-svc-1')!;
    const ledger = createDeployLedger(h.k.store, { id: 1, app: 'search-svc', envId: env.id }, 'sandbox');
    const ns = ledger.intend({ kind: 'namespace', name: 'search-svc-1/search-svc', data: { cluster: 'search-svc-1', namespace: 'search-svc' } });
    ledger.created(ns.id);
    account.stuck = 'search-svc-1/search-svc';

    await blueGreen(h, clock, 'v2');
    // The namespace was tried (and retried); the cluster under it never was.
    expect(account.deletes.filter((d) => d.includes('search-svc-1'))).toEqual(account.deletes.filter((d) => d === 'namespace search-svc-1/search-svc'));
    expect(h.k.store.sandbox.get('cluster', 'search-svc-1')).toBeDefined();
    const rows = h.k.store.resources.forEnv(env.id).map((r) => `${r.kind} ${r.name}: ${r.state} ${r.error ?? ''}`.trim());
    expect(rows).toEqual([
      expect.stringMatching(/^cluster search-svc-1: failed not deleted: namespace search-svc-1\/search-svc on it could not be deleted \(timed out waiting for namespace search-svc-1\/search-svc to be deleted: still Terminating\); `kubecontrol gc` deletes it once that is gone$/),
      'namespace search-svc-1/search-svc: failed timed out waiting for namespace search-svc-1/search-svc to be deleted: still Terminating',
    ]);
    expect(h.k.store.environments.get(env.id)!.state).toBe('retiring');
  }, 20_000);
});
