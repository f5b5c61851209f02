/**
 * EksClusters with real SDK clients mocked at `send` (aws-sdk-client-mock):
 * the exact commands, the waiters driven to success, failure, timeout and
 * cancel, adoption on resume, and the ledger in a real SQLite file.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, type Instance } from '@aws-sdk/client-auto-scaling';
import {
  CreateClusterCommand,
  CreateFargateProfileCommand,
  CreateNodegroupCommand,
  DeleteClusterCommand,
  DeleteFargateProfileCommand,
  DeleteNodegroupCommand,
  DescribeClusterCommand,
  DescribeFargateProfileCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListClustersCommand,
  ListFargateProfilesCommand,
  ListNodegroupsCommand,
  ResourceInUseException,
  ResourceLimitExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import cacheWorker from '../kubeapps/cache-worker.js';
import searchSvc from '../kubeapps/search-svc.js';
import webFrontend from '../kubeapps/web-frontend.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { EksClusters } from '../deployer/aws/eks-clusters.js';
import type { KubeApp } from '../kubeapps/index.js';
import { ACCOUNT_ID, withAws } from './fakes/aws-apps.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const eks = mockClient(EKSClient);
const asg = mockClient(AutoScalingClient);
const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET' };
const fast = { minDelay: 0.001, maxDelay: 0.002 };
const clusters = (extra: Partial<ConstructorParameters<typeof EksClusters>[0]> = {}) =>
  new EksClusters({ clients: createAwsClientsFor({ credentials }), waiterDelays: fast, ...extra });

const notFound = (what = 'No cluster found') => new ResourceNotFoundException({ message: what, $metadata: {} });
const search = withAws(searchSvc);
const TAGS = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '', 'kubecontrol:managed-by': 'kubecontrol' };
const ASG = 'eks-search-svc-nodes-abc';
const inService = (n: number, of: number): Instance[] =>
  Array.from({ length: of }, (_, i) => ({ InstanceId: `i-${i}`, LifecycleState: i < n ? 'InService' : 'Pending' }) as Instance);

let steps: TestStep[] = [];
function step(app: KubeApp): TestStep {
  const s = testStep(app, { step: 'provision' });
  steps.push(s);
  return s;
}
const rows = (s: TestStep) => s.store.resources.forDeploy(s.ctx.deployId).map((r) => `${r.kind} ${r.name} ${r.state}`);

beforeEach(() => {
  eks.reset();
  asg.reset();
});
afterEach(() => {
  for (const s of steps) s.cleanup();
  steps = [];
});

/** A new cluster: not there, then CREATING, then ACTIVE. */
function clusterComesUp(name: string): void {
  eks
    .on(DescribeClusterCommand, { name })
    .rejectsOnce(notFound())
    .resolvesOnce({ cluster: { name, status: 'CREATING' } })
    .resolves({ cluster: { name, status: 'ACTIVE', endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com', arn: `arn:aws:eks:eu-west-1:${ACCOUNT_ID}:cluster/${name}` } });
  eks.on(CreateClusterCommand).resolves({ cluster: { name, status: 'CREATING' } });
}

describe('EksClusters.provision', () => {
  it('creates the cluster and an on-demand amd64 node group, recording intent before each create', async () => {
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}`;
    clusterComesUp(name);
    const ledgerAtCreate: string[][] = [];
    eks.on(CreateClusterCommand).callsFake(() => {
      ledgerAtCreate.push(rows(s));
      return { cluster: { name, status: 'CREATING' } };
    });
    eks.on(CreateNodegroupCommand).callsFake(() => {
      ledgerAtCreate.push(rows(s));
      return {};
    });
    eks
      .on(DescribeNodegroupCommand)
      .rejectsOnce(notFound('No node group found'))
      .resolvesOnce({ nodegroup: { status: 'CREATING', resources: { autoScalingGroups: [{ name: ASG }] } } })
      .resolves({ nodegroup: { status: 'ACTIVE', resources: { autoScalingGroups: [{ name: ASG }] } } });
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [{ AutoScalingGroupName: ASG, DesiredCapacity: 3, MinSize: 3, MaxSize: 12, Instances: inService(1, 3) } as never] })
      .resolves({ AutoScalingGroups: [{ AutoScalingGroupName: ASG, DesiredCapacity: 3, MinSize: 3, MaxSize: 12, Instances: inService(3, 3) } as never] });

    const info = await clusters().provision({ ctx: s.ctx, clusterName: name });

    expect(info).toEqual({ name, status: 'ACTIVE', endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com' });
    const tags = { ...TAGS, 'kubecontrol:deploy': String(s.ctx.deployId) };
    expect(eks.commandCalls(CreateClusterCommand).map((c) => c.args[0].input)).toEqual([
      {
        name,
        version: '1.31',
        roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
        resourcesVpcConfig: { subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'], securityGroupIds: ['sg-0123abcd'], endpointPublicAccess: true, endpointPrivateAccess: true },
        accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP', bootstrapClusterCreatorAdminPermissions: true },
        tags,
        clientRequestToken: `kubecontrol-${name}`,
      },
    ]);
    expect(eks.commandCalls(CreateNodegroupCommand).map((c) => c.args[0].input)).toEqual([
      {
        clusterName: name,
        nodegroupName: `${name}-nodes`,
        scalingConfig: { minSize: 3, maxSize: 12, desiredSize: 3 },
        instanceTypes: ['m6i.large', 'm6i.xlarge'],
        capacityType: 'ON_DEMAND',
        amiType: 'AL2023_x86_64_STANDARD',
        nodeRole: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node`,
        subnets: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
        labels: { 'kubecontrol/app': 'search-svc' },
        tags,
        clientRequestToken: `kubecontrol-${name}-nodes`,
      },
    ]);
    expect(eks.commandCalls(CreateFargateProfileCommand)).toHaveLength(0);
    // Intent is on record before each create; both are created at the end.
    expect(ledgerAtCreate).toEqual([[`cluster ${name} intent`], [`cluster ${name} created`, `nodegroup ${name}-nodes intent`]]);
    expect(rows(s)).toEqual([`cluster ${name} created`, `nodegroup ${name}-nodes created`]);
    const [clusterRow, ngRow] = s.store.resources.forDeploy(s.ctx.deployId);
    expect(ngRow!.parentId).toBe(clusterRow!.id);
    expect(ngRow!.data).toMatchObject({ cluster: name, region: 'eu-west-1', autoScalingGroup: ASG });
    // Instances are reported as they come up.
    expect(s.lines).toEqual(expect.arrayContaining(['1/3 nodes InService', '3/3 nodes InService', `node group ${name}-nodes is ACTIVE`]));
    expect(s.lines.indexOf('1/3 nodes InService')).toBeLessThan(s.lines.indexOf('3/3 nodes InService'));
  });

  it('creates arm64 spot node groups for Graviton apps', async () => {
    const s = step(withAws(webFrontend));
    const name = `web-frontend-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(CreateNodegroupCommand).resolves({});
    eks.on(DescribeNodegroupCommand).rejectsOnce(notFound()).resolves({ nodegroup: { status: 'ACTIVE', resources: { autoScalingGroups: [{ name: ASG }] } } });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [{ AutoScalingGroupName: ASG, DesiredCapacity: 2, MinSize: 2, MaxSize: 10, Instances: inService(2, 2) } as never] });

    await clusters().provision({ ctx: s.ctx, clusterName: name });

    expect(eks.commandCalls(CreateNodegroupCommand)[0]!.args[0].input).toMatchObject({
      capacityType: 'SPOT',
      amiType: 'AL2023_ARM_64_STANDARD',
      instanceTypes: ['m7g.large', 'c7g.large'],
      scalingConfig: { minSize: 2, maxSize: 10, desiredSize: 2 },
    });
  });

  it('creates a Fargate profile for the app namespace instead of nodes', async () => {
    const s = step(withAws(cacheWorker));
    const name = `cache-worker-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(DescribeFargateProfileCommand).rejectsOnce(notFound()).resolvesOnce({ fargateProfile: { status: 'CREATING' } }).resolves({ fargateProfile: { status: 'ACTIVE' } });
    eks.on(CreateFargateProfileCommand).resolves({});

    await clusters().provision({ ctx: s.ctx, clusterName: name });

    expect(eks.commandCalls(CreateFargateProfileCommand).map((c) => c.args[0].input)).toEqual([
      {
        clusterName: name,
        fargateProfileName: `${name}-fargate`,
        podExecutionRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-fargate`,
        subnets: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
        selectors: [{ namespace: 'cache-worker' }, { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }],
        tags: { 'kubecontrol:app': 'cache-worker', 'kubecontrol:deploy': String(s.ctx.deployId), 'kubecontrol:managed-by': 'kubecontrol' },
        clientRequestToken: `kubecontrol-${name}-fargate`,
      },
    ]);
    expect(eks.commandCalls(CreateNodegroupCommand)).toHaveLength(0);
    expect(rows(s)).toEqual([`cluster ${name} created`, `fargate-profile ${name}-fargate created`]);
  });

  it('adopts what a previous attempt of the same deploy created (resume)', async () => {
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}`;
    eks.on(DescribeClusterCommand).resolves({ cluster: { name, status: 'CREATING', tags: { 'kubecontrol:deploy': String(s.ctx.deployId) } } });
    eks.on(DescribeClusterCommand).resolvesOnce({ cluster: { name, status: 'CREATING', tags: { 'kubecontrol:deploy': String(s.ctx.deployId) } } }).resolves({ cluster: { name, status: 'ACTIVE', endpoint: 'https://x' } });
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { status: 'ACTIVE', resources: { autoScalingGroups: [{ name: ASG }] } } });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [{ AutoScalingGroupName: ASG, DesiredCapacity: 3, MinSize: 3, MaxSize: 12, Instances: inService(3, 3) } as never] });
    // The previous attempt had already written its intent.
    s.ctx.ledger.intend({ kind: 'cluster', name, data: { region: 'eu-west-1' } });

    await clusters().provision({ ctx: s.ctx, clusterName: name });

    expect(eks.commandCalls(CreateClusterCommand)).toHaveLength(0);
    expect(eks.commandCalls(CreateNodegroupCommand)).toHaveLength(0);
    expect(rows(s)).toEqual([`cluster ${name} created`, `nodegroup ${name}-nodes created`]);
    expect(s.lines[0]).toBe(`EKS cluster ${name} already exists (CREATING); adopting it`);
  });

  it('adopts a cluster whose create raced with ours (ResourceInUseException)', async () => {
    const s = step(withAws(cacheWorker));
    const name = `cache-worker-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(CreateClusterCommand).rejects(new ResourceInUseException({ message: 'Cluster already exists with name', $metadata: {} }));
    eks.on(DescribeFargateProfileCommand).resolves({ fargateProfile: { status: 'ACTIVE' } });
    await expect(clusters().provision({ ctx: s.ctx, clusterName: name })).resolves.toMatchObject({ status: 'ACTIVE' });
  });

  it("refuses to adopt another deploy's cluster", async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: 'search-svc-1', status: 'ACTIVE', tags: { 'kubecontrol:deploy': '999' } } });
    await expect(clusters().provision({ ctx: s.ctx, clusterName: 'search-svc-1' })).rejects.toThrow(
      `EKS cluster search-svc-1 already exists and belongs to deploy 999, not ${s.ctx.deployId}`,
    );
  });

  it('wraps AWS errors with the operation, code and message', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejects(notFound());
    eks.on(CreateClusterCommand).rejects(new ResourceLimitExceededException({ message: 'Cluster limit exceeded for account.', $metadata: {} }));
    const err = (await clusters().provision({ ctx: s.ctx, clusterName: 'search-svc-9' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('EKS CreateCluster failed: ResourceLimitExceededException: Cluster limit exceeded for account.');
    expect((err.cause as Error).name).toBe('ResourceLimitExceededException');
    // The intent stays on record: teardown will look for it.
    expect(rows(s)).toEqual(['cluster search-svc-9 intent']);
  });

  it('fails when the cluster ends up FAILED, with its health issues', async () => {
    const s = step(search);
    eks
      .on(DescribeClusterCommand)
      .rejectsOnce(notFound())
      .resolves({ cluster: { status: 'FAILED', health: { issues: [{ code: 'InsufficientFreeAddresses', message: 'subnet-0a1b2c3d has no free IPs' }] } } });
    eks.on(CreateClusterCommand).resolves({});
    await expect(clusters().provision({ ctx: s.ctx, clusterName: 'search-svc-3' })).rejects.toThrow(
      'failed waiting for EKS cluster search-svc-3 to become ACTIVE: FAILURE (status FAILED; InsufficientFreeAddresses: subnet-0a1b2c3d has no free IPs)',
    );
  });

  it('times out when the cluster stays CREATING past the wait limit', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejectsOnce(notFound()).resolves({ cluster: { status: 'CREATING' } });
    eks.on(CreateClusterCommand).resolves({});
    await expect(clusters({ maxWaitSeconds: 0.05 }).provision({ ctx: s.ctx, clusterName: 'search-svc-4' })).rejects.toThrow(
      'timed out waiting for EKS cluster search-svc-4 to become ACTIVE',
    );
  });

  it('stops waiting when the step is cancelled', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejectsOnce(notFound()).resolves({ cluster: { status: 'CREATING' } });
    eks.on(CreateClusterCommand).callsFake(() => {
      setImmediate(() => s.controller.abort(new Error('deploy cancelled by bob')));
      return {};
    });
    await expect(clusters().provision({ ctx: s.ctx, clusterName: 'search-svc-5' })).rejects.toMatchObject({
      name: 'AbortError',
      message: 'waiting for EKS cluster search-svc-5 to become ACTIVE aborted: deploy cancelled by bob',
    });
  });

  it('fails clearly when the account settings are missing', async () => {
    const s = step(withAws(searchSvc, { clusterRoleArn: '' }));
    await expect(clusters().provision({ ctx: s.ctx, clusterName: 'x-1' })).rejects.toThrow(
      'no clusterRoleArn configured for search-svc: set aws.clusterRoleArn or KUBECONTROL_CLUSTER_ROLE_ARN',
    );
    expect(eks.calls()).toHaveLength(0);
  });
});

describe('EksClusters.destroy', () => {
  it('deletes node group then cluster, waiting for each; the ledger goes to deleted', async () => {
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(CreateNodegroupCommand).resolves({});
    eks.on(DescribeNodegroupCommand).rejectsOnce(notFound()).resolves({ nodegroup: { status: 'ACTIVE', resources: { autoScalingGroups: [{ name: ASG }] } } });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [{ AutoScalingGroupName: ASG, DesiredCapacity: 3, MinSize: 3, MaxSize: 12, Instances: inService(3, 3) } as never] });
    const gone: string[] = [];
    const c = clusters({ onClusterGone: (n) => void gone.push(n) });
    await c.provision({ ctx: s.ctx, clusterName: name });

    eks.reset();
    eks.on(DeleteNodegroupCommand).resolves({});
    eks.on(DescribeNodegroupCommand).resolvesOnce({ nodegroup: { status: 'DELETING' } }).rejects(notFound());
    eks.on(ListNodegroupsCommand).resolves({ nodegroups: [] });
    eks.on(ListFargateProfilesCommand).resolves({ fargateProfileNames: [] });
    eks.on(DeleteClusterCommand).resolves({});
    eks.on(DescribeClusterCommand).resolvesOnce({ cluster: { status: 'DELETING' } }).rejects(notFound());
    // What the pipeline does at teardown: children first, marking the ledger around each destroy.
    const lines: string[] = [];
    for (const r of s.store.resources.forDeploy(s.ctx.deployId).reverse()) {
      s.ctx.ledger.deleting(r.id);
      await c.destroy({ resource: s.store.resources.get(r.id)!, app: search, progress: (m) => void lines.push(m) });
      s.ctx.ledger.deleted(r.id);
    }

    expect(eks.commandCalls(DeleteNodegroupCommand).map((x) => x.args[0].input)).toEqual([{ clusterName: name, nodegroupName: `${name}-nodes` }]);
    expect(eks.commandCalls(DeleteClusterCommand).map((x) => x.args[0].input)).toEqual([{ name }]);
    expect(lines).toEqual([
      `deleting node group ${name}-nodes`,
      `node group ${name}-nodes deleted`,
      `deleting EKS cluster ${name}`,
      `EKS cluster ${name} deleted`,
    ]);
    expect(rows(s)).toEqual([`cluster ${name} deleted`, `nodegroup ${name}-nodes deleted`]);
    // Its cached Kubernetes credentials can go too.
    expect(gone).toEqual([name]);
    const states = s.store.events
      .after(s.ctx.deployId)
      .filter((e) => e.kind === 'resource')
      .map((e) => e.message);
    expect(states).toEqual([
      `cluster ${name}: intent`,
      `cluster ${name}: created`,
      `nodegroup ${name}-nodes: intent`,
      `nodegroup ${name}-nodes: created`,
      `nodegroup ${name}-nodes: deleting`,
      `nodegroup ${name}-nodes: deleted`,
      `cluster ${name}: deleting`,
      `cluster ${name}: deleted`,
    ]);
  });

  it('counts a resource that is already gone as deleted', async () => {
    eks.on(DeleteFargateProfileCommand).rejects(notFound());
    eks.on(ListNodegroupsCommand).rejects(notFound());
    const lines: string[] = [];
    const c = clusters();
    const base = { id: 1, deployId: 1, app: 'cache-worker', provider: 'aws', parentId: null, state: 'deleting' as const, error: null, createdAt: 0, updatedAt: 0 };
    await c.destroy({ resource: { ...base, kind: 'fargate-profile', name: 'cache-worker-1-fargate', data: { cluster: 'cache-worker-1', region: 'eu-west-1' } }, app: withAws(cacheWorker), progress: (m) => void lines.push(m) });
    await c.destroy({ resource: { ...base, kind: 'cluster', name: 'cache-worker-1', data: { region: 'eu-west-1' } }, app: withAws(cacheWorker), progress: (m) => void lines.push(m) });
    expect(lines).toEqual(['Fargate profile cache-worker-1-fargate is already gone', 'EKS cluster cache-worker-1 is already gone']);
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(0);
  });

  it('removes capacity the ledger does not know about before deleting the cluster', async () => {
    eks.on(ListNodegroupsCommand).resolves({ nodegroups: ['stray-nodes'] });
    eks.on(ListFargateProfilesCommand).resolves({ fargateProfileNames: [] });
    eks.on(DeleteNodegroupCommand).resolves({});
    eks.on(DescribeNodegroupCommand).rejects(notFound());
    eks.on(DeleteClusterCommand).resolves({});
    eks.on(DescribeClusterCommand).rejects(notFound());
    const base = { id: 1, deployId: 1, app: 'search-svc', provider: 'aws', parentId: null, state: 'deleting' as const, error: null, createdAt: 0, updatedAt: 0 };
    await clusters().destroy({ resource: { ...base, kind: 'cluster', name: 'search-svc-1', data: { region: 'eu-west-1' } }, app: search, progress: () => undefined });
    expect(eks.commandCalls(DeleteNodegroupCommand).map((x) => x.args[0].input)).toEqual([{ clusterName: 'search-svc-1', nodegroupName: 'stray-nodes' }]);
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(1);
  });

  it('throws when a delete does not finish', async () => {
    eks.on(DeleteNodegroupCommand).resolves({});
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { status: 'DELETE_FAILED', health: { issues: [{ code: 'Ec2SecurityGroupDeletionFailure', message: 'sg in use' }] } } });
    const base = { id: 1, deployId: 1, app: 'search-svc', provider: 'aws', parentId: null, state: 'deleting' as const, error: null, createdAt: 0, updatedAt: 0 };
    await expect(
      clusters().destroy({ resource: { ...base, kind: 'nodegroup', name: 'search-svc-1-nodes', data: { cluster: 'search-svc-1', region: 'eu-west-1' } }, app: search, progress: () => undefined }),
    ).rejects.toThrow(/^failed waiting for node group search-svc-1-nodes to be deleted: FAILURE \(status DELETE_FAILED; Ec2SecurityGroupDeletionFailure: sg in use\)/);
  });
});

describe('EksClusters.describe and listTagged', () => {
  it('describes a cluster, or undefined when there is none', async () => {
    eks.on(DescribeClusterCommand, { name: 'search-svc-1' }).resolves({ cluster: { name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://e' } });
    eks.on(DescribeClusterCommand, { name: 'nope' }).rejects(notFound());
    const c = clusters();
    await expect(c.describe({ name: 'search-svc-1', app: search })).resolves.toEqual({ name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://e' });
    await expect(c.describe({ name: 'nope', app: search })).resolves.toBeUndefined();
  });

  it('lists kubecontrol-tagged clusters with their node groups and Fargate profiles', async () => {
    eks.on(ListClustersCommand).resolvesOnce({ clusters: ['search-svc-7', 'someone-elses'], nextToken: 't' }).resolves({ clusters: ['cache-worker-8'] });
    eks.on(DescribeClusterCommand, { name: 'search-svc-7' }).resolves({ cluster: { tags: { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '7' } } });
    eks.on(DescribeClusterCommand, { name: 'someone-elses' }).resolves({ cluster: { tags: { team: 'data' } } });
    eks.on(DescribeClusterCommand, { name: 'cache-worker-8' }).resolves({ cluster: { tags: { 'kubecontrol:app': 'cache-worker', 'kubecontrol:deploy': '8' } } });
    eks.on(ListNodegroupsCommand, { clusterName: 'search-svc-7' }).resolves({ nodegroups: ['search-svc-7-nodes'] });
    eks.on(ListNodegroupsCommand, { clusterName: 'cache-worker-8' }).resolves({ nodegroups: [] });
    eks.on(ListFargateProfilesCommand, { clusterName: 'search-svc-7' }).resolves({ fargateProfileNames: [] });
    eks.on(ListFargateProfilesCommand, { clusterName: 'cache-worker-8' }).resolves({ fargateProfileNames: ['cache-worker-8-fargate'] });

    await expect(clusters({ regions: () => ['eu-west-1'] }).listTagged({})).resolves.toEqual([
      { kind: 'cluster', name: 'search-svc-7', app: 'search-svc', deployId: 7 },
      { kind: 'nodegroup', name: 'search-svc-7-nodes', cluster: 'search-svc-7', app: 'search-svc', deployId: 7 },
      { kind: 'cluster', name: 'cache-worker-8', app: 'cache-worker', deployId: 8 },
      { kind: 'fargate-profile', name: 'cache-worker-8-fargate', cluster: 'cache-worker-8', app: 'cache-worker', deployId: 8 },
    ]);
  });
});
