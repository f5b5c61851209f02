/**
 * KubeWorkloads with the real @kubernetes/client-node against a local fake
 * API server: server-side apply, rollout by watch (healthy, progress
 * deadline, CrashLoopBackOff, cancelled), the load balancer hostname, rolling
 * image updates and namespace deletion.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/cache-worker.js';
import searchSvc from '../kubeapps/search-svc.js';
import { InfraError } from '../deployer/errors.js';
import { KubeWorkloads, type KubeConfigSource, type KubeWorkloadsOptions } from '../deployer/kube/kube-workloads.js';
import type { ImageRef, PlacementOverrides } from '../deployer/ports.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const withRegistry = (app: KubeApp): KubeApp => ({ ...app, aws: { ...app.aws, ecrRegistry: REGISTRY } });
const search = withRegistry(searchSvc);
const CLUSTER = 'search-svc-42';

let fake: FakeKubeApiServer;
let steps: TestStep[];

const INSTALLATION = { id: 'inst-a1' };
const OTHER = { id: 'inst-b2' };

/** A kubeconfig for the fake with a bearer token, as the EKS source builds one. */
function kubeConfig(cluster: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: cluster, server: fake.url, skipTLSVerify: true }],
    users: [{ name: cluster, token }],
    contexts: [{ name: cluster, cluster, user: cluster }],
    currentContext: cluster,
  });
  return kc;
}

const source = (): KubeConfigSource => ({ kubeConfigFor: async (cluster) => kubeConfig(cluster, 'test-token') });
// Only imageUri is used: the ECR naming, without the AWS adapter (and its clients).
const registry = { imageUri: ({ image, placement }: { image: ImageRef; placement?: PlacementOverrides }): string => `${placement?.ecrRegistry}/${image.repository}:${image.tag}` };
const workloads = (extra: Partial<KubeWorkloadsOptions> = {}): KubeWorkloads =>
  new KubeWorkloads({ source: source(), registry, installation: INSTALLATION, rewatchDelayMs: 5, ...extra });

function step(app: KubeApp, version = '1.4.2'): TestStep {
  const s = testStep(app, { version, step: 'deploy' });
  steps.push(s);
  return s;
}

beforeEach(async () => {
  fake = await new FakeKubeApiServer().start();
  steps = [];
});
afterEach(async () => {
  for (const s of steps) s.controller.abort('test over');
  await fake.close();
  for (const s of steps) s.cleanup();
});

