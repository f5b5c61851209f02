/**
 * KubeWorkloads with the real @kubernetes/client-node against a local fake
 * API server that plays an EKS Auto Mode cluster: server-side apply, rollout
 * by watch (healthy, progress deadline, CrashLoopBackOff of any container,
 * Pod Security refusing the pods, cancelled), the load balancer that only a
 * load-balancing controller serving the Service's class makes, rolling image
 * updates, the app's NodePool, the service proxy, and a teardown that never
 * leaves a load balancer behind.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { defineKubeApp, type KubeApp, type KubeAppProps } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { InfraError } from '../deployer/errors.js';
import { KubeWorkloads, type KubeConfigSource, type KubeWorkloadsOptions } from '../deployer/kube/kube-workloads.js';
import type { Capacity, ImageRef, PlacementOverrides } from '../deployer/ports.js';
import { FakeLoadBalancers } from './fakes/aws-load-balancers.js';
import { AUTO_MODE_LB_FINALIZER, FakeKubeApiServer, fargateLoggingProblems } from './fakes/kube-apiserver.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const withRegistry = (app: KubeApp): KubeApp => ({ ...app, aws: { ...app.aws, ecrRegistry: REGISTRY } });
const search = withRegistry(searchSvc);
const CLUSTER = 'search-svc-42';

let lbs: FakeLoadBalancers;
let fake: FakeKubeApiServer;
let others: FakeKubeApiServer[];
let steps: TestStep[];

const INSTALLATION = { id: 'inst-a1' };
const OTHER = { id: 'inst-b2' };
const TAGS = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '7', 'kubecontrol:installation': 'inst-a1', 'kubecontrol:managed-by': 'kubecontrol' };
/** search-svc's own props, changed: a KubeApp variant as a user would write it. */
const searchVariant = (change: (p: KubeAppProps) => KubeAppProps): KubeApp =>
  withRegistry(
    defineKubeApp(
      change({
        name: 'search-svc',
        image: { repository: 'search-svc' },
        hardware: { instanceTypes: ['m6i.large', 'm6i.xlarge'], minNodes: 3, maxNodes: 12 },
        pods: {
          replicas: 3,
          containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }], resources: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' } }],
        },
        service: { port: 80, loadBalancer: 'external', healthCheckPath: '/healthz' },
        strategy: 'blue-green',
        owners: ['alice'],
        approvers: ['bob'],
        channel: '#search-team',
      }),
    ),
  );
const AUTO: Extract<Capacity, { kind: 'auto' }> = { kind: 'auto', instanceTypes: ['m6i.large', 'm6i.xlarge'], minNodes: 3, maxNodes: 12, spot: false, arch: 'amd64' };

/** A kubeconfig for a fake with a bearer token, as the EKS source builds one. */
function kubeConfig(cluster: string, token: string, server = fake): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: cluster, server: server.url, skipTLSVerify: true }],
    users: [{ name: cluster, token }],
    contexts: [{ name: cluster, cluster, user: cluster }],
    currentContext: cluster,
  });
  return kc;
}

const source = (server?: FakeKubeApiServer): KubeConfigSource => ({ kubeConfigFor: async (cluster) => kubeConfig(cluster, 'test-token', server) });
// Only imageUri is used: the ECR naming, without the AWS adapter (and its clients).
const registry = { imageUri: ({ image, placement }: { image: ImageRef; placement?: PlacementOverrides }): string => `${placement?.ecrRegistry}/${image.repository}:${image.tag}` };
const workloads = (extra: Partial<KubeWorkloadsOptions> = {}): KubeWorkloads =>
  new KubeWorkloads({ source: source(), registry, installation: INSTALLATION, rewatchDelayMs: 5, loadBalancerTags: () => TAGS, ...extra });

/** Another fake cluster (closed after the test). */
async function cluster(options: ConstructorParameters<typeof FakeKubeApiServer>[0] = {}): Promise<FakeKubeApiServer> {
  const f = await new FakeKubeApiServer(options).start();
  others.push(f);
  return f;
}

function step(app: KubeApp, version = '1.4.2'): TestStep {
  const s = testStep(app, { version, step: 'deploy' });
  steps.push(s);
  return s;
}

/** The address the cluster's load-balancing controller gave the app's Service. */
const nlbOf = (app = 'search-svc', ns = app): string => lbs.forService(CLUSTER, ns, app)!.dnsName;

