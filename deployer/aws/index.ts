/**
 * The aws provider: real infrastructure. ECR, CodeBuild or a host command,
 * EKS + Auto Scaling, the Kubernetes API of each cluster, Route 53.
 */
import type { KubeApp } from '../../kubeapps/index.js';
import { EksKubeConfigSource, type AwsCredentials } from '../kube/eks-auth.js';
import { KubeWorkloads, type KubeConfigSource } from '../kube/kube-workloads.js';
import type { Builder, Provider, Registry } from '../ports.js';
import { AppBuilder, type BuilderKind } from './app-builder.js';
import { createAwsClientsFor, type AwsClientsFor, type WaiterDelays } from './clients.js';
import { CodeBuildBuilder, type PollDelays } from './codebuild-builder.js';
import { CommandBuilder } from './command-builder.js';
import { EcrRegistry } from './ecr-registry.js';
import { EksClusters } from './eks-clusters.js';
import { Route53Dns, type FetchLike, type HealthRetry } from './route53-dns.js';

export { AppBuilder, type BuilderKind } from './app-builder.js';
export * from './clients.js';
export { CodeBuildBuilder, type CodeBuildBuilderOptions, type PollDelays } from './codebuild-builder.js';
export { CommandBuilder, secretMasker, type CommandBuilderOptions } from './command-builder.js';
export { EcrRegistry } from './ecr-registry.js';
export { EksClusters, fargateProfileName, nodegroupName, type EksClustersOptions, type NamespaceDeleter } from './eks-clusters.js';
export { Route53Dns, type FetchLike, type HealthRetry, type Route53DnsOptions } from './route53-dns.js';

const MINUTE = 60_000;

/** What `createAwsProvider` can be given instead of its defaults (tests inject fakes at the wire). */
export interface AwsProviderOptions {
  /** SDK clients per region. @default createAwsClientsFor() (standard credential chain, adaptive retry) */
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
  /** Regions `gc` looks in. @default the account region */
  readonly regions?: () => readonly string[];
  /** Pause before a Kubernetes watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
}

/** Builds the aws provider. Nothing is called until a step runs. */
export function createAwsProvider(opts: AwsProviderOptions = {}): Provider {
  const clients = opts.clients ?? createAwsClientsFor({ credentials: opts.credentials });
  const registry = new EcrRegistry(clients);
  const builders = new Map<BuilderKind, Builder>();
  const builderOf = (kind: BuilderKind): Builder => {
    let b = builders.get(kind);
    if (!b) {
      b =
        opts.builderFactory?.(kind, { clients, registry }) ??
        (kind === 'codebuild' ? new CodeBuildBuilder({ clients, registry, poll: opts.codeBuildPoll }) : new CommandBuilder({ registry }));
      builders.set(kind, b);
    }
    return b;
  };
  const source = opts.kubeConfigSource ?? new EksKubeConfigSource({ clients, credentials: opts.credentials });
  const workloads = new KubeWorkloads({
    source,
    registry,
    rewatchDelayMs: opts.rewatchDelayMs,
  });
  return {
    name: 'aws',
    label: 'aws (real infrastructure)',
    registry,
    builder: new AppBuilder(registry, builderOf),
    clusters: new EksClusters({
      clients,
      waiterDelays: opts.waiterDelays,
      regions: opts.regions,
      namespaces: workloads,
      onClusterGone: (name) => source.forget?.(name),
    }),
    workloads,
    dns: new Route53Dns({ clients, fetch: opts.fetch, waiterDelays: opts.waiterDelays, healthRetry: opts.healthRetry }),
    timeouts: { build: 60 * MINUTE, provision: 40 * MINUTE, deploy: 20 * MINUTE, cutover: 10 * MINUTE, teardown: 40 * MINUTE },
    // Resolvers may keep the old answer for a TTL or two after the flip.
    drainMs: (app: KubeApp) => Math.max(app.dns.ttlSeconds * 1000 * 2, MINUTE),
  };
}