describe('KubeWorkloads.deploy', () => {
  it('applies namespace, deployment and service server-side and returns the load balancer hostname once healthy', async () => {
    const s = step(search);
    const { endpoint } = await workloads().deploy(s.deployTo(CLUSTER));

    expect(endpoint).toBe(fake.behaviour.loadBalancerHostname);
    // A new namespace is created (a create fails on an existing one: nothing is taken over by accident).
    expect(fake.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/api/v1/namespaces']);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual(['/apis/apps/v1/namespaces/search-svc/deployments/search-svc', '/api/v1/namespaces/search-svc/services/search-svc']);
    // Every object carries the installation.
    for (const o of [fake.get('namespaces', undefined, 'search-svc'), fake.get('deployments', 'search-svc', 'search-svc'), fake.get('services', 'search-svc', 'search-svc')]) {
      expect(o!.metadata.labels).toMatchObject({ 'kubecontrol/installation': 'inst-a1', 'app.kubernetes.io/managed-by': 'kubecontrol' });
    }
    for (const p of patches) {
      expect(p.headers['content-type']).toBe('application/apply-patch+yaml');
      expect(p.query.get('fieldManager')).toBe('kubecontrol');
      expect(p.query.get('force')).toBe('true');
    }
    const dep = fake.get('deployments', 'search-svc', 'search-svc')!;
    const containers = (dep.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
    expect(containers.map((c) => c.image)).toEqual([
      `${REGISTRY}/search-svc:1.4.2`,
      'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
      'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2',
    ]);
    // The rollout and the load balancer are followed by watches, not by polling GETs.
    const watches = fake.requests.filter((r) => r.query.get('watch') === 'true').map((r) => `${r.path}?${r.query.get('fieldSelector') ?? r.query.get('labelSelector')}`);
    expect(watches).toEqual(
      expect.arrayContaining([
        '/apis/apps/v1/namespaces/search-svc/deployments?metadata.name=search-svc',
        '/api/v1/namespaces/search-svc/services?metadata.name=search-svc',
      ]),
    );
    expect(fake.requests.filter((r) => r.method === 'GET' && r.query.get('watch') !== 'true' && r.path.includes('/deployments'))).toEqual([]);
    expect(s.lines).toContain('rollout of search-svc 1.4.2 is healthy');
    expect(s.lines).toContain(`service search-svc is reachable at ${endpoint}`);
    // The namespace is in the ledger, so teardown removes it (and its load balancer) before the cluster.
    expect(s.store.resources.forDeploy(s.ctx.deployId).map((r) => [r.kind, r.name, r.state])).toEqual([
      ['namespace', `${CLUSTER}/search-svc`, 'created'],
    ]);
  });

  it('fails with the progress deadline when the rollout never becomes healthy', async () => {
    fake.behaviour.rollout = 'deadline';
    const s = step(search);
    const err = await workloads().deploy(s.deployTo(CLUSTER)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({
      code: 'unhealthy',
      message: expect.stringMatching(/^rollout of search-svc did not become healthy: ProgressDeadlineExceeded: ReplicaSet "search-svc-1" has timed out progressing\.$/),
    });
  });

  it('names the pods in CrashLoopBackOff, without waiting for the progress deadline', async () => {
    fake.behaviour.rollout = 'crashloop';
    const s = step(search);
    const err = (await workloads().deploy(s.deployTo(CLUSTER)).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'unhealthy' });
    expect(err.message).toMatch(/^rollout of search-svc did not become healthy: /);
    expect(err.message).toContain('pod/search-svc-1-0 container api: CrashLoopBackOff (5 restarts, last exit 1 Error)');
  });

  it('adds crash-looping pods below the fast-fail threshold to the deadline error', async () => {
    fake.behaviour.rollout = 'crashloop-deadline';
    fake.behaviour.crashRestarts = 1;
    const s = step(search);
    await expect(workloads().deploy(s.deployTo(CLUSTER))).rejects.toThrow(
      /ProgressDeadlineExceeded: .*; pod\/search-svc-1-0 container api: CrashLoopBackOff \(1 restarts, last exit 1 Error\)/,
    );
  });

  it('stops watching when the step is cancelled', async () => {
    fake.behaviour.rollout = 'pending';
    const s = step(search);
    const deploying = workloads().deploy(s.deployTo(CLUSTER));
    // Cancel once the rollout is being watched.
    await until(() => fake.openWatches >= 2);
    s.controller.abort(new Error('step timed out after 20m'));
    await expect(deploying).rejects.toMatchObject({ code: 'aborted', message: expect.stringContaining('step timed out after 20m') });
    await until(() => fake.openWatches === 0);
  });

  it('watches again when the API server closes a watch', async () => {
    fake.behaviour.closeWatchesAfterInitial = true;
    const s = step(search);
    const { endpoint } = await workloads().deploy(s.deployTo(CLUSTER));
    expect(endpoint).toBe(fake.behaviour.loadBalancerHostname);
  });

  it('waits for the load balancer hostname to appear', async () => {
    const host = fake.behaviour.loadBalancerHostname!;
    fake.behaviour.loadBalancerHostname = undefined;
    const s = step(search);
    const deploying = workloads().deploy(s.deployTo(CLUSTER));
    await until(() => s.lines.some((l) => l.startsWith('waiting for the load balancer')));
    const svc = fake.get('services', 'search-svc', 'search-svc')!;
    fake.put('services', { ...svc, status: { loadBalancer: { ingress: [{ hostname: host }] } } });
    await expect(deploying).resolves.toEqual({ endpoint: host });
  });

  it('fetches credentials again once when the API server refuses them', async () => {
    let token = 'expired-token';
    const forgotten: string[] = [];
    fake.behaviour.acceptToken = (auth) => auth === 'Bearer fresh-token';
    const w = new KubeWorkloads({
      installation: INSTALLATION,
      source: {
        kubeConfigFor: async (cluster) => kubeConfig(cluster, token),
        forget: (cluster) => {
          forgotten.push(cluster);
          token = 'fresh-token';
        },
      },
      registry,
      rewatchDelayMs: 5,
    });
    const s = step(search);
    await expect(w.deploy(s.deployTo(CLUSTER))).resolves.toEqual({ endpoint: fake.behaviour.loadBalancerHostname });
    expect(forgotten).toEqual([CLUSTER]);
  });

  it('surfaces API errors with their status and message', async () => {
    fake.behaviour.acceptToken = () => false;
    const s = step(search);
    await expect(workloads().deploy(s.deployTo(CLUSTER))).rejects.toMatchObject({
      code: 'provider_failed',
      message: expect.stringMatching(/^Kubernetes read Namespace search-svc failed: HTTP 401: Unauthorized/),
    });
  });
});

describe('KubeWorkloads and the installation', () => {
  it('adopts its own namespace when a resumed step deploys again', async () => {
    const first = step(search);
    await workloads().deploy(first.deployTo(CLUSTER));
    const again = step(search);
    await expect(workloads().deploy(again.deployTo(CLUSTER))).resolves.toEqual({ endpoint: fake.behaviour.loadBalancerHostname });
    // Adopted by a conditional apply, not created twice.
    const nsWrites = fake.requests.filter((r) => /^\/api\/v1\/namespaces(\/[^/]+)?$/.test(r.path) && r.method !== 'GET');
    expect(nsWrites.map((r) => r.method)).toEqual(['POST', 'PATCH']);
    expect((nsWrites[1]!.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toBeDefined();
  });

  it.each([
    ['another installation', { 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/installation': 'inst-b2' }, 'namespace search-svc exists but belongs to another kubecontrol installation (inst-b2); not adopting it'],
    ['nobody', { 'app.kubernetes.io/managed-by': 'kubecontrol' }, 'namespace search-svc exists but carries no kubecontrol/installation label'],
  ])('does not adopt a namespace of %s: not_owned, untouched, no ledger row', async (_who, labels, message) => {
    const seeded = fake.put('namespaces', { metadata: { name: 'search-svc', labels }, status: { phase: 'Active' } });
    const s = step(search);
    const err = await workloads().deploy(s.deployTo(CLUSTER)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'not_owned', message: expect.stringContaining(message) });
    expect(fake.get('namespaces', undefined, 'search-svc')).toEqual(seeded);
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(s.store.resources.forDeploy(s.ctx.deployId)).toEqual([]);
  });

  it("does not roll another installation's deployment", async () => {
    const first = step(search);
    await new KubeWorkloads({ source: source(), registry, installation: OTHER, rewatchDelayMs: 5 }).deploy(first.deployTo(CLUSTER));
    const before = fake.get('deployments', 'search-svc', 'search-svc');
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).rejects.toMatchObject({
      code: 'not_owned',
      message: 'namespace search-svc exists but belongs to another kubecontrol installation (inst-b2); not changing it',
    });
    expect(fake.get('deployments', 'search-svc', 'search-svc')).toEqual(before);
  });

  it('says not_found when there is nothing to update', async () => {
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses an installation id that cannot be a label value, at construction', () => {
    expect(() => new KubeWorkloads({ source: source(), registry, installation: { id: 'has space' } })).toThrow(
      expect.objectContaining({ code: 'misconfigured', message: expect.stringContaining('got: "has space"') }),
    );
  });
});

describe('KubeWorkloads.updateImages', () => {
  it('patches only the app containers to the new version and waits for the new generation', async () => {
    const first = step(search, '1.4.2');
    await workloads().deploy(first.deployTo(CLUSTER));
    const before = fake.get('deployments', 'search-svc', 'search-svc')!;
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).resolves.toEqual({ endpoint: fake.behaviour.loadBalancerHostname });

    const patch = fake.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    expect(patch.headers['content-type']).toBe('application/strategic-merge-patch+json');
    expect(patch.body).toEqual({
      metadata: { labels: { 'kubecontrol/version': '1.5.0' } },
      spec: { template: { metadata: { labels: { 'kubecontrol/version': '1.5.0' } }, spec: { containers: [{ name: 'api', image: `${REGISTRY}/search-svc:1.5.0` }] } } },
    });
    const after = fake.get('deployments', 'search-svc', 'search-svc')!;
    expect(after.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    const containers = (after.spec as { template: { spec: { containers: { name: string; image: string; resources?: unknown }[] } } }).template.spec.containers;
    expect(containers.map((c) => `${c.name}=${c.image}`)).toEqual([
      `api=${REGISTRY}/search-svc:1.5.0`,
      'metrics=public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
      'logging=public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2',
    ]);
    expect(containers[0]!.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '2Gi' } });
    expect(s.lines).toContain('rollout of search-svc 1.5.0 is healthy');
  });

  it('fails the same way when the new version crashes', async () => {
    const first = step(search, '1.4.2');
    await workloads().deploy(first.deployTo(CLUSTER));
    fake.behaviour.rollout = 'crashloop';
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).rejects.toThrow(/CrashLoopBackOff/);
  });
});

describe('KubeWorkloads.deleteNamespace', () => {
  it('goes on with a warning when the namespace stays Terminating', async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await workloads().deploy(s.deployTo('cache-worker-7'));
    fake.behaviour.namespacesStuckTerminating = true;
    const lines: string[] = [];
    const w = workloads({ namespaceDeleteTimeoutMs: 30 });
    await w.deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(lines.at(-1)).toBe(
      'namespace cache-worker on cache-worker-7 is still terminating; going on without it (its load balancer may be left behind: check the AWS Load Balancer Controller)',
    );
  });

  it('deletes the namespace with its service and waits until it is gone', async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await workloads().deploy(s.deployTo('cache-worker-7'));
    const lines: string[] = [];
    await workloads().deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(fake.get('namespaces', undefined, 'cache-worker')).toBeUndefined();
    expect(fake.get('services', 'cache-worker', 'cache-worker')).toBeUndefined();
    expect(lines).toEqual(['deleting namespace cache-worker on cache-worker-7', 'namespace cache-worker deleted']);
    // Again: already gone is fine.
    await workloads().deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(lines.at(-1)).toBe('namespace cache-worker is already gone');
  });

  it("leaves another installation's namespace alone (not_owned)", async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await new KubeWorkloads({ source: source(), registry, installation: OTHER, rewatchDelayMs: 5 }).deploy(s.deployTo('cache-worker-7'));
    await expect(workloads().deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: () => {}, signal: s.controller.signal })).rejects.toMatchObject({
      code: 'not_owned',
      message: 'namespace cache-worker exists but belongs to another kubecontrol installation (inst-b2); not deleting it',
    });
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(fake.get('namespaces', undefined, 'cache-worker')!.metadata.deletionTimestamp).toBeUndefined();
  });

  it('waits for a namespace that is already Terminating instead of deleting it again', async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await workloads().deploy(s.deployTo('cache-worker-7'));
    fake.behaviour.namespacesStuckTerminating = true;
    const lines: string[] = [];
    await workloads({ namespaceDeleteTimeoutMs: 30 }).deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: (m) => void lines.push(m), signal: s.controller.signal });
    // The second teardown finds it Terminating: no second DELETE (the API server would answer 409).
    await workloads({ namespaceDeleteTimeoutMs: 30 }).deleteNamespace({ cluster: { name: 'cache-worker-7' }, namespace: app.name, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('deleting namespace'))).toHaveLength(2);
  });
});

/** Waits for a condition the fake reaches on its own (event-driven; bounded by the test timeout). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
