/**
 * The local provider (kind/minikube through the kubeconfig) with the real
 * @kubernetes/client-node against the fake API server: settings, namespaces
 * as clusters (ledger, labels, adopt, delete, gc listing, and never another
 * installation's), workloads in the deploy's namespace, the ExternalName
 * switch, the health check through the service proxy, local images, and a
 * real pipeline deploying twice.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeApp } from '../kubeapps/index.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { InfraError } from '../deployer/errors.js';
import { createDeployLedger } from '../deployer/ledger.js';
import {
  createLocalProvider,
  loadLocalKubeConfig,
  loadLocalSettings,
  NamespaceClusters,
  parseServiceHost,
  type LocalProviderOptions,
  type LocalSettings,
} from '../deployer/local/index.js';
import type { Provider, StepContext } from '../deployer/ports.js';
import { appImages, clusterRef, clusterSpec, dnsRecord, healthCheck, imageRef, repositorySpec, workloadSpec } from '../deployer/specs.js';
import { Store, type StepName } from '../store/index.js';
import { imageOf } from './fakes/aws-apps.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { LocalApiFront } from './fakes/local-apiserver.js';
import { startHarness } from './helpers/harness.js';

let fake: FakeKubeApiServer;
let front: LocalApiFront;
const opened: Store[] = [];
const controllers: AbortController[] = [];

beforeEach(async () => {
  // A laptop cluster has no load-balancing controller (no `loadBalancing` option): nothing ever gets a hostname.
  fake = await new FakeKubeApiServer().start();
  front = await new LocalApiFront(fake).start();
});
afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort('test over');
  await front.close();
  await fake.close();
  for (const s of opened.splice(0)) s.close();
});

const INSTALLATION = { id: 'kc0a1b2c3d' };
const OTHER = { id: 'kc99887766' };
const NO_SETTINGS: LocalSettings = { kubeconfigFiles: [] };

function provider(extra: Partial<LocalProviderOptions> = {}): Provider {
  return createLocalProvider({
    installation: INSTALLATION,
    settings: NO_SETTINGS,
    buildEnv: { PATH: process.env.PATH },
    kubeConfig: front.kubeConfig(),
    rewatchDelayMs: 5,
    healthRetry: { attempts: 2, minMs: 1, maxMs: 2 },
    ...extra,
  });
}

/** A StepContext over a real store and ledger (provider 'local'). */
function step(app: KubeApp = searchSvc, opts: { version?: string; step?: StepName } = {}): { ctx: StepContext; store: Store; lines: string[] } {
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'kc-')), 'k.db'));
  opened.push(store);
  const version = opts.version ?? '1.4.2';
  const id = store.deploys.create({ app: app.name, version, strategy: 'blue-green', requestedBy: 'tester', surface: 'cli', provider: 'local' }).id;
  const lines: string[] = [];
  const controller = new AbortController();
  controllers.push(controller);
  const ctx: StepContext = {
    deployId: id,
    app: app.name,
    version,
    step: opts.step ?? 'provision',
    progress: (m) => void lines.push(m),
    ledger: createDeployLedger(store, { id, app: app.name }, 'local'),
    signal: controller.signal,
  };
  return { ctx, store, lines };
}

const ledgerOf = (s: { store: Store; ctx: StepContext }): string[][] =>
  s.store.resources.forDeploy(s.ctx.deployId).map((r) => [r.provider, r.kind, r.name, r.state]);

const labelsOf = (name: string): Record<string, string> | undefined => fake.get('namespaces', undefined, name)?.metadata.labels;

