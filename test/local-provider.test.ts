/**
 * The local provider (kind/minikube through the kubeconfig) with the real
 * @kubernetes/client-node against the fake API server: namespaces as
 * clusters (ledger, labels, adopt, delete, gc listing), workloads in the
 * deploy's namespace, the ExternalName switch, the health check through the
 * service proxy, local images, and a real pipeline deploying twice.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeApp } from '../kubeapps/index.js';
import searchSvc from '../kubeapps/search-svc.js';
import { createDeployLedger } from '../deployer/ledger.js';
import { createProvider } from '../deployer/providers.js';
import { createLocalProvider, LocalKubeConfigError, loadLocalKubeConfig, NamespaceClusters, parseServiceHost } from '../deployer/local/index.js';
import type { Provider, StepContext } from '../deployer/ports.js';
import { Store, type StepName } from '../store/index.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { LocalApiFront } from './fakes/local-apiserver.js';
import { startHarness } from './helpers/harness.js';

let fake: FakeKubeApiServer;
let front: LocalApiFront;
const opened: Store[] = [];
const controllers: AbortController[] = [];

beforeEach(async () => {
  fake = await new FakeKubeApiServer().start();
  // A laptop cluster has no load balancer controller: nothing ever gets a hostname.
  fake.behaviour.loadBalancerHostname = undefined;
  front = await new LocalApiFront(fake).start();
});
afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort('test over');
  await front.close();
  await fake.close();
  for (const s of opened.splice(0)) s.close();
});

function provider(extra: Parameters<typeof createLocalProvider>[0] = {}): Provider {
  return createLocalProvider({ kubeConfig: front.kubeConfig(), rewatchDelayMs: 5, healthRetry: { attempts: 2, minMs: 1, maxMs: 2 }, env: {}, ...extra });
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
    app,
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
    expect(p.drainMs(searchSvc)).toBe(10_000);
  });

  it.each([
    ['kind-dev', undefined, 'ok'],
    ['minikube', undefined, 'ok'],
    ['arn:aws:eks:eu-west-1:123456789012:cluster/prod', undefined, /current kubeconfig context is arn:aws:eks.*KUBECONTROL_LOCAL_CONTEXT=/],
    ['arn:aws:eks:eu-west-1:123456789012:cluster/prod', 'arn:aws:eks:eu-west-1:123456789012:cluster/prod', 'ok'],
    ['kind-dev', 'staging', /no context staging in the kubeconfig/],
  ] as const)('with current context %s and KUBECONTROL_LOCAL_CONTEXT=%s: %s', (current, context, outcome) => {
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
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      if (outcome === 'ok') expect(loadLocalKubeConfig({ context }).getCurrentContext()).toBe(context ?? current);
      else expect(() => loadLocalKubeConfig({ context })).toThrow(outcome);
      if (outcome !== 'ok') expect(() => loadLocalKubeConfig({ context })).toThrow(LocalKubeConfigError);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});

describe('NamespaceClusters', () => {
  it('records the namespace in the ledger, then creates it with kubecontrol labels', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const info = await provider().clusters.provision({ ctx: s.ctx, clusterName: name });

    expect(info).toEqual({ name, status: 'Active', endpoint: front.url });
    expect(labelsOf(name)).toEqual({ 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/app': 'search-svc', 'kubecontrol/deploy': String(s.ctx.deployId) });
    expect(ledgerOf(s)).toEqual([['local', 'namespace', name, 'created']]);
    // intent is recorded before the namespace is applied
    const events = s.store.events.last(s.ctx.deployId, 10).map((e) => e.message);
    expect(events.indexOf(`namespace ${name}: intent`)).toBeGreaterThanOrEqual(0);
    const apply = fake.requests.find((r) => r.method === 'PATCH' && r.path === `/api/v1/namespaces/${name}`)!;
    expect(apply.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(apply.query.get('fieldManager')).toBe('kubecontrol-local');
    expect(s.lines).toEqual([`created namespace ${name} on context kind-kubecontrol`]);
  });

  it('adopts its namespace when a resumed step provisions again', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, clusterName: name });
    await p.clusters.provision({ ctx: s.ctx, clusterName: name });
    expect(ledgerOf(s)).toEqual([['local', 'namespace', name, 'created']]);
    expect(s.lines[1]).toBe(`adopted namespace ${name} on context kind-kubecontrol`);
    await expect(p.clusters.describe({ name, app: searchSvc })).resolves.toMatchObject({ name, status: 'Active' });
    await expect(p.clusters.describe({ name: 'nope', app: searchSvc })).resolves.toBeUndefined();
  });

  it('refuses a namespace of the same name that kubecontrol does not manage, without a ledger row', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    fake.put('namespaces', { metadata: { name, labels: { team: 'search' } } });
    await expect(provider().clusters.provision({ ctx: s.ctx, clusterName: name })).rejects.toThrow(`namespace ${name} already exists and is not managed by kubecontrol`);
    expect(ledgerOf(s)).toEqual([]);
  });

  it('destroys a namespace and waits until it is gone; a missing one counts as deleted', async () => {
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, clusterName: name });
    const row = s.store.resources.forDeploy(s.ctx.deployId)[0]!;
    const lines: string[] = [];
    await p.clusters.destroy({ resource: row, app: searchSvc, progress: (m) => void lines.push(m) });
    expect(fake.get('namespaces', undefined, name)).toBeUndefined();
    expect(lines).toEqual([`deleting namespace ${name}`, `namespace ${name} deleted`]);
    await p.clusters.destroy({ resource: row, app: searchSvc, progress: (m) => void lines.push(m) });
    expect(lines[2]).toBe(`namespace ${name} is already gone`);
  });

  it('fails (rather than reporting it deleted) when a namespace stays terminating', async () => {
    fake.behaviour.namespacesStuckTerminating = true;
    const s = step();
    const name = `search-svc-${s.ctx.deployId}`;
    const clusters = new NamespaceClusters({ kubeConfig: front.kubeConfig(), rewatchDelayMs: 5, namespaceDeleteTimeoutMs: 50 });
    await clusters.provision({ ctx: s.ctx, clusterName: name });
    const row = s.store.resources.forDeploy(s.ctx.deployId)[0]!;
    await expect(clusters.destroy({ resource: row, app: searchSvc, progress: () => {} })).rejects.toThrow(`namespace ${name} is still terminating after 50ms (a finalizer nobody removes?)`);
  });

  it('lists the deploy namespaces it manages for gc, not the routing namespace nor foreign ones', async () => {
    const p = provider();
    const a = step();
    const b = step(searchSvc);
    await p.clusters.provision({ ctx: a.ctx, clusterName: 'search-svc-7' });
    await p.clusters.provision({ ctx: { ...b.ctx, deployId: 8 }, clusterName: 'search-svc-8' });
    fake.put('namespaces', { metadata: { name: 'default' } });
    await p.dns.pointRecord({ app: searchSvc, target: 'search-svc.search-svc-7.svc.cluster.local', progress: () => {} });
    const tagged = await p.clusters.listTagged({});
    expect(tagged.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { kind: 'namespace', name: 'search-svc-7', app: 'search-svc', deployId: a.ctx.deployId },
      { kind: 'namespace', name: 'search-svc-8', app: 'search-svc', deployId: 8 },
    ]);
  });
});

describe('workloads on the local cluster', () => {
  it("applies into the deploy's namespace with a ClusterIP service and returns its in-cluster name once healthy", async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider({ registryPrefix: 'localhost:5001' });
    await p.clusters.provision({ ctx: s.ctx, clusterName: ns });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: ns });

    expect(endpoint).toBe(`search-svc.${ns}.svc.cluster.local`);
    expect(fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.path)).toEqual([
      `/api/v1/namespaces/${ns}`,
      `/api/v1/namespaces/${ns}`,
      `/apis/apps/v1/namespaces/${ns}/deployments/search-svc`,
      `/api/v1/namespaces/${ns}/services/search-svc`,
    ]);
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
    await p.clusters.provision({ ctx: s.ctx, clusterName: ns });
    await expect(p.workloads.deploy({ ctx: s.ctx, cluster: ns })).rejects.toThrow(
      `rollout of search-svc did not become healthy: pod/search-svc-1-0 container api: CrashLoopBackOff (5 restarts, last exit 1 Error)`,
    );
  });

  it('updates images in place in the namespace (rolling)', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, clusterName: ns });
    await p.workloads.deploy({ ctx: s.ctx, cluster: ns });
    const next = { ...s.ctx, version: '1.5.0' };
    await expect(p.workloads.updateImages({ ctx: next, cluster: ns })).resolves.toEqual({ endpoint: `search-svc.${ns}.svc.cluster.local` });
    const dep = fake.get('deployments', ns, 'search-svc')!;
    expect((dep.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image).toBe('search-svc:1.5.0');
  });
});

describe('ExternalNameDns', () => {
  it('creates the routing namespace and the ExternalName, then switches it and returns the previous target', async () => {
    const p = provider();
    const lines: string[] = [];
    const progress = (m: string): void => void lines.push(m);
    await expect(p.dns.current({ app: searchSvc })).resolves.toBeUndefined();

    await expect(p.dns.pointRecord({ app: searchSvc, target: 'search-svc.search-svc-1.svc.cluster.local', progress })).resolves.toEqual({ previous: undefined });
    expect(labelsOf('kubecontrol')).toEqual({ 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/role': 'routing' });
    expect(fake.get('services', 'kubecontrol', 'search-svc')!.spec).toEqual({
      type: 'ExternalName',
      externalName: 'search-svc.search-svc-1.svc.cluster.local',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });

    await expect(p.dns.pointRecord({ app: searchSvc, target: 'search-svc.search-svc-2.svc.cluster.local', progress })).resolves.toEqual({
      previous: 'search-svc.search-svc-1.svc.cluster.local',
    });
    await expect(p.dns.current({ app: searchSvc })).resolves.toBe('search-svc.search-svc-2.svc.cluster.local');
    await expect(p.dns.pointRecord({ app: searchSvc, target: 'search-svc.search-svc-2.svc.cluster.local', progress })).resolves.toEqual({
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
    await expect(provider().dns.pointRecord({ app: searchSvc, target: 'search-svc.search-svc-1.svc.cluster.local', progress: () => {} })).rejects.toThrow(
      'service kubecontrol/search-svc exists and is not a kubecontrol ExternalName service (type ClusterIP)',
    );
  });

  it('checks health through the API server service proxy, with the kubeconfig credentials', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, clusterName: ns });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: ns });
    const lines: string[] = [];
    await p.dns.checkHealth({ app: searchSvc, target: endpoint, progress: (m) => void lines.push(m) });
    expect(front.proxied).toEqual([{ namespace: ns, service: 'search-svc', port: '80', path: '/healthz', authorization: 'Bearer local-token' }]);
    expect(lines).toEqual([`health check GET ${endpoint}:80/healthz (via the API server's service proxy): 200`]);
  });

  it('fails the health check with the status and the cause', async () => {
    const s = step(searchSvc, { step: 'deploy' });
    const ns = `search-svc-${s.ctx.deployId}`;
    const p = provider();
    await p.clusters.provision({ ctx: s.ctx, clusterName: ns });
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: ns });
    front.health = () => ({ status: 500, body: 'index not loaded\nstack...' });
    await expect(p.dns.checkHealth({ app: searchSvc, target: endpoint, progress: () => {} })).rejects.toThrow(
      `health check GET ${endpoint}:80/healthz (via the API server's service proxy) failed after 2 attempts: HTTP 500 Internal Server Error: index not loaded`,
    );
    // No ready pods behind the Service: the API server's own answer is passed on.
    front.health = undefined;
    fake.put('deployments', { ...fake.get('deployments', ns, 'search-svc')!, status: { availableReplicas: 0 } });
    await expect(p.dns.checkHealth({ app: searchSvc, target: endpoint, progress: () => {} })).rejects.toThrow(
      'HTTP 503 Service Unavailable: no endpoints available for service "search-svc"',
    );
    await expect(p.dns.checkHealth({ app: searchSvc, target: 'k8s-abc.elb.amazonaws.com', progress: () => {} })).rejects.toThrow('is not a Service of this cluster');
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
    await p.registry.ensureRepository({ app: searchSvc, progress: (m) => void lines.push(m) });
    await expect(p.registry.hasImage({ app: searchSvc, tag: '1.4.2' })).resolves.toBe(true);
    expect(p.registry.imageUri({ app: searchSvc, tag: '1.4.2' })).toBe('search-svc:1.4.2');
    expect(lines[0]).toMatch(/^no build command for search-svc \(aws.buildCommand\): .*search-svc:<version> must be loadable by the cluster \(e\.g\. `kind load docker-image`/);
  });

  it('builds with the app build command on this host, then counts the image as present', async () => {
    const app = withCommand([process.execPath, '-e', 'console.log("built {image}")']);
    const p = provider({ registryPrefix: 'localhost:5001/' });
    const s = step(app, { step: 'build' });
    await expect(p.registry.hasImage({ app, tag: '1.4.2' })).resolves.toBe(false);
    await p.builder.build({ ctx: s.ctx, tag: '1.4.2' });
    await expect(p.registry.hasImage({ app, tag: '1.4.2' })).resolves.toBe(true);
    expect(s.lines).toContain('built localhost:5001/search-svc:1.4.2');
  });

  it('fails the build with the command output', async () => {
    const app = withCommand([process.execPath, '-e', 'console.error("no Dockerfile"); process.exit(3)']);
    const p = provider();
    const s = step(app, { step: 'build' });
    await expect(p.builder.build({ ctx: s.ctx, tag: '1.4.2' })).rejects.toThrow(/exited with code 3; last output:\nno Dockerfile/);
    await expect(p.registry.hasImage({ app, tag: '1.4.2' })).resolves.toBe(false);
  });
});

describe('the pipeline on the local provider', () => {
  let harnessFake: FakeKubeApiServer;
  let harnessFront: LocalApiFront;
  beforeAll(async () => {
    harnessFake = await new FakeKubeApiServer().start();
    harnessFake.behaviour.loadBalancerHostname = undefined;
    harnessFront = await new LocalApiFront(harnessFake).start();
  });
  afterAll(async () => {
    await harnessFront.close();
    await harnessFake.close();
  });

  it('deploys twice blue/green: the ExternalName moves to the second namespace and the first one is deleted', async () => {
    const p = createLocalProvider({ kubeConfig: harnessFront.kubeConfig(), env: {}, rewatchDelayMs: 5, healthRetry: { attempts: 2, minMs: 1, maxMs: 2 } });
    const h = await startHarness({ provider: 'local', drainMs: 10 }, { provider: p, apps: [searchSvc] });
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
      expect(harnessFake.get('deployments', ns2, 'search-svc')!.metadata.labels).toMatchObject({ 'kubecontrol/version': 'v2' });
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

describe('KUBECONTROL_PROVIDER=local', () => {
  it('is built by the composition root from the kubeconfig current context', async () => {
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
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    const store = Store.open(join(dir, 'k.db'));
    opened.push(store);
    try {
      const p = await createProvider({ provider: 'local', sandboxScale: 1 }, store, [searchSvc]);
      expect(p.name).toBe('local');
      expect(p.label).toBe('local (kubeconfig context kind-dev)');
      await expect(p.clusters.listTagged({})).resolves.toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});

/** Resolves once `cond` holds (the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
