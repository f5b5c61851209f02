/**
 * The Clusters port over Amazon EKS and Auto Scaling: one EKS Auto Mode cluster
 * per deploy (compute, block storage and load balancing enabled together, as
 * EKS requires; API-only authentication; no self-managed add-ons; an explicit
 * upgrade policy), with its capacity: an Auto Mode NodePool of the app's
 * hardware, a managed node group, or a Fargate profile; the app's Pod Identity
 * association; and an access entry for kubecontrol's stable access role.
 *
 * IAM (the README's AWS section has the full policy):
 * - the cluster role (KUBECONTROL_CLUSTER_ROLE_ARN) trusts `eks.amazonaws.com` for
 *   `sts:AssumeRole` and `sts:TagSession` (Auto Mode tags the sessions it opens), with the
 *   managed policies AmazonEKSClusterPolicy, AmazonEKSComputePolicy, AmazonEKSBlockStoragePolicy,
 *   AmazonEKSLoadBalancingPolicy and AmazonEKSNetworkingPolicy;
 * - the node role (KUBECONTROL_NODE_ROLE_ARN) trusts `ec2.amazonaws.com`, with
 *   AmazonEKSWorkerNodeMinimalPolicy and AmazonEC2ContainerRegistryPullOnly (Auto Mode nodes)
 *   and, for managed node groups, AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryReadOnly
 *   and AmazonEKS_CNI_Policy;
 * - the Fargate pod execution role trusts `eks-fargate-pods.amazonaws.com`, with
 *   AmazonEKSFargatePodExecutionRolePolicy (and, with KUBECONTROL_OBSERVABILITY_ROLE_ARN, the
 *   CloudWatch Logs actions of the Fargate log router: FARGATE_LOGGING_ACTIONS in ./iam.ts);
 * - the observability role (KUBECONTROL_OBSERVABILITY_ROLE_ARN, optional) trusts `pods.eks.amazonaws.com`
 *   for `sts:AssumeRole` and `sts:TagSession`, with CloudWatchAgentServerPolicy and AWSXrayWriteOnlyAccess.
 *
 * Observability is node-level, never a sidecar: with the observability role set, an 'auto' or
 * 'nodes' cluster gets the Amazon CloudWatch Observability add-on (Container Insights metrics and
 * container logs; its agent runs as that role through EKS Pod Identity, built into Auto Mode
 * nodes and installed as the eks-pod-identity-agent add-on for a node group), a 'fargate' cluster
 * the configuration of Fargate's built-in log router (KubeWorkloads.applyFargateLogging).
 */
import { CreateOrUpdateTagsCommand, DescribeAutoScalingGroupsCommand, waitUntilGroupInService, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateAddonCommand,
  CreatePodIdentityAssociationCommand,
  ListPodIdentityAssociationsCommand,
  waitUntilAddonActive,
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
  UpdateNodegroupConfigCommand,
  type Cluster,
  type DescribeNodegroupCommandOutput,
  type EKSClient,
  type FargateProfile,
  type Nodegroup,
  type NodegroupScalingConfig,
  type Update,
} from '@aws-sdk/client-eks';
import { createHash } from 'node:crypto';
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
  pollingFor,
  waiterOptions,
  type WaitFor,
  type WaitPolling,
  type AwsClientsFor,
  type WaiterDelays,
} from './clients.js';
import { systemClock } from '../clock.js';
import { sleep } from '../time.js';
import { missingSetting, placement, regionOf, withRegion, type AwsPlacement } from './placement.js';
import type { AwsSettings } from './settings.js';
import { EksVersions } from './versions.js';

/** What an EksClusters needs. */
export interface EksClustersOptions {
  readonly clients: AwsClientsFor;
  /** Whose resources these are: every one created is tagged with it, and no other is adopted, deleted or listed. */
  readonly installation: Installation;
  /** Account-level placement for apps that do not set their own (`ClusterSpec.placement`). */
  readonly settings: AwsSettings;
  /** Polling delays of every waiter (seconds), one setting for all (tests). @default each wait's own (`waitPolling`) */
  readonly waiterDelays?: WaiterDelays;
  /** Each wait's polling. @default WAIT_POLLING (clients.ts) */
  readonly waitPolling?: WaitPolling;
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
  /**
   * Applies the app's Auto Mode NodePool on a new cluster (KubeWorkloads.applyNodePool).
   * Required by apps of capacity 'auto'.
   */
  readonly nodePools?: NodePoolApplier;
  /**
   * The load balancers, target groups and security groups a cluster's load-balancing
   * controller made (ElbLoadBalancers): checked gone before a cluster is deleted, listed
   * and deleted by `gc`. @default none checked (a cluster is deleted whatever it leaves)
   */
  readonly loadBalancers?: LoadBalancerResources;
  /**
   * Configures the Fargate log router on a new Fargate cluster (KubeWorkloads.applyFargateLogging).
   * Required by Fargate apps when the settings name an observability role.
   */
  readonly fargateLogging?: FargateLoggingApplier;
  /** The Kubernetes versions EKS offers (shared with the provider's preflight). @default asked of EKS on first use */
  readonly versions?: EksVersions;
  /** Epoch ms, when `versions` is not given. @default the system clock */
  readonly now?: () => number;
}

