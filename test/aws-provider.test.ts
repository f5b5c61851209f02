/**
 * createAwsProvider: its settings, and one blue/green deploy walked through
 * all of its adapters (AWS mocked at `send`, Kubernetes played by the local
 * fake API server) counting the AWS API calls it makes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import {
  CreateClusterCommand,
  CreateNodegroupCommand,
  DeleteClusterCommand,
  DeleteNodegroupCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListFargateProfilesCommand,
  ListNodegroupsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import searchSvc from '../kubeapps/search-svc.js';
import { createAwsProvider } from '../deployer/aws/index.js';
import type { Provider } from '../deployer/ports.js';
import { clusterRef, clusterSpec, dnsRecord, healthCheck, imageRef, placementOf, repositorySpec, workloadSpec } from '../deployer/specs.js';
import { INSTALLATION, REGISTRY, SETTINGS, awsSettings, imageOf, withAws } from './fakes/aws-apps.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { testStep } from './fakes/aws-step-context.js';

const mocks = {
  ecr: mockClient(ECRClient),
  codebuild: mockClient(CodeBuildClient),
  eks: mockClient(EKSClient),
  asg: mockClient(AutoScalingClient),
  r53: mockClient(Route53Client),
};
const allMocks = Object.values(mocks) as unknown as { reset(): void; calls(): { args: unknown[] }[] }[];
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const app = withAws(searchSvc, { codeBuildProject: 'search-svc-image', builder: 'codebuild' });
const OLD = 'search-svc-900';
const OLD_LB = 'k8s-old.elb.eu-west-1.amazonaws.com';

let fake: FakeKubeApiServer;
beforeAll(async () => {
  fake = await new FakeKubeApiServer().start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  for (const m of allMocks) m.reset();
});

function provider(): Provider {
  return createAwsProvider({
    installation: INSTALLATION,
    settings: SETTINGS,
    buildEnv: {},
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
    waiterDelays: { minDelay: 0.001, maxDelay: 0.002 },
    codeBuildPoll: { minMs: 1, maxMs: 2 },
    healthRetry: { attempts: 1 },
    fetch: async () => ({ status: 200, statusText: 'OK' }),
    rewatchDelayMs: 5,
  });
}

/** Every waiter succeeds at its first look: the fewest calls a deploy can make. */
function scriptAws(newCluster: string, built: boolean): void {
  const { ecr, codebuild, eks, asg, r53 } = mocks;
  ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'search-svc' }] });
  if (built) ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.5.0'] }] });
  else ecr.on(DescribeImagesCommand).rejectsOnce(new ImageNotFoundException({ message: 'no', $metadata: {} })).resolves({ imageDetails: [{ imageTags: ['1.5.0'] }] });
  codebuild.on(StartBuildCommand).resolves({ build: { id: 'b:1' } });
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [{ id: 'b:1', currentPhase: 'COMPLETED', buildComplete: true, buildStatus: 'SUCCEEDED' }] });
  const tags = { 'kubecontrol:installation': INSTALLATION.id };
  const endpoint = { status: 'ACTIVE' as const, endpoint: fake.url, certificateAuthority: { data: 'Q0E=' }, tags };
  eks.on(DescribeClusterCommand, { name: newCluster }).rejectsOnce(notFound()).resolves({ cluster: { name: newCluster, ...endpoint } });
  // The old cluster: found by the namespace teardown, its credentials, the ownership check; then gone.
  eks
    .on(DescribeClusterCommand, { name: OLD })
    .resolvesOnce({ cluster: { name: OLD, ...endpoint } })
    .resolvesOnce({ cluster: { name: OLD, ...endpoint } })
    .resolvesOnce({ cluster: { name: OLD, ...endpoint } })
    .rejects(notFound());
  eks.on(CreateClusterCommand).resolves({});
  eks.on(DescribeNodegroupCommand, { clusterName: newCluster }).rejectsOnce(notFound()).resolves({ nodegroup: { status: 'ACTIVE', tags, resources: { autoScalingGroups: [{ name: 'asg-new' }] } } });
  eks.on(DescribeNodegroupCommand, { clusterName: OLD }).resolvesOnce({ nodegroup: { status: 'ACTIVE', tags } }).rejects(notFound());
  eks.on(CreateNodegroupCommand).resolves({});
  eks.on(DeleteNodegroupCommand).resolves({});
  eks.on(ListNodegroupsCommand).resolves({ nodegroups: [] });
  eks.on(ListFargateProfilesCommand).resolves({ fargateProfileNames: [] });
  eks.on(DeleteClusterCommand).resolves({});
  asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [{ AutoScalingGroupName: 'asg-new', MinSize: 3, MaxSize: 12, DesiredCapacity: 3, Instances: [0, 1, 2].map((i) => ({ InstanceId: `i-${i}`, LifecycleState: 'InService' })) } as never] });
  r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [{ Name: 'search-svc.example.com.', Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: OLD_LB }] }] });
  r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/1', Status: 'PENDING', SubmittedAt: new Date() } });
  r53.on(GetChangeCommand).resolves({ ChangeInfo: { Id: '/change/1', Status: 'INSYNC', SubmittedAt: new Date() } });
}

