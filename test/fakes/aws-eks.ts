/**
 * A small stateful EKS (and the Auto Scaling groups of its node groups) behind
 * aws-sdk-client-mock: the real SDK clients, waiters and exceptions, answering
 * like the service does. Describe* return the `tags` map exactly as created
 * (what kubecontrol's installation check reads), and the fake refuses what EKS
 * refuses: a name that is taken, fewer than two subnets, capacity on a cluster
 * that is not ACTIVE, deleting a cluster that still has capacity, public
 * subnets for Fargate, tags EKS does not take.
 */
import {
  DescribeAutoScalingGroupsCommand,
  type AutoScalingClientResolvedConfig,
  type ServiceInputTypes as AsgInput,
  type ServiceOutputTypes as AsgOutput,
} from '@aws-sdk/client-auto-scaling';
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
  InvalidParameterException,
  InvalidRequestException,
  ListClustersCommand,
  ListFargateProfilesCommand,
  ListNodegroupsCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type CreateClusterCommandInput,
  type CreateFargateProfileCommandInput,
  type CreateNodegroupCommandInput,
  type EKSClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-eks';
import type { AwsStub } from 'aws-sdk-client-mock';

type Status = 'CREATING' | 'ACTIVE' | 'DELETING' | 'FAILED';
const meta = { $metadata: { httpStatusCode: 400 } };

interface FakeCluster {
  readonly name: string;
  readonly input: CreateClusterCommandInput;
  readonly tags: Record<string, string>;
  status: Status;
  endpoint: string;
  /** Describes left before CREATING turns ACTIVE (or DELETING turns gone). */
  looksLeft: number;
}
interface FakeCapacity {
  readonly cluster: string;
  readonly name: string;
  readonly tags: Record<string, string>;
  status: Status;
  looksLeft: number;
  readonly desired: number;
}

/** What a test can tune. */
export interface FakeEksOptions {
  /** Describes a new resource answers CREATING (or DELETING) before it is ACTIVE (or gone). @default 1 */
  readonly transitionLooks?: number;
  /** Subnets with a route to an internet gateway: Fargate refuses them. @default none */
  readonly publicSubnets?: readonly string[];
  /** The Kubernetes API endpoint of a new cluster. @default https://<name>.gr7.<region>.eks.amazonaws.com */
  readonly endpointFor?: (name: string) => string | Promise<string>;
  /** Told when a cluster is gone (to close its fake API server). */
  readonly onClusterGone?: (name: string) => void | Promise<void>;
}

/** Tag rules of EKS (and AWS tagging in general). */
function checkTags(tags: Record<string, string> | undefined): void {
  const entries = Object.entries(tags ?? {});
  if (entries.length > 50) throw new InvalidParameterException({ message: 'The number of tags exceeds the limit of 50', ...meta });
  for (const [k, v] of entries) {
    if (!k || k.length > 128) throw new InvalidParameterException({ message: `Tag key ${k} must be 1-128 characters`, ...meta });
    if (v.length > 256) throw new InvalidParameterException({ message: `Tag value for ${k} must be at most 256 characters`, ...meta });
    if (k.toLowerCase().startsWith('aws:')) throw new InvalidParameterException({ message: `Tag key ${k} uses the reserved prefix aws:`, ...meta });
  }
}

const notFound = (message: string) => new ResourceNotFoundException({ message, ...meta });

/** The fake: installs itself on the given mocks (call again after `mock.reset()`). */
export class FakeEks {
  readonly clusters = new Map<string, FakeCluster>();
  readonly nodegroups = new Map<string, FakeCapacity>();
  readonly fargateProfiles = new Map<string, FakeCapacity>();

  constructor(
    private readonly eks: AwsStub<ServiceInputTypes, ServiceOutputTypes, EKSClientResolvedConfig>,
    private readonly asg?: AwsStub<AsgInput, AsgOutput, AutoScalingClientResolvedConfig>,
    private readonly opts: FakeEksOptions = {},
  ) {
    this.install();
  }

  private get looks(): number {
    return this.opts.transitionLooks ?? 1;
  }

  /** A resource that exists before the test: someone else's cluster, a leftover node group. */
  seedCluster(name: string, tags: Record<string, string>, status: Status = 'ACTIVE'): void {
    this.clusters.set(name, { name, input: { name, roleArn: 'arn:aws:iam::123456789012:role/other', resourcesVpcConfig: {} }, tags, status, endpoint: `https://${name}.gr7.eu-west-1.eks.amazonaws.com`, looksLeft: 0 });
  }
  seedNodegroup(cluster: string, name: string, tags: Record<string, string>): void {
    this.nodegroups.set(`${cluster}/${name}`, { cluster, name, tags, status: 'ACTIVE', looksLeft: 0, desired: 2 });
  }
  seedFargateProfile(cluster: string, name: string, tags: Record<string, string>): void {
    this.fargateProfiles.set(`${cluster}/${name}`, { cluster, name, tags, status: 'ACTIVE', looksLeft: 0, desired: 0 });
  }