beforeEach(async () => {
  lbs = new FakeLoadBalancers();
  fake = await new FakeKubeApiServer({ loadBalancing: { loadBalancers: lbs, cluster: CLUSTER } }).start();
  others = [];
  steps = [];
});
afterEach(async () => {
  for (const s of steps) s.controller.abort('test over');
  await fake.close();
  for (const f of others) await f.close();
  for (const s of steps) s.cleanup();
});

describe('KubeWorkloads.deploy', () => {
  it('applies namespace, service account, deployment, service and disruption budget server-side, and returns the NLB the controller made', async () => {
    const s = step(search);
    const { endpoint } = await workloads().deploy(s.deployTo(CLUSTER));

    const lb = lbs.forService(CLUSTER, 'search-svc', 'search-svc')!;
    expect(endpoint).toBe(lb.dnsName);
    // A new namespace is created (a create fails on an existing one: nothing is taken over by accident).
    expect(fake.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/api/v1/namespaces']);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/search-svc/serviceaccounts/search-svc',
      '/apis/apps/v1/namespaces/search-svc/deployments/search-svc',
      '/api/v1/namespaces/search-svc/services/search-svc',
      '/apis/policy/v1/namespaces/search-svc/poddisruptionbudgets/search-svc',
    ]);
    // Every object carries the installation.
    for (const o of [
      fake.get('namespaces', undefined, 'search-svc'),
      fake.get('serviceaccounts', 'search-svc', 'search-svc'),
      fake.get('deployments', 'search-svc', 'search-svc'),
      fake.get('services', 'search-svc', 'search-svc'),
      fake.get('poddisruptionbudgets', 'search-svc', 'search-svc'),
    ]) {
      expect(o!.metadata.labels).toMatchObject({ 'kubecontrol/installation': 'inst-a1', 'app.kubernetes.io/managed-by': 'kubecontrol' });
    }
    for (const p of patches) {
      expect(p.headers['content-type']).toBe('application/apply-patch+yaml');
      expect(p.query.get('fieldManager')).toBe('kubecontrol');
      expect(p.query.get('force')).toBe('true');
    }
    const dep = fake.get('deployments', 'search-svc', 'search-svc')!;
    expect(dep.metadata.annotations).toMatchObject({ 'kubecontrol/version': '1.4.2' });
    const containers = (dep.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
    expect(containers.map((c) => c.image)).toEqual([`${REGISTRY}/search-svc:1.4.2`]);
    // The controller's NLB: the scheme the app asked for, kubecontrol's tags (and its own), a target per ready pod.
    expect(lb.scheme).toBe('internet-facing');
    expect(lb.tags).toMatchObject({ ...TAGS, 'eks:eks-cluster-name': CLUSTER });
    expect(lb.targets.map((t) => t.port)).toEqual([8080, 8080, 8080]);
    expect(fake.get('services', 'search-svc', 'search-svc')!.metadata.finalizers).toEqual([AUTO_MODE_LB_FINALIZER]);
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
    expect(s.store.resources.forDeploy(s.ctx.deployId).map((r) => [r.kind, r.name, r.state])).toEqual([['namespace', `${CLUSTER}/search-svc`, 'created']]);
  });

  it('an internal Service with a certificate gets an internal NLB with a TLS listener on its port', async () => {
    const app = searchVariant((p) => ({ ...p, service: { ...p.service!, port: 443, loadBalancer: 'internal', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' } }));
    const s = step(app);
    await workloads().deploy(s.deployTo(CLUSTER));
    const lb = lbs.forService(CLUSTER, 'search-svc', 'search-svc')!;
    expect(lb.scheme).toBe('internal');
    expect(lb.listeners).toEqual([{ port: 443, protocol: 'TLS', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' }]);
  });

  it('gets no address on a cluster without a load-balancing controller: it waits until cancelled', async () => {
    const plain = await cluster();
    const s = step(search);
    const deploying = workloads({ source: source(plain) }).deploy(s.deployTo(CLUSTER));
    await until(() => s.lines.includes('waiting for the load balancer of service search-svc'));
    s.controller.abort(new Error('step timed out after 20m'));
    await expect(deploying).rejects.toMatchObject({
      code: 'aborted',
      message: expect.stringMatching(/load balancer of service search-svc aborted: step timed out after 20m; no load-balancing controller reported anything about it/),
    });
    expect(plain.get('services', 'search-svc', 'search-svc')!.status).toBeUndefined();
    expect(lbs.loadBalancers.size).toBe(0);
  });

  it("says what the load-balancing controller reports when it cannot make the load balancer, and names it when the step ends", async () => {
    fake.behaviour.loadBalancerFailure = 'Failed build model due to unable to resolve at least one subnet (0 match VPC and tags: [kubernetes.io/role/elb])';
    const s = step(search);
    const deploying = workloads().deploy(s.deployTo(CLUSTER));
    await until(() => s.lines.some((l) => l.startsWith('load balancer of service search-svc: FailedBuildModel')));
    s.controller.abort(new Error('step timed out after 20m'));
    await expect(deploying).rejects.toMatchObject({
      code: 'aborted',
      message:
        'load balancer of service search-svc aborted: step timed out after 20m; the load-balancing controller reported: FailedBuildModel: Failed build model due to unable to resolve at least one subnet (0 match VPC and tags: [kubernetes.io/role/elb])',
    });
    expect(lbs.loadBalancers.size).toBe(0);
  });

  it('the controller serves only its class: a Service without it, or annotated for the AWS Load Balancer Controller, stays pending', async () => {
    const s = step(search);
    await workloads().deploy(s.deployTo(CLUSTER));
    const core = kubeConfig(CLUSTER, 't').makeApiClient(CoreV1Api);
    const lbService = (name: string, extra: { loadBalancerClass?: string; annotations?: Record<string, string> }) => ({
      metadata: { name, annotations: extra.annotations ?? {} },
      spec: { type: 'LoadBalancer', selector: { 'app.kubernetes.io/name': 'search-svc' }, ports: [{ port: 80, targetPort: 8080 }], ...(extra.loadBalancerClass ? { loadBalancerClass: extra.loadBalancerClass } : {}) },
    });
    await core.createNamespacedService({ namespace: 'search-svc', body: lbService('legacy', { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'external' } }) });
    await core.createNamespacedService({ namespace: 'search-svc', body: lbService('other-class', { loadBalancerClass: 'service.k8s.aws/nlb' }) });
    await core.createNamespacedService({ namespace: 'search-svc', body: lbService('served', { loadBalancerClass: 'eks.amazonaws.com/nlb' }) });
    // The controller looks at them in order: once the last has its address, the others were passed over.
    await until(() => !!(fake.get('services', 'search-svc', 'served')!.status as { loadBalancer?: unknown } | undefined)?.loadBalancer);
    for (const name of ['legacy', 'other-class']) {
      expect(fake.get('services', 'search-svc', name)!.status).toBeUndefined();
      expect(fake.get('services', 'search-svc', name)!.metadata.finalizers).toBeUndefined();
      expect(lbs.forService(CLUSTER, 'search-svc', name)).toBeUndefined();
    }
    // And the class of a LoadBalancer Service cannot be changed afterwards (as the API server validates).
    await expect(
      core.patchNamespacedService(
        { name: 'served', namespace: 'search-svc', body: { spec: { loadBalancerClass: 'service.k8s.aws/nlb' } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    ).rejects.toMatchObject({ code: 422 });
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

  it('a crash-looping sidecar fails the rollout too', async () => {
    const app = searchVariant((p) => ({ ...p, pods: { ...p.pods, sidecars: [{ name: 'log-shipper', image: 'public.ecr.aws/example/shipper', tag: '1.0' }] } }));
    fake.behaviour.rollout = 'crashloop';
    fake.behaviour.crashContainers = ['log-shipper'];
    const s = step(app);
    const err = (await workloads().deploy(s.deployTo(CLUSTER)).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'unhealthy' });
    expect(err.message).toContain('container log-shipper: CrashLoopBackOff (5 restarts, last exit 1 Error)');
    expect(err.message).not.toContain('container api:');
  });

  it('adds crash-looping pods below the fast-fail threshold to the deadline error', async () => {
    fake.behaviour.rollout = 'crashloop-deadline';
    fake.behaviour.crashRestarts = 1;
    const s = step(search);
    await expect(workloads().deploy(s.deployTo(CLUSTER))).rejects.toThrow(
      /ProgressDeadlineExceeded: .*; pod\/search-svc-1-0 container api: CrashLoopBackOff \(1 restarts, last exit 1 Error\)/,
    );
  });

  it('reports pods that Pod Security refuses (FailedCreate) at once, not at the progress deadline', async () => {
    // The cluster's admin enforces "restricted" on the namespace; the app opted a container out.
    fake.put('namespaces', {
      metadata: { name: 'search-svc', labels: { 'kubecontrol/installation': 'inst-a1', 'app.kubernetes.io/managed-by': 'kubecontrol', 'pod-security.kubernetes.io/enforce': 'restricted' } },
      status: { phase: 'Active' },
    });
    const app = searchVariant((p) => ({ ...p, pods: { ...p.pods, containers: [{ ...p.pods.containers[0]!, unrestricted: 'binds port 80 as root' }] } }));
    const s = step(app);
    const err = (await workloads().deploy(s.deployTo(CLUSTER)).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'unhealthy' });
    expect(err.message).toMatch(
      /^rollout of search-svc did not become healthy: FailedCreate: pods "search-svc-1-\w+" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "api" must set securityContext.allowPrivilegeEscalation=false\), unrestricted capabilities/,
    );
    expect(err.message).toContain('mark it unrestricted');
    // No pod was ever created.
    expect(fake.list('pods')).toEqual([]);
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
    expect(endpoint).toBe(nlbOf());
  });

  it('waits for the load balancer hostname to appear', async () => {
    const plain = await cluster();
    const s = step(search);
    const deploying = workloads({ source: source(plain) }).deploy(s.deployTo(CLUSTER));
    await until(() => s.lines.some((l) => l.startsWith('waiting for the load balancer')));
    const svc = plain.get('services', 'search-svc', 'search-svc')!;
    plain.put('services', { ...svc, status: { loadBalancer: { ingress: [{ hostname: 'k8s-late.elb.eu-west-1.amazonaws.com' }] } } });
    await expect(deploying).resolves.toEqual({ endpoint: 'k8s-late.elb.eu-west-1.amazonaws.com' });
  });

  it('fetches credentials again once when the API server refuses them', async () => {
    let token = 'expired-token';
    const forgotten: string[] = [];
    fake.behaviour.acceptToken = (auth) => auth === 'Bearer fresh-token';
    const w = new KubeWorkloads({
      installation: INSTALLATION,
      source: {
        kubeConfigFor: async (c) => kubeConfig(c, token),
        forget: (c) => {
          forgotten.push(c);
          token = 'fresh-token';
        },
      },
      registry,
      rewatchDelayMs: 5,
    });
    const s = step(search);
    const { endpoint } = await w.deploy(s.deployTo(CLUSTER));
    expect(endpoint).toBe(nlbOf());
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
    await expect(workloads().deploy(again.deployTo(CLUSTER))).resolves.toEqual({ endpoint: nlbOf() });
    // Adopted by a conditional apply, not created twice; the Service keeps its one load balancer.
    const nsWrites = fake.requests.filter((r) => /^\/api\/v1\/namespaces(\/[^/]+)?$/.test(r.path) && r.method !== 'GET');
    expect(nsWrites.map((r) => r.method)).toEqual(['POST', 'PATCH']);
    expect((nsWrites[1]!.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toBeDefined();
    expect(lbs.loadBalancers.size).toBe(1);
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
  it('patches only the app containers and the version (annotation, and label when valid), and waits for the new generation', async () => {
    const first = step(search, '1.4.2');
    await workloads().deploy(first.deployTo(CLUSTER));
    const before = fake.get('deployments', 'search-svc', 'search-svc')!;
    const s = step(search, '1.5.0');
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).resolves.toEqual({ endpoint: nlbOf() });

    const patch = fake.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    expect(patch.headers['content-type']).toBe('application/strategic-merge-patch+json');
    const meta = { labels: { 'app.kubernetes.io/version': '1.5.0', 'kubecontrol/version': null }, annotations: { 'kubecontrol/version': '1.5.0' } };
    expect(patch.body).toEqual({ metadata: meta, spec: { template: { metadata: meta, spec: { containers: [{ name: 'api', image: `${REGISTRY}/search-svc:1.5.0` }] } } } });
    const after = fake.get('deployments', 'search-svc', 'search-svc')!;
    expect(after.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    expect(after.metadata.annotations).toMatchObject({ 'kubecontrol/version': '1.5.0' });
    expect(after.metadata.labels).toMatchObject({ 'app.kubernetes.io/version': '1.5.0' });
    const containers = (after.spec as { template: { spec: { containers: { name: string; image: string; resources?: unknown }[] } } }).template.spec.containers;
    expect(containers.map((c) => `${c.name}=${c.image}`)).toEqual([`api=${REGISTRY}/search-svc:1.5.0`]);
    expect(containers[0]!.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '2Gi' } });
    expect(s.lines).toContain('rollout of search-svc 1.5.0 is healthy');
  });

  it('a version that cannot be a label is only an annotation: the old label goes, and its pods are still followed', async () => {
    const first = step(search, '1.4.2');
    await workloads().deploy(first.deployTo(CLUSTER));
    const long = `1.5.0-${'a'.repeat(60)}`;
    fake.behaviour.rollout = 'crashloop';
    const s = step(search, long);
    // The crash of a pod of that version is seen: pods are matched by the annotation.
    await expect(workloads().updateImages(s.updateOn(CLUSTER))).rejects.toThrow(/pod\/search-svc-2-0 container api: CrashLoopBackOff/);
    const after = fake.get('deployments', 'search-svc', 'search-svc')!;
    expect(after.metadata.annotations).toMatchObject({ 'kubecontrol/version': long });
    expect(after.metadata.labels?.['app.kubernetes.io/version']).toBeUndefined();
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
  const cache = withRegistry(cacheWorker);
  const del = (w: KubeWorkloads, lines: string[], s: TestStep) =>
    w.deleteNamespace({ cluster: { name: CLUSTER }, namespace: cache.name, progress: (m) => void lines.push(m), signal: s.controller.signal });

  it('deletes the LoadBalancer Service first, waits until its load balancer is gone, then the namespace', async () => {
    const s = step(cache);
    await workloads().deploy(s.deployTo(CLUSTER));
    const lb = lbs.forService(CLUSTER, 'cache-worker', 'cache-worker')!;
    expect(lb.scheme).toBe('internal');
    const lines: string[] = [];
    await del(workloads(), lines, s);
    expect(lines).toEqual([
      `deleting service cache-worker/cache-worker and its load balancer ${lb.dnsName} on ${CLUSTER}`,
      'service cache-worker/cache-worker and its load balancer are gone',
      `deleting namespace cache-worker on ${CLUSTER}`,
      'namespace cache-worker deleted',
    ]);
    // The Service was Terminating (its finalizer) until the controller had removed the NLB, TG and SG.
    expect(lbs.deleted).toEqual([lb.arn]);
    expect(lbs.taggedWith('eks:eks-cluster-name', CLUSTER)).toEqual([]);
    const deletes = fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).toEqual(['/api/v1/namespaces/cache-worker/services/cache-worker', '/api/v1/namespaces/cache-worker']);
    expect(fake.get('namespaces', undefined, 'cache-worker')).toBeUndefined();
    // Again: already gone is fine.
    await del(workloads(), lines, s);
    expect(lines.at(-1)).toBe('namespace cache-worker is already gone');
  });

  it('still sees them go when the API server has compacted the resourceVersions it watches from (410 Gone)', async () => {
    const s = step(cache);
    await workloads().deploy(s.deployTo(CLUSTER));
    fake.behaviour.compactedWatches = true;
    const lines: string[] = [];
    await del(workloads({ serviceDeleteTimeoutMs: 5_000, namespaceDeleteTimeoutMs: 5_000 }), lines, s);
    expect(lines.at(-1)).toBe('namespace cache-worker deleted');
    expect(lbs.loadBalancers.size).toBe(0);
  });

  it('fails, naming the Service and its finalizer, when the load balancer will not go; the namespace is not deleted around it', async () => {
    const s = step(cache);
    await workloads().deploy(s.deployTo(CLUSTER));
    const lb = lbs.forService(CLUSTER, 'cache-worker', 'cache-worker')!;
    fake.behaviour.loadBalancerDeletionStuck = true;
    const lines: string[] = [];
    await expect(del(workloads({ serviceDeleteTimeoutMs: 50 }), lines, s)).rejects.toMatchObject({
      code: 'timed_out',
      message: expect.stringMatching(
        new RegExp(`^service cache-worker/cache-worker \\(load balancer ${lb.dnsName.replace(/\./g, '\\.')}\\) held by finalizer service\\.eks\\.amazonaws\\.com/resources still being deleted on ${CLUSTER}`),
      ),
    });
    expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual(['/api/v1/namespaces/cache-worker/services/cache-worker']);
    expect(fake.get('namespaces', undefined, 'cache-worker')!.metadata.deletionTimestamp).toBeUndefined();
    expect(lbs.loadBalancers.has(lb.arn)).toBe(true);
  });

  it('fails when the namespace stays Terminating (instead of going on and orphaning what it holds)', async () => {
    const s = step(cache);
    await workloads().deploy(s.deployTo(CLUSTER));
    fake.behaviour.namespacesStuckTerminating = true;
    const lines: string[] = [];
    await expect(del(workloads({ namespaceDeleteTimeoutMs: 30 }), lines, s)).rejects.toMatchObject({
      code: 'timed_out',
      message: expect.stringMatching(new RegExp(`^namespace cache-worker on ${CLUSTER} is still Terminating after 0 s; not going on`)),
    });
  });

  it("leaves another installation's namespace alone (not_owned)", async () => {
    const s = step(cache);
    await new KubeWorkloads({ source: source(), registry, installation: OTHER, rewatchDelayMs: 5 }).deploy(s.deployTo(CLUSTER));
    await expect(del(workloads(), [], s)).rejects.toMatchObject({
      code: 'not_owned',
      message: 'namespace cache-worker exists but belongs to another kubecontrol installation (inst-b2); not deleting it',
    });
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(fake.get('namespaces', undefined, 'cache-worker')!.metadata.deletionTimestamp).toBeUndefined();
    expect(lbs.loadBalancers.size).toBe(1);
  });

  it('waits for a namespace that is already Terminating instead of deleting it again', async () => {
    const s = step(cache);
    await workloads().deploy(s.deployTo(CLUSTER));
    fake.behaviour.namespacesStuckTerminating = true;
    const lines: string[] = [];
    await expect(del(workloads({ namespaceDeleteTimeoutMs: 30 }), lines, s)).rejects.toMatchObject({ code: 'timed_out' });
    // The second teardown finds it Terminating: no second DELETE (the API server would answer 409).
    await expect(del(workloads({ namespaceDeleteTimeoutMs: 30 }), lines, s)).rejects.toMatchObject({ code: 'timed_out' });
    expect(fake.requests.filter((r) => r.method === 'DELETE' && r.path === '/api/v1/namespaces/cache-worker')).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('deleting namespace'))).toHaveLength(2);
  });
});

describe('the fake cluster, where real clusters bit', () => {
  it('a namespace deleted with its LoadBalancer Service in it stays Terminating until the load balancer is gone', async () => {
    const s = step(search);
    await workloads().deploy(s.deployTo(CLUSTER));
    const lb = lbs.forService(CLUSTER, 'search-svc', 'search-svc')!;
    fake.behaviour.loadBalancerDeletionStuck = true;
    await kubeConfig(CLUSTER, 't').makeApiClient(CoreV1Api).deleteNamespace({ name: 'search-svc' });
    await until(() => ((fake.get('namespaces', undefined, 'search-svc')?.status as { conditions?: unknown[] } | undefined)?.conditions ?? []).length > 0);
    expect(fake.get('namespaces', undefined, 'search-svc')!.status).toMatchObject({
      phase: 'Terminating',
      conditions: [{ type: 'NamespaceFinalizersRemaining', message: expect.stringContaining(AUTO_MODE_LB_FINALIZER) }],
    });
    expect(fake.get('services', 'search-svc', 'search-svc')!.metadata.deletionTimestamp).toBeDefined();
    expect(lbs.loadBalancers.has(lb.arn)).toBe(true);
    // The controller gets through: the NLB goes, then the Service, then the namespace.
    fake.behaviour.loadBalancerDeletionStuck = false;
    await until(() => !fake.get('namespaces', undefined, 'search-svc'));
    expect(lbs.deleted).toEqual([lb.arn]);
  });

  it('a deleted cluster leaves its load balancers behind when their Services were not deleted first', async () => {
    const s = step(search);
    await workloads().deploy(s.deployTo(CLUSTER));
    await fake.close();
    fake = await new FakeKubeApiServer().start();
    expect(lbs.taggedWith('eks:eks-cluster-name', CLUSTER).map((r) => r.kind).sort()).toEqual(['load-balancer', 'security-group', 'target-group']);
  });

  it('serves NodePools only on Auto Mode, and refuses invalid ones', async () => {
    const plain = await cluster();
    const api = (f: FakeKubeApiServer) => kubeConfig(CLUSTER, 't', f).makeApiClient(CustomObjectsApi);
    const pool = (requirements: unknown[], nodeClassRef: unknown = { group: 'eks.amazonaws.com', kind: 'NodeClass', name: 'default' }) => ({
      apiVersion: 'karpenter.sh/v1',
      kind: 'NodePool',
      metadata: { name: 'p' },
      spec: { template: { spec: { nodeClassRef, requirements } } },
    });
    const ok = pool([{ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] }]);
    await expect(api(plain).createClusterCustomObject({ group: 'karpenter.sh', version: 'v1', plural: 'nodepools', body: ok })).rejects.toMatchObject({ code: 404 });
    const create = (body: unknown) => api(fake).createClusterCustomObject({ group: 'karpenter.sh', version: 'v1', plural: 'nodepools', body });
    await expect(create(pool([{ key: 'kubernetes.io/arch', operator: 'Equals', values: ['arm64'] }]))).rejects.toMatchObject({ code: 422 });
    await expect(create(pool([{ key: 'kubernetes.io/hostname', operator: 'In', values: ['x'] }]))).rejects.toMatchObject({ code: 422 });
    await expect(create(pool([{ key: 'kubernetes.io/arch', operator: 'In', values: [] }]))).rejects.toMatchObject({ code: 422 });
    await expect(create(pool([], { group: 'eks.amazonaws.com', kind: 'NodeClass' }))).rejects.toMatchObject({ code: 422 });
    await expect(create(ok)).resolves.toMatchObject({ metadata: { name: 'p' } });
  });
});

describe('KubeWorkloads.applyNodePool', () => {
  const apply = (w: KubeWorkloads, lines: string[] = []) => w.applyNodePool({ cluster: { name: CLUSTER }, capacity: AUTO, app: 'search-svc', progress: (m) => void lines.push(m) });

  it("applies the app's NodePool server-side and waits until it is Ready", async () => {
    const lines: string[] = [];
    await apply(workloads(), lines);
    const patch = fake.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.path).toBe('/apis/karpenter.sh/v1/nodepools/kubecontrol-search-svc');
    expect(patch.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(patch.query.get('fieldManager')).toBe('kubecontrol');
    const np = fake.get('nodepools', undefined, 'kubecontrol-search-svc')!;
    expect(np.metadata.labels).toMatchObject({ 'kubecontrol/installation': 'inst-a1' });
    expect(np.status).toMatchObject({ conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]) });
    expect(lines).toEqual([
      `applied NodePool kubecontrol-search-svc on ${CLUSTER}: m6i.large, m6i.xlarge (on-demand, amd64), at most 12 nodes`,
      `NodePool kubecontrol-search-svc on ${CLUSTER} is Ready`,
    ]);
    // Again (a resumed step): the same NodePool, no error.
    await apply(workloads());
  });

  it("refuses another installation's NodePool and leaves it unchanged", async () => {
    await apply(workloads({ installation: OTHER }));
    const before = fake.get('nodepools', undefined, 'kubecontrol-search-svc');
    await expect(apply(workloads())).rejects.toMatchObject({
      code: 'not_owned',
      message: `NodePool kubecontrol-search-svc on ${CLUSTER} exists but belongs to another kubecontrol installation (inst-b2); not changing it`,
    });
    expect(fake.get('nodepools', undefined, 'kubecontrol-search-svc')).toEqual(before);
  });

  it('says the cluster is not Auto Mode when it has no NodePools', async () => {
    const plain = await cluster();
    await expect(apply(workloads({ source: source(plain) }))).rejects.toMatchObject({
      code: 'misconfigured',
      message: expect.stringContaining('the cluster has no karpenter.sh/v1 NodePools (it is not an EKS Auto Mode cluster'),
    });
  });

  it('times out naming the conditions when the NodePool does not become Ready', async () => {
    fake.nodeClasses.clear();
    await expect(apply(workloads({ nodePoolReadyTimeoutMs: 50 }))).rejects.toMatchObject({
      code: 'timed_out',
      message: expect.stringMatching(/^NodePool kubecontrol-search-svc on search-svc-42 did not become Ready within 0 s: .*NodeClassReady=False \(NodeClassNotFound: NodeClass "default" not found\).*Ready=False/),
    });
  });
});

describe('KubeWorkloads.applyFargateLogging', () => {
  const CW = 'cache-worker-7';
  const apply = (w: KubeWorkloads, lines: string[] = []) => w.applyFargateLogging({ cluster: { name: CW }, app: 'cache-worker', region: 'eu-west-1', progress: (m) => void lines.push(m) });

  it("configures Fargate's log router: the aws-observability namespace and its aws-logging ConfigMap, applied server-side as kubecontrol's", async () => {
    const lines: string[] = [];
    await apply(workloads(), lines);
    const ns = fake.get('namespaces', undefined, 'aws-observability')!;
    // The label is how Fargate finds the namespace.
    expect(ns.metadata.labels).toEqual({ 'aws-observability': 'enabled', 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/installation': 'inst-a1' });
    const cm = fake.get('configmaps', 'aws-observability', 'aws-logging')!;
    expect(cm.metadata.labels).toMatchObject({ 'kubecontrol/installation': 'inst-a1' });
    expect((cm.data as Record<string, string>)['output.conf']).toBe(
      ['[OUTPUT]', '    Name cloudwatch_logs', '    Match kube.*', '    region eu-west-1', '    log_group_name /kubecontrol/cache-worker', '    log_stream_prefix fargate-', '    auto_create_group true', ''].join('\n'),
    );
    // What Fargate itself checks of it when a pod starts.
    expect(fargateLoggingProblems(cm as { data?: Record<string, string> })).toEqual([]);
    const patch = fake.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/configmaps/aws-logging'))!;
    expect(patch.path).toBe('/api/v1/namespaces/aws-observability/configmaps/aws-logging');
    expect(patch.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(patch.query.get('fieldManager')).toBe('kubecontrol');
    expect(lines).toEqual([`Fargate log router of ${CW}: container logs to CloudWatch Logs /kubecontrol/cache-worker in eu-west-1`]);
    // Again (a resumed step): the same objects, no error.
    await apply(workloads());
    expect(fake.list('configmaps')).toHaveLength(1);
  });

  it("refuses another installation's aws-observability namespace or ConfigMap and leaves them unchanged", async () => {
    await apply(workloads({ installation: OTHER }));
    const before = fake.get('configmaps', 'aws-observability', 'aws-logging');
    await expect(apply(workloads())).rejects.toMatchObject({ code: 'not_owned', message: expect.stringContaining('namespace aws-observability exists but belongs to another kubecontrol installation (inst-b2)') });
    // Our namespace, someone's ConfigMap in it (e.g. applied by hand).
    const other = await cluster();
    await apply(workloads({ source: source(other) }));
    other.put('configmaps', { ...other.get('configmaps', 'aws-observability', 'aws-logging')!, metadata: { name: 'aws-logging', namespace: 'aws-observability', labels: {} } });
    await expect(apply(workloads({ source: source(other) }))).rejects.toMatchObject({
      code: 'not_owned',
      message: expect.stringContaining(`ConfigMap aws-observability/aws-logging on ${CW} exists but carries no kubecontrol/installation label`),
    });
    expect(fake.get('configmaps', 'aws-observability', 'aws-logging')).toEqual(before);
  });

  it('the fake API server validates ConfigMaps like the real one, and the log router rules like Fargate', async () => {
    const core = kubeConfig(CW, 't').makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'x' } } });
    await expect(core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'c' }, data: { 'bad key': 'v' } } })).rejects.toMatchObject({ code: 422 });
    await expect(core.createNamespacedConfigMap({ namespace: 'nope', body: { metadata: { name: 'c' }, data: {} } })).rejects.toMatchObject({ code: 404 });
    await core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'c' }, data: { 'output.conf': 'x' } } });
    await expect(core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'c' }, data: {} } })).rejects.toMatchObject({ code: 409 });
    expect(fargateLoggingProblems({ data: { 'output.conf': '[OUTPUT]\nName cloudwatch_logs\n', 'service.conf': '[SERVICE]\n    Flush 1\n' } })).toEqual([
      'output.conf: "Name cloudwatch_logs" is not indented under a section',
      'output.conf: a [OUTPUT] without Name',
      'output.conf: a [OUTPUT] without Match',
      'unknown key service.conf',
      'no supported [OUTPUT] (es, firehose, kinesis_firehose, cloudwatch, cloudwatch_logs, kinesis): logging is not enabled',
    ]);
  });
});

describe('KubeWorkloads.proxyGet', () => {
  const get = (w: KubeWorkloads) => w.proxyGet({ cluster: { name: CLUSTER }, namespace: 'search-svc', service: 'search-svc', port: 80, path: '/healthz' });

  it("answers the app's status through the API server's service proxy", async () => {
    const s = step(search);
    await workloads().deploy(s.deployTo(CLUSTER));
    await expect(get(workloads())).resolves.toEqual({ status: 200 });
    expect(fake.requests.at(-1)!.path).toBe('/api/v1/namespaces/search-svc/services/search-svc:80/proxy/healthz');
    fake.behaviour.serviceHealth = 500;
    await expect(get(workloads())).resolves.toEqual({ status: 500 });
  });

  it('answers 503 with the reason when the Service has no ready endpoints', async () => {
    fake.behaviour.rollout = 'pending';
    const s = step(search);
    void workloads().deploy(s.deployTo(CLUSTER)).catch(() => undefined);
    await until(() => !!fake.get('services', 'search-svc', 'search-svc'));
    await expect(get(workloads())).resolves.toEqual({ status: 503, detail: 'no endpoints available for service "search-svc"' });
  });
});

/** Waits for a condition the fake reaches on its own (event-driven; bounded by the test timeout). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
