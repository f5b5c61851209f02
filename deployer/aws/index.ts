/**
 * The aws provider: real infrastructure. ECR, CodeBuild or a host command,
 * EKS + Auto Scaling, the Kubernetes API of each cluster, Route 53. Built from
 * validated settings (`loadAwsSettings`) and the installation's identity;
 * nothing here reads the environment.
 */
import { KubeWorkloads, type KubeConfigSource } from '../kube/kube-workloads.js';
import type { Builder, ClusterRef, Installation, Provider, Registry, Workloads } from '../ports.js';
import { AppBuilder, type BuilderKind } from './app-builder.js';
import { createAwsClientsFor, type AwsClientsFor, type WaiterDelays } from './clients.js';
import { CodeBuildBuilder, type PollDelays } from './codebuild-builder.js';
import { CommandBuilder } from './command-builder.js';
import { EcrRegistry } from './ecr-registry.js';
import { EksClusters } from './eks-clusters.js';
import { EksKubeConfigSource, type AwsCredentials } from './eks-kubeconfig.js';
import { planAws } from './plan.js';
import { withRegion } from './placement.js';
import { Route53Dns, type FetchLike, type HealthRetry } from './route53-dns.js';
import type { AwsSettings } from './settings.js';

export { AppBuilder, type BuilderKind } from './app-builder.js';
export * from './clients.js';
export { CodeBuildBuilder, type CodeBuildBuilderOptions, type PollDelays } from './codebuild-builder.js';
export { CommandBuilder, secretMasker, type CommandBuilderOptions } from './command-builder.js';
export { EcrRegistry, type RegistrySettings } from './ecr-registry.js';
export { EksClusters, fargateProfileName, nodegroupName, type EksClustersOptions, type NamespaceDeleter } from './eks-clusters.js';
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
  /** Polling delays of every SDK waiter (seconds). @default the SDK's service defaults */
  readonly waiterDelays?: WaiterDelays;
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
  const source =
    opts.kubeConfigSource ?? new EksKubeConfigSource({ clients, installation, defaultRegion: settings.region, credentials: opts.credentials });
  const kube = new KubeWorkloads({ source, installation, registry, rewatchDelayMs: opts.rewatchDelayMs });
  // The Kubernetes adapter reads the cluster's region (credentials, ledger rows): it gets it as
  // this provider places the app, so an app that names no region is looked for in the settings' one.
  const placed = (cluster: ClusterRef): ClusterRef => ({ ...cluster, placement: withRegion(cluster.placement, settings) });
  const workloads: Workloads = {
    deploy: (cmd) => kube.deploy({ ...cmd, cluster: placed(cmd.cluster) }),
    updateImages: (cmd) => kube.updateImages({ ...cmd, cluster: placed(cmd.cluster) }),
  };
  const clusters = new EksClusters({
    clients,
    installation,
    settings,
    waiterDelays: opts.waiterDelays,
    regions: opts.regions,
    namespaces: { deleteNamespace: (cmd) => kube.deleteNamespace({ ...cmd, cluster: placed(cmd.cluster) }) },
    onClusterGone: (name) => source.forget?.(name),
  });
  const dns = new Route53Dns({ clients, settings, fetch: opts.fetch, waiterDelays: opts.waiterDelays, healthRetry: opts.healthRetry });
  return {
    name: 'aws',
    label: 'aws (real infrastructure)',
    registry,
    builder: new AppBuilder(registry, builderOf, settings),
    clusters,
    workloads,
    dns,
    timeouts: { build: 60 * MINUTE, provision: 40 * MINUTE, deploy: 20 * MINUTE, cutover: 10 * MINUTE, teardown: 40 * MINUTE },
    // Resolvers may keep the old answer for a TTL or two after the flip.
    drainMs: ({ record }) => Math.max(record.ttlSeconds * 1000 * 2, MINUTE),
    plan: (request) => planAws({ settings, registry, clusters, dns }, request),
  };
}
