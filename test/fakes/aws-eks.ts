/**
 * A small stateful EKS (and the Auto Scaling groups of its node groups) behind
 * aws-sdk-client-mock: the real SDK clients, waiters and exceptions, answering
 * like the service does. Describe* return the `tags` map exactly as created
 * (what kubecontrol's installation check reads), and the fake refuses what EKS
 * refuses: a name that is taken, fewer than two subnets, a version it does not
 * list as creatable (or STANDARD support for one already in extended support),
 * Auto Mode capabilities not enabled all three together, Auto Mode node pools
 * without a node role, CONFIG_MAP authentication with Auto Mode, capacity on a
 * cluster that is not ACTIVE, node group / profile names over 63 characters,
 * deleting a cluster that is CREATING or still has capacity, public subnets for
 * Fargate, add-ons EKS does not have, tags EKS does not take, an add-on's Pod
 * Identity association for a service account that is not the add-on's (or on an
 * add-on without Pod Identity support). Like EKS, it accepts Pod Identity
 * associations on a cluster whose nodes run no Pod Identity agent (their pods
 * would get no credentials): `podIdentityAgent` says whether one runs.
 *
 * A node group's scaling configuration is kept and changed by UpdateNodegroupConfig as
 * EKS does it (API reference: UpdateNodegroupConfig, NodegroupScalingConfig, DescribeUpdate):
 * an update is InProgress (the node group UPDATING) until it is looked at, then
 * Successful (or Failed, `failNextUpdate`); a second update while one is in progress, or
 * of a node group that is not ACTIVE, is a ResourceInUseException; the same
 * clientRequestToken is the same update; the bounds are refused as EKS refuses them
 * (InvalidParameterException): minSize < 0, maxSize < 1, minSize above the desired size —
 * the current one when none is given ("Minimum capacity 3 can't be greater than desired
 * size 2") — and a desired size above maxSize. CreateNodegroup checks the same bounds.
 */
import {
  DescribeAutoScalingGroupsCommand,
  type AutoScalingClientResolvedConfig,
  type ServiceInputTypes as AsgInput,
  type ServiceOutputTypes as AsgOutput,
} from '@aws-sdk/client-auto-scaling';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreatePodIdentityAssociationCommand,
  DeleteAddonCommand,
  DescribeAddonCommand,
  DescribeClusterVersionsCommand,
  ListAccessEntriesCommand,
  ListPodIdentityAssociationsCommand,
  type AssociateAccessPolicyCommandInput,
  type CreateAccessEntryCommandInput,
  type CreateAddonCommandInput,
  type CreatePodIdentityAssociationCommandInput,
  CreateClusterCommand,
  CreateFargateProfileCommand,
  CreateNodegroupCommand,
  DeleteClusterCommand,
  DeleteFargateProfileCommand,
  DeleteNodegroupCommand,
  DescribeClusterCommand,
  DescribeFargateProfileCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  UpdateNodegroupConfigCommand,
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
  type UpdateNodegroupConfigCommandInput,
  type EKSClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-eks';
import type { AwsStub } from 'aws-sdk-client-mock';
import { calendarVersions, type EksVersion } from '../../deployer/aws/versions.js';
import { CreateOrUpdateTagsCommand, type Tag } from '@aws-sdk/client-auto-scaling';

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
  status: Status | 'UPDATING';
  looksLeft: number;
  desired: number;
  /** A node group's bounds (its scalingConfig). */
  min?: number;
  max?: number;
}

/** An EKS update of a node group (UpdateNodegroupConfig), as DescribeUpdate shows it. */
export interface FakeUpdate {
  readonly id: string;
  readonly cluster: string;
  readonly nodegroup: string;
  readonly token?: string;
  readonly scaling: { minSize: number; maxSize: number; desiredSize: number };
  status: 'InProgress' | 'Successful' | 'Failed';
  looksLeft: number;
  errors: { errorCode: string; errorMessage: string }[];
}