describe('createLocalProvider', () => {
  it('names the kubeconfig context and has laptop-sized limits', () => {
    const p = provider();
    expect(p.name).toBe('local');
    expect(p.label).toBe('local (kubeconfig context kind-kubecontrol)');
    expect(p.timeouts).toEqual({ build: 1_800_000, provision: 300_000, deploy: 600_000, cutover: 300_000, teardown: 600_000 });
    expect(p.drainMs({ record: dnsRecord(searchSvc) })).toBe(10_000);
  });

  it.each([
    ['kind-dev', undefined, 'ok'],
    ['minikube', undefined, 'ok'],
    ['arn:aws:eks:eu-west-1:123456789012:cluster/prod', undefined, /current kubeconfig context is arn:aws:eks.*KUBECONTROL_LOCAL_CONTEXT=/],
    ['arn:aws:eks:eu-west-1:123456789012:cluster/prod', 'arn:aws:eks:eu-west-1:123456789012:cluster/prod', 'ok'],
    ['kind-dev', 'staging', /no context staging in the kubeconfig/],
  ] as const)('with current context %s and context setting %s: %s', (current, context, outcome) => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: current, context: { cluster: 'c', user: 'u' } }],
        'current-context': current,
      }),
    );
    const files = [join(dir, 'missing'), file];
    if (outcome === 'ok') expect(loadLocalKubeConfig({ files, context }).getCurrentContext()).toBe(context ?? current);
    else {
      expect(() => loadLocalKubeConfig({ files, context })).toThrow(outcome);
      expect(() => loadLocalKubeConfig({ files, context })).toThrow(expect.objectContaining({ code: 'misconfigured' }));
    }
  });

  it('says where it looked when there is no kubeconfig at all', () => {
    expect(() => loadLocalKubeConfig({ files: ['/nonexistent/.kube/config'] })).toThrow(
      new InfraError(
        'misconfigured',
        'KUBECONTROL_PROVIDER=local needs a kubeconfig with a context: start a cluster (`kind create cluster`, `minikube start`) or set KUBECONFIG (looked in: /nonexistent/.kube/config)',
      ),
    );
  });

  it('merges KUBECONFIG files as kubectl does: the first to name a context wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const write = (name: string, server: string, current: string): string => {
      const file = join(dir, name);
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'kind-dev', cluster: { server } }],
          users: [{ name: 'kind-dev', user: { token: 't' } }],
          contexts: [{ name: 'kind-dev', context: { cluster: 'kind-dev', user: 'kind-dev' } }],
          'current-context': current,
        }),
      );
      return file;
    };
    const kc = loadLocalKubeConfig({ files: [write('a', 'https://127.0.0.1:1111', 'kind-dev'), write('b', 'https://127.0.0.1:2222', 'other')] });
    expect([kc.getCurrentContext(), kc.getCurrentCluster()?.server]).toEqual(['kind-dev', 'https://127.0.0.1:1111']);
  });

  it('refuses an installation id that cannot be a label value', () => {
    expect(() => provider({ installation: { id: 'Not OK!' } })).toThrow(expect.objectContaining({ code: 'misconfigured', message: expect.stringContaining('got: "Not OK!"') }));
  });
});

describe('loadLocalSettings', () => {
  it('reads nothing it is not given, and defaults the kubeconfig to $HOME/.kube/config', () => {
    expect(loadLocalSettings({})).toEqual({ ok: true, settings: { kubeconfigFiles: [] } });
    expect(loadLocalSettings({ HOME: '/home/carol' })).toEqual({ ok: true, settings: { kubeconfigFiles: ['/home/carol/.kube/config'] } });
  });

  it('reads every setting, and empty values count as unset', () => {
    expect(
      loadLocalSettings({
        KUBECONFIG: '/a/config:/b/config',
        HOME: '/home/carol',
        KUBECONTROL_LOCAL_CONTEXT: 'arn:aws:eks:eu-west-1:123456789012:cluster/dev',
        KUBECONTROL_LOCAL_REGISTRY: 'localhost:5001/',
        KUBECONTROL_LOCAL_BUILD_COMMAND: 'make  image IMAGE={image}',
      }),
    ).toEqual({
      ok: true,
      settings: {
        kubeconfigFiles: ['/a/config', '/b/config'],
        context: 'arn:aws:eks:eu-west-1:123456789012:cluster/dev',
        registryPrefix: 'localhost:5001',
        buildCommand: ['make', 'image', 'IMAGE={image}'],
      },
    });
    expect(loadLocalSettings({ KUBECONTROL_LOCAL_CONTEXT: '', KUBECONTROL_LOCAL_REGISTRY: '', KUBECONTROL_LOCAL_BUILD_COMMAND: '' })).toEqual({ ok: true, settings: { kubeconfigFiles: [] } });
  });

  it.each([
    ['KUBECONTROL_LOCAL_CONTEXT', ' kind-dev', 'KUBECONTROL_LOCAL_CONTEXT: must be a kubeconfig context name, without surrounding blanks or control characters (got: " kind-dev")'],
    ['KUBECONTROL_LOCAL_REGISTRY', 'http://localhost:5001', 'KUBECONTROL_LOCAL_REGISTRY: must be a registry host without a scheme, like localhost:5001 (drop the http:// or https://) (got: "http://localhost:5001")'],
    ['KUBECONTROL_LOCAL_REGISTRY', 'localhost:5001/Team', 'KUBECONTROL_LOCAL_REGISTRY: must be host[:port][/path] in lowercase, like localhost:5001 or registry.example.com/team (got: "localhost:5001/Team")'],
    ['KUBECONTROL_LOCAL_REGISTRY', 'localhost:99999', 'KUBECONTROL_LOCAL_REGISTRY: has a port above 65535 (got: "localhost:99999")'],
    ['KUBECONTROL_LOCAL_BUILD_COMMAND', '   ', 'KUBECONTROL_LOCAL_BUILD_COMMAND: is blank; unset it or give a command (got: "   ")'],
    [
      'KUBECONTROL_LOCAL_BUILD_COMMAND',
      'sh -c "docker build -t {image} ."',
      `KUBECONTROL_LOCAL_BUILD_COMMAND: is split on spaces and understands no quotes or backslashes; put a command that needs them in a script, or in the app's aws.buildCommand (got: "sh -c \\"docker build -t {image} .\\"")`,
    ],
  ])('%s=%j is one clear problem', (name, value, problem) => {
    expect(loadLocalSettings({ [name]: value })).toEqual({ ok: false, problems: [problem] });
  });

  it('reports every malformed value at once', () => {
    const r = loadLocalSettings({ KUBECONTROL_LOCAL_REGISTRY: 'https://r', KUBECONTROL_LOCAL_BUILD_COMMAND: "make 'x'" });
    expect(r.ok ? [] : r.problems.map((p) => p.split(':')[0])).toEqual(['KUBECONTROL_LOCAL_REGISTRY', 'KUBECONTROL_LOCAL_BUILD_COMMAND']);
  });
});

