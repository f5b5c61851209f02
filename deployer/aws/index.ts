/**
 * The aws provider: real infrastructure. ECR, CodeBuild or a host command,
 * EKS + Auto Scaling, the Kubernetes API of each cluster, Route 53. Built from
 * validated settings (`loadAwsSettings`) and the installation's identity;
 * nothing here reads the environment.
 */
import { KubeWorkloads, type KubeConfigSource } from '../kube/kube-workloads.js';
import { systemClock } from '../clock.js';
import type { Builder, ClusterRef, Installation, PreflightApp, PreflightReport, Provider, Registry, StepContext, Workloads } from '../ports.js';
import { AppBuilder, type BuilderKind } from './app-builder.js';
import { createAwsClientsFor, kubecontrolTags, type AwsClientsFor, type WaiterDelays, type WaitPolling } from './clients.js';
import { CodeBuildBuilder, type PollDelays } from './codebuild-builder.js';
import { CommandBuilder } from './command-builder.js';
import { EcrRegistry } from './ecr-registry.js';
import { EksClusters, type FargateLoggingApplier, type NodePoolApplier } from './eks-clusters.js';
import { EksKubeConfigSource, type AwsCredentials } from './eks-kubeconfig.js';
import { ElbLoadBalancers } from './load-balancers.js';
import { planAws } from './plan.js';
import { regionOf, withRegion } from './placement.js';
import { Route53Dns, type FetchLike, type HealthRetry } from './route53-dns.js';
import type { AwsSettings } from './settings.js';
import { checkVersion, EksVersions } from './versions.js';

export { AppBuilder, type BuilderKind } from './app-builder.js';
export * from './clients.js';
export { CodeBuildBuilder, type CodeBuildBuilderOptions, type PollDelays } from './codebuild-builder.js';
export { CommandBuilder, secretMasker, type CommandBuilderOptions } from './command-builder.js';
export { EcrRegistry, type RegistrySettings } from './ecr-registry.js';
export {
  CLUSTER_ADMIN_POLICY,
  EksClusters,
  fargateProfileName,
  nodegroupName,
  OBSERVABILITY_ADDON,
  OBSERVABILITY_SERVICE_ACCOUNT,
  POD_IDENTITY_AGENT_ADDON,
  type EksClustersOptions,
  type FargateLoggingApplier,
  type LoadBalancerResources,
  type NamespaceDeleter,
  type NodePoolApplier,
} from './eks-clusters.js';
export * from './versions.js';
export { buildKubeConfig, eksToken, EksKubeConfigSource, type AwsCredentials, type EksKubeConfigSourceOptions } from './eks-kubeconfig.js';
export { placement, withRegion, type AwsPlacement } from './placement.js';
export { planAws } from './plan.js';
export { Route53Dns, type FetchLike, type HealthRetry, type Route53DnsOptions } from './route53-dns.js';
export { loadAwsSettings, type AwsSettings, type AwsSettingsResult } from './settings.js';

const MINUTE = 60_000;

/** What `createAwsProvider` needs, and what it can be given instead of its defaults (tests inject fakes at the wire). */
export interface AwsProviderOptions {
  /** This installation: every resource created is tagged with it, and only its own are adopted, deleted or listed. */
  readonly installation: Installation;
  /** Account-level placement, from `loadAwsSettings(env)` at start. */
  readonly settings: AwsSettings;
  /** Environment of host build commands (builder 'command'): PATH, registry credentials. */
  readonly buildEnv: NodeJS.ProcessEnv;
  /** SDK clients per region. @default createAwsClientsFor() (standard credential chain, the settings' retry) */
  readonly clients?: AwsClientsFor;
  /** @default fromNodeProviderChain() */
  readonly credentials?: AwsCredentials;
  /** The health check's fetch. @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** Polling delays of every SDK waiter (seconds), one setting for all (tests). @default each wait's own, `waitPolling` */
  readonly waiterDelays?: WaiterDelays;
  /** How each wait polls (a bench scales it with its simulated time). @default WAIT_POLLING (clients.ts) */
  readonly waitPolling?: WaitPolling;
  /** How a CodeBuild build is followed. @default 5 s doubling to 20 s */
  readonly codeBuildPoll?: PollDelays;
  readonly healthRetry?: HealthRetry;
  /** Replaces the CodeBuild or command builder. @default CodeBuildBuilder / CommandBuilder */
  readonly builderFactory?: (kind: BuilderKind, deps: { clients: AwsClientsFor; registry: Registry }) => Builder;
  /** Credentials for each cluster's Kubernetes API. @default EksKubeConfigSource */
  readonly kubeConfigSource?: KubeConfigSource;
  /** Regions `gc` looks in besides the settings' region. @default none */
  readonly regions?: () => readonly string[];
  /** Pause before a Kubernetes watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** Epoch ms: what "now" is for Kubernetes version support. @default the system clock */
  readonly now?: () => number;
}

