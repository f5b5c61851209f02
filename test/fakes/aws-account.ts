/**
 * A whole fake AWS account for tests that run the real pipeline on the aws
 * provider: ECR and CodeBuild (small and scripted), EKS with one fake
 * Kubernetes API server per cluster (with EKS Auto Mode's load-balancing
 * controller when the cluster was created with it), the load balancers that
 * controller makes (ELBv2, EC2 security groups, the tagging API) and a Route 53
 * hosted zone — each refusing what the real service refuses. The SDK clients
 * are the real ones, answered at `send` by aws-sdk-client-mock.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { TODAY } from './aws-apps.js';
import { FakeEks } from './aws-eks.js';
import { FakeElbv2 } from './aws-elbv2.js';
import { FakeLoadBalancers, type FakeLoadBalancersOptions } from './aws-load-balancers.js';
import { FakeRoute53 } from './aws-route53.js';
import { FakeKubeApiServer, type FakeBehaviour } from './kube-apiserver.js';

export const ZONE_ID = 'Z0123456789ABCDEFGHIJ';

/** What a test can tune. */
export interface FakeAwsAccountOptions {
  readonly loadBalancers?: FakeLoadBalancersOptions;
  /** Epoch ms the fake EKS's version table is read at. @default TODAY */
  readonly now?: number;
}

export class FakeAwsAccount {
  readonly mocks = {
    ecr: mockClient(ECRClient),
    codebuild: mockClient(CodeBuildClient),
    eks: mockClient(EKSClient),
    asg: mockClient(AutoScalingClient),
    r53: mockClient(Route53Client),
    elbv2: mockClient(ElasticLoadBalancingV2Client),
    ec2: mockClient(EC2Client),
    tagging: mockClient(ResourceGroupsTaggingAPIClient),
  };
  readonly repositories = new Set<string>();
  /** `repository:tag` of every image in ECR. */
  readonly images = new Set<string>();
  readonly lbs: FakeLoadBalancers;
  readonly eks: FakeEks;
  readonly elb: FakeElbv2;
  readonly route53: FakeRoute53;
  /** The Kubernetes API server of each cluster. */
  readonly kubes = new Map<string, FakeKubeApiServer>();
  /** How the next cluster's Kubernetes behaves (its rollouts, its Service's answers). */
  nextBehaviour: Partial<FakeBehaviour> = {};

  constructor(opts: FakeAwsAccountOptions = {}) {
    const { ecr, codebuild } = this.mocks;
    ecr.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => {
      const name = input.repositoryNames[0]!;
      if (!this.repositories.has(name)) throw new RepositoryNotFoundException({ message: `The repository with name '${name}' does not exist`, $metadata: {} });
      return { repositories: [{ repositoryName: name }] };
    });
    ecr.on(CreateRepositoryCommand).callsFake((input: { repositoryName: string }) => {
      this.repositories.add(input.repositoryName);
      return { repository: { repositoryName: input.repositoryName } };
    });
    ecr.on(DescribeImagesCommand).callsFake((input: { repositoryName: string; imageIds: { imageTag: string }[] }) => {
      const tag = input.imageIds[0]!.imageTag;
      if (!this.images.has(`${input.repositoryName}:${tag}`)) throw new ImageNotFoundException({ message: `The image with imageId {imageTag:'${tag}'} does not exist`, $metadata: {} });
      return { imageDetails: [{ imageTags: [tag] }] };
    });
    // Every app's CodeBuild project is named `<repository>-image` in these tests.
    codebuild.on(StartBuildCommand).callsFake((input: { projectName: string; environmentVariablesOverride: { name: string; value: string }[] }) => {
      const tag = input.environmentVariablesOverride.find((e) => e.name === 'IMAGE_TAG')!.value;
      this.images.add(`${input.projectName.replace(/-image$/, '')}:${tag}`);
      return { build: { id: `${input.projectName}:${tag}` } };
    });
    codebuild.on(BatchGetBuildsCommand).callsFake((input: { ids: string[] }) => ({
      builds: [{ id: input.ids[0], currentPhase: 'COMPLETED', buildComplete: true, buildStatus: 'SUCCEEDED' }],
    }));

    this.lbs = new FakeLoadBalancers(opts.loadBalancers ?? {});
    this.eks = new FakeEks(this.mocks.eks, this.mocks.asg, {
      now: opts.now ?? TODAY,
      // Every wait succeeds at its first look: the call counts are the fewest a deploy makes.
      transitionLooks: 0,
      publicSubnets: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
      endpointFor: async (name, input) => {
        // Auto Mode's load-balancing controller runs in the cluster only when it was created with it.
        const lb = input.kubernetesNetworkConfig?.elasticLoadBalancing?.enabled === true;
        const kube = await new FakeKubeApiServer(lb ? { loadBalancing: { loadBalancers: this.lbs, cluster: name } } : {}).start();
        Object.assign(kube.behaviour, this.nextBehaviour);
        this.kubes.set(name, kube);
        return kube.url;
      },
      onClusterGone: async (name) => {
        await this.kubes.get(name)?.close();
        this.kubes.delete(name);
      },
    });
    this.elb = new FakeElbv2(this.lbs, { elbv2: this.mocks.elbv2, ec2: this.mocks.ec2, tagging: this.mocks.tagging });
    this.route53 = new FakeRoute53(this.mocks.r53, { loadBalancers: this.lbs });
    this.route53.addZone(ZONE_ID, 'example.com');
  }

  /** AWS API calls so far, by operation. */
  callCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const m of Object.values(this.mocks) as unknown as { calls(): { args: unknown[] }[] }[]) {
      for (const c of m.calls()) {
        const name = (c.args[0] as object).constructor.name.replace(/Command$/, '');
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }
    return counts;
  }

  /** Every resource in the account that carries kubecontrol's tags: clusters, capacity, load balancers and what came with them. */
  tagged(): string[] {
    const out: string[] = [];
    for (const c of this.eks.clusters.values()) if (c.tags['kubecontrol:managed-by']) out.push(`cluster ${c.name}`);
    for (const n of this.eks.nodegroups.values()) if (n.tags['kubecontrol:managed-by']) out.push(`nodegroup ${n.cluster}/${n.name}`);
    for (const f of this.eks.fargateProfiles.values()) if (f.tags['kubecontrol:managed-by']) out.push(`fargate-profile ${f.cluster}/${f.name}`);
    for (const r of this.lbs.taggedWith('kubecontrol:managed-by')) out.push(`${r.kind} of ${r.tags['eks:eks-cluster-name']}`);
    return out.sort();
  }

  async close(): Promise<void> {
    for (const kube of this.kubes.values()) await kube.close();
    for (const m of Object.values(this.mocks)) m.restore();
  }
}