describe('NamespaceClusters', () => {
  it('records the namespace in the ledger, then creates it with kubecontrol labels', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const info = await provider().clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) });

    expect(info).toEqual({ name, status: 'Active', endpoint: front.url });
    expect(labelsOf(name)).toEqual({
      'app.kubernetes.io/managed-by': 'kubecontrol',
      'kubecontrol/installation': INSTALLATION.id,
      'kubecontrol/app': 'search-svc',
      'kubecontrol/deploy': String(s.ctx.deployId),
    });
    expect(ledgerOf(s)).toEqual([['local', 'namespace', name, 'created']]);
    // intent is recorded before the namespace is applied
    const events = s.store.events.last(s.ctx.deployId, 10).map((e) => e.message);
    expect(events.indexOf(`namespace ${name}: intent`)).toBeGreaterThanOrEqual(0);
    // Created (a create fails on an existing namespace, so nothing is taken over by a race).
    const create = fake.requests.find((r) => r.method === 'POST' && r.path === '/api/v1/namespaces')!;
    expect(create.query.get('fieldManager')).toBe('kubecontrol-local');
    expect(s.lines).toEqual([`created namespace ${name} on context kind-kubecontrol`]);
  });

  it('adopts its namespace when a resumed step provisions again', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) });
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) });
    expect(ledgerOf(s)).toEqual([['local', 'namespace', name, 'created']]);
    expect(s.lines[1]).toBe(`adopted namespace ${name} on context kind-kubecontrol`);
    await expect(p.clusters.describe({ cluster: clusterRef(searchSvc, name) })).resolves.toMatchObject({ name, status: 'Active' });
    await expect(p.clusters.describe({ cluster: clusterRef(searchSvc, 'nope') })).resolves.toBeUndefined();
  });

  it('refuses a namespace of the same name that kubecontrol does not manage, without a ledger row', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    fake.put('namespaces', { metadata: { name, labels: { team: 'search' } } });
    await expect(provider().clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) })).rejects.toMatchObject({
      code: 'not_owned',
      message: `namespace ${name} exists but carries no kubecontrol/installation label (not created by this kubecontrol installation); not adopting it (if it is this installation's, label it kubecontrol/installation=${INSTALLATION.id})`,
    });
    expect(ledgerOf(s)).toEqual([]);
  });

  it('refuses its own namespace while it is still Terminating, without a ledger row', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const labels = { 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/installation': INSTALLATION.id, 'kubecontrol/app': 'search-svc' };
    fake.put('namespaces', { metadata: { name, labels, deletionTimestamp: new Date().toISOString() }, status: { phase: 'Terminating' } });
    await expect(provider().clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) })).rejects.toMatchObject({
      message: `namespace ${name} is still being deleted (Terminating); deploy again once it is gone`,
    });
    expect(ledgerOf(s)).toEqual([]);
  });

  it('destroys a namespace and waits until it is gone; a missing one counts as deleted', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) });
    const row = s.store.resources.forDeploy(s.ctx.deployId)[0]!;
    const lines: string[] = [];
    await p.clusters.destroy({ resource: row, progress: (m) => void lines.push(m) });
    expect(fake.get('namespaces', undefined, name)).toBeUndefined();
    expect(lines).toEqual([`deleting namespace ${name}`, `namespace ${name} deleted`]);
    await p.clusters.destroy({ resource: row, progress: (m) => void lines.push(m) });
    expect(lines[2]).toBe(`namespace ${name} is already gone`);
  });

  it('fails (rather than reporting it deleted) when a namespace stays terminating', async () => {
    fake.behaviour.namespacesStuckTerminating = true;
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const clusters = new NamespaceClusters({ kubeConfig: front.kubeConfig(), installation: INSTALLATION, rewatchDelayMs: 5, namespaceDeleteTimeoutMs: 50 });
    await clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, name) });
    const row = s.store.resources.forDeploy(s.ctx.deployId)[0]!;
    await expect(clusters.destroy({ resource: row, progress: () => {} })).rejects.toMatchObject({
      code: 'timed_out',
      message: `namespace ${name} is still terminating after 50ms (a finalizer nobody removes?)`,
    });
  });

  it('lists the deploy namespaces it manages for gc, not the routing namespace nor foreign ones', async () => {
    const p = provider();
    const a = step();
    const b = step(searchSvc);
    await p.clusters.provision({ ctx: a.ctx, cluster: clusterSpec(searchSvc, 'search-svc-7') });
    await p.clusters.provision({ ctx: { ...b.ctx, deployId: 8 }, cluster: clusterSpec(searchSvc, 'search-svc-8') });
    fake.put('namespaces', { metadata: { name: 'default' } });
    await p.dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-7.svc.cluster.local', progress: () => {} });
    const tagged = await p.clusters.listTagged({});
    expect(tagged.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { kind: 'namespace', name: 'search-svc-7', app: 'search-svc', deployId: a.ctx.deployId },
      { kind: 'namespace', name: 'search-svc-8', app: 'search-svc', deployId: 8 },
    ]);
  });
});