/** What a test can tune. */
export interface FakeEksOptions {
  /** Describes a new resource answers CREATING (or DELETING) before it is ACTIVE (or gone). @default 1 */
  readonly transitionLooks?: number;
  /** Subnets with a route to an internet gateway: Fargate refuses them. @default none */
  readonly publicSubnets?: readonly string[];
  /**
   * The Kubernetes API endpoint of a new cluster, told how it was created (e.g. whether
   * Auto Mode load balancing runs in it). @default https://<name>.gr7.<region>.eks.amazonaws.com
   */
  readonly endpointFor?: (name: string, input: CreateClusterCommandInput) => string | Promise<string>;
  /**
   * The versions EKS lists (DescribeClusterVersions) and creates (STANDARD_ and EXTENDED_SUPPORT only).
   * @default the built-in calendar at `now`
   */
  readonly versions?: readonly EksVersion[];
  /** Epoch ms the calendar is read at. @default 2026-11-30T12:00Z */
  readonly now?: number;
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

/**
 * The bounds of a node group's scaling configuration, as EKS refuses them (NodegroupScalingConfig:
 * minSize ≥ 0, maxSize ≥ 1, desiredSize ≥ 0; minSize ≤ desiredSize ≤ maxSize).
 */
function checkScaling(s: { minSize: number; maxSize: number; desiredSize: number }): void {
  const bad = (message: string) => new InvalidParameterException({ message, ...meta });
  if (!Number.isInteger(s.minSize) || s.minSize < 0) throw bad(`minSize ${s.minSize} is not valid: it must be at least 0`);
  if (!Number.isInteger(s.maxSize) || s.maxSize < 1) throw bad(`maxSize ${s.maxSize} is not valid: it must be at least 1`);
  if (!Number.isInteger(s.desiredSize) || s.desiredSize < 0) throw bad('desiredSize is not valid');
  if (s.minSize > s.desiredSize) throw bad(`Minimum capacity ${s.minSize} can't be greater than desired size ${s.desiredSize}`);
  if (s.desiredSize > s.maxSize) throw bad(`Desired capacity ${s.desiredSize} can't be greater than max size ${s.maxSize}`);
}
const invalid = (message: string) => new InvalidParameterException({ message, ...meta });

/** Add-ons EKS has (a few; enough for what kubecontrol installs and a typo to fail). */
export const KNOWN_ADDONS = ['vpc-cni', 'kube-proxy', 'coredns', 'eks-pod-identity-agent', 'aws-ebs-csi-driver', 'amazon-cloudwatch-observability'];
/**
 * The service account of each add-on that supports Pod Identity (DescribeAddonConfiguration's
 * podIdentityConfiguration): the only one its associations may name.
 */
export const ADDON_SERVICE_ACCOUNTS: Readonly<Record<string, { namespace: string; serviceAccount: string }>> = {
  'amazon-cloudwatch-observability': { namespace: 'amazon-cloudwatch', serviceAccount: 'cloudwatch-agent' },
  'vpc-cni': { namespace: 'kube-system', serviceAccount: 'aws-node' },
  'aws-ebs-csi-driver': { namespace: 'kube-system', serviceAccount: 'ebs-csi-controller-sa' },
};
const ROLE_ARN = /^arn:aws(-cn|-us-gov|-iso(-[a-z])?)?:iam::\d{12}:role\/.+$/;

interface FakeAddon {
  readonly cluster: string;
  readonly name: string;
  readonly input: CreateAddonCommandInput;
  status: 'CREATING' | 'ACTIVE' | 'DELETING';
  looksLeft: number;
}

/** The fake: installs itself on the given mocks (call again after `mock.reset()`). */
export class FakeEks {
  readonly clusters = new Map<string, FakeCluster>();
  readonly nodegroups = new Map<string, FakeCapacity>();
  readonly fargateProfiles = new Map<string, FakeCapacity>();
  /** `<cluster>/<addon>`. */
  readonly addons = new Map<string, FakeAddon>();
  /** Access entries by `<cluster>/<principal>`, with their associated policies. */
  readonly accessEntries = new Map<string, { input: CreateAccessEntryCommandInput; policies: AssociateAccessPolicyCommandInput[] }>();
  /** Pod Identity associations; those an add-on created carry its ARN as `ownerArn` (and go with it). */
  readonly podIdentityAssociations: (CreatePodIdentityAssociationCommandInput & { associationId: string; ownerArn?: string })[] = [];
  /** The tags put on each Auto Scaling group (CreateOrUpdateTags), by group name. */
  readonly asgTags = new Map<string, Tag[]>();
  /** Node group updates (UpdateNodegroupConfig), by id. */
  readonly updates = new Map<string, FakeUpdate>();
  /** The next node group update ends Failed with this error (then it is cleared). */
  failNextUpdate: { errorCode: string; errorMessage: string } | undefined;

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

