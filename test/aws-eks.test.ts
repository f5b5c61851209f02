/**
 * EksClusters with real SDK clients mocked at `send` (aws-sdk-client-mock):
 * the waiters driven to success, failure, timeout and cancel, and the ledger in
 * a real SQLite file. Provisioning of each capacity kind, adoption, ownership,
 * Pod Identity, access entries and teardown run against a stateful fake EKS
 * that refuses what EKS refuses.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand, type Instance } from '@aws-sdk/client-auto-scaling';
import {
  DescribeAddonCommand,
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreatePodIdentityAssociationCommand,
  DescribeClusterVersionsCommand,
  InvalidParameterException,
  type CreateClusterCommandInput,
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
  ResourceInUseException,
  ResourceLimitExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { EksClusters } from '../deployer/aws/eks-clusters.js';
import { InfraError } from '../deployer/errors.js';
import type { ResourceRecord } from '../store/index.js';
import type { KubeApp } from '../kubeapps/index.js';
import { ACCOUNT_ID, INSTALLATION, OTHER_INSTALLATION, PUBLIC_SUBNETS, SETTINGS, TODAY, awsSettings, withAws } from './fakes/aws-apps.js';
import { FakeEks } from './fakes/aws-eks.js';
import { calendarVersions } from '../deployer/aws/versions.js';
import type { Capacity, ClusterRef, TaggedResource } from '../deployer/ports.js';
import { clusterRef, clusterSpec, placementOf } from '../deployer/specs.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const eks = mockClient(EKSClient);
const asg = mockClient(AutoScalingClient);
const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET' };
const fast = { minDelay: 0.001, maxDelay: 0.002 };
/** NodePools applied (what KubeWorkloads.applyNodePool would apply on the new cluster). */
let applied: { cluster: ClusterRef; capacity: Extract<Capacity, { kind: 'auto' }>; app: string }[] = [];
const nodePools = { applyNodePool: async (cmd: { cluster: ClusterRef; capacity: Extract<Capacity, { kind: 'auto' }>; app: string }) => void applied.push({ cluster: cmd.cluster, capacity: cmd.capacity, app: cmd.app }) };
const clusters = (extra: Partial<ConstructorParameters<typeof EksClusters>[0]> = {}) =>
  new EksClusters({ clients: createAwsClientsFor({ credentials }), installation: INSTALLATION, settings: SETTINGS, waiterDelays: fast, nodePools, now: () => TODAY, ...extra });
/** EKS's answer to DescribeClusterVersions on 2026-11-30. */
const VERSIONS = {
  clusterVersions: calendarVersions(TODAY).map((v) => ({
    clusterVersion: v.version,
    versionStatus: v.status,
    endOfStandardSupportDate: new Date(v.endOfStandardSupport),
    endOfExtendedSupportDate: new Date(v.endOfExtendedSupport),
  })),
};

