/**
 * KubeWorkloads with the real @kubernetes/client-node against a local fake
 * API server: server-side apply, rollout by watch (healthy, progress
 * deadline, CrashLoopBackOff, cancelled), the load balancer hostname, rolling
 * image updates and namespace deletion.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { KubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/cache-worker.js';
import searchSvc from '../kubeapps/search-svc.js';
import { EcrRegistry } from '../deployer/aws/ecr-registry.js';
import { buildKubeConfig } from '../deployer/kube/eks-auth.js';
import { KubeWorkloads, type KubeConfigSource } from '../deployer/kube/kube-workloads.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const withRegistry = (app: KubeApp): KubeApp => ({ ...app, aws: { ...app.aws, ecrRegistry: REGISTRY } });
const search = withRegistry(searchSvc);
const CLUSTER = 'search-svc-42';

let fake: FakeKubeApiServer;
let steps: TestStep[];

const source = (): KubeConfigSource => ({
  kubeConfigFor: async (cluster) => buildKubeConfig({ cluster, server: fake.url, token: 'test-token' }),
});
const registry = new EcrRegistry(() => {
  throw new Error('imageUri needs no AWS call');
});
const workloads = (): KubeWorkloads => new KubeWorkloads({ source: source(), registry, rewatchDelayMs: 5 });

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
    const { endpoint } = await workloads().deploy({ ctx: s.ctx, cluster: CLUSTER });

    expect(endpoint).toBe(fake.behaviour.loadBalancerHostname);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/search-svc',
      '/apis/apps/v1/namespaces/search-svc/deployments/search-svc',
      '/api/v1/namespaces/search-svc/services/search-svc',
    ]);
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
    await expect(workloads().deploy({ ctx: s.ctx, cluster: CLUSTER })).rejects.toThrow(
      /^rollout of search-svc did not become healthy: ProgressDeadlineExceeded: ReplicaSet "search-svc-1" has timed out progressing\.$/,
    );
  });

  it('names the pods in CrashLoopBackOff, without waiting for the progress deadline', async () => {
    fake.behaviour.rollout = 'crashloop';
    const s = step(search);
    const err = (await workloads().deploy({ ctx: s.ctx, cluster: CLUSTER }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^rollout of search-svc did not become healthy: /);
    expect(err.message).toContain('pod/search-svc-1-0 container api: CrashLoopBackOff (5 restarts, last exit 1 Error)');
  });

  it('adds crash-looping pods below the fast-fail threshold to the deadline error', async () => {
    fake.behaviour.rollout = 'crashloop-deadline';
    fake.behaviour.crashRestarts = 1;
    const s = step(search);
    await expect(workloads().deploy({ ctx: s.ctx, cluster: CLUSTER })).rejects.toThrow(
      /ProgressDeadlineExceeded: .*; pod\/search-svc-1-0 container api: CrashLoopBackOff \(1 restarts, last exit 1 Error\)/,
    );
  });

  it('stops watching when the step is cancelled', async () => {
    fake.behaviour.rollout = 'pending';
    const s = step(search);
    const deploying = workloads().deploy({ ctx: s.ctx, cluster: CLUSTER });
    // Cancel once the rollout is being watched.
    await until(() => fake.openWatches >= 2);
    s.controller.abort(new Error('step timed out after 20m'));
    await expect(deploying).rejects.toMatchObject({ name: 'AbortError', message: expect.stringContaining('step timed out after 20m') });
    await until(() => fake.openWatches === 0);
  });

  it('watches again when the API server closes a watch', async () => {
    fake.behaviour.closeWatchesAfterInitial = true;
    const s = step(search);
    const { endpoint } = await workloads().deploy({ ctx: s.ctx, cluster: CLUSTER });
    expect(endpoint).toBe(fake.behaviour.loadBalancerHostname);
  });

  it('waits for the load balancer hostname to appear', async () => {
    const host = fake.behaviour.loadBalancerHostname!;
    fake.behaviour.loadBalancerHostname = undefined;
    const s = step(search);
    const deploying = workloads().deploy({ ctx: s.ctx, cluster: CLUSTER });
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
      source: {
        kubeConfigFor: async (cluster) => buildKubeConfig({ cluster, server: fake.url, token }),
        forget: (cluster) => {
          forgotten.push(cluster);
          token = 'fresh-token';
        },
      },
      registry,
      rewatchDelayMs: 5,
    });
    const s = step(search);
    await expect(w.deploy({ ctx: s.ctx, cluster: CLUSTER })).resolves.toEqual({ endpoint: fake.behaviour.loadBalancerHostname });
    expect(forgotten).toEqual([CLUSTER]);
  });

  it('surfaces API errors with their status and message', async () => {
    fake.behaviour.acceptToken = () => false;
    const s = step(search);
    await expect(workloads().deploy({ ctx: s.ctx, cluster: CLUSTER })).rejects.toThrow(/^Kubernetes apply Namespace failed: HTTP 401: Unauthorized/);
  });
});

describe('KubeWorkloads.updateImages', () => {
  it('patches only the app containers to the new version and waits for the new generation', async () => {
    const first = step(search, '1.4.2');
    await workloads().deploy({ ctx: first.ctx, cluster: CLUSTER });
    const before = fake.get('deployments', 'search-svc', 'search-svc')!;
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages({ ctx: s.ctx, cluster: CLUSTER })).resolves.toEqual({ endpoint: fake.behaviour.loadBalancerHostname });

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
    await workloads().deploy({ ctx: first.ctx, cluster: CLUSTER });
    fake.behaviour.rollout = 'crashloop';
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages({ ctx: s.ctx, cluster: CLUSTER })).rejects.toThrow(/CrashLoopBackOff/);
  });
});

describe('KubeWorkloads.deleteNamespace', () => {
  it('goes on with a warning when the namespace stays Terminating', async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await workloads().deploy({ ctx: s.ctx, cluster: 'cache-worker-7' });
    fake.behaviour.namespacesStuckTerminating = true;
    const lines: string[] = [];
    const w = new KubeWorkloads({ source: source(), registry, rewatchDelayMs: 5, namespaceDeleteTimeoutMs: 30 });
    await w.deleteNamespace({ cluster: 'cache-worker-7', app, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(lines.at(-1)).toBe(
      'namespace cache-worker on cache-worker-7 is still terminating; going on without it (its load balancer may be left behind: check the AWS Load Balancer Controller)',
    );
  });

  it('deletes the namespace with its service and waits until it is gone', async () => {
    const app = withRegistry(cacheWorker);
    const s = step(app);
    await workloads().deploy({ ctx: s.ctx, cluster: 'cache-worker-7' });
    const lines: string[] = [];
    await workloads().deleteNamespace({ cluster: 'cache-worker-7', app, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(fake.get('namespaces', undefined, 'cache-worker')).toBeUndefined();
    expect(fake.get('services', 'cache-worker', 'cache-worker')).toBeUndefined();
    expect(lines).toEqual(['deleting namespace cache-worker on cache-worker-7', 'namespace cache-worker deleted']);
    // Again: already gone is fine.
    await workloads().deleteNamespace({ cluster: 'cache-worker-7', app, progress: (m) => void lines.push(m), signal: s.controller.signal });
    expect(lines.at(-1)).toBe('namespace cache-worker is already gone');
  });
});

/** Waits for a condition the fake reaches on its own (event-driven; bounded by the test timeout). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