/** What the pipeline does for a blue/green deploy, in order, through the provider's ports. */
async function blueGreen(p: Provider, opts: { skipBuild: boolean }): Promise<Record<string, number>> {
  const s = testStep(app, { version: '1.5.0' });
  try {
    const clusterName = `search-svc-${s.ctx.deployId}`;
    fake.requests.length = 0;
    scriptAws(clusterName, opts.skipBuild);
    // The old deploy's ledger: its cluster, node group and namespace.
    const old = testStep(app, { version: '1.4.2' });
    const oldRows = [
      old.ctx.ledger.intend({ kind: 'cluster', name: OLD, data: { region: 'eu-west-1' } }),
      old.ctx.ledger.intend({ kind: 'nodegroup', name: `${OLD}-nodes`, data: { cluster: OLD, region: 'eu-west-1' } }),
      old.ctx.ledger.intend({ kind: 'namespace', name: `${OLD}/search-svc`, data: { cluster: OLD, region: 'eu-west-1' } }),
    ];
    fake.put('namespaces', { metadata: { name: 'search-svc', labels: { 'kubecontrol/installation': INSTALLATION.id } } });

    const [, info] = await Promise.all([
      (async () => {
        // The pipeline's build step, as deployer/pipeline.ts does it.
        await p.registry.ensureRepository({ repository: repositorySpec(app), progress: s.ctx.progress });
        if (await p.registry.hasImage(imageOf(app, '1.5.0'))) return;
        await p.builder.build({ ctx: s.ctx, ...imageOf(app, '1.5.0') });
        expect(await p.registry.hasImage(imageOf(app, '1.5.0'))).toBe(true);
      })(),
      p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(app, clusterName) }),
    ]);
    expect(info.status).toBe('ACTIVE');
    const { endpoint } = await p.workloads.deploy({ ctx: s.ctx, cluster: clusterRef(app, clusterName), workload: workloadSpec(app, s.ctx.version) });
    await p.dns.checkHealth({ ...healthCheck(app), target: endpoint, progress: s.ctx.progress });
    const { previous } = await p.dns.pointRecord({ record: dnsRecord(app), target: endpoint, progress: s.ctx.progress });
    expect(previous).toBe(OLD_LB);
    for (const r of [...oldRows].reverse()) await p.clusters.destroy({ resource: r, placement: placementOf(app), progress: s.ctx.progress });
    // Tearing down the old cluster deleted its namespace first (and with it the Service's load balancer).
    expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual(['/api/v1/namespaces/search-svc']);
    old.cleanup();

    const counts: Record<string, number> = {};
    for (const m of allMocks) {
      for (const c of m.calls()) {
        const name = (c.args[0] as object).constructor.name.replace(/Command$/, '');
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }
    return counts;
  } finally {
    s.cleanup();
  }
}

