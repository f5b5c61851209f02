/**
 * scale, restart and upgrade on the aws provider, at the wire: the real server,
 * the real SDK clients answered by the stateful fake account (EKS refusing what
 * UpdateNodegroupConfig refuses, an update in progress, an update that fails)
 * and the real Kubernetes client against one fake API server per cluster (the
 * Deployment's scale subresource, the pod template's restartedAt, a Karpenter
 * NodePool's limits).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateClusterCommand, DescribeUpdateCommand, EKSClient, InvalidParameterException, ResourceInUseException, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { nodegroupName } from '../deployer/aws/index.js';
import type { KubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { fastAwsProvider, withAws } from './fakes/aws-apps.js';
import { FakeAwsAccount } from './fakes/aws-account.js';
import { startHarness, type Harness } from './helpers/harness.js';

const built = (app: KubeApp, own: Parameters<typeof withAws>[1] = {}): KubeApp => withAws(app, { builder: 'codebuild', codeBuildProject: `${app.image.repository}-image`, ...own });
// search-svc pinned to Kubernetes 1.34 (standard support until 2026-12-02): what an upgrade leaves.
const apps = [built(searchSvc, { kubernetesVersion: '1.34' }), built(webFrontend), built(cacheWorker)];

type Obj = { metadata: { name: string; generation?: number; annotations?: Record<string, string> }; spec: Record<string, unknown> };

describe('operating an app on the aws provider', () => {
  let aws: FakeAwsAccount;
  let h: Harness;
  beforeAll(async () => {
    aws = new FakeAwsAccount();
    const provider = fastAwsProvider();
    h = await startHarness({ provider: 'aws' }, { provider, apps });
  });
  afterAll(async () => {
    await h.close();
    await aws.close();
  });

  const run = (as: string, approver: string, ...args: string[]): Promise<number> => h.runToEnd(as, approver, ...args);
  const live = (app: string): string => h.k.store.environments.live(app)!.name;
  const deployment = (cluster: string, app: string) => aws.kubes.get(cluster)!.get('deployments', app, app) as unknown as Obj & { spec: { replicas: number; template: { metadata: { annotations?: Record<string, string> } } } };
  const events = (id: number): string[] => h.k.store.events.after(id, 0, 500).map((e) => e.message);

  it('search-svc on Auto Mode: scale patches the NodePool limits and the Deployment scale subresource; beyond the limits nothing is called', async () => {
    expect(h.k.core.view(await run('carol', 'bob', 'deploy', 'search-svc', '1.0.0')).state).toBe('succeeded');
    const cluster = live('search-svc');
    expect(h.k.store.environments.live('search-svc')!.kubernetesVersion).toBe('1.34');
    const kube = aws.kubes.get(cluster)!;
    const before = kube.requests.length;

    const refused = await h.cmd('alice', 'scale', 'search-svc', 'replicas=40');
    expect(refused.body).toMatchObject({ status: 'refused', code: 'beyond_limits' });
    expect(kube.requests.length).toBe(before);

    const id = await run('alice', 'bob', 'scale', 'search-svc', 'replicas=6', 'nodes=3..8', 'load', 'test');
    expect(h.k.core.view(id)).toMatchObject({ state: 'succeeded', kind: 'scale' });
    const pool = kube.get('nodepools', undefined, 'kubecontrol-search-svc') as unknown as Obj;
    // 8 nodes and 8 × the vCPUs of its largest type (m6i.xlarge: 4).
    expect(pool.spec.limits).toEqual({ cpu: '32', nodes: '8' });
    expect(deployment(cluster, 'search-svc').spec.replicas).toBe(6);
    const scaleCalls = kube.requests.slice(before).filter((r) => r.path === '/apis/apps/v1/namespaces/search-svc/deployments/search-svc/scale');
    expect(scaleCalls.map((r) => `${r.method} ${String(r.headers['content-type']).split(';')[0]} ${JSON.stringify(r.body)}`)).toEqual(['PATCH application/merge-patch+json {"spec":{"replicas":6}}']);
    expect(kube.requests.slice(before).some((r) => r.method === 'PATCH' && r.path === '/apis/karpenter.sh/v1/nodepools/kubecontrol-search-svc' && r.headers['content-type'] === 'application/merge-patch+json')).toBe(true);
    expect(events(id)).toContain('NodePool kubecontrol-search-svc on ' + cluster + ': limits nodes 12 → 8, cpu 48 → 32');
  }, 60_000);

  it('search-svc: a restart sets the pod template’s restartedAt and waits for the rollout; one whose pods crash is put back as it was', async () => {
    const cluster = live('search-svc');
    const generation = deployment(cluster, 'search-svc').metadata.generation!;
    const ok = await run('alice', 'bob', 'restart', 'search-svc');
    expect(h.k.core.view(ok).state).toBe('succeeded');
    const stamp = deployment(cluster, 'search-svc').spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'];
    expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(deployment(cluster, 'search-svc').metadata.generation).toBe(generation + 1);

    // The next rollout crash loops; its pods stay while the undo's come up (as a rolling update keeps them):
    // they are the same version, and must not be taken for the undo's own.
    Object.assign(aws.kubes.get(cluster)!.behaviour, { failingRollouts: 1, oldPodsLinger: true });
    const failed = await run('alice', 'bob', 'restart', 'search-svc', 'try', 'again');
    const d = h.k.core.view(failed);
    expect(d).toMatchObject({ state: 'failed', cleanup: 'done' });
    expect(d.error).toMatch(/CrashLoopBackOff/);
    // The template as it was before this restart: the first restart's stamp, its pods rolled back to it.
    expect(deployment(cluster, 'search-svc').spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(stamp);
    expect(deployment(cluster, 'search-svc').metadata.generation).toBe(generation + 3);
    expect(events(failed)).toContain(`undone: pod template of ${cluster} back as it was (restartedAt ${stamp}); its pods rolled back to it`);
  }, 60_000);

  it('web-frontend on a node group: UpdateNodegroupConfig with the desired size inside the new bounds, an update in progress waited for, a failed update undone', async () => {
    expect(h.k.core.view(await run('dave', 'bob', 'deploy', 'web-frontend', '2.0.0', '--strategy', 'blue-green')).state).toBe('succeeded');
    const cluster = live('web-frontend');
    const ng = nodegroupName(cluster);
    const eks = new EKSClient({ region: 'eu-west-1' });

    // The fake refuses what EKS refuses: a minimum above the desired size it has when none is sent.
    await expect(eks.send(new UpdateNodegroupConfigCommand({ clusterName: cluster, nodegroupName: ng, scalingConfig: { minSize: 3 } }))).rejects.toThrow(
      new InvalidParameterException({ message: "Minimum capacity 3 can't be greater than desired size 2", $metadata: {} }),
    );
    await expect(eks.send(new UpdateNodegroupConfigCommand({ clusterName: cluster, nodegroupName: ng, scalingConfig: { minSize: 1, maxSize: 0, desiredSize: 0 } }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );

    // Someone else's update is in progress when the scale starts: ResourceInUseException, waited for, tried again.
    const other = (await eks.send(new UpdateNodegroupConfigCommand({ clusterName: cluster, nodegroupName: ng, scalingConfig: { maxSize: 9 } }))).update!;
    aws.eks.updates.get(other.id!)!.looksLeft = 2;
    await expect(eks.send(new UpdateNodegroupConfigCommand({ clusterName: cluster, nodegroupName: ng, scalingConfig: { maxSize: 8 } }))).rejects.toBeInstanceOf(ResourceInUseException);

    const id = await run('dave', 'bob', 'scale', 'web-frontend', 'nodes=3..6');
    expect(h.k.core.view(id).state).toBe('succeeded');
    expect(events(id).some((m) => m.startsWith(`node group ${ng} is busy with another update (`))).toBe(true);
    const calls = aws.mocks.eks.commandCalls(UpdateNodegroupConfigCommand).map((c) => c.args[0].input).filter((i) => i.clientRequestToken?.startsWith('kubecontrol-'));
    // The desired size (2) moved inside the new bounds, sent with them; the same token when tried again.
    expect(calls.map((i) => i.scalingConfig)).toEqual([
      { minSize: 3, maxSize: 6, desiredSize: 3 },
      { minSize: 3, maxSize: 6, desiredSize: 3 },
    ]);
    expect(aws.mocks.eks.commandCalls(DescribeUpdateCommand).length).toBeGreaterThan(0);
    expect(aws.eks.nodegroups.get(`${cluster}/${ng}`)).toMatchObject({ min: 3, max: 6, desired: 3, status: 'ACTIVE' });
    expect(h.k.store.environments.live('web-frontend')).toMatchObject({ minNodes: 3, maxNodes: 6, scaledBy: id });

    // An update EKS reports Failed fails the scale, and nothing is left changed.
    aws.eks.failNextUpdate = { errorCode: 'NodeCreationFailure', errorMessage: 'Instances failed to join the kubernetes cluster' };
    const failed = await run('dave', 'bob', 'scale', 'web-frontend', 'nodes=4..9', 'replicas=6');
    const d = h.k.core.view(failed);
    expect(d).toMatchObject({ state: 'failed', cleanup: 'done' });
    expect(d.error).toMatch(/ended Failed: NodeCreationFailure: Instances failed to join the kubernetes cluster/);
    expect(aws.eks.nodegroups.get(`${cluster}/${ng}`)).toMatchObject({ min: 3, max: 6, desired: 3 });
    expect(deployment(cluster, 'web-frontend').spec.replicas).toBe(4);
    expect(h.k.store.environments.live('web-frontend')).toMatchObject({ minNodes: 3, maxNodes: 6, scaledBy: id });
  }, 60_000);

  it('cache-worker on Fargate: nodes= refused at the door, replicas go through the scale subresource', async () => {
    expect(h.k.core.view(await run('erin', 'bob', 'deploy', 'cache-worker', '3.0.0')).state).toBe('succeeded');
    expect((await h.cmd('erin', 'scale', 'cache-worker', 'nodes=1..2')).body).toMatchObject({ code: 'not_supported' });
    const id = await run('erin', 'bob', 'scale', 'cache-worker', 'replicas=3');
    expect(h.k.core.view(id).state).toBe('succeeded');
    expect(deployment(live('cache-worker'), 'cache-worker').spec.replicas).toBe(3);
  }, 60_000);

  it('search-svc: status warns of 1.34; an upgrade out of standard support is refused at the door; upgrade to 1.35 goes through approval and cutover and deletes the old cluster', async () => {
    const status = (await h.cmd('alice', 'status', 'search-svc')).body as unknown as { apps: { kubernetes: { version: string; endOfStandardSupport: string; warning: string } }[] };
    expect(status.apps[0]!.kubernetes).toMatchObject({ version: '1.34', endOfStandardSupport: '2026-12-02', warning: expect.stringContaining('leaves standard support on 2026-12-02') });

    const creates = aws.mocks.eks.commandCalls(CreateClusterCommand).length;
    const refused = await h.cmd('carol', 'upgrade', 'search-svc', '--kubernetes', '1.33');
    expect(refused.body).toMatchObject({ status: 'invalid', code: 'unsupported_version' });
    expect(refused.body.message).toContain('search-svc: --kubernetes 1.33 is out of standard support');
    expect(aws.mocks.eks.commandCalls(CreateClusterCommand).length).toBe(creates);

    const first = live('search-svc');
    const id = await run('carol', 'bob', 'upgrade', 'search-svc');
    const d = h.k.core.view(id);
    expect(d).toMatchObject({ state: 'succeeded', kind: 'upgrade', version: '1.0.0', kubernetesVersion: '1.35' });
    expect(d.approval).toMatchObject({ decision: 'approved', actor: 'bob' });
    expect(aws.mocks.eks.commandCalls(CreateClusterCommand).at(-1)!.args[0].input).toMatchObject({ name: `search-svc-${id}-${h.k.installation}`, version: '1.35', upgradePolicy: { supportType: 'STANDARD' } });
    expect(live('search-svc')).toBe(`search-svc-${id}-${h.k.installation}`);
    expect(h.k.store.environments.live('search-svc')!.kubernetesVersion).toBe('1.35');
    expect(aws.eks.clusters.has(first)).toBe(false);
    expect(aws.tagged().filter((t) => t.includes(first))).toEqual([]);
    // The scale of the old cluster did not come along: the new one runs the KubeApp's replicas.
    expect(deployment(live('search-svc'), 'search-svc').spec.replicas).toBe(3);
  }, 60_000);
});
