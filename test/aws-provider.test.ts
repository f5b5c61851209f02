/**
 * createAwsProvider: its settings, and one blue/green deploy walked through
 * all of its adapters against stateful fakes (EKS, ELBv2/EC2/tagging, Route 53
 * through the real SDK clients; a fake Kubernetes API server per EKS cluster,
 * with Auto Mode's load-balancing controller), counting the AWS API calls it makes.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import { EC2Client } from '@aws-sdk/client-ec2';
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import type { KubeApp } from '../kubeapps/index.js';
import { createAwsProvider } from '../deployer/aws/index.js';
import { clusterLines } from '../deployer/aws/plan.js';
import type { Provider } from '../deployer/ports.js';
import { clusterRef, clusterSpec, dnsRecord, healthCheck, imageRef, placementOf, repositorySpec, workloadSpec } from '../deployer/specs.js';
import { FAST_AWS, INSTALLATION, REGISTRY, SETTINGS, TODAY, awsSettings, imageOf, withAws } from './fakes/aws-apps.js';
import { FakeEks } from './fakes/aws-eks.js';
import { FakeElbv2 } from './fakes/aws-elbv2.js';
import { FakeLoadBalancers } from './fakes/aws-load-balancers.js';
import { FakeRoute53 } from './fakes/aws-route53.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { testStep } from './fakes/aws-step-context.js';

const mocks = {
  ecr: mockClient(ECRClient),
  codebuild: mockClient(CodeBuildClient),
  eks: mockClient(EKSClient),
  asg: mockClient(AutoScalingClient),
  r53: mockClient(Route53Client),
  elbv2: mockClient(ElasticLoadBalancingV2Client),
  ec2: mockClient(EC2Client),
  tagging: mockClient(ResourceGroupsTaggingAPIClient),
};
const allMocks = Object.values(mocks) as unknown as { reset(): void; calls(): { args: unknown[] }[] }[];
const app = withAws(searchSvc, { codeBuildProject: 'search-svc-image', builder: 'codebuild' });
const searchApp = app;
const OLD = `search-svc-900-${INSTALLATION.id}`;
const OLD_LB = 'k8s-old.elb.eu-west-1.amazonaws.com';
const ZONE = 'Z0123456789ABCDEFGHIJ';

/** The fake account: EKS with one API server per cluster, the load balancers, Route 53. */
let account: { eks: FakeEks; lbs: FakeLoadBalancers; route53: FakeRoute53; servers: Map<string, FakeKubeApiServer> };
beforeEach(() => {
  for (const m of allMocks) m.reset();
  const lbs = new FakeLoadBalancers();
  const servers = new Map<string, FakeKubeApiServer>();
  const eks = new FakeEks(mocks.eks, mocks.asg, {
    now: TODAY,
    // Each cluster has its own API server, with Auto Mode's load-balancing controller when it was created with it.
    endpointFor: async (name, input) => {
      const lb = input.kubernetesNetworkConfig?.elasticLoadBalancing?.enabled === true;
      const server = await new FakeKubeApiServer(lb ? { loadBalancing: { loadBalancers: lbs, cluster: name } } : {}).start();
      servers.set(name, server);
      return server.url;
    },
  });
  new FakeElbv2(lbs, { elbv2: mocks.elbv2, ec2: mocks.ec2, tagging: mocks.tagging });
  const route53 = new FakeRoute53(mocks.r53, { loadBalancers: lbs });
  route53.addZone(ZONE, 'example.com', [{ Name: 'search-svc.example.com', Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: OLD_LB }] }]);
  account = { eks, lbs, route53, servers };
});
afterEach(async () => {
  for (const s of account.servers.values()) await s.close();
});

function provider(settings = SETTINGS): Provider {
  return createAwsProvider({
    installation: INSTALLATION,
    settings,
    buildEnv: {},
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
    ...FAST_AWS,
  });
}

/** ECR and CodeBuild, scripted. */
function scriptBuild(built: boolean): void {
  const { ecr, codebuild } = mocks;
  ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'search-svc' }] });
  if (built) ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.5.0'] }] });
  else ecr.on(DescribeImagesCommand).rejectsOnce(new ImageNotFoundException({ message: 'no', $metadata: {} })).resolves({ imageDetails: [{ imageTags: ['1.5.0'] }] });
  codebuild.on(StartBuildCommand).resolves({ build: { id: 'b:1' } });
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [{ id: 'b:1', currentPhase: 'COMPLETED', buildComplete: true, buildStatus: 'SUCCEEDED' }] });
}