/** `<app>-<deployId>-<installation id>`: two installations in one account never name the same cluster. */
export function awsClusterName(cmd: { app: string; deployId: number }, installation: Installation): string {
  return `${cmd.app}-${cmd.deployId}-${installation.id}`;
}

/**
 * The aws provider's start-up check: each app's Kubernetes version against what
 * EKS offers in the app's region (one DescribeClusterVersions per region, kept
 * for the clusters created later), and what EKS would refuse or not run.
 */
export async function preflightAws(
  deps: { versions: EksVersions; settings: AwsSettings; now: () => number },
  cmd: { apps: readonly PreflightApp[]; signal?: AbortSignal },
): Promise<PreflightReport> {
  const problems: string[] = [];
  const warnings: string[] = [];
  // One line per region EKS could not be asked in, naming its apps (not one per app).
  const unreachable = new Map<string, { why: string; apps: string[] }>();
  for (const { app, cluster } of cmd.apps) {
    const region = regionOf(cluster.placement, deps.settings);
    let versions;
    try {
      versions = await deps.versions.list(region, cmd.signal);
    } catch (err) {
      const seen = unreachable.get(region);
      if (seen) seen.apps.push(app);
      else unreachable.set(region, { why: err instanceof Error ? err.message : String(err), apps: [app] });
      continue;
    }
    const r = checkVersion({ app, cluster, versions, now: deps.now() });
    if (r.problem) problems.push(r.problem);
    if (r.warning) warnings.push(r.warning);
    if (cluster.capacity.kind === 'fargate' && cluster.podIdentity) {
      problems.push(`${app}: aws.podRoleArn cannot be used with hardware.capacity 'fargate': EKS Pod Identity does not run on Fargate`);
    }
    if (cluster.capacity.kind === 'fargate' && !(cluster.placement?.fargateSubnetIds?.length ?? deps.settings.fargateSubnetIds.length)) {
      problems.push(`${app}: no private Fargate subnets configured: set aws.fargateSubnetIds or KUBECONTROL_FARGATE_SUBNET_IDS`);
    }
  }
  for (const [region, { why, apps }] of unreachable) {
    problems.push(`cannot ask EKS which Kubernetes versions it offers in ${region} (apps: ${apps.join(', ')}): ${why}`);
  }
  return { problems, warnings };
}