describe('two installations on one cluster', () => {
  /** The second installation's provider: same cluster, same routing namespace, its own id. */
  const second = (): Provider => provider({ installation: OTHER });

  it("does not adopt, delete or list the other installation's namespace of the same name", async () => {
    // Both databases number their deploys from 1: the same namespace name comes up in both.
    const mine = step();
    const theirs = step();
    const name = 'search-svc-1';
    await second().clusters.provision({ ctx: { ...theirs.ctx, deployId: 1 }, cluster: clusterSpec(searchSvc, name) });
    const before = fake.get('namespaces', undefined, name);
    const writes = fake.requests.filter((r) => r.method !== 'GET').length;

    const p = provider();
    const err = await p.clusters.provision({ ctx: { ...mine.ctx, deployId: 1 }, cluster: clusterSpec(searchSvc, name) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'not_owned', message: `namespace ${name} exists but belongs to another kubecontrol installation (${OTHER.id}); not adopting it` });
    expect(ledgerOf(mine)).toEqual([]);

    // A ledger row naming it (e.g. from before a restart) does not get it deleted either.
    const row = mine.store.resources.intend({ deployId: mine.ctx.deployId, app: 'search-svc', provider: 'local', kind: 'namespace', name, data: { namespace: name } });
    await expect(p.clusters.destroy({ resource: row, progress: () => {} })).rejects.toMatchObject({
      code: 'not_owned',
      message: `namespace ${name} exists but belongs to another kubecontrol installation (${OTHER.id}); not deleting it`,
    });
    await expect(p.clusters.listTagged({})).resolves.toEqual([]);
    await expect(second().clusters.listTagged({})).resolves.toEqual([{ kind: 'namespace', name, app: 'search-svc', deployId: 1 }]);

    // Untouched: not one write, and the gc listing asked the API server for this installation's only.
    expect(fake.requests.filter((r) => r.method !== 'GET').length).toBe(writes);
    expect(fake.get('namespaces', undefined, name)).toEqual(before);
    const list = fake.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces').map((r) => r.query.get('labelSelector'));
    expect(list[0]).toBe(`app.kubernetes.io/managed-by=kubecontrol,kubecontrol/installation=${INSTALLATION.id},kubecontrol/app`);
  });

  it("does not deploy into the other installation's namespace", async () => {
    const theirs = step(searchSvc, { step: 'deploy' });
    await second().clusters.provision({ ctx: { ...theirs.ctx, deployId: 1 }, cluster: clusterSpec(searchSvc, 'search-svc-1') });
    const mine = step(searchSvc, { step: 'deploy' });
    await expect(provider().workloads.deploy({ ctx: mine.ctx, cluster: clusterRef(searchSvc, 'search-svc-1'), workload: workloadSpec(searchSvc, mine.ctx.version) })).rejects.toMatchObject({ code: 'not_owned' });
    expect(fake.get('deployments', 'search-svc-1', 'search-svc')).toBeUndefined();
  });

  it("does not switch the other installation's routing Service, and does not call it its record", async () => {
    await second().dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-1.svc.cluster.local', progress: () => {} });
    const before = fake.get('services', 'kubecontrol', 'search-svc');
    expect(before!.metadata.labels).toMatchObject({ 'kubecontrol/installation': OTHER.id });

    const p = provider();
    await expect(p.dns.current({ record: dnsRecord(searchSvc) })).resolves.toBeUndefined();
    await expect(p.dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-2.svc.cluster.local', progress: () => {} })).rejects.toMatchObject({
      code: 'not_owned',
      message: `service kubecontrol/search-svc exists but belongs to another kubecontrol installation (${OTHER.id}); not switching it`,
    });
    expect(fake.get('services', 'kubecontrol', 'search-svc')).toEqual(before);
    await expect(second().dns.current({ record: dnsRecord(searchSvc) })).resolves.toBe('search-svc.search-svc-1.svc.cluster.local');
  });
});