const notFound = (what = 'No cluster found') => new ResourceNotFoundException({ message: what, $metadata: {} });
const search = searchSvc;
const TAGS = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '', 'kubecontrol:managed-by': 'kubecontrol', 'kubecontrol:installation': INSTALLATION.id };
const OURS = { 'kubecontrol:installation': INSTALLATION.id };
const THEIRS = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '1', 'kubecontrol:installation': OTHER_INSTALLATION.id };
const row = (r: Pick<ResourceRecord, 'kind' | 'name' | 'data'>): ResourceRecord => ({
  id: 1,
  deployId: 1,
  envId: null,
  app: 'search-svc',
  provider: 'aws',
  parentId: null,
  state: 'deleting',
  error: null,
  createdAt: 0,
  updatedAt: 0,
  ...r,
});
const ASG = 'eks-search-svc-nodes-abc';
/** search-svc's hardware on a managed node group. */
const NODES: Capacity = { kind: 'nodes', instanceTypes: ['m6i.large', 'm6i.xlarge'], minNodes: 3, maxNodes: 12, desiredNodes: 3, spot: false, arch: 'amd64' };
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
  applied = [];
  eks.on(DescribeClusterVersionsCommand).resolves(VERSIONS);
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
    .resolvesOnce({ cluster: { name, status: 'CREATING', tags: OURS } })
    .resolves({ cluster: { name, status: 'ACTIVE', endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com', arn: `arn:aws:eks:eu-west-1:${ACCOUNT_ID}:cluster/${name}`, tags: OURS } });
  eks.on(CreateClusterCommand).resolves({ cluster: { name, status: 'CREATING' } });
}

describe('EksClusters.provision', () => {
  it('creates the cluster and an on-demand amd64 node group, recording intent before each create', async () => {
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(CreateAddonCommand).resolves({});
    eks.on(DescribeAddonCommand).resolves({ addon: { status: 'ACTIVE' } });
    asg.on(CreateOrUpdateTagsCommand).resolves({});
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

    const info = await clusters().provision({ ctx: s.ctx, cluster: { ...clusterSpec(s.app, name), capacity: NODES, podIdentity: undefined } });

    expect(info).toEqual({ name, status: 'ACTIVE', endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com' });
    const tags = { ...TAGS, 'kubecontrol:deploy': String(s.ctx.deployId) };
    expect(eks.commandCalls(CreateClusterCommand).map((c) => c.args[0].input)).toEqual([
      {
        name,
        // Unset in the app: the newest version in standard support, asked of EKS.
        version: '1.35',
        roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
        resourcesVpcConfig: { subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'], securityGroupIds: ['sg-0123abcd'], endpointPublicAccess: true, endpointPrivateAccess: true },
        computeConfig: { enabled: true, nodePools: ['system'], nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node` },
        kubernetesNetworkConfig: { elasticLoadBalancing: { enabled: true } },
        storageConfig: { blockStorage: { enabled: true } },
        accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: true },
        bootstrapSelfManagedAddons: false,
        upgradePolicy: { supportType: 'STANDARD' },
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
    // The networking managed nodes need (Auto Mode nodes have it built in), CoreDNS once nodes are there.
    expect(eks.commandCalls(CreateAddonCommand).map((c) => c.args[0].input.addonName)).toEqual(['vpc-cni', 'kube-proxy', 'coredns']);
    // The Auto Scaling group carries kubecontrol's tags, and hands them to its instances.
    expect(asg.commandCalls(CreateOrUpdateTagsCommand)[0]!.args[0].input.Tags).toEqual(
      Object.entries(tags).map(([Key, Value]) => ({ ResourceId: ASG, ResourceType: 'auto-scaling-group', Key, Value, PropagateAtLaunch: true })),
    );
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

  it('adopts a cluster whose create raced with ours (ResourceInUseException)', async () => {
    const s = step(cacheWorker);
    const name = `cache-worker-${s.ctx.deployId}`;
    clusterComesUp(name);
    eks.on(CreateClusterCommand).rejects(new ResourceInUseException({ message: 'Cluster already exists with name', $metadata: {} }));
    eks.on(DescribeFargateProfileCommand).resolves({ fargateProfile: { status: 'ACTIVE', tags: OURS } });
    eks.on(CreateAddonCommand).resolves({});
    eks.on(DescribeAddonCommand).resolves({ addon: { status: 'ACTIVE' } });
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) })).resolves.toMatchObject({ status: 'ACTIVE' });
  });

  it("refuses to adopt another deploy's cluster", async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: 'search-svc-1', status: 'ACTIVE', tags: { ...OURS, 'kubecontrol:deploy': '999' } } });
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-1') })).rejects.toThrow(
      `EKS cluster search-svc-1 already exists and belongs to deploy 999, not ${s.ctx.deployId}`,
    );
    expect(rows(s)).toEqual([]);
  });

  it('wraps AWS errors with the operation, code and message', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejects(notFound());
    eks.on(CreateClusterCommand).rejects(new ResourceLimitExceededException({ message: 'Cluster limit exceeded for account.', $metadata: {} }));
    const err = (await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-9') }).catch((e: unknown) => e)) as InfraError;
    expect(err).toBeInstanceOf(InfraError);
    expect(err.code).toBe('provider_failed');
    expect(err.message).toBe('EKS CreateCluster failed: ResourceLimitExceededException: Cluster limit exceeded for account.');
    expect(err.cause).toBeInstanceOf(ResourceLimitExceededException);
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
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-3') })).rejects.toThrow(
      'failed waiting for EKS cluster search-svc-3 to become ACTIVE: FAILURE (status FAILED; InsufficientFreeAddresses: subnet-0a1b2c3d has no free IPs)',
    );
  });

  it('times out when the cluster stays CREATING past the wait limit', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejectsOnce(notFound()).resolves({ cluster: { status: 'CREATING' } });
    eks.on(CreateClusterCommand).resolves({});
    await expect(clusters({ maxWaitSeconds: 0.05 }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-4') })).rejects.toMatchObject({
      code: 'timed_out',
      message: 'timed out waiting for EKS cluster search-svc-4 to become ACTIVE',
    });
  });

  it('stops waiting when the step is cancelled', async () => {
    const s = step(search);
    eks.on(DescribeClusterCommand).rejectsOnce(notFound()).resolves({ cluster: { status: 'CREATING' } });
    eks.on(CreateClusterCommand).callsFake(() => {
      setImmediate(() => s.controller.abort(new Error('deploy cancelled by bob')));
      return {};
    });
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-5') })).rejects.toMatchObject({
      code: 'aborted',
      message: 'waiting for EKS cluster search-svc-5 to become ACTIVE aborted: deploy cancelled by bob',
    });
  });

  it('fails clearly, before creating anything, when a setting is missing', async () => {
    const s = step(withAws(searchSvc, { clusterRoleArn: '' }));
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'x-1') })).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'no clusterRoleArn configured for search-svc: set aws.clusterRoleArn or KUBECONTROL_CLUSTER_ROLE_ARN',
    });
    // A Fargate app in an installation without a pod execution role: nothing is created for it.
    const f = step(cacheWorker);
    const { podExecutionRoleArn: _unused, ...noFargateRole } = SETTINGS;
    await expect(clusters({ settings: noFargateRole }).provision({ ctx: f.ctx, cluster: clusterSpec(f.app, 'x-2') })).rejects.toThrow(
      'no podExecutionRoleArn configured for cache-worker: set aws.podExecutionRoleArn or KUBECONTROL_POD_EXECUTION_ROLE_ARN',
    );
    expect(eks.calls()).toHaveLength(0);
  });

  it("places the app with its own overrides first, then the provider's settings", async () => {
    const app = withAws(searchSvc, { region: 'us-west-2', subnetIds: ['subnet-11111111', 'subnet-22222222'], clusterRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/search-cluster` });
    const s = step(app);
    const name = `search-svc-${s.ctx.deployId}`;
    clusterComesUp(name);
    await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });
    const create = eks.commandCalls(CreateClusterCommand)[0]!;
    expect(create.args[0].input).toMatchObject({
      roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/search-cluster`,
      resourcesVpcConfig: { subnetIds: ['subnet-11111111', 'subnet-22222222'], securityGroupIds: ['sg-0123abcd'] },
      computeConfig: { nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node` },
    });
    expect(await create.thisValue.config.region()).toBe('us-west-2');
    // The versions were asked of EKS in the app's region, and the NodePool went to the cluster there.
    expect(await eks.commandCalls(DescribeClusterVersionsCommand)[0]!.thisValue.config.region()).toBe('us-west-2');
    expect(applied.map((a) => a.cluster)).toEqual([{ name, placement: expect.objectContaining({ region: 'us-west-2' }) }]);
    expect(s.store.resources.forDeploy(s.ctx.deployId)[0]!.data).toMatchObject({ region: 'us-west-2' });
  });
});

describe('EksClusters.destroy', () => {
  it('deletes node group then cluster, waiting for each; the ledger goes to deleted', async () => {
    const fake = new FakeEks(eks, asg);
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}`;
    const gone: string[] = [];
    const c = clusters({ onClusterGone: (n) => void gone.push(n) });
    await c.provision({ ctx: s.ctx, cluster: { ...clusterSpec(s.app, name), capacity: NODES, podIdentity: undefined } });
    expect(fake.clusters.get(name)!.tags).toEqual({ ...TAGS, 'kubecontrol:deploy': String(s.ctx.deployId) });
    expect(fake.nodegroups.get(`${name}/${name}-nodes`)!.tags).toEqual({ ...TAGS, 'kubecontrol:deploy': String(s.ctx.deployId) });

    eks.resetHistory();
    // What the pipeline does at teardown: children first, marking the ledger around each destroy.
    const lines: string[] = [];
    for (const r of s.store.resources.forDeploy(s.ctx.deployId).reverse()) {
      s.ctx.ledger.deleting(r.id);
      await c.destroy({ resource: s.store.resources.get(r.id)!, placement: placementOf(search), progress: (m) => void lines.push(m) });
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
    expect(fake.clusters.size).toBe(0);
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
    new FakeEks(eks, asg);
    const lines: string[] = [];
    const c = clusters();
    await c.destroy({ resource: row({ kind: 'fargate-profile', name: 'cache-worker-1-fargate', data: { cluster: 'cache-worker-1', region: 'eu-west-1' } }), placement: placementOf(cacheWorker), progress: (m) => void lines.push(m) });
    await c.destroy({ resource: row({ kind: 'cluster', name: 'cache-worker-1', data: { region: 'eu-west-1' } }), placement: placementOf(cacheWorker), progress: (m) => void lines.push(m) });
    expect(lines).toEqual(['Fargate profile cache-worker-1-fargate is already gone', 'EKS cluster cache-worker-1 is already gone']);
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(0);
  });

  it('removes capacity the ledger does not know about before deleting the cluster', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-1', { ...OURS, 'kubecontrol:app': 'search-svc' });
    fake.seedNodegroup('search-svc-1', 'stray-nodes', {});
    await clusters().destroy({ resource: row({ kind: 'cluster', name: 'search-svc-1', data: { region: 'eu-west-1' } }), placement: placementOf(search), progress: () => undefined });
    expect(eks.commandCalls(DeleteNodegroupCommand).map((x) => x.args[0].input)).toEqual([{ clusterName: 'search-svc-1', nodegroupName: 'stray-nodes' }]);
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(1);
    expect(fake.clusters.size).toBe(0);
  });

  it('throws when a delete does not finish', async () => {
    eks.on(DeleteNodegroupCommand).resolves({});
    eks
      .on(DescribeNodegroupCommand)
      .resolvesOnce({ nodegroup: { status: 'ACTIVE', tags: OURS } })
      .resolves({ nodegroup: { status: 'DELETE_FAILED', tags: OURS, health: { issues: [{ code: 'Ec2SecurityGroupDeletionFailure', message: 'sg in use' }] } } });
    await expect(
      clusters().destroy({ resource: row({ kind: 'nodegroup', name: 'search-svc-1-nodes', data: { cluster: 'search-svc-1', region: 'eu-west-1' } }), placement: placementOf(search), progress: () => undefined }),
    ).rejects.toThrow(/^failed waiting for node group search-svc-1-nodes to be deleted: FAILURE \(status DELETE_FAILED; Ec2SecurityGroupDeletionFailure: sg in use\)/);
  });
});

describe('EksClusters.describe and listTagged', () => {
  it('describes a cluster, or undefined when there is none', async () => {
    eks.on(DescribeClusterCommand, { name: 'search-svc-1' }).resolves({ cluster: { name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://e', tags: OURS } });
    eks.on(DescribeClusterCommand, { name: 'nope' }).rejects(notFound());
    const c = clusters();
    await expect(c.describe({ cluster: clusterRef(search, 'search-svc-1') })).resolves.toEqual({ name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://e' });
    await expect(c.describe({ cluster: clusterRef(search, 'nope') })).resolves.toBeUndefined();
  });

  it("lists this installation's clusters with their node groups and Fargate profiles", async () => {
    const fake = new FakeEks(eks, asg);
    const tagged = (app: string, deploy: string) => ({ ...OURS, 'kubecontrol:app': app, 'kubecontrol:deploy': deploy });
    fake.seedCluster('search-svc-7', tagged('search-svc', '7'));
    fake.seedNodegroup('search-svc-7', 'search-svc-7-nodes', tagged('search-svc', '7'));
    fake.seedCluster('someone-elses', { team: 'data' });
    fake.seedCluster('cache-worker-8', tagged('cache-worker', '8'));
    fake.seedFargateProfile('cache-worker-8', 'cache-worker-8-fargate', tagged('cache-worker', '8'));

    await expect(clusters({ regions: () => ['eu-west-1'] }).listTagged({})).resolves.toEqual([
      { kind: 'cluster', name: 'search-svc-7', app: 'search-svc', deployId: 7 },
      { kind: 'nodegroup', name: 'search-svc-7-nodes', cluster: 'search-svc-7', app: 'search-svc', deployId: 7 },
      { kind: 'cluster', name: 'cache-worker-8', app: 'cache-worker', deployId: 8 },
      { kind: 'fargate-profile', name: 'cache-worker-8-fargate', cluster: 'cache-worker-8', app: 'cache-worker', deployId: 8 },
    ]);
  });

  it('pages through ListClusters and always looks in the settings region', async () => {
    eks.on(ListClustersCommand).resolvesOnce({ clusters: ['a-1'], nextToken: 't' }).resolves({ clusters: [] });
    eks.on(DescribeClusterCommand).resolves({ cluster: { tags: { team: 'data' } } });
    await expect(clusters({ regions: () => ['us-east-1'] }).listTagged({})).resolves.toEqual([]);
    const regions = await Promise.all(eks.commandCalls(ListClustersCommand).map((c) => c.thisValue.config.region()));
    expect(new Set(regions)).toEqual(new Set(['eu-west-1', 'us-east-1']));
  });
});

describe('another installation in the same account', () => {
  it('is never adopted: a cluster of the same name belongs to the other installation', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-1', THEIRS);
    const s = step(search);
    const err = (await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-1') }).catch((e: unknown) => e)) as InfraError;
    expect(err).toBeInstanceOf(InfraError);
    expect(err.code).toBe('not_owned');
    expect(err.message).toBe(`cluster search-svc-1 exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not adopting it`);
    // Not touched, and not in this deploy's ledger (teardown must not go near it).
    expect(eks.commandCalls(CreateClusterCommand)).toHaveLength(0);
    expect(eks.commandCalls(CreateNodegroupCommand)).toHaveLength(0);
    expect(rows(s)).toEqual([]);
    expect(fake.clusters.get('search-svc-1')!.tags).toEqual(THEIRS);
  });

  it('is never adopted when the name is taken between our look and our create', async () => {
    const fake = new FakeEks(eks, asg);
    const s = step(search);
    eks.on(CreateClusterCommand).callsFakeOnce(() => {
      fake.seedCluster('search-svc-2', THEIRS, 'CREATING');
      throw new ResourceInUseException({ message: 'Cluster already exists with name: search-svc-2', $metadata: {} });
    });
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-2') })).rejects.toMatchObject({ code: 'not_owned' });
    expect(eks.commandCalls(CreateNodegroupCommand)).toHaveLength(0);
  });

  it('refuses a cluster with no installation tag at all, and a node group of another installation', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-3', { 'kubecontrol:app': 'search-svc' });
    const s = step(search);
    await expect(clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-3') })).rejects.toThrow(
      'cluster search-svc-3 exists but belongs to no kubecontrol installation (it has no kubecontrol:installation tag); not adopting it',
    );

    const name = `search-svc-${s.ctx.deployId}`;
    fake.seedCluster(name, { ...OURS, 'kubecontrol:deploy': String(s.ctx.deployId) });
    fake.seedNodegroup(name, `${name}-nodes`, THEIRS);
    await expect(clusters().provision({ ctx: s.ctx, cluster: { ...clusterSpec(s.app, name), capacity: NODES } })).rejects.toThrow(
      `node group ${name}-nodes exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not adopting it`,
    );
    expect(rows(s)).toEqual([`cluster ${name} created`]);
  });

  it('is never deleted: destroy throws not_owned and leaves every resource of the other installation alone', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-1', THEIRS);
    fake.seedNodegroup('search-svc-1', 'search-svc-1-nodes', THEIRS);
    fake.seedCluster('cache-worker-1', THEIRS);
    fake.seedFargateProfile('cache-worker-1', 'cache-worker-1-fargate', THEIRS);
    const deleted: string[] = [];
    const c = clusters({ namespaces: { deleteNamespace: async ({ cluster }) => void deleted.push(cluster.name) } });
    const destroy = (r: Pick<ResourceRecord, 'kind' | 'name' | 'data'>) => c.destroy({ resource: row(r), placement: placementOf(search), progress: () => undefined });

    await expect(destroy({ kind: 'nodegroup', name: 'search-svc-1-nodes', data: { cluster: 'search-svc-1', region: 'eu-west-1' } })).rejects.toMatchObject({
      code: 'not_owned',
      message: `node group search-svc-1-nodes exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not deleting it`,
    });
    await expect(destroy({ kind: 'fargate-profile', name: 'cache-worker-1-fargate', data: { cluster: 'cache-worker-1', region: 'eu-west-1' } })).rejects.toMatchObject({ code: 'not_owned' });
    await expect(destroy({ kind: 'namespace', name: 'search-svc-1/search-svc', data: { cluster: 'search-svc-1', region: 'eu-west-1' } })).rejects.toThrow(
      `cluster search-svc-1 exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not deleting namespace search-svc on it`,
    );
    await expect(destroy({ kind: 'cluster', name: 'search-svc-1', data: { region: 'eu-west-1' } })).rejects.toThrow(
      `cluster search-svc-1 exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not deleting it`,
    );
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(0);
    expect(eks.commandCalls(DeleteNodegroupCommand)).toHaveLength(0);
    expect(eks.commandCalls(DeleteFargateProfileCommand)).toHaveLength(0);
    expect(deleted).toEqual([]);
    expect([...fake.clusters.keys()]).toEqual(['search-svc-1', 'cache-worker-1']);
    expect(fake.nodegroups.size + fake.fargateProfiles.size).toBe(2);
  });

  it('is listed as theirs, never as ours, and never described as ours', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-1', THEIRS);
    fake.seedNodegroup('search-svc-1', 'search-svc-1-nodes', THEIRS);
    fake.seedCluster('search-svc-2', { ...THEIRS, 'kubecontrol:installation': INSTALLATION.id, 'kubecontrol:deploy': '2' });
    fake.seedNodegroup('search-svc-2', 'search-svc-2-nodes', THEIRS);
    // Listed as theirs (gc shows it and never deletes it); their node group is their business.
    await expect(clusters().listTagged({})).resolves.toEqual([
      { kind: 'cluster', name: 'search-svc-1', app: 'search-svc', deployId: 1, installation: OTHER_INSTALLATION.id },
      { kind: 'cluster', name: 'search-svc-2', app: 'search-svc', deployId: 2 },
    ]);
    await expect(clusters().describe({ cluster: clusterRef(search, 'search-svc-1') })).rejects.toMatchObject({ code: 'not_owned' });
  });
});

describe('each kind of capacity, through the real SDK client against the fake EKS', () => {
  const fakeEks = () => new FakeEks(eks, asg, { publicSubnets: PUBLIC_SUBNETS });
  const nodegroupTags = (s: TestStep) => ({ ...TAGS, 'kubecontrol:app': s.app.name, 'kubecontrol:deploy': String(s.ctx.deployId) });

  it("'auto': an Auto Mode cluster with the system pool, the app's NodePool applied, its pods' role attached", async () => {
    const fake = fakeEks();
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    const c = fake.clusters.get(name)!;
    expect(c.input).toMatchObject({
      version: '1.35',
      computeConfig: { enabled: true, nodePools: ['system'] },
      upgradePolicy: { supportType: 'STANDARD' },
      accessConfig: { authenticationMode: 'API' },
    });
    expect(applied).toEqual([{ cluster: { name, placement: { region: 'eu-west-1' } }, app: 'search-svc', capacity: clusterSpec(s.app, name).capacity }]);
    expect(fake.nodegroups.size + fake.fargateProfiles.size + fake.addons.size).toBe(0);
    expect(fake.podIdentityAssociations).toEqual([
      expect.objectContaining({ clusterName: name, namespace: 'search-svc', serviceAccount: 'search-svc', roleArn: 'arn:aws:iam::123456789012:role/search-svc-pods', tags: nodegroupTags(s) }),
    ]);
    // Nothing but the cluster in the ledger: add-ons, associations and entries go with it.
    expect(rows(s)).toEqual([`cluster ${name} created`]);
  });

  it("'auto' without a NodePool applier is refused before anything is created", async () => {
    fakeEks();
    const s = step(search);
    await expect(clusters({ nodePools: undefined }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-1') })).rejects.toMatchObject({ code: 'misconfigured' });
    expect(eks.calls()).toHaveLength(0);
  });

  it("'nodes': a managed node group of arm64 spot instances, the add-ons it needs, and tags down to the instances", async () => {
    const fake = fakeEks();
    const s = step(webFrontend);
    const name = `web-frontend-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    expect(fake.clusters.get(name)!.input.computeConfig).toEqual({ enabled: true, nodePools: ['system'], nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node` });
    expect(eks.commandCalls(CreateNodegroupCommand)[0]!.args[0].input).toMatchObject({
      capacityType: 'SPOT',
      amiType: 'AL2023_ARM_64_STANDARD',
      instanceTypes: ['m7g.large', 'c7g.large'],
      scalingConfig: { minSize: 2, maxSize: 10, desiredSize: 2 },
    });
    expect([...fake.addons.values()].map((a) => [a.name, a.status])).toEqual([
      ['vpc-cni', 'ACTIVE'],
      ['kube-proxy', 'ACTIVE'],
      ['coredns', 'ACTIVE'],
    ]);
    const asgName = `eks-${name}-nodes-asg`;
    expect(fake.asgTags.get(asgName)).toEqual(Object.entries(nodegroupTags(s)).map(([Key, Value]) => ({ ResourceId: asgName, ResourceType: 'auto-scaling-group', Key, Value, PropagateAtLaunch: true })));
    expect(rows(s)).toEqual([`cluster ${name} created`, `nodegroup ${name}-nodes created`]);
  });

  it("'fargate': no node pools, a profile on the private Fargate subnets, CoreDNS told to run on Fargate", async () => {
    const fake = fakeEks();
    const s = step(cacheWorker);
    const name = `cache-worker-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    // Load balancing needs compute enabled; no pool means no EC2 nodes, and no node role.
    expect(fake.clusters.get(name)!.input.computeConfig).toEqual({ enabled: true, nodePools: [] });
    expect(eks.commandCalls(CreateFargateProfileCommand)[0]!.args[0].input).toMatchObject({
      subnets: ['subnet-9f8e7d6c', 'subnet-5b4a3928'],
      selectors: [{ namespace: 'cache-worker' }, { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }],
    });
    expect(eks.commandCalls(CreateAddonCommand).map((c) => c.args[0].input)).toEqual([
      { clusterName: name, addonName: 'coredns', resolveConflicts: 'OVERWRITE', configurationValues: '{"computeType":"Fargate"}', tags: nodegroupTags(s) },
    ]);
    expect(fake.addons.get(`${name}/coredns`)!.status).toBe('ACTIVE');
    expect(rows(s)).toEqual([`cluster ${name} created`, `fargate-profile ${name}-fargate created`]);
  });

  it("'fargate' without private subnets is refused, naming app, field and variable; public ones are refused by EKS", async () => {
    fakeEks();
    const s = step(cacheWorker);
    await expect(clusters({ settings: { ...SETTINGS, fargateSubnetIds: [] } }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'cache-worker-1') })).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'no private Fargate subnets configured for cache-worker: set aws.fargateSubnetIds or KUBECONTROL_FARGATE_SUBNET_IDS',
    });
    expect(eks.calls()).toHaveLength(0);
    await expect(clusters({ settings: { ...SETTINGS, fargateSubnetIds: PUBLIC_SUBNETS } }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'cache-worker-2') })).rejects.toThrow(
      'EKS CreateFargateProfile failed: InvalidParameterException: Subnet subnet-0a1b2c3d provided in Fargate Profile is not a private subnet',
    );
  });

  it('a pod role on Fargate is refused: Pod Identity does not run there', async () => {
    fakeEks();
    const s = step(cacheWorker);
    const spec = { ...clusterSpec(s.app, 'cache-worker-1'), podIdentity: { namespace: 'cache-worker', serviceAccount: 'cache-worker', roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/x` } };
    await expect(clusters().provision({ ctx: s.ctx, cluster: spec })).rejects.toMatchObject({ code: 'misconfigured' });
  });

  it('an app version is used as given; one EKS will not create fails the step', async () => {
    const fake = fakeEks();
    const s = step(webFrontend);
    await clusters().provision({ ctx: s.ctx, cluster: { ...clusterSpec(s.app, 'web-frontend-1'), kubernetesVersion: '1.32', supportType: 'EXTENDED' } });
    expect(fake.clusters.get('web-frontend-1')!.input).toMatchObject({ version: '1.32', upgradePolicy: { supportType: 'EXTENDED' } });
    await expect(clusters().provision({ ctx: s.ctx, cluster: { ...clusterSpec(s.app, 'web-frontend-2'), kubernetesVersion: '1.31' } })).rejects.toThrow(
      'EKS CreateCluster failed: InvalidParameterException: unsupported Kubernetes version 1.31',
    );
  });

  it('an access entry for the access role, right after ACTIVE; resume adopts everything and creates nothing twice', async () => {
    const fake = fakeEks();
    const role = `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-access`;
    const c = clusters({ settings: awsSettings({ KUBECONTROL_ACCESS_ROLE_ARN: role }) });
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}-${INSTALLATION.id}`;
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });
    // The step runs again (a restart): the same cluster is adopted.
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    expect(eks.commandCalls(CreateClusterCommand)).toHaveLength(1);
    expect([...fake.accessEntries.entries()].map(([k, e]) => [k, e.policies.map((p) => [p.policyArn, p.accessScope])])).toEqual([
      [`${name}/${role}`, [['arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy', { type: 'cluster' }]]],
    ]);
    expect(eks.commandCalls(CreateAccessEntryCommand)).toHaveLength(2);
    expect(eks.commandCalls(AssociateAccessPolicyCommand)).toHaveLength(2);
    expect(fake.podIdentityAssociations).toHaveLength(1);
    expect(eks.commandCalls(CreatePodIdentityAssociationCommand)).toHaveLength(1);
    expect(s.lines).toContain(`Pod Identity association of search-svc/search-svc already exists; keeping it`);
    expect(rows(s)).toEqual([`cluster ${name} created`]);
  });

  it('the default version is asked of EKS once per region, not once per cluster', async () => {
    fakeEks();
    const c = clusters();
    const s = step(search);
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-1') });
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'search-svc-2') });
    expect(eks.commandCalls(DescribeClusterVersionsCommand)).toHaveLength(1);
  });
});