/** Builds the aws provider. Nothing is called until a step runs. */
export function createAwsProvider(opts: AwsProviderOptions): Provider {
  const { installation, settings } = opts;
  const clients =
    opts.clients ?? createAwsClientsFor({ credentials: opts.credentials, maxAttempts: settings.maxAttempts, retryMode: settings.retryMode });
  const registry = new EcrRegistry(clients, settings);
  const builders = new Map<BuilderKind, Builder>();
  const builderOf = (kind: BuilderKind): Builder => {
    let b = builders.get(kind);
    if (!b) {
      b =
        opts.builderFactory?.(kind, { clients, registry }) ??
        (kind === 'codebuild'
          ? new CodeBuildBuilder({ clients, registry, settings, poll: opts.codeBuildPoll })
          : new CommandBuilder({ registry, settings, env: opts.buildEnv }));
      builders.set(kind, b);
    }
    return b;
  };
  const now = opts.now ?? (() => systemClock.now());
  const source =
    opts.kubeConfigSource ??
    new EksKubeConfigSource({ clients, installation, defaultRegion: settings.region, credentials: opts.credentials, accessRoleArn: settings.accessRoleArn });
  const kube = new KubeWorkloads({
    source,
    installation,
    registry,
    rewatchDelayMs: opts.rewatchDelayMs,
    // The load balancer, its target group and security group carry kubecontrol's tags too.
    loadBalancerTags: (ctx) => kubecontrolTags(ctx.app, ctx.deployId, installation),
  });
  // The Kubernetes adapter reads the cluster's region (credentials, ledger rows): it gets it as
  // this provider places the app, so an app that names no region is looked for in the settings' one.
  const placed = (cluster: ClusterRef): ClusterRef => ({ ...cluster, placement: withRegion(cluster.placement, settings) });
  const loadBalancers = new ElbLoadBalancers({ clients, installation, waiterDelays: opts.waiterDelays, waitPolling: opts.waitPolling });
  // A rollout is done only when the load balancer in front of it is active and every target passes its
  // health checks (NLB provisioning and target registration take minutes on AWS): approvers, and a
  // refresh's automatic cutover, then decide on something that really serves.
  const served = async (cluster: ClusterRef, ctx: StepContext, r: { endpoint: string }): Promise<{ endpoint: string }> => {
    await loadBalancers.waitReady({ hostname: r.endpoint, region: regionOf(cluster.placement, settings), progress: ctx.progress, signal: ctx.signal });
    return r;
  };
  const workloads: Workloads = {
    deploy: async (cmd) => served(cmd.cluster, cmd.ctx, await kube.deploy({ ...cmd, cluster: placed(cmd.cluster) })),
    updateImages: async (cmd) => served(cmd.cluster, cmd.ctx, await kube.updateImages({ ...cmd, cluster: placed(cmd.cluster) })),
    current: (cmd) => kube.current({ ...cmd, cluster: placed(cmd.cluster) }),
    // New pods are new targets: done when the load balancer serves from them, as after a rolling update.
    scale: async (cmd) => served(cmd.cluster, cmd.ctx, await kube.scale({ ...cmd, cluster: placed(cmd.cluster) })),
    restart: async (cmd) => served(cmd.cluster, cmd.ctx, await kube.restart({ ...cmd, cluster: placed(cmd.cluster) })),
  };
  const versions = new EksVersions({ eks: (region) => clients(region).eks, now });
  const nodePools: NodePoolApplier = {
    applyNodePool: (cmd) => kube.applyNodePool({ ...cmd, cluster: placed(cmd.cluster) }),
    resizeNodePool: (cmd) => kube.resizeNodePool({ ...cmd, cluster: placed(cmd.cluster) }),
  };
  const fargateLogging: FargateLoggingApplier = { applyFargateLogging: (cmd) => kube.applyFargateLogging({ ...cmd, cluster: placed(cmd.cluster) }) };
  const clusters = new EksClusters({
    clients,
    installation,
    settings,
    waiterDelays: opts.waiterDelays,
    waitPolling: opts.waitPolling,
    regions: opts.regions,
    namespaces: { deleteNamespace: (cmd) => kube.deleteNamespace({ ...cmd, cluster: placed(cmd.cluster) }) },
    onClusterGone: (name) => source.forget?.(name),
    versions,
    nodePools,
    fargateLogging,
    loadBalancers,
  });
  const dns = new Route53Dns({
    clients,
    settings,
    loadBalancers,
    proxyGet: (cmd) => kube.proxyGet({ ...cmd, cluster: placed(cmd.cluster) }),
    fetch: opts.fetch,
    waiterDelays: opts.waiterDelays,
    waitPolling: opts.waitPolling,
    healthRetry: opts.healthRetry,
  });
  return {
    name: 'aws',
    label: 'aws (real infrastructure)',
    registry,
    builder: new AppBuilder(registry, builderOf, settings),
    clusters,
    workloads,
    dns,
    timeouts: { build: 60 * MINUTE, provision: 40 * MINUTE, deploy: 20 * MINUTE, cutover: 25 * MINUTE, teardown: 40 * MINUTE },
    // Resolvers may keep the old answer for a TTL or two after the flip.
    drainMs: ({ record }) => Math.max(record.ttlSeconds * 1000 * 2, MINUTE),
    plan: (request) => planAws({ settings, registry, clusters, dns, versions }, request),
    clusterName: (cmd) => awsClusterName(cmd, installation),
    preflight: (cmd) => preflightAws({ versions, settings, now }, cmd),
    // What EKS answered at preflight for the app's region (the built-in calendar until it has).
    kubernetesVersions: ({ placement: own }) => versions.known(regionOf(own, settings)).versions,
  };
}