describe('workloads on the local cluster', () => {
  it("applies into the deploy's namespace with a ClusterIP service and returns its in-cluster name once healthy", async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider({ settings: { ...NO_SETTINGS, registryPrefix: 'localhost:5001' } });
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, ns) });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(searchSvc, ns), workload: workloadSpec(searchSvc, s.ctx.version) });

    expect(endpoint).toBe(`search-svc.${ns}.svc.cluster.local`);
    // Provision created the namespace; the deploy adopts it (it is this installation's) and applies into it.
    expect(fake.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH').map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /api/v1/namespaces`,
      `PATCH /api/v1/namespaces/${ns}`,
      `PATCH /api/v1/namespaces/${ns}/serviceaccounts/search-svc`,
      `PATCH /apis/apps/v1/namespaces/${ns}/deployments/search-svc`,
      `PATCH /api/v1/namespaces/${ns}/services/search-svc`,
      `PATCH /apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/search-svc`,
    ]);
    for (const o of [fake.get('namespaces', undefined, ns), fake.get('deployments', ns, 'search-svc'), fake.get('services', ns, 'search-svc')]) {
      expect(o!.metadata.labels).toMatchObject({ 'kubecontrol/installation': INSTALLATION.id });
    }
    // Both field managers' labels are there: the local one's app/deploy labels survive KubeWorkloads' apply.
    expect(labelsOf(ns)).toMatchObject({ 'kubecontrol/app': 'search-svc', 'kubecontrol/deploy': String(s.ctx.deployId) });
    const svc = fake.get('services', ns, 'search-svc')!;
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
    expect(svc.metadata.annotations).toBeUndefined();
    const dep = fake.get('deployments', ns, 'search-svc')!;
    expect((dep.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image).toBe('localhost:5001/search-svc:1.4.2');
    expect(s.lines).toContain('rollout of search-svc 1.4.2 is healthy');
    // The namespace is the deploy's one ledger row (from provision), not recorded twice.
    expect(ledgerOf(s)).toEqual([['local', 'namespace', ns, 'created']]);
    // Every watch is closed once the rollout is done (the server hears of it a moment later).
    await until(() => fake.openWatches === 0);
  });

  it('fails a crash-looping rollout with the reason', async () => {
    fake.behaviour.rollout = 'crashloop';
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, ns) });
    await expect(p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(searchSvc, ns), workload: workloadSpec(searchSvc, s.ctx.version) })).rejects.toMatchObject({
      code: 'unhealthy',
      message: `rollout of search-svc did not become healthy: pod/search-svc-1-0 container api: CrashLoopBackOff (5 restarts, last exit 1 Error)`,
    });
  });

  it('updates images in place in the namespace (rolling)', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, ns) });
    await p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(searchSvc, ns), workload: workloadSpec(searchSvc, s.ctx.version) });
    const next = { ...s.ctx, version: '1.5.0' };
    await expect(p.workloads.updateImages({ ctx: next, cluster: clusterRef(searchSvc, ns), images: appImages(searchSvc, next.version) })).resolves.toEqual({ endpoint: `search-svc.${ns}.svc.cluster.local` });
    const dep = fake.get('deployments', ns, 'search-svc')!;
    expect((dep.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image).toBe('search-svc:1.5.0');
  });
});

