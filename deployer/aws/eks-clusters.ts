/** The Clusters port over Amazon EKS (clusters, managed node groups, Fargate profiles) and Auto Scaling. */
import { DescribeAutoScalingGroupsCommand, waitUntilGroupInService, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
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
  ListFargateProfilesCommand,
  ListNodegroupsCommand,
  paginateListClusters,
  waitUntilClusterActive,
  waitUntilClusterDeleted,
  waitUntilFargateProfileActive,
  waitUntilFargateProfileDeleted,
  waitUntilNodegroupActive,
  waitUntilNodegroupDeleted,
  ResourceInUseException,
  ResourceNotFoundException,
  type Cluster,
  type DescribeNodegroupCommandOutput,
  type EKSClient,
  type FargateProfile,
  type Nodegroup,
} from '@aws-sdk/client-eks';
import type { ResourceRecord } from '../../store/index.js';
import { InfraError } from '../errors.js';
import type { Capacity, ClusterInfo, ClusterRef, Clusters, ClusterSpec, Installation, PlacementOverrides, Progress, StepContext, TaggedResource } from '../ports.js';
import {
  awsError,
  call,
  INSTALLATION_TAG,
  kubecontrolTags,
  notOwned,
  waiterFailure,
  waiterOptions,
  type AwsClientsFor,
  type WaiterDelays,
} from './clients.js';
import { missingSetting, placement, regionOf, type AwsPlacement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** What an EksClusters needs. */
export interface EksClustersOptions {
  readonly clients: AwsClientsFor;
  /** Whose resources these are: every one created is tagged with it, and no other is adopted, deleted or listed. */
  readonly installation: Installation;
  /** Account-level placement for apps that do not set their own (`ClusterSpec.placement`). */
  readonly settings: AwsSettings;
  /** Polling delays of every waiter (seconds). @default the SDK's service defaults */
  readonly waiterDelays?: WaiterDelays;
  /** Upper bound of one wait, seconds; the step's own timeout (ctx.signal) usually comes first. @default 2700 */
  readonly maxWaitSeconds?: number;
  /** Regions `listTagged` looks in, besides the settings' region. @default none */
  readonly regions?: () => readonly string[];
  /**
   * Deletes an app's namespace on a cluster (KubeWorkloads.deleteNamespace), so
   * that a ledger 'namespace' row takes the Service's load balancer with it.
   * @default namespaces go with their cluster
   */
  readonly namespaces?: NamespaceDeleter;
  /** Told when a cluster is gone, e.g. to drop its cached credentials. */
  readonly onClusterGone?: (cluster: string) => void;
}

/** Deletes a namespace on a cluster and waits until it is gone. */
export interface NamespaceDeleter {
  deleteNamespace(cmd: { cluster: ClusterRef; namespace: string; progress: Progress; signal: AbortSignal }): Promise<void>;
}

/** Capacity of one kind. */
type CapacityOf<K extends Capacity['kind']> = Extract<Capacity, { kind: K }>;

/** The node group and Fargate profile names of a cluster (both unique, as the cluster name carries the deploy id). */
export const nodegroupName = (cluster: string): string => `${cluster}-nodes`;
export const fargateProfileName = (cluster: string): string => `${cluster}-fargate`;

/**
 * Provisions one EKS cluster per deploy with its capacity, recording every
 * resource in the deploy's ledger before creating it, and adopting what a
 * previous attempt of the same deploy already created. Everything it creates
 * carries this installation's tag; whatever carries another's (or none) is
 * never adopted, deleted or listed.
 */
export class EksClusters implements Clusters {
  constructor(private readonly opts: EksClustersOptions) {}

  private waiter(client: EKSClient, signal?: AbortSignal) {
    return waiterOptions(client, this.opts.waiterDelays, this.opts.maxWaitSeconds ?? 2700, signal);
  }

  async provision({ ctx, cluster: spec }: { ctx: StepContext; cluster: ClusterSpec }): Promise<ClusterInfo> {
    const app = spec.app;
    const clusterName = spec.name;
    const capacity = spec.capacity;
    const where = placement(spec.placement, this.opts.settings);
    const region = where.region;
    const { eks } = this.opts.clients(region);
    const tags = kubecontrolTags(app, ctx.deployId, this.opts.installation);
    // Every setting the whole step needs is checked before anything is created.
    if (!where.clusterRoleArn) throw missingSetting(app, 'clusterRoleArn', 'KUBECONTROL_CLUSTER_ROLE_ARN');
    if (!where.subnetIds.length) throw missingSetting(app, 'subnetIds', 'KUBECONTROL_SUBNET_IDS', 'subnets');
    if (capacity.kind === 'fargate' && !where.podExecutionRoleArn) {
      throw missingSetting(app, 'podExecutionRoleArn', 'KUBECONTROL_POD_EXECUTION_ROLE_ARN');
    }
    if (capacity.kind === 'nodes' && !where.nodeRoleArn) throw missingSetting(app, 'nodeRoleArn', 'KUBECONTROL_NODE_ROLE_ARN');

    // 1. The cluster. One that is not ours is refused before the ledger hears of it.
    let cluster = await this.describeCluster(eks, clusterName, ctx.signal);
    if (cluster) this.checkAdoptable(cluster, clusterName, ctx.deployId);
    const row = ctx.ledger.intend({ kind: 'cluster', name: clusterName, data: { region } });
    if (cluster) {
      ctx.progress(`EKS cluster ${clusterName} already exists (${cluster.status}); adopting it`, { cluster: clusterName });
    } else {
      ctx.progress(`creating EKS cluster ${clusterName} (Kubernetes ${spec.kubernetesVersion})`, { cluster: clusterName });
      try {
        await eks.send(
          new CreateClusterCommand({
            name: clusterName,
            version: spec.kubernetesVersion,
            roleArn: where.clusterRoleArn,
            resourcesVpcConfig: {
              subnetIds: [...where.subnetIds],
              securityGroupIds: [...where.securityGroupIds],
              endpointPublicAccess: true,
              endpointPrivateAccess: true,
            },
            // kubecontrol's own principal becomes cluster admin through an access entry.
            accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP', bootstrapClusterCreatorAdminPermissions: true },
            tags,
            clientRequestToken: `kubecontrol-${clusterName}`.slice(0, 64),
          }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreateCluster', err, ctx.signal);
        // Created in between, by a previous attempt that crashed before describing it (adopt) or by someone else (refuse).
        cluster = await this.describeCluster(eks, clusterName, ctx.signal);
        if (cluster) this.checkAdoptable(cluster, clusterName, ctx.deployId);
      }
    }
    if (cluster?.status !== 'ACTIVE') {
      try {
        const r = await waitUntilClusterActive(this.waiter(eks, ctx.signal), { name: clusterName });
        cluster = r.reason?.cluster ?? cluster;
      } catch (err) {
        throw waiterFailure(`EKS cluster ${clusterName} to become ACTIVE`, err, ctx.signal);
      }
      cluster ??= await this.describeCluster(eks, clusterName, ctx.signal);
    }
    ctx.ledger.created(row.id, { region, arn: cluster?.arn, endpoint: cluster?.endpoint });
    ctx.progress(`EKS cluster ${clusterName} is ACTIVE`, { cluster: clusterName });

    // 2. Its capacity.
    if (capacity.kind === 'fargate') {
      await this.provisionFargate(ctx, capacity, where, eks, clusterName, row.id, tags);
    } else {
      await this.provisionNodes(ctx, spec.app, capacity, where, eks, clusterName, row.id, tags);
    }
    return { name: clusterName, status: cluster?.status ?? 'ACTIVE', endpoint: cluster?.endpoint };
  }

  private async provisionNodes(
    ctx: StepContext,
    app: string,
    hw: CapacityOf<'nodes'>,
    where: AwsPlacement,
    eks: EKSClient,
    clusterName: string,
    parentId: number,
    tags: Record<string, string>,
  ): Promise<void> {
    const region = where.region;
    const name = nodegroupName(clusterName);
    let existing = await this.describeNodegroup(eks, clusterName, name, ctx.signal);
    if (existing) this.checkOwned(`node group ${name}`, existing.tags, 'adopting it');
    const row = ctx.ledger.intend({ kind: 'nodegroup', name, parentId, data: { cluster: clusterName, region } });
    if (existing) {
      ctx.progress(`node group ${name} already exists (${existing.status}); adopting it`, { nodegroup: name });
    } else {
      const capacityType = hw.spot ? 'SPOT' : 'ON_DEMAND';
      const amiType = hw.arch === 'arm64' ? 'AL2023_ARM_64_STANDARD' : 'AL2023_x86_64_STANDARD';
      ctx.progress(
        `creating node group ${name}: ${hw.desiredNodes} × ${hw.instanceTypes.join('|')} ${capacityType} ${hw.arch} (min ${hw.minNodes}, max ${hw.maxNodes})`,
        { nodegroup: name },
      );
      try {
        await eks.send(
          new CreateNodegroupCommand({
            clusterName,
            nodegroupName: name,
            scalingConfig: { minSize: hw.minNodes, maxSize: hw.maxNodes, desiredSize: hw.desiredNodes },
            instanceTypes: [...hw.instanceTypes],
            capacityType,
            amiType,
            nodeRole: where.nodeRoleArn,
            subnets: [...where.subnetIds],
            labels: { 'kubecontrol/app': app },
            tags,
            clientRequestToken: `kubecontrol-${name}`.slice(0, 64),
          }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreateNodegroup', err, ctx.signal);
        existing = await this.describeNodegroup(eks, clusterName, name, ctx.signal);
        if (existing) this.checkOwned(`node group ${name}`, existing.tags, 'adopting it');
      }
    }

    // Report the Auto Scaling Group's instances as they come up, while the node group is created.
    const report = this.capacityReporter(ctx.progress, region, hw.desiredNodes);
    const observed = observe(eks, async (out) => {
      const asg = (out as DescribeNodegroupCommandOutput).nodegroup?.resources?.autoScalingGroups?.[0]?.name;
      if (asg) await report.look(asg, ctx.signal);
    });
    let asgName: string | undefined;
    try {
      const r = await waitUntilNodegroupActive(this.waiter(observed, ctx.signal), { clusterName, nodegroupName: name });
      asgName = r.reason?.nodegroup?.resources?.autoScalingGroups?.[0]?.name;
    } catch (err) {
      throw waiterFailure(`node group ${name} to become ACTIVE`, err, ctx.signal);
    }
    if (asgName) {
      // The node group is ACTIVE; wait until at least minNodes instances are InService.
      const { autoscaling } = this.opts.clients(region);
      const asgObserved = observe(autoscaling, async (out) => report.show(out as { AutoScalingGroups?: AutoScalingGroup[] }));
      try {
        await waitUntilGroupInService(waiterOptions(asgObserved, this.opts.waiterDelays, this.opts.maxWaitSeconds ?? 2700, ctx.signal), {
          AutoScalingGroupNames: [asgName],
        });
      } catch (err) {
        throw waiterFailure(`the instances of ${asgName} to be InService`, err, ctx.signal);
      }
      if (report.inService < hw.desiredNodes) {
        ctx.progress(`${report.inService}/${hw.desiredNodes} nodes InService; the rest are still joining`, {
          nodegroup: name,
          inService: report.inService,
          desired: hw.desiredNodes,
        });
      }
    }
    ctx.ledger.created(row.id, { cluster: clusterName, region, autoScalingGroup: asgName });
    ctx.progress(`node group ${name} is ACTIVE`, { nodegroup: name });
  }

  private async provisionFargate(
    ctx: StepContext,
    capacity: CapacityOf<'fargate'>,
    where: AwsPlacement,
    eks: EKSClient,
    clusterName: string,
    parentId: number,
    tags: Record<string, string>,
  ): Promise<void> {
    const region = where.region;
    const name = fargateProfileName(clusterName);
    const existing = await this.describeFargateProfile(eks, clusterName, name, ctx.signal);
    if (existing) this.checkOwned(`Fargate profile ${name}`, existing.tags, 'adopting it');
    const row = ctx.ledger.intend({ kind: 'fargate-profile', name, parentId, data: { cluster: clusterName, region } });
    if (existing) {
      ctx.progress(`Fargate profile ${name} already exists; adopting it`, { fargateProfile: name });
    } else {
      ctx.progress(`creating Fargate profile ${name} for namespace ${capacity.namespaces.join(', ')}`, { fargateProfile: name });
      try {
        await eks.send(
          new CreateFargateProfileCommand({
            clusterName,
            fargateProfileName: name,
            podExecutionRoleArn: where.podExecutionRoleArn,
            subnets: [...where.subnetIds],
            // The app's namespace, and CoreDNS so that a Fargate-only cluster resolves names.
            selectors: [...capacity.namespaces.map((namespace) => ({ namespace })), { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }],
            tags,
            clientRequestToken: `kubecontrol-${name}`.slice(0, 64),
          }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreateFargateProfile', err, ctx.signal);
        const raced = await this.describeFargateProfile(eks, clusterName, name, ctx.signal);
        if (raced) this.checkOwned(`Fargate profile ${name}`, raced.tags, 'adopting it');
      }
    }
    try {
      await waitUntilFargateProfileActive(this.waiter(eks, ctx.signal), { clusterName, fargateProfileName: name });
    } catch (err) {
      throw waiterFailure(`Fargate profile ${name} to become ACTIVE`, err, ctx.signal);
    }
    ctx.ledger.created(row.id, { cluster: clusterName, region });
    ctx.progress(`Fargate profile ${name} is ACTIVE`, { fargateProfile: name });
  }

  async describe({ cluster, signal }: { cluster: ClusterRef; signal?: AbortSignal }): Promise<ClusterInfo | undefined> {
    const name = cluster.name;
    const c = await this.describeCluster(this.opts.clients(regionOf(cluster.placement, this.opts.settings)).eks, name, signal);
    if (c) this.checkOwned(`cluster ${name}`, c.tags, 'describing it');
    return c ? { name, status: c.status ?? 'UNKNOWN', endpoint: c.endpoint } : undefined;
  }

  async destroy(cmd: { resource: ResourceRecord; placement?: PlacementOverrides; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { resource, progress, signal } = cmd;
    // Where the ledger says it is; a resource gc found in the cloud has no region of its own: the app's.
    const region = typeof resource.data?.region === 'string' ? resource.data.region : regionOf(cmd.placement, this.opts.settings);
    const { eks } = this.opts.clients(region);
    const cluster = typeof resource.data?.cluster === 'string' ? resource.data.cluster : undefined;
    switch (resource.kind) {
      case 'nodegroup': {
        const clusterName = cluster ?? clusterOf(resource.name, '-nodes');
        // Ours, or gone: never delete another installation's node group of the same name.
        const ng = await this.describeNodegroup(eks, clusterName, resource.name, signal);
        if (!ng) return progress(`node group ${resource.name} is already gone`, { nodegroup: resource.name });
        this.checkOwned(`node group ${resource.name}`, ng.tags, 'deleting it');
        return this.deleteNodegroup(eks, clusterName, resource.name, progress, signal);
      }
      case 'fargate-profile': {
        const clusterName = cluster ?? clusterOf(resource.name, '-fargate');
        const fp = await this.describeFargateProfile(eks, clusterName, resource.name, signal);
        if (!fp) return progress(`Fargate profile ${resource.name} is already gone`, { fargateProfile: resource.name });
        this.checkOwned(`Fargate profile ${resource.name}`, fp.tags, 'deleting it');
        return this.deleteFargateProfile(eks, clusterName, resource.name, progress, signal);
      }
      case 'cluster': {
        const c = await this.describeCluster(eks, resource.name, signal);
        if (!c) {
          progress(`EKS cluster ${resource.name} is already gone`, { cluster: resource.name });
        } else {
          this.checkOwned(`cluster ${resource.name}`, c.tags, 'deleting it');
          await this.deleteCluster(eks, resource.name, progress, signal);
        }
        this.opts.onClusterGone?.(resource.name);
        return;
      }
      case 'namespace': {
        const clusterName = cluster ?? resource.name.split('/')[0]!;
        // The row says which namespace (`<cluster>/<namespace>`); the app's own name is the default namespace.
        const namespace = typeof resource.data?.namespace === 'string' ? resource.data.namespace : (resource.name.split('/')[1] ?? resource.app);
        // No cluster, no namespace; without a deleter the namespace goes with its cluster.
        if (!this.opts.namespaces) return;
        const c = await this.describeCluster(eks, clusterName, signal);
        if (!c) return;
        this.checkOwned(`cluster ${clusterName}`, c.tags, `deleting namespace ${namespace} on it`);
        return this.opts.namespaces.deleteNamespace({ cluster: { name: clusterName, placement: { region } }, namespace, progress, signal: signal ?? new AbortController().signal });
      }
      default:
        throw new InfraError('misconfigured', `EksClusters cannot destroy a ${resource.kind} (${resource.name})`);
    }
  }

  /**
   * Deletes one EKS resource and waits until it is gone. Already gone counts as
   * deleted; already being deleted (ResourceInUse) is waited for like our own delete.
   */
  private async deleteAndWait(r: {
    label: string;
    operation: string;
    data: Record<string, unknown>;
    progress: Progress;
    signal?: AbortSignal;
    remove: () => Promise<unknown>;
    waitGone: () => Promise<unknown>;
  }): Promise<void> {
    try {
      await r.remove();
      r.progress(`deleting ${r.label}`, r.data);
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return r.progress(`${r.label} is already gone`, r.data);
      if (!(err instanceof ResourceInUseException)) throw awsError('EKS', r.operation, err, r.signal);
    }
    try {
      await r.waitGone();
    } catch (err) {
      throw waiterFailure(`${r.label} to be deleted`, err, r.signal);
    }
    r.progress(`${r.label} deleted`, r.data);
  }

  private deleteNodegroup(eks: EKSClient, clusterName: string, name: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.deleteAndWait({
      label: `node group ${name}`,
      operation: 'DeleteNodegroup',
      data: { nodegroup: name },
      progress,
      signal,
      remove: () => eks.send(new DeleteNodegroupCommand({ clusterName, nodegroupName: name }), { abortSignal: signal }),
      waitGone: () => waitUntilNodegroupDeleted(this.waiter(eks, signal), { clusterName, nodegroupName: name }),
    });
  }

  private deleteFargateProfile(eks: EKSClient, clusterName: string, name: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.deleteAndWait({
      label: `Fargate profile ${name}`,
      operation: 'DeleteFargateProfile',
      data: { fargateProfile: name },
      progress,
      signal,
      remove: () => eks.send(new DeleteFargateProfileCommand({ clusterName, fargateProfileName: name }), { abortSignal: signal }),
      waitGone: () => waitUntilFargateProfileDeleted(this.waiter(eks, signal), { clusterName, fargateProfileName: name }),
    });
  }

  /** Deletes a cluster already known to be ours, with whatever capacity is left in it. */
  private async deleteCluster(eks: EKSClient, name: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    // A cluster cannot be deleted while it has capacity: remove whatever is left first
    // (normally the pipeline has already destroyed the ledger's node group or profile).
    // The cluster is ours, so is what runs in it: its capacity is not checked one by one.
    let nodegroups: string[] = [];
    let profiles: string[] = [];
    try {
      nodegroups = (await eks.send(new ListNodegroupsCommand({ clusterName: name }), { abortSignal: signal })).nodegroups ?? [];
      profiles = (await eks.send(new ListFargateProfilesCommand({ clusterName: name }), { abortSignal: signal })).fargateProfileNames ?? [];
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return progress(`EKS cluster ${name} is already gone`, { cluster: name });
      throw awsError('EKS', 'ListNodegroups', err, signal);
    }
    await Promise.all([
      ...nodegroups.map((ng) => this.deleteNodegroup(eks, name, ng, progress, signal)),
      ...profiles.map((p) => this.deleteFargateProfile(eks, name, p, progress, signal)),
    ]);
    await this.deleteAndWait({
      label: `EKS cluster ${name}`,
      operation: 'DeleteCluster',
      data: { cluster: name },
      progress,
      signal,
      remove: () => eks.send(new DeleteClusterCommand({ name }), { abortSignal: signal }),
      waitGone: () => waitUntilClusterDeleted(this.waiter(eks, signal), { name }),
    });
  }

  async listTagged({ signal }: { signal?: AbortSignal }): Promise<TaggedResource[]> {
    // The settings' region always: apps that name no region run there.
    const regions = [...new Set([this.opts.settings.region, ...(this.opts.regions?.() ?? [])])];
    const mine = (tags: Record<string, string> | undefined): boolean => tags?.[INSTALLATION_TAG] === this.opts.installation.id;
    const found: TaggedResource[] = [];
    for (const region of regions) {
      const { eks } = this.opts.clients(region);
      const names: string[] = [];
      try {
        for await (const page of paginateListClusters({ client: eks, pageSize: 100 }, {})) names.push(...(page.clusters ?? []));
      } catch (err) {
        throw awsError('EKS', 'ListClusters', err, signal);
      }
      for (const name of names) {
        const c = await this.describeCluster(eks, name, signal);
        const app = c?.tags?.['kubecontrol:app'];
        if (!c || !app || !mine(c.tags)) continue;
        const deployId = parseDeployId(c.tags?.['kubecontrol:deploy']);
        found.push({ kind: 'cluster', name, app, deployId });
        const [ngs, fps] = await Promise.all([
          call('EKS', 'ListNodegroups', () => eks.send(new ListNodegroupsCommand({ clusterName: name }), { abortSignal: signal }), signal),
          call('EKS', 'ListFargateProfiles', () => eks.send(new ListFargateProfilesCommand({ clusterName: name }), { abortSignal: signal }), signal),
        ]);
        // Capacity is listed by its own tag, like the cluster.
        for (const ng of ngs.nodegroups ?? []) {
          if (mine((await this.describeNodegroup(eks, name, ng, signal))?.tags)) found.push({ kind: 'nodegroup', name: ng, cluster: name, app, deployId });
        }
        for (const fp of fps.fargateProfileNames ?? []) {
          if (mine((await this.describeFargateProfile(eks, name, fp, signal))?.tags)) found.push({ kind: 'fargate-profile', name: fp, cluster: name, app, deployId });
        }
      }
    }
    return found;
  }

  private async describeCluster(eks: EKSClient, name: string, signal?: AbortSignal): Promise<Cluster | undefined> {
    try {
      return (await eks.send(new DescribeClusterCommand({ name }), { abortSignal: signal })).cluster;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw awsError('EKS', 'DescribeCluster', err, signal);
    }
  }

  private async describeNodegroup(eks: EKSClient, clusterName: string, name: string, signal?: AbortSignal): Promise<Nodegroup | undefined> {
    try {
      return (await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName: name }), { abortSignal: signal })).nodegroup;
    } catch (err) {
      // A missing cluster is a missing node group too.
      if (err instanceof ResourceNotFoundException) return undefined;
      throw awsError('EKS', 'DescribeNodegroup', err, signal);
    }
  }

  private async describeFargateProfile(eks: EKSClient, clusterName: string, name: string, signal?: AbortSignal): Promise<FargateProfile | undefined> {
    try {
      return (await eks.send(new DescribeFargateProfileCommand({ clusterName, fargateProfileName: name }), { abortSignal: signal })).fargateProfile;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw awsError('EKS', 'DescribeFargateProfile', err, signal);
    }
  }

  /** Throws not_owned unless `tags` carry this installation's tag. */
  private checkOwned(what: string, tags: Record<string, string> | undefined, action: string): void {
    const refused = notOwned(what, tags, this.opts.installation, action);
    if (refused) throw refused;
  }

  /** Refuses to adopt another installation's cluster, another deploy's, or one that is going away. */
  private checkAdoptable(c: Cluster, name: string, deployId: number): void {
    this.checkOwned(`cluster ${name}`, c.tags, 'adopting it');
    const owner = c.tags?.['kubecontrol:deploy'];
    if (owner !== undefined && owner !== String(deployId)) {
      throw new InfraError('not_owned', `EKS cluster ${name} already exists and belongs to deploy ${owner}, not ${deployId}`);
    }
    if (c.status === 'DELETING' || c.status === 'FAILED') {
      throw new InfraError('provider_failed', `EKS cluster ${name} already exists in state ${c.status} and cannot be used`);
    }
  }

  /** Reports "k/n nodes InService" whenever the count changes. */
  private capacityReporter(progress: Progress, region: string, desired: number) {
    const { autoscaling } = this.opts.clients(region);
    const state = { inService: 0, last: '' };
    const show = (out: { AutoScalingGroups?: AutoScalingGroup[] }): void => {
      const g = out.AutoScalingGroups?.[0];
      if (!g) return;
      const instances = g.Instances ?? [];
      state.inService = instances.filter((i) => i.LifecycleState === 'InService').length;
      const want = g.DesiredCapacity ?? desired;
      const line = `${state.inService}/${want} nodes InService`;
      if (line !== state.last) {
        state.last = line;
        progress(line, { autoScalingGroup: g.AutoScalingGroupName, inService: state.inService, desired: want, instances: instances.length });
      }
    };
    return {
      get inService() {
        return state.inService;
      },
      show,
      /** Best effort while the node group is still being created: a failure here is not the deploy's failure. */
      async look(asg: string, signal?: AbortSignal): Promise<void> {
        try {
          show(await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asg] }), { abortSignal: signal }));
        } catch {
          // the waiter goes on; its own result decides
        }
      },
    };
  }
}

/**
 * A view of an SDK client whose `send` also hands every output to `onOutput`,
 * so the SDK's own waiters can drive progress lines.
 */
function observe<C extends { send: (...args: never[]) => Promise<unknown> }>(client: C, onOutput: (out: unknown) => Promise<void> | void): C {
  const view = Object.create(client) as C;
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (view as { send: unknown }).send = async (...args: unknown[]) => {
    const out = await send(...args);
    await onOutput(out);
    return out;
  };
  return view;
}

function clusterOf(name: string, suffix: string): string {
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

function parseDeployId(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) ? n : undefined;
}