describe('createAwsProvider', () => {
  it('says what it is, with realistic step limits and a drain of at least two TTLs', () => {
    const p = provider();
    expect([p.name, p.label]).toEqual(['aws', 'aws (real infrastructure)']);
    expect(p.timeouts).toEqual({ build: 3_600_000, provision: 2_400_000, deploy: 1_200_000, cutover: 600_000, teardown: 2_400_000 });
    expect(p.drainMs({ record: dnsRecord(app) })).toBe(120_000);
    expect(p.drainMs({ record: { ...dnsRecord(app), ttlSeconds: 5 } })).toBe(60_000);
  });

  it('walks a blue/green deploy whose image is already built', async () => {
    const counts = await blueGreen(provider(), { skipBuild: true });
    // 24 calls when every wait succeeds at its first look (real waits add DescribeCluster/Nodegroup/GetChange polls);
    // two of them are the ownership checks before the old node group and cluster are deleted.
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(24);
    expect(counts).toEqual({
      DescribeRepositories: 1,
      DescribeImages: 1,
      DescribeCluster: 7,
      CreateCluster: 1,
      DescribeNodegroup: 4,
      CreateNodegroup: 1,
      DescribeAutoScalingGroups: 2,
      ListResourceRecordSets: 1,
      ChangeResourceRecordSets: 1,
      GetChange: 1,
      DeleteNodegroup: 1,
      ListNodegroups: 1,
      ListFargateProfiles: 1,
      DeleteCluster: 1,
    });
    // The Kubernetes side went through the EKS token.
    expect(fake.requests.every((r) => r.headers.authorization?.startsWith('Bearer k8s-aws-v1.'))).toBe(true);
  });

  it('walks a blue/green deploy with a CodeBuild build', async () => {
    const counts = await blueGreen(provider(), { skipBuild: false });
    expect(counts).toMatchObject({ DescribeRepositories: 1, DescribeImages: 3, StartBuild: 1, BatchGetBuilds: 1 });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(28);
  });

  it("tags what it creates with the installation, and finds an app's cluster in the settings' region", async () => {
    await blueGreen(provider(), { skipBuild: true });
    const create = mocks.eks.commandCalls(CreateClusterCommand)[0]!;
    expect(create.args[0].input.tags).toMatchObject({ 'kubecontrol:installation': INSTALLATION.id });
    expect(mocks.eks.commandCalls(CreateNodegroupCommand)[0]!.args[0].input.tags).toMatchObject({ 'kubecontrol:installation': INSTALLATION.id });
    // search-svc names no region: every EKS call went to the settings' region, the Kubernetes credentials too.
    const regions = await Promise.all(mocks.eks.calls().map((c) => (c.thisValue as EKSClient).config.region()));
    expect(new Set(regions)).toEqual(new Set(['eu-west-1']));
  });

  it('plans in EKS terms, reading ECR, EKS and Route 53, and resolves the builder through the settings', async () => {
    const withProject = createAwsProvider({
      installation: INSTALLATION,
      settings: awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' }),
      buildEnv: {},
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
    });
    mocks.ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: 'no', $metadata: {} }));
    mocks.eks.on(DescribeClusterCommand, { name: OLD }).resolves({ cluster: { name: OLD, status: 'ACTIVE', tags: { 'kubecontrol:installation': INSTALLATION.id } } });
    mocks.r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [{ Name: 'search-svc.example.com.', Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: OLD_LB }] }] });
    // search-svc names no builder: the provider's CodeBuild project builds it (not "no builder configured!").
    const plan = await withProject.plan({
      app: 'search-svc',
      version: '1.6.0',
      strategy: 'blue-green',
      image: imageRef(searchSvc, '1.6.0'),
      cluster: clusterSpec(searchSvc, 'search-svc-<deploy id>'),
      workload: workloadSpec(searchSvc, '1.6.0'),
      record: dnsRecord(searchSvc),
      live: { cluster: clusterRef(searchSvc, OLD), version: '1.5.0' },
    });
    expect(plan).toEqual({
      image: { uri: `${REGISTRY}/search-svc:1.6.0`, exists: false },
      build: [`build ${REGISTRY}/search-svc:1.6.0 (builder: codebuild)`],
      create: [
        'EKS cluster search-svc-<deploy id> (Kubernetes 1.31)',
        expect.stringMatching(/^node group: 3 \(min 3, max 12\) × m6i\.large\/m6i\.xlarge, ON_DEMAND, amd64$/),
        expect.stringMatching(/^namespace search-svc, deployment search-svc \(\d+ replicas: api:1\.6\.0, metrics, logging\), external load-balanced service :80→8080$/),
      ],
      change: [`DNS search-svc.example.com: ${OLD_LB} → the new cluster's load balancer`],
      delete: [`cluster ${OLD} (1.5.0, ACTIVE) and its capacity`],
    });
    // Nothing was created or changed.
    expect(mocks.eks.commandCalls(CreateClusterCommand)).toHaveLength(0);
    expect(mocks.r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    // Without a project or a command anywhere, the plan says so.
    const none = await provider().plan({
      app: 'search-svc',
      version: '1.6.0',
      strategy: 'rolling',
      image: imageRef(searchSvc, '1.6.0'),
      cluster: clusterSpec(searchSvc, 'search-svc-<deploy id>'),
      workload: workloadSpec(searchSvc, '1.6.0'),
      record: dnsRecord(searchSvc),
      live: { cluster: clusterRef(searchSvc, OLD), version: '1.5.0' },
    });
    expect(none.build).toEqual([`build ${REGISTRY}/search-svc:1.6.0 (no builder configured!)`]);
    expect(none.change).toEqual([`images of api on cluster ${OLD}: 1.5.0 → 1.6.0 (rolling, ${searchSvc.pods.replicas} replicas)`]);
  });
});