  /** The versions this fake lists. */
  get versions(): readonly EksVersion[] {
    return this.opts.versions ?? calendarVersions(this.opts.now ?? Date.parse('2026-11-30T12:00:00Z'));
  }

  /** What CreateCluster checks of a cluster's version, Auto Mode and access configuration. */
  private checkCluster(input: CreateClusterCommandInput): void {
    if (input.version !== undefined) {
      const v = this.versions.find((x) => x.version === input.version);
      if (!v || v.status === 'UNSUPPORTED') throw invalid(`unsupported Kubernetes version ${input.version}`);
      if (v.status === 'EXTENDED_SUPPORT' && input.upgradePolicy?.supportType === 'STANDARD') {
        throw invalid(`Kubernetes version ${input.version} is in extended support: upgradePolicy supportType STANDARD cannot be set`);
      }
    }
    const compute = input.computeConfig?.enabled === true;
    const lb = input.kubernetesNetworkConfig?.elasticLoadBalancing?.enabled === true;
    const storage = input.storageConfig?.blockStorage?.enabled === true;
    if ((compute || lb || storage) && !(compute && lb && storage)) {
      throw invalid(
        'For EKS Auto Mode, computeConfig.enabled, kubernetesNetworkConfig.elasticLoadBalancing.enabled and storageConfig.blockStorage.enabled must all be set to the same value',
      );
    }
    if (compute && (input.computeConfig?.nodePools?.length ?? 0) > 0 && !input.computeConfig?.nodeRoleArn) {
      throw invalid('nodeRoleArn is required in computeConfig when nodePools are specified');
    }
    for (const pool of input.computeConfig?.nodePools ?? []) {
      if (pool !== 'system' && pool !== 'general-purpose') throw invalid(`Invalid node pool ${pool}: must be one of system, general-purpose`);
    }
    if (compute && input.accessConfig?.authenticationMode === 'CONFIG_MAP') {
      throw invalid('EKS Auto Mode requires authenticationMode API or API_AND_CONFIG_MAP');
    }
  }