describe('node-level observability (KUBECONTROL_OBSERVABILITY_ROLE_ARN)', () => {
  const ROLE = `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-observability`;
  const observed = awsSettings({ KUBECONTROL_OBSERVABILITY_ROLE_ARN: ROLE });
  const fakeEks = () => new FakeEks(eks, asg, { publicSubnets: PUBLIC_SUBNETS });
  const tagsOf = (s: TestStep) => ({ ...TAGS, 'kubecontrol:app': s.app.name, 'kubecontrol:deploy': String(s.ctx.deployId) });
  /** The Fargate log router configurations applied (what KubeWorkloads.applyFargateLogging would apply). */
  let logging: { cluster: ClusterRef; app: string; region: string }[] = [];
  const fargateLogging = { applyFargateLogging: async (cmd: { cluster: ClusterRef; app: string; region: string }) => void logging.push({ cluster: cmd.cluster, app: cmd.app, region: cmd.region }) };
  beforeEach(() => {
    logging = [];
  });
  const observabilityAddon = (name: string) => eks.commandCalls(CreateAddonCommand).filter((c) => c.args[0].input.addonName === 'amazon-cloudwatch-observability' && c.args[0].input.clusterName === name);

  it("'auto': the CloudWatch Observability add-on after the NodePool (not waited for: its pods start with the app's nodes), its agent's role through Pod Identity (built into Auto Mode nodes)", async () => {
    const fake = fakeEks();
    const s = step(search);
    const name = `search-svc-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters({ settings: observed, fargateLogging }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    expect(observabilityAddon(name).map((c) => c.args[0].input)).toEqual([
      {
        clusterName: name,
        addonName: 'amazon-cloudwatch-observability',
        resolveConflicts: 'OVERWRITE',
        podIdentityAssociations: [{ serviceAccount: 'cloudwatch-agent', roleArn: ROLE }],
        tags: tagsOf(s),
      },
    ]);
    // Created, not waited for: on Auto Mode its pods wait for nodes, which start with the app's own pods later.
    expect([...fake.addons.values()].map((a) => [a.name, a.status])).toEqual([['amazon-cloudwatch-observability', 'CREATING']]);
    // EKS made the agent's association (owned by the add-on); the app's own is there too.
    expect(fake.podIdentityAssociations.map((a) => [a.namespace, a.serviceAccount, a.roleArn, !!a.ownerArn])).toEqual([
      ['search-svc', 'search-svc', 'arn:aws:iam::123456789012:role/search-svc-pods', false],
      ['amazon-cloudwatch', 'cloudwatch-agent', ROLE, true],
    ]);
    // Auto Mode nodes run the Pod Identity agent themselves: no add-on for it.
    expect(fake.addons.has(`${name}/eks-pod-identity-agent`)).toBe(false);
    expect(fake.podIdentityAgent(name)).toBe(true);
    // Installed once there is capacity for its pods: after the NodePool.
    const nodePoolAt = s.lines.findIndex((l) => l.startsWith('applying the NodePool of search-svc'));
    const addonAt = s.lines.findIndex((l) => l.startsWith(`CloudWatch Container Insights on ${name}`));
    expect(nodePoolAt).toBeGreaterThanOrEqual(0);
    expect(addonAt).toBeGreaterThan(nodePoolAt);
    expect(logging).toEqual([]);
    // The add-on and its association go with the cluster: nothing more in the ledger.
    expect(rows(s)).toEqual([`cluster ${name} created`]);
  });

  it("'nodes': the Pod Identity agent add-on too (the node group's instances have none), then the CloudWatch add-on once nodes are up", async () => {
    const fake = fakeEks();
    const s = step(webFrontend);
    const name = `web-frontend-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters({ settings: observed }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    expect([...fake.addons.values()].map((a) => [a.name, a.status])).toEqual([
      ['vpc-cni', 'ACTIVE'],
      ['kube-proxy', 'ACTIVE'],
      ['eks-pod-identity-agent', 'ACTIVE'],
      ['coredns', 'ACTIVE'],
      ['amazon-cloudwatch-observability', 'ACTIVE'],
    ]);
    expect(fake.podIdentityAgent(name)).toBe(true);
    expect(observabilityAddon(name)[0]!.args[0].input.podIdentityAssociations).toEqual([{ serviceAccount: 'cloudwatch-agent', roleArn: ROLE }]);
    // After the node group (the agent is a DaemonSet on its nodes).
    const sent = eks.calls().map((c) => c.args[0]);
    const addonAt = sent.findIndex((c) => c instanceof CreateAddonCommand && c.input.addonName === 'amazon-cloudwatch-observability');
    expect(addonAt).toBeGreaterThan(sent.findIndex((c) => c instanceof CreateNodegroupCommand));
    expect(eks.commandCalls(CreateAddonCommand).map((c) => c.args[0].input.addonName)).toEqual(['vpc-cni', 'kube-proxy', 'eks-pod-identity-agent', 'coredns', 'amazon-cloudwatch-observability']);
    expect(rows(s)).toEqual([`cluster ${name} created`, `nodegroup ${name}-nodes created`]);
  });

  it("'fargate': the Fargate log router configured on the new cluster (no add-on, no Pod Identity on Fargate)", async () => {
    const fake = fakeEks();
    const s = step(cacheWorker);
    const name = `cache-worker-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters({ settings: observed, fargateLogging }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });

    expect(logging).toEqual([{ cluster: { name, placement: { region: 'eu-west-1' } }, app: 'cache-worker', region: 'eu-west-1' }]);
    expect(eks.commandCalls(CreateAddonCommand).map((c) => c.args[0].input.addonName)).toEqual(['coredns']);
    expect(fake.podIdentityAssociations).toEqual([]);
    expect(rows(s)).toEqual([`cluster ${name} created`, `fargate-profile ${name}-fargate created`]);
  });

  it("'fargate' without a log router applier is refused before anything is created", async () => {
    fakeEks();
    const s = step(cacheWorker);
    await expect(clusters({ settings: observed }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, 'cache-worker-1') })).rejects.toMatchObject({
      code: 'misconfigured',
      message: expect.stringContaining("KUBECONTROL_OBSERVABILITY_ROLE_ARN on hardware.capacity 'fargate' needs a Fargate log router applier"),
    });
    expect(eks.calls()).toHaveLength(0);
  });

  it.each([
    ['search-svc', search],
    ['web-frontend', webFrontend],
    ['cache-worker', cacheWorker],
  ])('without the setting, %s gets no observability agent and no log router', async (_, app) => {
    const fake = fakeEks();
    const s = step(app);
    const name = `${app.name}-${s.ctx.deployId}-${INSTALLATION.id}`;
    await clusters({ fargateLogging }).provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });
    expect(fake.addons.has(`${name}/amazon-cloudwatch-observability`)).toBe(false);
    expect(fake.podIdentityAssociations.filter((a) => a.serviceAccount === 'cloudwatch-agent')).toEqual([]);
    expect(logging).toEqual([]);
  });

  it('a resumed provision adopts the add-on and its association, and applies the log router again (idempotent)', async () => {
    const fake = fakeEks();
    const c = clusters({ settings: observed, fargateLogging });
    const s = step(webFrontend);
    const name = `web-frontend-${s.ctx.deployId}-${INSTALLATION.id}`;
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });
    await c.provision({ ctx: s.ctx, cluster: clusterSpec(s.app, name) });
    expect(observabilityAddon(name)).toHaveLength(2);
    expect(fake.addons.get(`${name}/amazon-cloudwatch-observability`)!.status).toBe('ACTIVE');
    expect(fake.podIdentityAssociations.filter((a) => a.serviceAccount === 'cloudwatch-agent')).toHaveLength(1);

    const f = step(cacheWorker);
    const fname = `cache-worker-${f.ctx.deployId}-${INSTALLATION.id}`;
    await c.provision({ ctx: f.ctx, cluster: clusterSpec(f.app, fname) });
    await c.provision({ ctx: f.ctx, cluster: clusterSpec(f.app, fname) });
    expect(logging.map((l) => l.cluster.name)).toEqual([fname, fname]);
    expect(eks.commandCalls(CreateClusterCommand)).toHaveLength(2);
  });

  it("the fake refuses an add-on association for another service account than the add-on's, and Pod Identity on an add-on without it", async () => {
    const fake = fakeEks();
    const c = createAwsClientsFor({ credentials })('eu-west-1').eks;
    fake.seedCluster('x-1', OURS);
    const addon = (addonName: string, serviceAccount: string) => c.send(new CreateAddonCommand({ clusterName: 'x-1', addonName, podIdentityAssociations: [{ serviceAccount, roleArn: ROLE }] }));
    // What EKS answers (terraform-aws-eks#3520): the add-on's service account is cloudwatch-agent.
    await expect(addon('amazon-cloudwatch-observability', 'amazon-cloudwatch')).rejects.toThrow(
      'Service account amazon-cloudwatch in pod identity configuration is not supported for addon amazon-cloudwatch-observability',
    );
    await expect(addon('coredns', 'coredns')).rejects.toThrow('Pod Identity feature is not supported for addon coredns');
    await expect(c.send(new CreateAddonCommand({ clusterName: 'x-1', addonName: 'amazon-cloudwatch-observability', podIdentityAssociations: [{ serviceAccount: 'cloudwatch-agent', roleArn: 'kubecontrol-observability' }] }))).rejects.toThrow(
      /Invalid roleArn/,
    );
    expect(fake.addons.size + fake.podIdentityAssociations.length).toBe(0);
    // Accepted on a cluster without the agent, as EKS does: the pods would simply get no credentials.
    fake.nodegroups.set('x-1/n', { cluster: 'x-1', name: 'n', tags: OURS, status: 'ACTIVE', looksLeft: 0, desired: 1 });
    await addon('amazon-cloudwatch-observability', 'cloudwatch-agent');
    expect(fake.podIdentityAgent('x-1')).toBe(false);
  });
});

describe('the fake EKS refuses what EKS refuses', () => {
  const client = () => createAwsClientsFor({ credentials })('eu-west-1').eks;
  const base: CreateClusterCommandInput = {
    name: 'x-1',
    version: '1.35',
    roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
    resourcesVpcConfig: { subnetIds: PUBLIC_SUBNETS },
    computeConfig: { enabled: true, nodePools: ['system'], nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node` },
    kubernetesNetworkConfig: { elasticLoadBalancing: { enabled: true } },
    storageConfig: { blockStorage: { enabled: true } },
    accessConfig: { authenticationMode: 'API' },
    upgradePolicy: { supportType: 'STANDARD' },
  };
  const create = (input: Partial<CreateClusterCommandInput>) => client().send(new CreateClusterCommand({ ...base, ...input }));

  it.each<[string, Partial<CreateClusterCommandInput>, RegExp]>([
    ['a version out of extended support', { version: '1.31' }, /unsupported Kubernetes version 1.31/],
    ['a version it does not list', { version: '1.19' }, /unsupported Kubernetes version 1.19/],
    ['standard support for a version in extended support', { version: '1.32' }, /1.32 is in extended support/],
    ['Auto Mode compute without load balancing and storage', { kubernetesNetworkConfig: {}, storageConfig: {} }, /must all be set to the same value/],
    ['load balancing alone', { computeConfig: { enabled: false }, storageConfig: {} }, /must all be set to the same value/],
    ['node pools without a node role', { computeConfig: { enabled: true, nodePools: ['system'] } }, /nodeRoleArn is required/],
    ['CONFIG_MAP authentication with Auto Mode', { accessConfig: { authenticationMode: 'CONFIG_MAP' } }, /requires authenticationMode API/],
  ])('CreateCluster: %s', async (_what, input, message) => {
    new FakeEks(eks, asg);
    const err = await create(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidParameterException);
    expect((err as Error).message).toMatch(message);
  });

  it('accepts Auto Mode with no node pools and no node role (Fargate clusters)', async () => {
    const fake = new FakeEks(eks, asg);
    await create({ computeConfig: { enabled: true, nodePools: [] } });
    expect(fake.clusters.get('x-1')!.status).toBe('CREATING');
  });

  it('DeleteCluster while CREATING, or with capacity; node group names over 63 characters; unknown add-ons; Pod Identity for no cluster', async () => {
    const fake = new FakeEks(eks, asg, { publicSubnets: PUBLIC_SUBNETS });
    const c = client();
    await create({});
    await expect(c.send(new DeleteClusterCommand({ name: 'x-1' }))).rejects.toThrow('Cluster x-1 is in CREATING state and cannot be deleted');
    await c.send(new DescribeClusterCommand({ name: 'x-1' }));
    await c.send(new DescribeClusterCommand({ name: 'x-1' }));
    expect(fake.clusters.get('x-1')!.status).toBe('ACTIVE');
    const ng = { clusterName: 'x-1', nodeRole: 'arn:aws:iam::123456789012:role/n', subnets: PUBLIC_SUBNETS };
    await expect(c.send(new CreateNodegroupCommand({ ...ng, nodegroupName: 'n'.repeat(64) }))).rejects.toThrow(/must be 1-63 characters/);
    await c.send(new CreateNodegroupCommand({ ...ng, nodegroupName: 'n'.repeat(63) }));
    await expect(c.send(new DeleteClusterCommand({ name: 'x-1' }))).rejects.toThrow('Cluster has nodegroups or Fargate profiles attached');
    await expect(
      c.send(new CreateFargateProfileCommand({ clusterName: 'x-1', fargateProfileName: 'f', podExecutionRoleArn: 'arn:aws:iam::123456789012:role/f', subnets: [PUBLIC_SUBNETS[0]!] })),
    ).rejects.toThrow('Subnet subnet-0a1b2c3d provided in Fargate Profile is not a private subnet');
    await expect(c.send(new CreateAddonCommand({ clusterName: 'x-1', addonName: 'core-dns' }))).rejects.toThrow('Addon core-dns specified is not supported');
    await expect(
      c.send(new CreatePodIdentityAssociationCommand({ clusterName: 'nope', namespace: 'a', serviceAccount: 'a', roleArn: 'arn:aws:iam::123456789012:role/p' })),
    ).rejects.toThrow('No cluster found for name: nope.');
  });

  it('tells endpointFor how the cluster was created', async () => {
    const seen: [string, boolean | undefined][] = [];
    new FakeEks(eks, asg, { endpointFor: (name, input) => (seen.push([name, input.kubernetesNetworkConfig?.elasticLoadBalancing?.enabled]), 'http://127.0.0.1:1') });
    await create({});
    expect(seen).toEqual([['x-1', true]]);
  });
});

describe('deleting a cluster', () => {
  const rowOf = (name: string) => row({ kind: 'cluster', name, data: { region: 'eu-west-1' } });

  it('cancelled while still CREATING: waits until it can be deleted, then deletes it (EKS refuses before)', async () => {
    const fake = new FakeEks(eks, asg, { transitionLooks: 3 });
    const s = step(webFrontend);
    // The provision step was cancelled right after CreateCluster.
    const controller = new AbortController();
    eks.on(CreateClusterCommand).callsFakeOnce(async (input: CreateClusterCommandInput) => {
      fake.clusters.set(input.name!, { name: input.name!, input, tags: { ...input.tags }, status: 'CREATING', endpoint: 'https://e', looksLeft: 3 });
      controller.abort(new Error('deploy cancelled by bob'));
      return {};
    });
    await expect(clusters().provision({ ctx: { ...s.ctx, signal: controller.signal }, cluster: clusterSpec(s.app, 'web-frontend-1') })).rejects.toMatchObject({ code: 'aborted' });
    expect(fake.clusters.get('web-frontend-1')!.status).toBe('CREATING');

    const lines: string[] = [];
    await clusters().destroy({ resource: rowOf('web-frontend-1'), progress: (m) => void lines.push(m) });
    expect(lines).toEqual([
      'EKS cluster web-frontend-1 is still CREATING; waiting until it can be deleted',
      'deleting EKS cluster web-frontend-1',
      'EKS cluster web-frontend-1 deleted',
    ]);
    expect(fake.clusters.size).toBe(0);
  });

  it('when EKS refuses DeleteCluster as CREATING after all, waits and deletes again; a FAILED cluster is deleted too', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('a-1', OURS, 'ACTIVE');
    let refused = 0;
    // EKS's view lags ours: the first DeleteCluster finds the cluster CREATING; the next is accepted.
    eks.on(DeleteClusterCommand).callsFake(() => {
      const c = fake.clusters.get('a-1')!;
      if (refused++ === 0) {
        Object.assign(c, { status: 'CREATING', looksLeft: 1 });
        throw new ResourceInUseException({ message: 'Cluster a-1 is in CREATING state', $metadata: {} });
      }
      Object.assign(c, { status: 'DELETING', looksLeft: 0 });
      return {};
    });
    await clusters().destroy({ resource: rowOf('a-1'), progress: () => undefined });
    expect(refused).toBe(2);
    expect(fake.clusters.size).toBe(0);

    fake.install();
    fake.seedCluster('a-2', OURS, 'FAILED');
    await clusters().destroy({ resource: rowOf('a-2'), progress: () => undefined });
    expect(fake.clusters.size).toBe(0);
  });

  it('is not deleted while its load balancers remain: left for gc, saying what remains', async () => {
    const fake = new FakeEks(eks, asg);
    fake.seedCluster('search-svc-3', OURS);
    const lb: TaggedResource = { kind: 'load-balancer', name: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/k8s-x/1', cluster: 'search-svc-3' };
    const asked: unknown[] = [];
    const loadBalancers = {
      remaining: async (cmd: { cluster: string; region: string }) => (asked.push(cmd), [lb]),
      listTagged: async () => [],
      destroy: async () => undefined,
    };
    await expect(clusters({ loadBalancers }).destroy({ resource: rowOf('search-svc-3'), progress: () => undefined })).rejects.toMatchObject({
      code: 'provider_failed',
      message: `EKS cluster search-svc-3 is not deleted: load-balancer ${lb.name} still carries eks:eks-cluster-name=search-svc-3; the cluster is left for \`kubecontrol gc\``,
    });
    expect(asked).toEqual([{ cluster: 'search-svc-3', region: 'eu-west-1', signal: undefined }]);
    expect(eks.commandCalls(DeleteClusterCommand)).toHaveLength(0);
    expect(fake.clusters.has('search-svc-3')).toBe(true);
  });

  it('hands load balancers, target groups and security groups to the load-balancer adapter, and lists what it finds', async () => {
    new FakeEks(eks, asg);
    const destroyed: string[] = [];
    const theirs: TaggedResource = { kind: 'security-group', name: 'sg-1', installation: OTHER_INSTALLATION.id };
    const loadBalancers = {
      remaining: async () => [],
      listTagged: async () => [theirs],
      destroy: async (cmd: { resource: ResourceRecord; region: string }) => void destroyed.push(`${cmd.resource.kind} ${cmd.resource.name} ${cmd.region}`),
    };
    const c = clusters({ loadBalancers });
    for (const kind of ['load-balancer', 'target-group', 'security-group'] as const) {
      await c.destroy({ resource: row({ kind, name: `${kind}-1`, data: {} }), progress: () => undefined });
    }
    expect(destroyed).toEqual(['load-balancer load-balancer-1 eu-west-1', 'target-group target-group-1 eu-west-1', 'security-group security-group-1 eu-west-1']);
    await expect(c.listTagged({})).resolves.toEqual([theirs]);
    await expect(clusters().destroy({ resource: row({ kind: 'load-balancer', name: 'x', data: {} }), progress: () => undefined })).rejects.toMatchObject({ code: 'misconfigured' });
  });
});