  /** (Re)installs every answer on the mocks. */
  install(): void {
    const { eks } = this;
    eks.on(CreateClusterCommand).callsFake(async (input: CreateClusterCommandInput) => {
      const name = input.name!;
      if (this.clusters.has(name)) throw new ResourceInUseException({ message: `Cluster already exists with name: ${name}`, clusterName: name, ...meta });
      if (!input.roleArn) throw new InvalidParameterException({ message: 'roleArn is required', ...meta });
      const subnets = input.resourcesVpcConfig?.subnetIds ?? [];
      if (new Set(subnets).size < 2) {
        throw new InvalidParameterException({ message: 'Subnets specified must be in at least two different AZs', ...meta });
      }
      checkTags(input.tags);
      const endpoint = (await this.opts.endpointFor?.(name)) ?? `https://${name}.gr7.eu-west-1.eks.amazonaws.com`;
      const c: FakeCluster = { name, input, tags: { ...(input.tags ?? {}) }, status: 'CREATING', endpoint, looksLeft: this.looks };
      this.clusters.set(name, c);
      return { cluster: this.view(c) };
    });
    eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }) => {
      const c = this.clusters.get(input.name);
      if (!c) throw notFound(`No cluster found for name: ${input.name}.`);
      if (c.looksLeft > 0) c.looksLeft--;
      else if (c.status === 'CREATING') c.status = 'ACTIVE';
      else if (c.status === 'DELETING') {
        this.clusters.delete(c.name);
        await this.opts.onClusterGone?.(c.name);
        throw notFound(`No cluster found for name: ${input.name}.`);
      }
      return { cluster: this.view(c) };
    });
    eks.on(DeleteClusterCommand).callsFake((input: { name: string }) => {
      const c = this.clusters.get(input.name);
      if (!c) throw notFound(`No cluster found for name: ${input.name}.`);
      if (this.capacityOf(c.name).length) {
        throw new ResourceInUseException({ message: `Cluster has nodegroups or Fargate profiles attached`, clusterName: c.name, ...meta });
      }
      if (c.status !== 'DELETING') Object.assign(c, { status: 'DELETING', looksLeft: this.looks });
      return { cluster: this.view(c) };
    });
    eks.on(ListClustersCommand).callsFake((input: { nextToken?: string; maxResults?: number }) => {
      const names = [...this.clusters.keys()];
      const start = input.nextToken ? Number(input.nextToken) : 0;
      const size = input.maxResults ?? 100;
      const next = start + size < names.length ? String(start + size) : undefined;
      return { clusters: names.slice(start, start + size), nextToken: next };
    });

    this.capacity(this.nodegroups, 'node group', {
      create: CreateNodegroupCommand,
      describe: DescribeNodegroupCommand,
      remove: DeleteNodegroupCommand,
      list: ListNodegroupsCommand,
      nameOf: (i) => (i as { nodegroupName: string }).nodegroupName,
      view: (n) => ({
        nodegroup: {
          nodegroupName: n.name,
          clusterName: n.cluster,
          status: n.status,
          tags: { ...n.tags },
          resources: { autoScalingGroups: [{ name: `eks-${n.name}-asg` }] },
        },
      }),
      listed: (names) => ({ nodegroups: names }),
      check: (input) => {
        const i = input as CreateNodegroupCommandInput;
        if (!i.nodeRole) throw new InvalidParameterException({ message: 'nodeRole is required', ...meta });
      },
      desired: (input) => (input as CreateNodegroupCommandInput).scalingConfig?.desiredSize ?? 2,
    });
    this.capacity(this.fargateProfiles, 'Fargate profile', {
      create: CreateFargateProfileCommand,
      describe: DescribeFargateProfileCommand,
      remove: DeleteFargateProfileCommand,
      list: ListFargateProfilesCommand,
      nameOf: (i) => (i as { fargateProfileName: string }).fargateProfileName,
      view: (p) => ({ fargateProfile: { fargateProfileName: p.name, clusterName: p.cluster, status: p.status, tags: { ...p.tags } } }),
      listed: (names) => ({ fargateProfileNames: names }),
      check: (input) => {
        const i = input as CreateFargateProfileCommandInput;
        if (!i.podExecutionRoleArn) throw new InvalidParameterException({ message: 'podExecutionRoleArn is required', ...meta });
        const pub = (i.subnets ?? []).find((s) => this.opts.publicSubnets?.includes(s));
        if (pub) throw new InvalidParameterException({ message: `Subnet ${pub} provided in Fargate Profile is not a private subnet`, ...meta });
      },
      desired: () => 0,
    });

    this.asg?.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames?: string[] }) => ({
      AutoScalingGroups: (input.AutoScalingGroupNames ?? []).flatMap((asgName) => {
        const ng = [...this.nodegroups.values()].find((n) => `eks-${n.name}-asg` === asgName);
        if (!ng) return [];
        const Instances = Array.from({ length: ng.desired }, (_, i) => ({ InstanceId: `i-${i}`, LifecycleState: 'InService' }));
        return [{ AutoScalingGroupName: asgName, MinSize: ng.desired, MaxSize: ng.desired, DesiredCapacity: ng.desired, Instances }];
      }),
    }));
  }

  /** Node groups and Fargate profiles share their life cycle. */
  private capacity(
    store: Map<string, FakeCapacity>,
    label: string,
    c: {
      create: typeof CreateNodegroupCommand | typeof CreateFargateProfileCommand;
      describe: typeof DescribeNodegroupCommand | typeof DescribeFargateProfileCommand;
      remove: typeof DeleteNodegroupCommand | typeof DeleteFargateProfileCommand;
      list: typeof ListNodegroupsCommand | typeof ListFargateProfilesCommand;
      nameOf: (input: unknown) => string;
      view: (r: FakeCapacity) => object;
      listed: (names: string[]) => object;
      check: (input: unknown) => void;
      desired: (input: unknown) => number;
    },
  ): void {
    const cluster = (input: unknown): FakeCluster => {
      const name = (input as { clusterName: string }).clusterName;
      const found = this.clusters.get(name);
      if (!found) throw notFound(`No cluster found for name: ${name}.`);
      return found;
    };
    // One code path for two command families: typed loosely here, exactly by the SDK at the edge.
    const eks = this.eks as unknown as { on(cmd: unknown): { callsFake(fn: (input: unknown) => unknown): unknown } };
    eks.on(c.create as never).callsFake((input: unknown) => {
      const cl = cluster(input);
      const name = c.nameOf(input);
      if (cl.status !== 'ACTIVE') throw new InvalidRequestException({ message: `Cluster '${cl.name}' is not in ACTIVE status`, ...meta });
      if (store.has(`${cl.name}/${name}`)) throw new ResourceInUseException({ message: `${label} already exists with name ${name} and cluster name ${cl.name}`, ...meta });
      c.check(input);
      const tags = (input as { tags?: Record<string, string> }).tags;
      checkTags(tags);
      const r: FakeCapacity = { cluster: cl.name, name, tags: { ...(tags ?? {}) }, status: 'CREATING', looksLeft: this.looks, desired: c.desired(input) };
      store.set(`${cl.name}/${name}`, r);
      return c.view(r);
    });
    eks.on(c.describe as never).callsFake((input: unknown) => {
      const cl = cluster(input);
      const name = c.nameOf(input);
      const r = store.get(`${cl.name}/${name}`);
      if (!r) throw notFound(`No ${label} found for name: ${name}.`);
      if (r.looksLeft > 0) r.looksLeft--;
      else if (r.status === 'CREATING') r.status = 'ACTIVE';
      else if (r.status === 'DELETING') {
        store.delete(`${cl.name}/${name}`);
        throw notFound(`No ${label} found for name: ${name}.`);
      }
      return c.view(r);
    });
    eks.on(c.remove as never).callsFake((input: unknown) => {
      const cl = cluster(input);
      const name = c.nameOf(input);
      const r = store.get(`${cl.name}/${name}`);
      if (!r) throw notFound(`No ${label} found for name: ${name}.`);
      if (r.status !== 'DELETING') Object.assign(r, { status: 'DELETING', looksLeft: this.looks });
      return c.view(r);
    });
    eks.on(c.list as never).callsFake((input: unknown) => {
      const cl = cluster(input);
      return c.listed([...store.values()].filter((r) => r.cluster === cl.name).map((r) => r.name));
    });
  }

  private capacityOf(cluster: string): FakeCapacity[] {
    return [...this.nodegroups.values(), ...this.fargateProfiles.values()].filter((r) => r.cluster === cluster);
  }

  private view(c: FakeCluster) {
    return {
      name: c.name,
      arn: `arn:aws:eks:eu-west-1:123456789012:cluster/${c.name}`,
      status: c.status,
      version: c.input.version,
      endpoint: c.status === 'CREATING' ? undefined : c.endpoint,
      certificateAuthority: c.status === 'CREATING' ? undefined : { data: 'Q0E=' },
      tags: { ...c.tags },
    };
  }
}
