/**
 * The real pipeline, unchanged, on the aws provider: build → provision →
 * deploy → approval → cutover → teardown through the real SDK clients (mocked
 * at `send` by aws-sdk-client-mock, answering from a small stateful "account"
 * whose EKS keeps tags and refuses what EKS refuses) and the real Kubernetes
 * client against one local fake API server per cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CreateRepositoryCommand, DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateNodegroupCommand, DeleteNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client, type Change } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { createAwsProvider } from '../deployer/aws/index.js';
import searchSvc from '../kubeapps/search-svc.js';
import { OTHER_INSTALLATION, SETTINGS, withAws } from './fakes/aws-apps.js';
import { FakeEks } from './fakes/aws-eks.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

const app = withAws(searchSvc, { builder: 'codebuild', codeBuildProject: 'search-svc-image' });

/** A tiny stateful AWS account behind the SDK mocks. */
class FakeAccount {
  readonly images = new Set<string>();
  readonly repositories = new Set<string>();
  /** The Kubernetes API server of each cluster. */
  readonly kubes = new Map<string, FakeKubeApiServer>();
  readonly eks: FakeEks;
  record: string | undefined;
  readonly changes: Change[][] = [];
  /** How the next cluster's pods behave. */
  nextRollout: 'healthy' | 'crashloop' = 'healthy';
  readonly mocks = {
    ecr: mockClient(ECRClient),
    codebuild: mockClient(CodeBuildClient),
    eks: mockClient(EKSClient),
    asg: mockClient(AutoScalingClient),
    r53: mockClient(Route53Client),
  };

  constructor() {
    const { ecr, codebuild, eks, asg, r53 } = this.mocks;
    ecr.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => {
      const name = input.repositoryNames[0]!;
      if (!this.repositories.has(name)) throw new RepositoryNotFoundException({ message: `repository ${name} not found`, $metadata: {} });
      return { repositories: [{ repositoryName: name }] };
    });
    ecr.on(CreateRepositoryCommand).callsFake((input: { repositoryName: string }) => {
      this.repositories.add(input.repositoryName);
      return { repository: { repositoryName: input.repositoryName } };
    });
    ecr.on(DescribeImagesCommand).callsFake((input: { repositoryName: string; imageIds: { imageTag: string }[] }) => {
      const tag = input.imageIds[0]!.imageTag;
      if (!this.images.has(`${input.repositoryName}:${tag}`)) throw new ImageNotFoundException({ message: `image ${tag} not found`, $metadata: {} });
      return { imageDetails: [{ imageTags: [tag] }] };
    });
    codebuild.on(StartBuildCommand).callsFake((input: { environmentVariablesOverride: { name: string; value: string }[] }) => {
      const tag = input.environmentVariablesOverride.find((e) => e.name === 'IMAGE_TAG')!.value;
      this.images.add(`search-svc:${tag}`);
      return { build: { id: `search-svc-image:${tag}` } };
    });
    codebuild.on(BatchGetBuildsCommand).callsFake((input: { ids: string[] }) => ({
      builds: [{ id: input.ids[0], currentPhase: 'COMPLETED', buildComplete: true, buildStatus: 'SUCCEEDED' }],
    }));
    // Every wait succeeds at its first look (transitionLooks 0): the call counts below are the fewest a deploy makes.
    this.eks = new FakeEks(eks, asg, {
      transitionLooks: 0,
      endpointFor: async (name) => {
        const kube = await new FakeKubeApiServer().start();
        kube.behaviour.loadBalancerHostname = `k8s-${name}.elb.eu-west-1.amazonaws.com`;
        kube.behaviour.rollout = this.nextRollout;
        this.kubes.set(name, kube);
        return kube.url;
      },
      onClusterGone: async (name) => {
        await this.kubes.get(name)?.close();
        this.kubes.delete(name);
      },
    });
    r53.on(ListResourceRecordSetsCommand).callsFake(() => ({
      ResourceRecordSets: this.record ? [{ Name: 'search-svc.example.com.', Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: this.record }] }] : [],
    }));
    r53.on(ChangeResourceRecordSetsCommand).callsFake((input: { ChangeBatch: { Changes: Change[] } }) => {
      this.changes.push(input.ChangeBatch.Changes);
      for (const c of input.ChangeBatch.Changes) if (c.Action === 'UPSERT') this.record = c.ResourceRecordSet!.ResourceRecords![0]!.Value;
      return { ChangeInfo: { Id: `/change/${this.changes.length}`, Status: 'PENDING', SubmittedAt: new Date() } };
    });
    r53.on(GetChangeCommand).callsFake((input: { Id: string }) => ({ ChangeInfo: { Id: input.Id, Status: 'INSYNC', SubmittedAt: new Date() } }));
  }

  async close(): Promise<void> {
    for (const kube of this.kubes.values()) await kube.close();
    for (const m of Object.values(this.mocks)) m.restore();
  }
}