/** Applies an app's Auto Mode NodePool on a cluster and returns once it is there (KubeWorkloads.applyNodePool). */
export interface NodePoolApplier {
  applyNodePool(cmd: { cluster: ClusterRef; capacity: CapacityOf<'auto'>; app: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** Changes the limits of the app's NodePool on a running cluster (KubeWorkloads.resizeNodePool); needed by `resize` of 'auto' capacity. */
  resizeNodePool?(cmd: { cluster: ClusterRef; capacity: CapacityOf<'auto'>; app: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
}

/**
 * Configures Fargate's built-in log router on a cluster (the `aws-observability` namespace and
 * its `aws-logging` ConfigMap): container logs of `app` to CloudWatch Logs in `region`.
 */
export interface FargateLoggingApplier {
  applyFargateLogging(cmd: { cluster: ClusterRef; app: string; region: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
}

/** The EKS add-on of the CloudWatch agent and Fluent Bit (Container Insights, container logs). */
export const OBSERVABILITY_ADDON = 'amazon-cloudwatch-observability';
/**
 * The service account the add-on's CloudWatch agent runs as (namespace amazon-cloudwatch): the
 * only one EKS accepts in the add-on's Pod Identity associations.
 */
export const OBSERVABILITY_SERVICE_ACCOUNT = 'cloudwatch-agent';
/** The agent that hands Pod Identity credentials to pods on EC2 nodes that are not Auto Mode's. */
export const POD_IDENTITY_AGENT_ADDON = 'eks-pod-identity-agent';

/** What EksClusters asks of the load-balancer adapter (ElbLoadBalancers in ./load-balancers.ts). */
export interface LoadBalancerResources {
  /** What still carries `eks:eks-cluster-name=<cluster>`. */
  remaining(cmd: { cluster: string; region: string; signal?: AbortSignal }): Promise<TaggedResource[]>;
  /** Every load balancer, target group and security group tagged by kubecontrol (`installation` set when not ours). */
  listTagged(cmd: { region: string; signal?: AbortSignal }): Promise<TaggedResource[]>;
  /** Deletes one ledger resource of kind load-balancer, target-group or security-group. */
  destroy(cmd: { resource: ResourceRecord; region: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
}

/** The managed policy of the access entry kubecontrol's access role gets. */
export const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';

/** Deletes a namespace on a cluster and waits until it is gone. */
export interface NamespaceDeleter {
  deleteNamespace(cmd: { cluster: ClusterRef; namespace: string; progress: Progress; signal: AbortSignal }): Promise<void>;
}

/** Capacity of one kind. */
type CapacityOf<K extends Capacity['kind']> = Extract<Capacity, { kind: K }>;

/**
 * `<cluster><suffix>`, at most 63 characters (EKS's limit for node group and Fargate
 * profile names): a longer cluster name is cut and a hash of the whole added, so
 * names stay distinct (they are unique per cluster anyway, which is all EKS asks).
 */
function capacityName(cluster: string, suffix: string): string {
  const full = `${cluster}${suffix}`;
  if (full.length <= 63) return full;
  return `${cluster.slice(0, 63 - suffix.length - 9)}-${createHash('sha256').update(cluster).digest('hex').slice(0, 8)}${suffix}`;
}
/** The node group and Fargate profile names of a cluster. */
export const nodegroupName = (cluster: string): string => capacityName(cluster, '-nodes');
export const fargateProfileName = (cluster: string): string => capacityName(cluster, '-fargate');

/**
 * Provisions one EKS cluster per deploy with its capacity, recording every
 * resource in the deploy's ledger before creating it, and adopting what a
 * previous attempt of the same deploy already created. Everything it creates
 * carries this installation's tag; whatever carries another's (or none) is
 * never adopted, deleted or listed.
 */
export class EksClusters implements Clusters {
  /** The Kubernetes versions EKS offers, per region. */
  readonly versions: EksVersions;

  constructor(private readonly opts: EksClustersOptions) {
    this.versions = opts.versions ?? new EksVersions({ eks: (region) => opts.clients(region).eks, now: opts.now ?? (() => systemClock.now()) });
  }

  private waiter(client: EKSClient, signal: AbortSignal | undefined, what: WaitFor) {
    return waiterOptions(client, pollingFor(what, this.opts), this.opts.maxWaitSeconds ?? 2700, signal);
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
    if (capacity.kind === 'fargate') {
      if (!where.podExecutionRoleArn) throw missingSetting(app, 'podExecutionRoleArn', 'KUBECONTROL_POD_EXECUTION_ROLE_ARN');
      if (!where.fargateSubnetIds.length) throw missingSetting(app, 'fargateSubnetIds', 'KUBECONTROL_FARGATE_SUBNET_IDS', 'private Fargate subnets');
      // EKS accepts the association, but its agent runs on EC2 nodes only: pods on Fargate would get no credentials.
      if (spec.podIdentity) {
        throw new InfraError('misconfigured', `${app}: aws.podRoleArn cannot be used with hardware.capacity 'fargate': EKS Pod Identity does not run on Fargate`);
      }
    } else if (!where.nodeRoleArn) {
      throw missingSetting(app, 'nodeRoleArn', 'KUBECONTROL_NODE_ROLE_ARN');
    }
    if (capacity.kind === 'auto' && !this.opts.nodePools) {
      throw new InfraError('misconfigured', `${app}: hardware.capacity 'auto' needs a NodePool applier, and this provider was built without one`);
    }
    const observabilityRole = this.opts.settings.observabilityRoleArn;
    if (observabilityRole && capacity.kind === 'fargate' && !this.opts.fargateLogging) {
      throw new InfraError('misconfigured', `${app}: KUBECONTROL_OBSERVABILITY_ROLE_ARN on hardware.capacity 'fargate' needs a Fargate log router applier, and this provider was built without one`);
    }

    // 1. The cluster. One that is not ours is refused before the ledger hears of it.
    let cluster = await this.describeCluster(eks, clusterName, ctx.signal);
    if (cluster) this.checkAdoptable(cluster, clusterName, ctx.deployId);
    const row = ctx.ledger.intend({ kind: 'cluster', name: clusterName, data: { region } });
    if (cluster) {
      ctx.progress(`EKS cluster ${clusterName} already exists (${cluster.status}); adopting it`, { cluster: clusterName });
    } else {
      const version = await this.versionFor(spec, region, ctx.signal);
      const supportType = spec.supportType ?? 'STANDARD';
      // Auto Mode runs load balancing (which needs compute) for every app; only 'auto' and 'nodes'
      // clusters get the built-in `system` pool (CoreDNS-free cluster services); Fargate apps get none.
      const nodePools = capacity.kind === 'fargate' ? [] : ['system'];
      ctx.progress(`creating EKS cluster ${clusterName} (Kubernetes ${version}, Auto Mode, ${supportType.toLowerCase()} support)`, { cluster: clusterName, version });
      try {
        await eks.send(
          new CreateClusterCommand({
            name: clusterName,
            version,
            roleArn: where.clusterRoleArn,
            resourcesVpcConfig: {
              subnetIds: [...where.subnetIds],
              securityGroupIds: [...where.securityGroupIds],
              endpointPublicAccess: true,
              endpointPrivateAccess: true,
            },
            // EKS Auto Mode: the three capabilities are enabled together or not at all.
            computeConfig: { enabled: true, nodePools, ...(nodePools.length ? { nodeRoleArn: where.nodeRoleArn } : {}) },
            kubernetesNetworkConfig: { elasticLoadBalancing: { enabled: true } },
            storageConfig: { blockStorage: { enabled: true } },
            // Access entries only (Auto Mode refuses the aws-auth ConfigMap); the creator is admin until the access role's entry exists.
            accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: true },
            // Auto Mode brings networking and DNS; the add-ons a node group or Fargate needs are EKS add-ons, created below.
            bootstrapSelfManagedAddons: false,
            // Never billed for extended support unless the app asked for it.
            upgradePolicy: { supportType },
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
        const r = await waitUntilClusterActive(this.waiter(eks, ctx.signal, 'cluster'), { name: clusterName });
        cluster = r.reason?.cluster ?? cluster;
      } catch (err) {
        throw waiterFailure(`EKS cluster ${clusterName} to become ACTIVE`, err, ctx.signal);
      }
      cluster ??= await this.describeCluster(eks, clusterName, ctx.signal);
    }
    ctx.ledger.created(row.id, { region, arn: cluster?.arn, endpoint: cluster?.endpoint, version: cluster?.version });
    ctx.progress(`EKS cluster ${clusterName} is ACTIVE`, { cluster: clusterName });

    // 2. Access for kubecontrol's stable role, before anything needs the Kubernetes API.
    // (Access entries, add-ons and Pod Identity associations go with their cluster: no ledger rows.)
    if (this.opts.settings.accessRoleArn) await this.ensureAccessEntry(ctx, eks, clusterName, this.opts.settings.accessRoleArn, tags);

    // 3. Its capacity.
    const ref: ClusterRef = { name: clusterName, placement: withRegion(spec.placement, this.opts.settings) };
    if (capacity.kind === 'fargate') {
      await this.provisionFargate(ctx, capacity, where, eks, clusterName, row.id, tags);
      // EKS's CoreDNS is pinned to EC2 nodes: on a Fargate-only cluster it must be told, or it stays Pending.
      await this.ensureAddon(ctx, eks, clusterName, 'coredns', tags, { configurationValues: JSON.stringify({ computeType: 'Fargate' }) });
    } else if (capacity.kind === 'nodes') {
      // Managed nodes need the networking Auto Mode nodes have built in (no self-managed add-ons were bootstrapped),
      // and the Pod Identity agent for any pod with an AWS role there: the app's, or the CloudWatch agent's
      // (EKS accepts an association without the agent; the pods would simply get no credentials).
      const before = ['vpc-cni', 'kube-proxy', ...(spec.podIdentity || observabilityRole ? [POD_IDENTITY_AGENT_ADDON] : [])];
      for (const addon of before) await this.ensureAddon(ctx, eks, clusterName, addon, tags, { wait: false });
      await this.provisionNodes(ctx, spec.app, capacity, where, eks, clusterName, row.id, tags);
      // CoreDNS last: it can only run once nodes are there.
      await this.ensureAddon(ctx, eks, clusterName, 'coredns', tags);
      for (const addon of before) await this.waitAddon(ctx, eks, clusterName, addon);
    } else {
      ctx.progress(
        `applying the NodePool of ${app}: ${capacity.instanceTypes.join('|')} ${capacity.spot ? 'spot' : 'on-demand'} ${capacity.arch}, at most ${capacity.maxNodes} nodes`,
        { cluster: clusterName },
      );
      await this.opts.nodePools!.applyNodePool({ cluster: ref, capacity, app, progress: ctx.progress, signal: ctx.signal });
    }

    // 4. The app's own AWS identity (its pods' ServiceAccount), on every new cluster.
    if (spec.podIdentity) await this.ensurePodIdentity(ctx, eks, clusterName, spec.podIdentity, tags);

    // 5. Node-level observability, once there is capacity for its pods: never a sidecar of the app.
    if (observabilityRole) {
      if (capacity.kind === 'fargate') {
        await this.opts.fargateLogging!.applyFargateLogging({ cluster: ref, app, region, progress: ctx.progress, signal: ctx.signal });
      } else {
        ctx.progress(`CloudWatch Container Insights on ${clusterName}: the ${OBSERVABILITY_ADDON} add-on, its agent running as ${observabilityRole} (EKS Pod Identity)`, {
          cluster: clusterName,
          roleArn: observabilityRole,
        });
        await this.ensureAddon(ctx, eks, clusterName, OBSERVABILITY_ADDON, tags, {
          podIdentityAssociations: [{ serviceAccount: OBSERVABILITY_SERVICE_ACCOUNT, roleArn: observabilityRole }],
          // On Auto Mode its pods wait for nodes, which start with the app's own pods in the deploy step:
          // waiting for ACTIVE here would wait for a node nothing has asked for yet (EKS reports DEGRADED meanwhile).
          wait: capacity.kind !== 'auto',
        });
      }
    }
    return { name: clusterName, status: cluster?.status ?? 'ACTIVE', endpoint: cluster?.endpoint, ...(cluster?.version ? { kubernetesVersion: cluster.version } : {}) };
  }

  /** The version a new cluster gets: the app's own, else the newest EKS has in standard support. */
  private async versionFor(spec: ClusterSpec, region: string, signal?: AbortSignal): Promise<string> {
    if (spec.kubernetesVersion !== undefined) return spec.kubernetesVersion;
    const v = await this.versions.resolve({ spec, region, signal });
    if (!v) throw new InfraError('provider_failed', `EKS lists no Kubernetes version in standard support in ${region}; set aws.kubernetesVersion for ${spec.app}`);
    return v.version;
  }

  /** An access entry for `principalArn` with cluster-admin rights on the whole cluster; idempotent. */
  private async ensureAccessEntry(ctx: StepContext, eks: EKSClient, clusterName: string, principalArn: string, tags: Record<string, string>): Promise<void> {
    try {
      await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn, type: 'STANDARD', tags }), { abortSignal: ctx.signal });
    } catch (err) {
      // Already there: a resumed step, or the access role is the creator itself.
      if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreateAccessEntry', err, ctx.signal);
    }
    // Associating again replaces the scope with the same one.
    await call(
      'EKS',
      'AssociateAccessPolicy',
      () => eks.send(new AssociateAccessPolicyCommand({ clusterName, principalArn, policyArn: CLUSTER_ADMIN_POLICY, accessScope: { type: 'cluster' } }), { abortSignal: ctx.signal }),
      ctx.signal,
    );
    ctx.progress(`access entry for ${principalArn} (cluster admin) on ${clusterName}`, { cluster: clusterName, principalArn });
  }

  /**
   * An EKS add-on, created (or found) and, unless `wait` is false, waited ACTIVE. Its Pod Identity
   * associations (EKS creates and deletes them with the add-on) are passed on CreateAddon.
   */
  private async ensureAddon(
    ctx: StepContext,
    eks: EKSClient,
    clusterName: string,
    addonName: string,
    tags: Record<string, string>,
    opts: { configurationValues?: string; wait?: boolean; podIdentityAssociations?: { serviceAccount: string; roleArn: string }[] } = {},
  ): Promise<void> {
    const { configurationValues, wait = true, podIdentityAssociations } = opts;
    try {
      await eks.send(
        new CreateAddonCommand({
          clusterName,
          addonName,
          // Whatever a previous attempt left in the cluster is replaced by the add-on's own.
          resolveConflicts: 'OVERWRITE',
          ...(configurationValues ? { configurationValues } : {}),
          ...(podIdentityAssociations?.length ? { podIdentityAssociations } : {}),
          tags,
        }),
        { abortSignal: ctx.signal },
      );
      ctx.progress(`installing the ${addonName} add-on on ${clusterName}`, { cluster: clusterName, addon: addonName });
    } catch (err) {
      // Created by a previous attempt of this step: the cluster is ours, so is the add-on.
      if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreateAddon', err, ctx.signal);
    }
    if (wait) await this.waitAddon(ctx, eks, clusterName, addonName);
  }

  private async waitAddon(ctx: StepContext, eks: EKSClient, clusterName: string, addonName: string): Promise<void> {
    try {
      await waitUntilAddonActive(this.waiter(eks, ctx.signal, 'addon'), { clusterName, addonName });
    } catch (err) {
      throw waiterFailure(`the ${addonName} add-on of ${clusterName} to become ACTIVE`, err, ctx.signal);
    }
  }

  /** The Pod Identity association of the app's ServiceAccount; an existing one (resume) is kept. */
  private async ensurePodIdentity(
    ctx: StepContext,
    eks: EKSClient,
    clusterName: string,
    pi: NonNullable<ClusterSpec['podIdentity']>,
    tags: Record<string, string>,
  ): Promise<void> {
    const who = `${pi.namespace}/${pi.serviceAccount}`;
    const found = await call(
      'EKS',
      'ListPodIdentityAssociations',
      () => eks.send(new ListPodIdentityAssociationsCommand({ clusterName, namespace: pi.namespace, serviceAccount: pi.serviceAccount }), { abortSignal: ctx.signal }),
      ctx.signal,
    );
    if (found?.associations?.length) {
      ctx.progress(`Pod Identity association of ${who} already exists; keeping it`, { cluster: clusterName });
      return;
    }
    try {
      await eks.send(
        new CreatePodIdentityAssociationCommand({ clusterName, namespace: pi.namespace, serviceAccount: pi.serviceAccount, roleArn: pi.roleArn, tags }),
        { abortSignal: ctx.signal },
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'CreatePodIdentityAssociation', err, ctx.signal);
    }
    ctx.progress(`pods of ${who} run as ${pi.roleArn} (EKS Pod Identity)`, { cluster: clusterName, roleArn: pi.roleArn });
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
    const { autoscaling } = this.opts.clients(region);
    // kubecontrol's tags on the Auto Scaling group, propagated to the instances it launches
    // (EKS puts a node group's tags on neither). Done as soon as the group shows up, so that
    // the first instances already carry them; again, not best effort, once the node group is ACTIVE.
    let tagged: string | undefined;
    const tagAsg = async (asgName: string): Promise<void> => {
      await autoscaling.send(
        new CreateOrUpdateTagsCommand({
          Tags: Object.entries(tags).map(([Key, Value]) => ({ ResourceId: asgName, ResourceType: 'auto-scaling-group', Key, Value, PropagateAtLaunch: true })),
        }),
        { abortSignal: ctx.signal },
      );
      tagged = asgName;
    };
    const observed = observe(eks, async (out) => {
      const asg = (out as DescribeNodegroupCommandOutput).nodegroup?.resources?.autoScalingGroups?.[0]?.name;
      if (!asg) return;
      if (tagged !== asg) await tagAsg(asg).catch(() => undefined);
      await report.look(asg, ctx.signal);
    });
    let asgName: string | undefined;
    try {
      const r = await waitUntilNodegroupActive(this.waiter(observed, ctx.signal, 'nodegroup'), { clusterName, nodegroupName: name });
      asgName = r.reason?.nodegroup?.resources?.autoScalingGroups?.[0]?.name;
    } catch (err) {
      throw waiterFailure(`node group ${name} to become ACTIVE`, err, ctx.signal);
    }
    if (asgName) {
      if (tagged !== asgName) await call('Auto Scaling', 'CreateOrUpdateTags', () => tagAsg(asgName!), ctx.signal);
      // The node group is ACTIVE; wait until at least minNodes instances are InService.
      const asgObserved = observe(autoscaling, async (out) => report.show(out as { AutoScalingGroups?: AutoScalingGroup[] }));
      try {
        await waitUntilGroupInService(waiterOptions(asgObserved, pollingFor('instances', this.opts), this.opts.maxWaitSeconds ?? 2700, ctx.signal), {
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
            // Private subnets only: Fargate refuses any with a route to an internet gateway.
            subnets: [...where.fargateSubnetIds],
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
      await waitUntilFargateProfileActive(this.waiter(eks, ctx.signal, 'fargate-profile'), { clusterName, fargateProfileName: name });
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
    return c ? { name, status: c.status ?? 'UNKNOWN', endpoint: c.endpoint, ...(c.version ? { kubernetesVersion: c.version } : {}) } : undefined;
  }

  /**
   * Changes the bounds of the app's capacity on a running cluster in place: a managed node group's
   * scaling configuration (UpdateNodegroupConfig, followed with DescribeUpdate until EKS says the
   * update is Successful), or an Auto Mode NodePool's limits. Fargate has no nodes to bound.
   */
  async resize({ ctx, cluster: ref, capacity }: { ctx: StepContext; cluster: ClusterRef; capacity: Capacity }): Promise<void> {
    const name = ref.name;
    const { eks } = this.opts.clients(regionOf(ref.placement, this.opts.settings));
    const c = await this.describeCluster(eks, name, ctx.signal);
    if (!c) throw new InfraError('not_found', `EKS cluster ${name} does not exist: nothing to resize`);
    this.checkOwned(`cluster ${name}`, c.tags, 'resizing its capacity');
    switch (capacity.kind) {
      case 'fargate':
        throw new InfraError('misconfigured', `${ctx.app} runs on Fargate: it has no nodes to resize (Fargate starts one for each pod)`);
      case 'auto':
        if (!this.opts.nodePools?.resizeNodePool) throw new InfraError('misconfigured', `${ctx.app}: resizing an Auto Mode NodePool needs a NodePool applier that resizes, and this provider was built without one`);
        return this.opts.nodePools.resizeNodePool({
          cluster: { name, placement: withRegion(ref.placement, this.opts.settings) },
          capacity,
          app: ctx.app,
          progress: ctx.progress,
          signal: ctx.signal,
        });
      case 'nodes':
        return this.resizeNodegroup(ctx, eks, name, capacity);
    }
  }

  /**
   * A node group's new minimum and maximum. EKS checks the bounds against the desired size it has
   * when none is given ("Minimum capacity 3 can't be greater than desired size 2"), so the desired
   * size is always sent: the current one, moved inside the new bounds. An update already in progress
   * (ResourceInUseException) is waited for (the node group ACTIVE again) and the change tried again.
   */
  private async resizeNodegroup(ctx: StepContext, eks: EKSClient, clusterName: string, capacity: CapacityOf<'nodes'>): Promise<void> {
    const name = nodegroupName(clusterName);
    const shown = (c: NodegroupScalingConfig | undefined): string => `min ${c?.minSize ?? '?'}, max ${c?.maxSize ?? '?'}, desired ${c?.desiredSize ?? '?'}`;
    for (let attempt = 1; ; attempt++) {
      const ng = await this.describeNodegroup(eks, clusterName, name, ctx.signal);
      if (!ng) throw new InfraError('not_found', `node group ${name} of ${clusterName} does not exist: nothing to resize`);
      this.checkOwned(`node group ${name}`, ng.tags, 'resizing it');
      const now = ng.scalingConfig;
      const desiredSize = Math.min(Math.max(now?.desiredSize ?? capacity.minNodes, capacity.minNodes), capacity.maxNodes);
      const wanted = { minSize: capacity.minNodes, maxSize: capacity.maxNodes, desiredSize };
      if (now?.minSize === wanted.minSize && now.maxSize === wanted.maxSize && now.desiredSize === wanted.desiredSize && ng.status === 'ACTIVE') {
        ctx.progress(`node group ${name} already has ${shown(wanted)}`, { nodegroup: name });
        return;
      }
      let update: Update | undefined;
      try {
        update = (
          await eks.send(
            new UpdateNodegroupConfigCommand({
              clusterName,
              nodegroupName: name,
              scalingConfig: wanted,
              // The same change asked again (a resumed step) is the same update, not a second one.
              clientRequestToken: `kubecontrol-${ctx.deployId}-${ctx.step}-${wanted.minSize}-${wanted.maxSize}-${wanted.desiredSize}`.slice(0, 64),
            }),
            { abortSignal: ctx.signal },
          )
        ).update;
      } catch (err) {
        if (err instanceof ResourceInUseException && attempt < 3) {
          ctx.progress(`node group ${name} is busy with another update (${err.message}); waiting until it is ACTIVE to try again`, { nodegroup: name });
          try {
            await waitUntilNodegroupActive(this.waiter(eks, ctx.signal, 'nodegroup'), { clusterName, nodegroupName: name });
          } catch (waitErr) {
            throw waiterFailure(`node group ${name} to finish its update`, waitErr, ctx.signal);
          }
          continue;
        }
        throw awsError('EKS', 'UpdateNodegroupConfig', err, ctx.signal);
      }
      ctx.progress(`node group ${name}: ${shown(now)} → ${shown(wanted)} (EKS update ${update?.id ?? '?'})`, { nodegroup: name, update: update?.id, scalingConfig: wanted });
      if (update?.id) await this.waitForUpdate(eks, clusterName, name, update, ctx);
      ctx.progress(`node group ${name} now has ${shown(wanted)}`, { nodegroup: name });
      return;
    }
  }

  /** Follows an EKS update (DescribeUpdate) until it is Successful; Failed or Cancelled throw with EKS's errors. */
  private async waitForUpdate(eks: EKSClient, clusterName: string, nodegroupName: string, first: Update, ctx: StepContext): Promise<void> {
    // A node group's update polls like a wait for the node group (a configuration update takes a minute or a few).
    const polling = pollingFor('nodegroup', this.opts);
    const minMs = (polling.minDelay ?? 5) * 1000;
    const maxMs = (polling.maxDelay ?? 20) * 1000;
    let update = first;
    // Bounded by the step's own timeout (ctx.signal), like every wait of a step.
    for (let delay = minMs; update.status === 'InProgress'; delay = Math.min(maxMs, delay * 2)) {
      await sleep(delay, ctx.signal, `update ${first.id} of node group ${nodegroupName}`);
      const out = await call(
        'EKS',
        'DescribeUpdate',
        () => eks.send(new DescribeUpdateCommand({ name: clusterName, nodegroupName, updateId: first.id! }), { abortSignal: ctx.signal }),
        ctx.signal,
      );
      update = out.update ?? update;
    }
    if (update.status !== 'Successful') {
      const why = (update.errors ?? []).map((e) => `${e.errorCode ?? 'Error'}: ${e.errorMessage ?? ''}`.trim()).join('; ') || 'no reason given';
      throw new InfraError('provider_failed', `EKS update ${first.id} of node group ${nodegroupName} ended ${update.status}: ${why}`);
    }
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
          await this.deleteCluster(eks, region, c, progress, signal);
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
      case 'load-balancer':
      case 'target-group':
      case 'security-group': {
        if (!this.opts.loadBalancers) throw new InfraError('misconfigured', `EksClusters cannot destroy a ${resource.kind} (${resource.name}): no load-balancer adapter`);
        return this.opts.loadBalancers.destroy({ resource, region, progress, signal });
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
      waitGone: () => waitUntilNodegroupDeleted(this.waiter(eks, signal, 'nodegroup-deleted'), { clusterName, nodegroupName: name }),
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
      waitGone: () => waitUntilFargateProfileDeleted(this.waiter(eks, signal, 'fargate-profile-deleted'), { clusterName, fargateProfileName: name }),
    });
  }

  /**
   * Deletes a cluster already known to be ours, with whatever capacity is left in it.
   * A cluster still CREATING (a deploy cancelled during provision) is waited for first:
   * EKS refuses DeleteCluster in that state. A cluster whose load balancers are still
   * there is not deleted (EKS would leave them behind, with their ENIs): it is left for `gc`.
   */
  private async deleteCluster(eks: EKSClient, region: string, found: Cluster, progress: Progress, signal?: AbortSignal): Promise<void> {
    const name = found.name ?? '';
    let c: Cluster | undefined = found;
    // Bounded: each round waits for a state change; EKS does not go back to CREATING.
    for (let round = 0; round < 3; round++) {
      if (c?.status === 'CREATING') {
        progress(`EKS cluster ${name} is still CREATING; waiting until it can be deleted`, { cluster: name });
        c = await this.settled(eks, name, signal);
      }
      if (!c) return progress(`EKS cluster ${name} is already gone`, { cluster: name });
      if (c.status === 'DELETING') return this.waitClusterGone(eks, name, progress, signal);

      const left = (await this.opts.loadBalancers?.remaining({ cluster: name, region, signal })) ?? [];
      if (left.length) {
        throw new InfraError(
          'provider_failed',
          `EKS cluster ${name} is not deleted: ${left.map((r) => `${r.kind} ${r.name}`).join(', ')} still carr${left.length === 1 ? 'ies' : 'y'} eks:eks-cluster-name=${name}; the cluster is left for \`kubecontrol gc\``,
        );
      }

      // A cluster cannot be deleted while it has capacity: remove whatever is left first
      // (normally the pipeline has already destroyed the ledger's node group or profile).
      // The cluster is ours, so is what runs in it: its capacity is not checked one by one.
      // Add-ons, access entries and Pod Identity associations go with the cluster.
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
      try {
        await eks.send(new DeleteClusterCommand({ name }), { abortSignal: signal });
        progress(`deleting EKS cluster ${name}`, { cluster: name });
        return this.waitClusterGone(eks, name, progress, signal);
      } catch (err) {
        if (err instanceof ResourceNotFoundException) return progress(`EKS cluster ${name} is already gone`, { cluster: name });
        if (!(err instanceof ResourceInUseException)) throw awsError('EKS', 'DeleteCluster', err, signal);
        // Refused: already DELETING (wait for it), or CREATING again in our view (wait, retry); else a real refusal.
        c = await this.describeCluster(eks, name, signal);
        if (c?.status !== 'DELETING' && c?.status !== 'CREATING' && c !== undefined) throw awsError('EKS', 'DeleteCluster', err, signal);
      }
    }
    throw new InfraError('provider_failed', `EKS cluster ${name} could not be deleted: DeleteCluster kept being refused`);
  }

  /** Waits until a CREATING cluster is ACTIVE or FAILED (both can be deleted); its final description. */
  private async settled(eks: EKSClient, name: string, signal?: AbortSignal): Promise<Cluster | undefined> {
    try {
      await waitUntilClusterActive(this.waiter(eks, signal, 'cluster'), { name });
    } catch (err) {
      // FAILED ends the waiter with FAILURE: that cluster is deleted like an ACTIVE one.
      const failed = this.failedState(err);
      if (!failed) throw waiterFailure(`EKS cluster ${name} to finish creating before it is deleted`, err, signal);
    }
    return this.describeCluster(eks, name, signal);
  }

  private failedState(err: unknown): boolean {
    try {
      const parsed = JSON.parse(err instanceof Error ? err.message : String(err)) as { state?: string; reason?: { cluster?: { status?: string } } };
      return parsed.state === 'FAILURE' && parsed.reason?.cluster?.status === 'FAILED';
    } catch {
      return false;
    }
  }

  private async waitClusterGone(eks: EKSClient, name: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    try {
      await waitUntilClusterDeleted(this.waiter(eks, signal, 'cluster-deleted'), { name });
    } catch (err) {
      throw waiterFailure(`EKS cluster ${name} to be deleted`, err, signal);
    }
    progress(`EKS cluster ${name} deleted`, { cluster: name });
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
        if (!c || !app) continue;
        const deployId = parseDeployId(c.tags?.['kubecontrol:deploy']);
        const owner = c.tags?.[INSTALLATION_TAG];
        if (!mine(c.tags)) {
          // Another installation's: listed as theirs (gc shows it, never deletes it); its capacity is its own business.
          if (owner) found.push({ kind: 'cluster', name, app, deployId, installation: owner });
          continue;
        }
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
      // What the clusters' load-balancing controllers made, found by tag (ours and others', marked as such).
      if (this.opts.loadBalancers) found.push(...(await this.opts.loadBalancers.listTagged({ region, signal })));
    }
    return found;
  }

  private describeCluster(eks: EKSClient, name: string, signal?: AbortSignal): Promise<Cluster | undefined> {
    return absentIfNotFound('DescribeCluster', signal, async () => (await eks.send(new DescribeClusterCommand({ name }), { abortSignal: signal })).cluster);
  }

  /** A missing cluster is a missing node group too. */
  private describeNodegroup(eks: EKSClient, clusterName: string, name: string, signal?: AbortSignal): Promise<Nodegroup | undefined> {
    return absentIfNotFound('DescribeNodegroup', signal, async () => (await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName: name }), { abortSignal: signal })).nodegroup);
  }

  private describeFargateProfile(eks: EKSClient, clusterName: string, name: string, signal?: AbortSignal): Promise<FargateProfile | undefined> {
    return absentIfNotFound(
      'DescribeFargateProfile',
      signal,
      async () => (await eks.send(new DescribeFargateProfileCommand({ clusterName, fargateProfileName: name }), { abortSignal: signal })).fargateProfile,
    );
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

/** An EKS Describe call: undefined when EKS says the resource does not exist, any other failure as an InfraError. */
async function absentIfNotFound<T>(operation: string, signal: AbortSignal | undefined, describe: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await describe();
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw awsError('EKS', operation, err, signal);
  }
}