/** What the pipeline does for a blue/green deploy, in order, through the provider's ports. */
async function blueGreen(p: Provider, opts: { skipBuild: boolean; app?: KubeApp }): Promise<Record<string, number>> {
  const app = opts.app ?? searchApp;
  const OLD = `${app.name}-900-${INSTALLATION.id}`;
  const s = testStep(app, { version: '1.5.0' });
  try {
    const clusterName = p.clusterName!({ app: app.name, deployId: s.ctx.deployId });
    scriptBuild(opts.skipBuild);
    // The live environment: an earlier deploy's cluster (created the same way), with its namespace.
    const old = testStep(app, { version: '1.4.2' });
    await p.clusters.provision({ ctx: old.ctx, cluster: clusterSpec(app, OLD) });
    const oldRows = [
      ...old.store.resources.forDeploy(old.ctx.deployId),
      old.ctx.ledger.intend({ kind: 'namespace', name: `${OLD}/${app.name}`, data: { cluster: OLD, region: 'eu-west-1' } }),
    ];
    account.servers.get(OLD)!.put('namespaces', { metadata: { name: app.name, labels: { 'kubecontrol/installation': INSTALLATION.id } } });
    for (const m of allMocks) (m as unknown as { resetHistory(): void }).resetHistory();

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
    await p.dns.checkHealth({ ...healthCheck(app, clusterRef(app, clusterName)), target: endpoint, progress: s.ctx.progress });
    const { previous } = await p.dns.pointRecord({ record: dnsRecord(app), target: endpoint, progress: s.ctx.progress });
    expect(previous).toBe(app === searchApp ? OLD_LB : undefined);
    for (const r of [...oldRows].reverse()) await p.clusters.destroy({ resource: r, placement: placementOf(app), progress: s.ctx.progress });
    expect(account.eks.clusters.has(OLD)).toBe(false);
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
    expect(p.timeouts).toEqual({ build: 3_600_000, provision: 2_400_000, deploy: 1_200_000, cutover: 1_500_000, teardown: 2_400_000 });
    expect(p.drainMs({ record: dnsRecord(app) })).toBe(120_000);
    expect(p.drainMs({ record: { ...dnsRecord(app), ttlSeconds: 5 } })).toBe(60_000);
  });

  it('walks a blue/green deploy whose image is already built', async () => {
    const counts = await blueGreen(provider(), { skipBuild: true });
    // 31 AWS calls when every wait succeeds at its first look (real waits add polls); the versions were
    // asked of EKS once, before (DescribeClusterVersions, one per region and process).
    expect(counts).toEqual({
      DescribeRepositories: 1,
      DescribeImages: 1,
      // The new cluster: looked for, waited ACTIVE, its credentials; the old one: its namespace, its ownership, waited gone.
      DescribeCluster: 8,
      CreateCluster: 1,
      ListPodIdentityAssociations: 1,
      CreatePodIdentityAssociation: 1,
      // The deploy step waits until the NLB is active and its targets healthy; the cutover looks again
      // (an approval may have taken hours), then the alias record, waited INSYNC.
      DescribeLoadBalancers: 5,
      DescribeTargetGroups: 2,
      DescribeTargetHealth: 3,
      ListResourceRecordSets: 1,
      ChangeResourceRecordSets: 1,
      GetChange: 2,
      // Teardown of the old cluster: nothing of its load balancers left (by tag), no capacity left, deleted.
      GetResources: 1,
      ListNodegroups: 1,
      ListFargateProfiles: 1,
      DeleteCluster: 1,
    });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(31);
    // The Kubernetes side went through the EKS token.
    for (const server of account.servers.values()) expect(server.requests.every((r) => r.headers.authorization?.startsWith('Bearer k8s-aws-v1.'))).toBe(true);
  });

  it.each<[string, KubeApp, Record<string, number>]>([
    [
      'web-frontend (managed node group)',
      webFrontend,
      {
        DescribeRepositories: 1,
        DescribeImages: 1,
        DescribeCluster: 9,
        CreateCluster: 1,
        // vpc-cni and kube-proxy before the nodes, CoreDNS after; each waited ACTIVE.
        CreateAddon: 3,
        DescribeAddon: 6,
        CreateNodegroup: 1,
        DescribeNodegroup: 6,
        // kubecontrol's tags on the Auto Scaling group, for its instances; its instances InService.
        CreateOrUpdateTags: 1,
        DescribeAutoScalingGroups: 3,
        DescribeLoadBalancers: 5,
        DescribeTargetGroups: 2,
        DescribeTargetHealth: 3,
        ListResourceRecordSets: 1,
        ChangeResourceRecordSets: 1,
        GetChange: 2,
        GetResources: 1,
        DeleteNodegroup: 1,
        ListNodegroups: 1,
        ListFargateProfiles: 1,
        DeleteCluster: 1,
      },
    ],
    [
      'cache-worker (Fargate)',
      cacheWorker,
      {
        DescribeRepositories: 1,
        DescribeImages: 1,
        DescribeCluster: 9,
        CreateCluster: 1,
        CreateFargateProfile: 1,
        DescribeFargateProfile: 6,
        // CoreDNS on Fargate.
        CreateAddon: 1,
        DescribeAddon: 2,
        DescribeLoadBalancers: 5,
        DescribeTargetGroups: 2,
        DescribeTargetHealth: 3,
        ListResourceRecordSets: 1,
        ChangeResourceRecordSets: 1,
        GetChange: 2,
        GetResources: 1,
        DeleteFargateProfile: 1,
        ListNodegroups: 1,
        ListFargateProfiles: 1,
        DeleteCluster: 1,
      },
    ],
  ])('walks a blue/green deploy of %s', async (_what, other, expected) => {
    const counts = await blueGreen(provider(), { skipBuild: true, app: withAws(other, { codeBuildProject: 'x', builder: 'codebuild' }) });
    expect(counts).toEqual(expected);
    expect(account.eks.clusters.size).toBe(1);
  });

  it('walks a blue/green deploy with a CodeBuild build', async () => {
    const counts = await blueGreen(provider(), { skipBuild: false });
    expect(counts).toMatchObject({ DescribeRepositories: 1, DescribeImages: 3, StartBuild: 1, BatchGetBuilds: 1 });
  });

  it("tags what it creates with the installation, and finds an app's cluster in the settings' region", async () => {
    await blueGreen(provider(), { skipBuild: true });
    const create = mocks.eks.commandCalls(CreateClusterCommand)[0]!;
    expect(create.args[0].input.tags).toMatchObject({ 'kubecontrol:installation': INSTALLATION.id });
    expect(create.args[0].input.name).toMatch(new RegExp(`^search-svc-\\d+-${INSTALLATION.id}$`));
    // The load balancer and what came with it carry kubecontrol's tags; the old one is gone.
    const lbs = [...account.lbs.loadBalancers.values()];
    expect(lbs.map((lb) => lb.tags)).toEqual([expect.objectContaining({ 'kubecontrol:installation': INSTALLATION.id, 'kubecontrol:app': 'search-svc' })]);
    // Route 53 points at it with an alias.
    expect(account.route53.at(ZONE, 'search-svc.example.com')).toEqual([expect.objectContaining({ Type: 'A', AliasTarget: expect.objectContaining({ DNSName: expect.stringContaining(lbs[0]!.dnsName) }) })]);
    // search-svc names no region: every EKS call went to the settings' region, the Kubernetes credentials too.
    const regions = await Promise.all(mocks.eks.calls().map((c) => (c.thisValue as EKSClient).config.region()));
    expect(new Set(regions)).toEqual(new Set(['eu-west-1']));
  });

  it.each<[string, KubeApp, Record<string, number>]>([
    // The add-on with its Pod Identity association, waited ACTIVE; the agent built into Auto Mode nodes.
    ['search-svc (Auto Mode)', searchSvc, { CreateAddon: 1 }],
    // And the Pod Identity agent for the node group's instances (waited with the networking add-ons).
    ['web-frontend (managed node group)', webFrontend, { CreateAddon: 2, DescribeAddon: 4 }],
    // The log router's ConfigMap through the new cluster's Kubernetes API: its endpoint and CA read once
    // (cached for the deploy step, which would read them anyway).
    ['cache-worker (Fargate)', cacheWorker, { DescribeCluster: 1 }],
  ])('with KUBECONTROL_OBSERVABILITY_ROLE_ARN, provisions %s with its node-level observability: these AWS calls more', async (_, app, more) => {
    const role = 'arn:aws:iam::123456789012:role/kubecontrol-observability';
    const provisionOnce = async (p: Provider, suffix: string): Promise<{ counts: Record<string, number>; name: string }> => {
      for (const m of allMocks) (m as unknown as { resetHistory(): void }).resetHistory();
      const s = testStep(app, { version: '1.5.0' });
      try {
        const name = `${p.clusterName!({ app: app.name, deployId: s.ctx.deployId })}-${suffix}`;
        await p.clusters.provision({ ctx: s.ctx, cluster: clusterSpec(app, name) });
        const counts: Record<string, number> = {};
        for (const m of allMocks) for (const c of m.calls()) {
          const op = (c.args[0] as object).constructor.name.replace(/Command$/, '');
          counts[op] = (counts[op] ?? 0) + 1;
        }
        return { counts, name };
      } finally {
        s.cleanup();
      }
    };
    const without = await provisionOnce(provider(), 'a');
    const withIt = await provisionOnce(provider(awsSettings({ KUBECONTROL_OBSERVABILITY_ROLE_ARN: role })), 'b');
    const diff: Record<string, number> = {};
    for (const op of new Set([...Object.keys(without.counts), ...Object.keys(withIt.counts)])) {
      const d = (withIt.counts[op] ?? 0) - (without.counts[op] ?? 0);
      if (d) diff[op] = d;
    }
    expect(diff).toEqual(more);
    const server = account.servers.get(withIt.name)!;
    if (app === cacheWorker) {
      expect(server.get('namespaces', undefined, 'aws-observability')?.metadata.labels).toMatchObject({ 'aws-observability': 'enabled', 'kubecontrol/installation': INSTALLATION.id });
      expect((server.get('configmaps', 'aws-observability', 'aws-logging')?.data as Record<string, string>)['output.conf']).toContain('log_group_name /kubecontrol/cache-worker');
      expect(account.servers.get(without.name)!.get('configmaps', 'aws-observability', 'aws-logging')).toBeUndefined();
    } else {
      // Waited ACTIVE on a node group; on Auto Mode only created (its pods start with the app's nodes).
      expect(account.eks.addons.get(`${withIt.name}/amazon-cloudwatch-observability`)?.status).toBe(app === searchSvc ? 'CREATING' : 'ACTIVE');
      expect(account.eks.podIdentityAgent(withIt.name)).toBe(true);
      expect(server.list('configmaps')).toEqual([]);
    }
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
        'EKS cluster search-svc-<deploy id> (Kubernetes 1.35, newest in standard support until 2027-03-27; upgrade policy STANDARD: upgraded by EKS at the end of standard support)',
        "EKS Auto Mode: compute (built-in node pool 'system'), load balancing (eks.amazonaws.com/nlb), block storage; access entries only",
        'Pod Identity: search-svc/search-svc → arn:aws:iam::123456789012:role/search-svc-pods',
        'no observability agent (set KUBECONTROL_OBSERVABILITY_ROLE_ARN for CloudWatch Container Insights / the Fargate log router)',
        'EKS Auto Mode nodes: m6i.large|m6i.xlarge on-demand amd64, at most 12 nodes (Auto Mode keeps no minimum)',
        expect.stringMatching(/^namespace search-svc, deployment search-svc \(3 replicas: api:1\.6\.0\)/),
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

  it('says what observability each new cluster gets: the CloudWatch add-on (and the Pod Identity agent for a node group), or the Fargate log router', () => {
    const role = 'arn:aws:iam::123456789012:role/kubecontrol-observability';
    const observed = awsSettings({ KUBECONTROL_OBSERVABILITY_ROLE_ARN: role });
    const lines = (app: KubeApp) => clusterLines(clusterSpec(app, `${app.name}-<deploy id>`), observed, undefined);
    expect(lines(searchSvc)).toContain(`observability: EKS add-on amazon-cloudwatch-observability (CloudWatch Container Insights metrics, container logs), its agent running as ${role} (Pod Identity)`);
    expect(lines(webFrontend)).toEqual(
      expect.arrayContaining([
        'EKS add-ons vpc-cni, kube-proxy, eks-pod-identity-agent, coredns for the node group',
        `observability: EKS add-on amazon-cloudwatch-observability (CloudWatch Container Insights metrics, container logs), its agent running as ${role} (Pod Identity)`,
      ]),
    );
    expect(lines(cacheWorker)).toContain('observability: the Fargate log router sends container logs to CloudWatch Logs /kubecontrol/cache-worker (as the pod execution role)');
    // Without the setting: said, once per cluster.
    const unset = clusterLines(clusterSpec(webFrontend, 'web-frontend-<deploy id>'), SETTINGS, undefined);
    expect(unset).toContain('EKS add-ons vpc-cni, kube-proxy, coredns for the node group');
    expect(unset.filter((l) => /observability/.test(l))).toEqual(['no observability agent (set KUBECONTROL_OBSERVABILITY_ROLE_ARN for CloudWatch Container Insights / the Fargate log router)']);
  });
});