/** AWS API calls so far, by operation. */
function callCounts(aws: FakeAccount): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of Object.values(aws.mocks)) {
    for (const c of m.calls()) {
      const name = (c.args[0] as object).constructor.name.replace(/Command$/, '');
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

describe('the pipeline on the aws provider', () => {
  let aws: FakeAccount;
  let h: Harness;
  const health: string[] = [];
  beforeAll(async () => {
    aws = new FakeAccount();
    const provider = ({ installation }: { installation: string }) => ({
      ...createAwsProvider({
        installation: { id: installation },
        settings: SETTINGS,
        buildEnv: {},
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
        waiterDelays: { minDelay: 0.001, maxDelay: 0.002 },
        codeBuildPoll: { minMs: 1, maxMs: 2 },
        healthRetry: { attempts: 1 },
        fetch: async (url: string) => {
          health.push(url);
          return { status: 200, statusText: 'OK' };
        },
        rewatchDelayMs: 5,
      }),
      // Everything real but the drain before the old cluster goes (2 minutes at TTL 60 s).
      drainMs: () => 10,
    });
    h = await startHarness({ provider: 'aws' }, { provider, apps: [app] });
  });
  afterAll(async () => {
    await h.close();
    await aws.close();
  });

  const deployAndApprove = async (version: string): Promise<number> => {
    const { body } = await h.cmd('carol', 'deploy', 'search-svc', version);
    const id = (body as unknown as { deploy: { id: number } }).deploy.id;
    const waiting = await h.waitState(id, 'awaiting_approval', 'failed');
    if (waiting.state === 'failed') return id;
    await h.cmd('bob', 'approve', String(id));
    await h.waitState(id, 'succeeded', 'failed');
    return id;
  };

  it('builds, provisions, deploys, waits for approval, cuts over and reports every step', async () => {
    const id = await deployAndApprove('1.5.0');
    const d = h.k.core.view(id);
    expect(d.state).toBe('succeeded');
    expect(d.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['build:succeeded', 'provision:succeeded', 'deploy:succeeded', 'approval:succeeded', 'cutover:succeeded', 'teardown:skipped']);

    // ECR repository created as the app allows, then built with CodeBuild.
    expect(aws.mocks.ecr.commandCalls(CreateRepositoryCommand)[0]!.args[0].input).toMatchObject({
      repositoryName: 'search-svc',
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    });
    expect(aws.mocks.codebuild.commandCalls(StartBuildCommand)[0]!.args[0].input).toMatchObject({ projectName: 'search-svc-image', sourceVersion: '1.5.0' });

    // The cluster and node group, tagged and shaped from the KubeApp.
    const cluster = aws.mocks.eks.commandCalls(CreateClusterCommand)[0]!.args[0].input;
    expect(cluster).toMatchObject({
      name: `search-svc-${id}`,
      version: '1.31',
      tags: { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': String(id), 'kubecontrol:installation': h.k.installation },
    });
    expect(aws.mocks.eks.commandCalls(CreateNodegroupCommand)[0]!.args[0].input).toMatchObject({
      clusterName: `search-svc-${id}`,
      capacityType: 'ON_DEMAND',
      amiType: 'AL2023_x86_64_STANDARD',
      instanceTypes: ['m6i.large', 'm6i.xlarge'],
      scalingConfig: { minSize: 3, maxSize: 12, desiredSize: 3 },
      tags: { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': String(id), 'kubecontrol:installation': h.k.installation },
    });

    // Kubernetes saw the EKS token, and the app's Deployment with its sidecars at the new version.
    const kube = aws.kubes.get(`search-svc-${id}`)!;
    expect(kube.requests.every((r) => /^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/.test(String(r.headers.authorization)))).toBe(true);
    const deployment = kube.get('deployments', 'search-svc', 'search-svc') as unknown as { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };
    expect(deployment.spec.template.spec.containers.map((c) => c.name)).toEqual(['api', 'metrics', 'logging']);
    expect(deployment.spec.template.spec.containers[0]!.image).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/search-svc:1.5.0');

    // Health checked through the new load balancer, then DNS moved to it.
    expect(health).toEqual([`http://k8s-search-svc-${id}.elb.eu-west-1.amazonaws.com/healthz`]);
    expect(aws.record).toBe(`k8s-search-svc-${id}.elb.eu-west-1.amazonaws.com`);
    expect(h.k.store.resources.forDeploy(id).map((r) => `${r.kind}:${r.state}`)).toEqual(['cluster:created', 'nodegroup:created', 'namespace:created']);
  }, 60_000);

  it('a second deploy moves traffic and tears the first cluster down, leaving nothing in the ledger', async () => {
    const first = h.k.store.deploys.lastSucceeded('search-svc')!;
    const before = callCounts(aws);
    const id = await deployAndApprove('1.6.0');
    const after = callCounts(aws);
    const made = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    // 28 calls when every wait succeeds at its first look (real waits add polls): a guard against hidden loops.
    // Two are the ownership checks before the old node group and cluster are deleted.
    expect(made).toEqual({
      DescribeRepositories: 1,
      DescribeImages: 3,
      StartBuild: 1,
      BatchGetBuilds: 1,
      DescribeCluster: 6,
      CreateCluster: 1,
      DescribeNodegroup: 4,
      CreateNodegroup: 1,
      DescribeAutoScalingGroups: 2,
      ListResourceRecordSets: 2,
      ChangeResourceRecordSets: 1,
      GetChange: 1,
      DeleteNodegroup: 1,
      ListNodegroups: 1,
      ListFargateProfiles: 1,
      DeleteCluster: 1,
    });
    expect(h.k.store.deploys.get(id)!.state).toBe('succeeded');
    expect(aws.record).toBe(`k8s-search-svc-${id}.elb.eu-west-1.amazonaws.com`);
    expect(aws.eks.clusters.has(first.toCluster!)).toBe(false);
    expect(aws.mocks.eks.commandCalls(DeleteNodegroupCommand).map((c) => c.args[0].input.clusterName)).toContain(first.toCluster);
    expect(undeleted(h, first.id)).toEqual([]);
    expect(h.k.store.deploys.get(id)!.previousTarget).toBe(`k8s-${first.toCluster}.elb.eu-west-1.amazonaws.com`);
  }, 60_000);

  it('a rollout whose pods crash fails with the reason and tears its cluster down; traffic stays', async () => {
    const live = aws.record;
    aws.nextRollout = 'crashloop';
    const id = await deployAndApprove('1.7.0-bad');
    aws.nextRollout = 'healthy';
    const d = h.k.core.view(id);
    expect(d.state).toBe('failed');
    expect(d.error).toMatch(/CrashLoopBackOff/);
    expect(d.cleanup).toBe('done');
    expect(undeleted(h, id)).toEqual([]);
    expect(aws.eks.clusters.has(`search-svc-${id}`)).toBe(false);
    expect(aws.record).toBe(live);
  }, 60_000);

  it("gc finds a tagged cluster no deploy owns and deletes it with its node group; another installation's is not even listed", async () => {
    // Left behind by this installation outside its ledger (a restored, older database), and another installation's twin.
    const ours = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '9999', 'kubecontrol:installation': h.k.installation };
    aws.eks.seedCluster('search-svc-9999', ours);
    aws.eks.seedNodegroup('search-svc-9999', 'search-svc-9999-nodes', ours);
    const theirs = { ...ours, 'kubecontrol:deploy': '9998', 'kubecontrol:installation': OTHER_INSTALLATION.id };
    aws.eks.seedCluster('search-svc-9998', theirs);
    aws.eks.seedNodegroup('search-svc-9998', 'search-svc-9998-nodes', theirs);
    const listed = (await (await fetch(`${h.url}/api/gc`, { headers: { 'x-kubecontrol-user': 'alice' } })).json()) as { orphans: { kind: string; name: string; reason: string }[] };
    expect(listed.orphans.map((o) => `${o.kind} ${o.name}: ${o.reason}`)).toEqual([
      'cluster search-svc-9999: deploy #9999 is unknown to this ledger',
      'nodegroup search-svc-9999-nodes: deploy #9999 is unknown to this ledger',
    ]);
    const collected = (await (await fetch(`${h.url}/api/gc`, { method: 'POST', headers: { 'x-kubecontrol-user': 'alice' } })).json()) as { orphans: { outcome: string }[] };
    expect(collected.orphans.map((o) => o.outcome)).toEqual(['deleted', 'deleted']);
    expect(aws.eks.clusters.has('search-svc-9999')).toBe(false);
    // The live cluster is not garbage, and the other installation's twin is untouched.
    expect([...aws.eks.clusters.keys()].filter((n) => n !== 'search-svc-9998')).toHaveLength(1);
    expect(aws.eks.clusters.get('search-svc-9998')!.tags).toEqual(theirs);
    expect(aws.eks.nodegroups.has('search-svc-9998/search-svc-9998-nodes')).toBe(true);
    expect(aws.mocks.eks.commandCalls(DeleteNodegroupCommand).map((c) => c.args[0].input.clusterName)).not.toContain('search-svc-9998');
  }, 60_000);
});