describe('ExternalNameDns', () => {
  it('creates the routing namespace and the ExternalName, then switches it and returns the previous target', async () => {
    const p = provider();
    const lines: string[] = [];
    const progress = (m: string): void => void lines.push(m);
    await expect(p.dns.current({ record: dnsRecord(searchSvc) })).resolves.toBeUndefined();

    await expect(p.dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-1.svc.cluster.local', progress })).resolves.toEqual({ previous: undefined });
    expect(labelsOf('kubecontrol')).toEqual({ 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/role': 'routing' });
    expect(fake.get('services', 'kubecontrol', 'search-svc')!.metadata.labels).toMatchObject({ 'kubecontrol/installation': INSTALLATION.id });
    expect(fake.get('services', 'kubecontrol', 'search-svc')!.spec).toEqual({
      type: 'ExternalName',
      externalName: 'search-svc.search-svc-1.svc.cluster.local',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });

    await expect(p.dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-2.svc.cluster.local', progress })).resolves.toEqual({
      previous: 'search-svc.search-svc-1.svc.cluster.local',
    });
    await expect(p.dns.current({ record: dnsRecord(searchSvc) })).resolves.toBe('search-svc.search-svc-2.svc.cluster.local');
    await expect(p.dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-2.svc.cluster.local', progress })).resolves.toEqual({
      previous: 'search-svc.search-svc-2.svc.cluster.local',
    });
    expect(lines).toEqual([
      'pointed search-svc.kubecontrol.svc.cluster.local at search-svc.search-svc-1.svc.cluster.local (was nothing)',
      'pointed search-svc.kubecontrol.svc.cluster.local at search-svc.search-svc-2.svc.cluster.local (was search-svc.search-svc-1.svc.cluster.local)',
      'search-svc.kubecontrol.svc.cluster.local already points at search-svc.search-svc-2.svc.cluster.local',
    ]);
  });

  it('does not take over a Service of the same name that is not its ExternalName', async () => {
    fake.put('namespaces', { metadata: { name: 'kubecontrol' } });
    fake.put('services', { metadata: { name: 'search-svc', namespace: 'kubecontrol' }, spec: { type: 'ClusterIP' } });
    await expect(provider().dns.pointRecord({ record: dnsRecord(searchSvc), target: 'search-svc.search-svc-1.svc.cluster.local', progress: () => {} })).rejects.toMatchObject({
      code: 'not_owned',
      message: 'service kubecontrol/search-svc exists and is not a kubecontrol ExternalName service (type ClusterIP); delete or rename it first',
    });
  });

  it('checks health through the API server service proxy, with the kubeconfig credentials', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, ns) });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(searchSvc, ns), workload: workloadSpec(searchSvc, s.ctx.version) });
    const lines: string[] = [];
    await p.dns.checkHealth({ ...healthCheck(searchSvc), target: endpoint, progress: (m) => void lines.push(m) });
    expect(front.proxied).toEqual([{ namespace: ns, service: 'search-svc', port: '80', path: '/healthz', authorization: 'Bearer local-token' }]);
    expect(lines).toEqual([`health check GET ${endpoint}:80/healthz (via the API server's service proxy): 200`]);
  });

  it('fails the health check with the status and the cause', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, ns) });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(searchSvc, ns), workload: workloadSpec(searchSvc, s.ctx.version) });
    front.health = () => ({ status: 500, body: 'index not loaded\nstack...' });
    await expect(p.dns.checkHealth({ ...healthCheck(searchSvc), target: endpoint, progress: () => {} })).rejects.toMatchObject({
      code: 'unhealthy',
      message: `health check GET ${endpoint}:80/healthz (via the API server's service proxy) failed after 2 attempts: HTTP 500 Internal Server Error: index not loaded`,
    });
    // No ready pods behind the Service: the API server's own answer is passed on.
    front.health = undefined;
    fake.put('deployments', { ...fake.get('deployments', ns, 'search-svc')!, status: { availableReplicas: 0 } });
    await expect(p.dns.checkHealth({ ...healthCheck(searchSvc), target: endpoint, progress: () => {} })).rejects.toThrow(
      'HTTP 503 Service Unavailable: no endpoints available for service "search-svc"',
    );
    await expect(p.dns.checkHealth({ ...healthCheck(searchSvc), target: 'k8s-abc.elb.amazonaws.com', progress: () => {} })).rejects.toThrow('is not a Service of this cluster');
  });

  it.each([
    ['search-svc.search-svc-3.svc.cluster.local', { service: 'search-svc', namespace: 'search-svc-3' }],
    ['web.ns.svc', { service: 'web', namespace: 'ns' }],
    ['k8s-abc.elb.us-east-1.amazonaws.com', undefined],
  ])('parses %s', (host, parsed) => {
    expect(parseServiceHost(host)).toEqual(parsed);
  });
});