  /** (Re)installs every answer on the mocks. */
  install(): void {
    const { eks } = this;
    eks.on(CreateClusterCommand).callsFake(async (input: CreateClusterCommandInput) => {
      const name = input.name!;
      if (this.clusters.has(name)) throw new ResourceInUseException({ message: `Cluster already exists with name: ${name}`, clusterName: name, ...meta });
      if (!input.roleArn) throw new InvalidParameterException({ message: 'roleArn is required', ...meta });
      if (name.length > 100 || !/^[0-9A-Za-z][A-Za-z0-9\-_]*$/.test(name)) throw invalid(`Invalid cluster name ${name}`);
      const subnets = input.resourcesVpcConfig?.subnetIds ?? [];
      if (new Set(subnets).size < 2) {
        throw new InvalidParameterException({ message: 'Subnets specified must be in at least two different AZs', ...meta });
      }
      this.checkCluster(input);
      checkTags(input.tags);
      const endpoint = (await this.opts.endpointFor?.(name, input)) ?? `https://${name}.gr7.eu-west-1.eks.amazonaws.com`;
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
        this.forgetCluster(c.name);
        await this.opts.onClusterGone?.(c.name);
        throw notFound(`No cluster found for name: ${input.name}.`);
      }
      return { cluster: this.view(c) };
    });
    eks.on(DeleteClusterCommand).callsFake((input: { name: string }) => {
      const c = this.clusters.get(input.name);
      if (!c) throw notFound(`No cluster found for name: ${input.name}.`);
      if (c.status === 'CREATING') {
        throw new ResourceInUseException({ message: `Cluster ${c.name} is in CREATING state and cannot be deleted`, clusterName: c.name, ...meta });
      }
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
          scalingConfig: { minSize: n.min ?? n.desired, maxSize: n.max ?? n.desired, desiredSize: n.desired },
          tags: { ...n.tags },
          resources: { autoScalingGroups: [{ name: `eks-${n.name}-asg` }] },
        },
      }),
      listed: (names) => ({ nodegroups: names }),
      check: (input) => {
        const i = input as CreateNodegroupCommandInput;
        if (!i.nodeRole) throw new InvalidParameterException({ message: 'nodeRole is required', ...meta });
        const sc = i.scalingConfig;
        if (sc) checkScaling({ minSize: sc.minSize ?? 1, maxSize: sc.maxSize ?? 2, desiredSize: sc.desiredSize ?? sc.minSize ?? 1 });
      },
      desired: (input) => (input as CreateNodegroupCommandInput).scalingConfig?.desiredSize ?? 2,
      bounds: (input) => ({ min: (input as CreateNodegroupCommandInput).scalingConfig?.minSize ?? 1, max: (input as CreateNodegroupCommandInput).scalingConfig?.maxSize ?? 2 }),
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
        return [{ AutoScalingGroupName: asgName, MinSize: ng.min ?? ng.desired, MaxSize: ng.max ?? ng.desired, DesiredCapacity: ng.desired, Instances, Tags: this.asgTags.get(asgName) ?? [] }];
      }),
    }));
    this.asg?.on(CreateOrUpdateTagsCommand).callsFake((input: { Tags?: Tag[] }) => {
      for (const t of input.Tags ?? []) {
        const exists = [...this.nodegroups.values()].some((n) => `eks-${n.name}-asg` === t.ResourceId);
        if (!exists) throw Object.assign(new Error(`AutoScalingGroup name not found - ${t.ResourceId}`), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
        const list = (this.asgTags.get(t.ResourceId!) ?? []).filter((x) => x.Key !== t.Key);
        this.asgTags.set(t.ResourceId!, [...list, { ...t }]);
      }
      return {};
    });

    eks.on(DescribeClusterVersionsCommand).callsFake((input: { clusterVersions?: string[]; includeAll?: boolean }) => ({
      clusterVersions: this.versions
        .filter((v) => (input.includeAll ? true : v.status !== 'UNSUPPORTED'))
        .filter((v) => !input.clusterVersions || input.clusterVersions.includes(v.version))
        .map((v) => ({
          clusterType: 'eks',
          clusterVersion: v.version,
          versionStatus: v.status,
          endOfStandardSupportDate: new Date(`${v.endOfStandardSupport}T00:00:00Z`),
          endOfExtendedSupportDate: new Date(`${v.endOfExtendedSupport}T00:00:00Z`),
        })),
    }));

    eks.on(UpdateNodegroupConfigCommand).callsFake((input: UpdateNodegroupConfigCommandInput) => {
      const c = this.clusters.get(input.clusterName ?? '');
      if (!c) throw notFound(`No cluster found for name: ${input.clusterName}.`);
      const ng = this.nodegroups.get(`${c.name}/${input.nodegroupName}`);
      if (!ng) throw notFound(`No node group found for name: ${input.nodegroupName}.`);
      const same = input.clientRequestToken ? [...this.updates.values()].find((u) => u.token === input.clientRequestToken && u.nodegroup === ng.name && u.cluster === c.name) : undefined;
      if (same) return { update: this.updateView(same) };
      if (c.status !== 'ACTIVE') throw new InvalidRequestException({ message: `Cluster '${c.name}' is not in ACTIVE status`, ...meta });
      const running = [...this.updates.values()].find((u) => u.cluster === c.name && u.nodegroup === ng.name && u.status === 'InProgress');
      if (running) throw new ResourceInUseException({ message: `Nodegroup ${ng.name} cannot be updated: update ${running.id} is in progress`, nodegroupName: ng.name, clusterName: c.name, ...meta });
      if (ng.status !== 'ACTIVE') throw new ResourceInUseException({ message: `Nodegroup ${ng.name} is in ${ng.status} status`, nodegroupName: ng.name, clusterName: c.name, ...meta });
      const sc = input.scalingConfig ?? {};
      // Unset fields keep their value: the bounds are checked against the node group as it would be.
      const scaling = { minSize: sc.minSize ?? ng.min ?? ng.desired, maxSize: sc.maxSize ?? ng.max ?? ng.desired, desiredSize: sc.desiredSize ?? ng.desired };
      checkScaling(scaling);
      const u: FakeUpdate = { id: `upd-${this.updates.size + 1}`, cluster: c.name, nodegroup: ng.name, ...(input.clientRequestToken ? { token: input.clientRequestToken } : {}), scaling, status: 'InProgress', looksLeft: this.looks, errors: [] };
      this.updates.set(u.id, u);
      ng.status = 'UPDATING';
      return { update: this.updateView(u) };
    });
    eks.on(DescribeUpdateCommand).callsFake((input: { name: string; updateId: string; nodegroupName?: string }) => {
      if (!this.clusters.has(input.name)) throw notFound(`No cluster found for name: ${input.name}.`);
      const u = this.updates.get(input.updateId);
      if (!u || u.cluster !== input.name || (input.nodegroupName !== undefined && u.nodegroup !== input.nodegroupName)) throw notFound(`No update found for ID: ${input.updateId}`);
      this.advanceUpdate(u);
      return { update: this.updateView(u) };
    });

    const activeCluster = (name: string | undefined): FakeCluster => {
      const c = this.clusters.get(name ?? '');
      if (!c) throw notFound(`No cluster found for name: ${name}.`);
      if (c.status !== 'ACTIVE') throw new InvalidRequestException({ message: `Cluster '${c.name}' is not in ACTIVE status`, ...meta });
      return c;
    };
    eks.on(CreateAddonCommand).callsFake((input: CreateAddonCommandInput) => {
      const c = activeCluster(input.clusterName);
      if (!KNOWN_ADDONS.includes(input.addonName ?? '')) throw invalid(`Addon ${input.addonName} specified is not supported`);
      if (input.configurationValues !== undefined) {
        try {
          JSON.parse(input.configurationValues);
        } catch {
          throw invalid(`ConfigurationValue provided in request is not supported: invalid JSON`);
        }
      }
      checkTags(input.tags);
      const key = `${c.name}/${input.addonName}`;
      if (this.addons.has(key)) throw new ResourceInUseException({ message: `Addon already exists: ${input.addonName}`, ...meta });
      const pia = input.podIdentityAssociations ?? [];
      const sa = ADDON_SERVICE_ACCOUNTS[input.addonName!];
      if (pia.length && !sa) throw invalid(`Pod Identity feature is not supported for addon ${input.addonName}`);
      for (const p of pia) {
        if (!p.roleArn || !ROLE_ARN.test(p.roleArn)) throw invalid(`Invalid roleArn ${p.roleArn} in pod identity configuration`);
        if (p.serviceAccount !== sa!.serviceAccount) throw invalid(`Service account ${p.serviceAccount} in pod identity configuration is not supported for addon ${input.addonName}`);
      }
      const a: FakeAddon = { cluster: c.name, name: input.addonName!, input, status: 'CREATING', looksLeft: this.looks };
      this.addons.set(key, a);
      // EKS creates the add-on's associations itself, owned by the add-on.
      for (const p of pia) {
        this.podIdentityAssociations.push({
          clusterName: c.name,
          namespace: sa!.namespace,
          serviceAccount: p.serviceAccount,
          roleArn: p.roleArn,
          tags: { ...(input.tags ?? {}) },
          associationId: `a-${this.podIdentityAssociations.length + 1}`,
          ownerArn: this.addonArn(a),
        });
      }
      return { addon: this.addonView(a) };
    });
    eks.on(DescribeAddonCommand).callsFake((input: { clusterName: string; addonName: string }) => {
      const a = this.addons.get(`${input.clusterName}/${input.addonName}`);
      if (!a) throw notFound(`No addon: ${input.addonName} found in cluster: ${input.clusterName}`);
      if (a.looksLeft > 0) a.looksLeft--;
      else if (a.status === 'CREATING') a.status = 'ACTIVE';
      else if (a.status === 'DELETING') {
        this.addons.delete(`${input.clusterName}/${input.addonName}`);
        for (let i = this.podIdentityAssociations.length - 1; i >= 0; i--) if (this.podIdentityAssociations[i]!.ownerArn === this.addonArn(a)) this.podIdentityAssociations.splice(i, 1);
        throw notFound(`No addon: ${input.addonName} found in cluster: ${input.clusterName}`);
      }
      return { addon: this.addonView(a) };
    });
    eks.on(DeleteAddonCommand).callsFake((input: { clusterName: string; addonName: string }) => {
      const a = this.addons.get(`${input.clusterName}/${input.addonName}`);
      if (!a) throw notFound(`No addon: ${input.addonName} found in cluster: ${input.clusterName}`);
      Object.assign(a, { status: 'DELETING', looksLeft: this.looks });
      return { addon: this.addonView(a) };
    });

    eks.on(CreateAccessEntryCommand).callsFake((input: CreateAccessEntryCommandInput) => {
      const c = activeCluster(input.clusterName);
      if (c.input.accessConfig?.authenticationMode === 'CONFIG_MAP') throw new InvalidRequestException({ message: 'The cluster authentication mode does not support access entries', ...meta });
      if (!/^arn:aws[\w-]*:iam::\d{12}:(role|user)\//.test(input.principalArn ?? '')) throw invalid(`Invalid principalArn ${input.principalArn}`);
      checkTags(input.tags);
      const key = `${c.name}/${input.principalArn}`;
      if (this.accessEntries.has(key)) throw new ResourceInUseException({ message: `The specified access entry resource is already in use on this cluster.`, ...meta });
      this.accessEntries.set(key, { input, policies: [] });
      return { accessEntry: { clusterName: c.name, principalArn: input.principalArn, type: input.type ?? 'STANDARD', tags: { ...(input.tags ?? {}) } } };
    });
    eks.on(AssociateAccessPolicyCommand).callsFake((input: AssociateAccessPolicyCommandInput) => {
      const entry = this.accessEntries.get(`${input.clusterName}/${input.principalArn}`);
      if (!this.clusters.has(input.clusterName ?? '')) throw notFound(`No cluster found for name: ${input.clusterName}.`);
      if (!entry) throw notFound(`The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.`);
      if (!input.policyArn?.startsWith('arn:aws:eks::aws:cluster-access-policy/')) throw invalid(`Invalid policyArn ${input.policyArn}`);
      if (input.accessScope?.type === 'namespace' && !input.accessScope.namespaces?.length) throw invalid('namespaces are required for accessScope type namespace');
      entry.policies = [...entry.policies.filter((p) => p.policyArn !== input.policyArn), input];
      return { clusterName: input.clusterName, principalArn: input.principalArn, associatedAccessPolicy: { policyArn: input.policyArn, accessScope: input.accessScope } };
    });
    eks.on(ListAccessEntriesCommand).callsFake((input: { clusterName: string }) => {
      if (!this.clusters.has(input.clusterName)) throw notFound(`No cluster found for name: ${input.clusterName}.`);
      return { accessEntries: [...this.accessEntries.keys()].filter((k) => k.startsWith(`${input.clusterName}/`)).map((k) => k.slice(input.clusterName.length + 1)) };
    });

    eks.on(CreatePodIdentityAssociationCommand).callsFake((input: CreatePodIdentityAssociationCommandInput) => {
      activeCluster(input.clusterName);
      if (!input.namespace || !input.serviceAccount || !input.roleArn) throw invalid('namespace, serviceAccount and roleArn are required');
      checkTags(input.tags);
      if (this.podIdentityAssociations.some((a) => a.clusterName === input.clusterName && a.namespace === input.namespace && a.serviceAccount === input.serviceAccount)) {
        throw new ResourceInUseException({ message: 'Association already exists', ...meta });
      }
      const a = { ...input, associationId: `a-${this.podIdentityAssociations.length + 1}` };
      this.podIdentityAssociations.push(a);
      return { association: { ...a } };
    });
    eks.on(ListPodIdentityAssociationsCommand).callsFake((input: { clusterName: string; namespace?: string; serviceAccount?: string }) => {
      if (!this.clusters.has(input.clusterName)) throw notFound(`No cluster found for name: ${input.clusterName}.`);
      return {
        associations: this.podIdentityAssociations
          .filter((a) => a.clusterName === input.clusterName && (!input.namespace || a.namespace === input.namespace) && (!input.serviceAccount || a.serviceAccount === input.serviceAccount))
          .map((a) => ({ clusterName: a.clusterName, namespace: a.namespace, serviceAccount: a.serviceAccount, associationId: a.associationId, ...(a.ownerArn ? { ownerArn: a.ownerArn } : {}) })),
      };
    });
  }

  /** What goes with a deleted cluster: its add-ons, access entries and Pod Identity associations. */
  private forgetCluster(name: string): void {
    for (const k of [...this.addons.keys()]) if (k.startsWith(`${name}/`)) this.addons.delete(k);
    for (const k of [...this.accessEntries.keys()]) if (k.startsWith(`${name}/`)) this.accessEntries.delete(k);
    for (let i = this.podIdentityAssociations.length - 1; i >= 0; i--) if (this.podIdentityAssociations[i]!.clusterName === name) this.podIdentityAssociations.splice(i, 1);
  }

  private addonArn(a: FakeAddon): string {
    return `arn:aws:eks:eu-west-1:123456789012:addon/${a.cluster}/${a.name}/fake`;
  }

  private addonView(a: FakeAddon) {
    return {
      addonName: a.name,
      addonArn: this.addonArn(a),
      clusterName: a.cluster,
      status: a.status,
      configurationValues: a.input.configurationValues,
      podIdentityAssociations: this.podIdentityAssociations
        .filter((p) => p.ownerArn === this.addonArn(a))
        .map((p) => `arn:aws:eks:eu-west-1:123456789012:podidentityassociation/${a.cluster}/${p.associationId}`),
      tags: { ...(a.input.tags ?? {}) },
    };
  }

  /**
   * Whether pods on `cluster` get Pod Identity credentials: Auto Mode nodes run the agent
   * themselves; a managed node group's instances only with the eks-pod-identity-agent add-on.
   */
  podIdentityAgent(cluster: string): boolean {
    const c = this.clusters.get(cluster);
    if (!c) return false;
    const addon = this.addons.has(`${cluster}/eks-pod-identity-agent`);
    const nodeGroups = [...this.nodegroups.values()].some((n) => n.cluster === cluster);
    const autoModeNodes = c.input.computeConfig?.enabled === true && (c.input.computeConfig.nodePools?.length ?? 0) > 0;
    return nodeGroups ? addon : autoModeNodes || addon;
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
      bounds?: (input: unknown) => { min: number; max: number };
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
      if (!name || name.length > 63 || !/^[0-9A-Za-z][A-Za-z0-9\-_]*$/.test(name)) throw invalid(`${label} name ${name} must be 1-63 characters: letters, digits, - and _`);
      if (store.has(`${cl.name}/${name}`)) throw new ResourceInUseException({ message: `${label} already exists with name ${name} and cluster name ${cl.name}`, ...meta });
      c.check(input);
      const tags = (input as { tags?: Record<string, string> }).tags;
      checkTags(tags);
      const r: FakeCapacity = { cluster: cl.name, name, tags: { ...(tags ?? {}) }, status: 'CREATING', looksLeft: this.looks, desired: c.desired(input), ...(c.bounds?.(input) ?? {}) };
      store.set(`${cl.name}/${name}`, r);
      return c.view(r);
    });
    eks.on(c.describe as never).callsFake((input: unknown) => {
      const cl = cluster(input);
      const name = c.nameOf(input);
      const r = store.get(`${cl.name}/${name}`);
      if (!r) throw notFound(`No ${label} found for name: ${name}.`);
      // An update goes on whoever looks (DescribeUpdate or DescribeNodegroup, as the waiter does).
      const update = [...this.updates.values()].find((u) => u.cluster === cl.name && u.nodegroup === name && u.status === 'InProgress');
      if (update) {
        this.advanceUpdate(update);
        return c.view(r);
      }
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

  /** One look at an update in progress: after `looksLeft` looks it ends, applied to its node group (or Failed, `failNextUpdate`). */
  private advanceUpdate(u: FakeUpdate): void {
    if (u.status !== 'InProgress') return;
    if (u.looksLeft > 0) {
      u.looksLeft--;
      return;
    }
    const ng = this.nodegroups.get(`${u.cluster}/${u.nodegroup}`);
    if (this.failNextUpdate) {
      u.status = 'Failed';
      u.errors = [this.failNextUpdate];
      this.failNextUpdate = undefined;
    } else {
      u.status = 'Successful';
      if (ng) Object.assign(ng, { min: u.scaling.minSize, max: u.scaling.maxSize, desired: u.scaling.desiredSize });
    }
    if (ng && ng.status === 'UPDATING') ng.status = 'ACTIVE';
  }

  private updateView(u: FakeUpdate) {
    return {
      id: u.id,
      status: u.status,
      type: 'ConfigUpdate' as const,
      params: [
        { type: 'MinSize' as const, value: String(u.scaling.minSize) },
        { type: 'MaxSize' as const, value: String(u.scaling.maxSize) },
        { type: 'DesiredSize' as const, value: String(u.scaling.desiredSize) },
      ],
      createdAt: new Date(0),
      errors: u.errors.map((e) => ({ errorCode: e.errorCode as 'Unknown', errorMessage: e.errorMessage, resourceIds: [u.nodegroup] })),
    };
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
      computeConfig: c.input.computeConfig,
      kubernetesNetworkConfig: c.input.kubernetesNetworkConfig,
      storageConfig: c.input.storageConfig,
      accessConfig: c.input.accessConfig,
      upgradePolicy: c.input.upgradePolicy,
      endpoint: c.status === 'CREATING' ? undefined : c.endpoint,
      certificateAuthority: c.status === 'CREATING' ? undefined : { data: 'Q0E=' },
      tags: { ...c.tags },
    };
  }
}