describe('local images', () => {
  const withCommand = (cmd: string[]): KubeApp => ({ ...searchSvc, aws: { ...searchSvc.aws, buildCommand: cmd, builder: 'command' } });

  it('uses the tag as it is when no build command is configured, and says the cluster must be able to load it', async () => {
    const p = provider();
    const lines: string[] = [];
    await p.registry.ensureRepository({ repository: repositorySpec(searchSvc), progress: (m) => void lines.push(m) });
    await expect(p.registry.hasImage(imageOf(searchSvc, '1.4.2'))).resolves.toBe(true);
    expect(p.registry.imageUri(imageOf(searchSvc, '1.4.2'))).toBe('search-svc:1.4.2');
    expect(lines[0]).toMatch(/^no build command for search-svc \(aws.buildCommand\): .*search-svc:<version> must be loadable by the cluster \(e\.g\. `kind load docker-image`/);
  });

  it('builds with the app build command on this host, then counts the image as present', async () => {
    const app = withCommand([process.execPath, '-e', 'console.log("built {image}")']);
    const p = provider({ settings: { ...NO_SETTINGS, registryPrefix: 'localhost:5001' } });
    const s = step(app, { step: 'build' });
    await expect(p.registry.hasImage(imageOf(app, '1.4.2'))).resolves.toBe(false);
    await p.builder.build({ ctx: s.ctx, ...imageOf(app, '1.4.2') });
    await expect(p.registry.hasImage(imageOf(app, '1.4.2'))).resolves.toBe(true);
    expect(s.lines).toContain('built localhost:5001/search-svc:1.4.2');
  });

  it('fails the build with the command output', async () => {
    const app = withCommand([process.execPath, '-e', 'console.error("no Dockerfile"); process.exit(3)']);
    const p = provider();
    const s = step(app, { step: 'build' });
    await expect(p.builder.build({ ctx: s.ctx, ...imageOf(app, '1.4.2') })).rejects.toThrow(/exited with code 3; last output:\nno Dockerfile/);
    await expect(p.builder.build({ ctx: s.ctx, ...imageOf(app, '1.4.2') })).rejects.toBeInstanceOf(InfraError);
    await expect(p.registry.hasImage(imageOf(app, '1.4.2'))).resolves.toBe(false);
  });
});

describe('the local plan', () => {
  it('plans in its own terms: a namespace per deploy, a ClusterIP service, the ExternalName switch', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const live = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(searchSvc, live) });
    await p.dns.pointRecord({ record: dnsRecord(searchSvc), target: `search-svc.${live}.svc.cluster.local`, progress: () => {} });
    const request = {
      app: 'search-svc',
      version: '1.6.0',
      image: imageRef(searchSvc, '1.6.0'),
      cluster: clusterSpec(searchSvc, 'search-svc-<deploy id>'),
      workload: workloadSpec(searchSvc, '1.6.0'),
      record: dnsRecord(searchSvc),
      live: { cluster: clusterRef(searchSvc, live), version: '1.5.0' },
    };
    const before = fake.requests.filter((r) => r.method !== 'GET').length;
    await expect(p.plan({ ...request, strategy: 'blue-green' })).resolves.toEqual({
      // No build command: the tag is used as it is.
      image: { uri: 'search-svc:1.6.0', exists: true },
      build: [],
      create: [
        'namespace search-svc-<deploy id> on context kind-kubecontrol',
        expect.stringMatching(/^deployment search-svc \(\d+ replicas: api:1\.6\.0\); pod role \S+ NOT attached \(no EKS Pod Identity on this cluster\), ClusterIP service :80→8080 in it$/),
      ],
      change: [`ExternalName service search-svc.kubecontrol.svc.cluster.local: search-svc.${live}.svc.cluster.local → search-svc.search-svc-<deploy id>.svc.cluster.local`],
      delete: [`namespace ${live} (1.5.0, Active)`],
    });
    await expect(p.plan({ ...request, strategy: 'rolling' })).resolves.toMatchObject({
      create: [],
      change: [expect.stringMatching(new RegExp(`^images of api on namespace ${live}: 1\\.5\\.0 → 1\\.6\\.0 \\(rolling, \\d+ replicas\\)$`))],
      delete: [],
    });
    // A plan reads; it writes nothing.
    expect(fake.requests.filter((r) => r.method !== 'GET').length).toBe(before);
  });
});

describe('the pipeline on the local provider', () => {
  let harnessFake: FakeKubeApiServer;
  let harnessFront: LocalApiFront;
  beforeAll(async () => {
    harnessFake = await new FakeKubeApiServer().start();
    harnessFront = await new LocalApiFront(harnessFake).start();
  });
  afterAll(async () => {
    await harnessFront.close();
    await harnessFake.close();
  });

  it('deploys twice blue/green: the ExternalName moves to the second namespace and the first one is deleted', async () => {
    let installation = '';
    const h = await startHarness(
      { provider: 'local', drainMs: 10 },
      {
        provider: (deps) => {
          installation = deps.installation;
          return createLocalProvider({
            installation: { id: deps.installation },
            settings: NO_SETTINGS,
            buildEnv: {},
            kubeConfig: harnessFront.kubeConfig(),
            rewatchDelayMs: 5,
            healthRetry: { attempts: 2, minMs: 1, maxMs: 2 },
          });
        },
        apps: [searchSvc],
      },
    );
    try {
      const first = await h.cmd('carol', 'deploy', 'search-svc', 'v1');
      expect(first.status).toBe(200);
      const id1 = (first.body as unknown as { deploy: { id: number } }).deploy.id;
      await h.waitState(id1, 'awaiting_approval');
      await h.cmd('bob', 'approve', String(id1));
      await h.waitState(id1, 'succeeded');
      const ns1 = `search-svc-${id1}`;
      expect(harnessFake.get('services', 'kubecontrol', 'search-svc')!.spec).toMatchObject({ externalName: `search-svc.${ns1}.svc.cluster.local` });

      const second = await h.cmd('carol', 'deploy', 'search-svc', 'v2');
      const id2 = (second.body as unknown as { deploy: { id: number } }).deploy.id;
      await h.waitState(id2, 'awaiting_approval');
      await h.cmd('bob', 'approve', String(id2));
      const done = await h.waitState(id2, 'succeeded');
      const ns2 = `search-svc-${id2}`;

      expect(done.state).toBe('succeeded');
      expect(harnessFake.get('services', 'kubecontrol', 'search-svc')!.spec).toMatchObject({ type: 'ExternalName', externalName: `search-svc.${ns2}.svc.cluster.local` });
      expect(harnessFake.get('namespaces', undefined, ns1)).toBeUndefined();
      expect(harnessFake.get('deployments', ns2, 'search-svc')!.metadata.annotations).toMatchObject({ 'kubecontrol/version': 'v2' });
      // The installation the composition root gave the provider is on what it created.
      expect(harnessFake.get('namespaces', undefined, ns2)!.metadata.labels).toMatchObject({ 'kubecontrol/installation': installation });
      expect(harnessFake.get('services', 'kubecontrol', 'search-svc')!.metadata.labels).toMatchObject({ 'kubecontrol/installation': installation });
      expect(h.k.store.resources.forDeploy(id1).map((r) => [r.kind, r.name, r.state])).toEqual([['namespace', ns1, 'deleted']]);
      expect(h.k.store.resources.forDeploy(id2).map((r) => [r.kind, r.name, r.state])).toEqual([['namespace', ns2, 'created']]);
      // Health was checked through the service proxy of each new namespace before the switch.
      expect(harnessFront.proxied.map((r) => r.namespace)).toEqual([ns1, ns2]);
      await h.k.deployer.idle();
      await until(() => harnessFake.openWatches === 0);

      // A version whose pods crash-loop fails at deploy; its namespace goes, traffic stays where it was.
      harnessFake.behaviour.rollout = 'crashloop';
      const third = await h.cmd('carol', 'deploy', 'search-svc', 'v3');
      const id3 = (third.body as unknown as { deploy: { id: number } }).deploy.id;
      const failed = await h.waitState(id3, 'failed');
      expect(failed.error).toMatch(/CrashLoopBackOff/);
      expect(harnessFake.get('namespaces', undefined, `search-svc-${id3}`)).toBeUndefined();
      expect(h.k.store.resources.forDeploy(id3).map((r) => r.state)).toEqual(['deleted']);
      expect(harnessFake.get('services', 'kubecontrol', 'search-svc')!.spec).toMatchObject({ externalName: `search-svc.${ns2}.svc.cluster.local` });
      expect(harnessFake.get('namespaces', undefined, ns2)).toBeDefined();
    } finally {
      harnessFake.behaviour.rollout = 'healthy';
      await h.close();
    }
  });
});

describe('KUBECONTROL_PROVIDER=local from the environment', () => {
  it('is built from the settings the environment gives (no process.env read): kubeconfig files, current context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'kind-dev', cluster: { server: front.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'kind-dev', user: { token: 't' } }],
        contexts: [{ name: 'kind-dev', context: { cluster: 'kind-dev', user: 'kind-dev' } }],
        'current-context': 'kind-dev',
      }),
    );
    const loaded = loadLocalSettings({ KUBECONFIG: file, KUBECONTROL_LOCAL_REGISTRY: 'localhost:5001' });
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const p = createLocalProvider({ installation: INSTALLATION, settings: loaded.settings, buildEnv: {} });
    expect(p.name).toBe('local');
    expect(p.label).toBe('local (kubeconfig context kind-dev)');
    expect(p.registry.imageUri(imageOf(searchSvc, 'v1'))).toBe('localhost:5001/search-svc:v1');
    await expect(p.clusters.listTagged({})).resolves.toEqual([]);
  });
});

/** Resolves once `cond` holds (the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
