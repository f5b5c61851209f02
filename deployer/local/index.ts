/**
 * The local provider: real KubeApps on a laptop cluster (kind, minikube, ...)
 * reached through the kubeconfig. Blue/green is two namespaces
 * `<app>-<deployId>` side by side; the cutover switches an ExternalName
 * Service `kubecontrol/<app>` from one to the other; the old namespace is
 * deleted after a short drain.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeWorkloads } from '../kube/kube-workloads.js';
import type { Builder, Provider, StepTimeouts } from '../ports.js';
import { ExternalNameDns, type LocalHealthRetry } from './external-name-dns.js';
import { loadLocalKubeConfig, sameClusterSource } from './kubeconfig.js';
import { LocalBuilder, LocalRegistry } from './local-images.js';
import { NamespaceClusters } from './namespace-clusters.js';

export { ExternalNameDns, parseServiceHost, type ExternalNameDnsOptions, type LocalHealthRetry } from './external-name-dns.js';
export { LOCAL_CONTEXT, LocalKubeConfigError, loadLocalKubeConfig, sameClusterSource } from './kubeconfig.js';
export { LocalBuilder, LocalRegistry, localBuildCommand, type LocalImagesOptions } from './local-images.js';
export { LABEL_APP, LABEL_DEPLOY, LOCAL_MANAGER, NamespaceClusters, type NamespaceClustersOptions } from './namespace-clusters.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Step limits on a laptop: no cloud resource takes minutes to appear. */
export const LOCAL_TIMEOUTS: StepTimeouts = { build: 30 * MINUTE, provision: 5 * MINUTE, deploy: 10 * MINUTE, cutover: 5 * MINUTE, teardown: 10 * MINUTE };

/**
 * Cluster DNS serves Service records with a 5 s TTL: after two of them no
 * resolver in the cluster still answers with the old namespace.
 */
export const LOCAL_DRAIN_MS = 10 * SECOND;

/** What `createLocalProvider` can be given instead of its defaults. */
export interface LocalProviderOptions {
  /** The cluster. @default the kubeconfig's current context (or KUBECONTROL_LOCAL_CONTEXT), which must look like a laptop cluster */
  readonly kubeConfig?: KubeConfig;
  /** Environment read for the defaults below. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Replaces the build-command builder. @default LocalBuilder (the app's aws.buildCommand on this host) */
  readonly builder?: Builder;
  /** Build command for apps without one. @default KUBECONTROL_LOCAL_BUILD_COMMAND split on spaces, else none */
  readonly buildCommand?: readonly string[];
  /** Prefix of image names, e.g. `localhost:5001`. @default KUBECONTROL_LOCAL_REGISTRY, else none */
  readonly registryPrefix?: string;
  /** Namespace of the apps' stable ExternalName Services. @default 'kubecontrol' */
  readonly routingNamespace?: string;
  readonly healthRetry?: LocalHealthRetry;
  /** Pause before a Kubernetes watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** Seconds without rollout progress before Kubernetes reports ProgressDeadlineExceeded. @default 300 */
  readonly progressDeadlineSeconds?: number;
  /** @default LOCAL_TIMEOUTS */
  readonly timeouts?: Partial<StepTimeouts>;
  /** @default LOCAL_DRAIN_MS */
  readonly drainMs?: number;
}

/** Builds the local provider. Reads the kubeconfig now (a missing or non-local context fails at start); calls nothing yet. */
export function createLocalProvider(opts: LocalProviderOptions = {}): Provider {
  const env = opts.env ?? process.env;
  const kubeConfig = opts.kubeConfig ?? loadLocalKubeConfig({ context: env.KUBECONTROL_LOCAL_CONTEXT || undefined });
  const images = {
    registryPrefix: opts.registryPrefix ?? (env.KUBECONTROL_LOCAL_REGISTRY || undefined),
    buildCommand: opts.buildCommand ?? (env.KUBECONTROL_LOCAL_BUILD_COMMAND ? env.KUBECONTROL_LOCAL_BUILD_COMMAND.split(/\s+/).filter(Boolean) : undefined),
    env,
  };
  const registry = new LocalRegistry(images);
  const workloads = new KubeWorkloads({
    source: sameClusterSource(kubeConfig),
    registry,
    // Each deploy's "cluster" is its own namespace; the namespace is that deploy's ledger row already.
    namespaceFor: (cluster) => cluster,
    recordNamespace: false,
    serviceType: 'ClusterIP',
    progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 300,
    rewatchDelayMs: opts.rewatchDelayMs,
  });
  const drain = opts.drainMs ?? LOCAL_DRAIN_MS;
  return {
    name: 'local',
    label: `local (kubeconfig context ${kubeConfig.getCurrentContext() || '(none)'})`,
    registry,
    builder: opts.builder ?? new LocalBuilder(registry, images),
    clusters: new NamespaceClusters({ kubeConfig, rewatchDelayMs: opts.rewatchDelayMs }),
    workloads,
    dns: new ExternalNameDns({ kubeConfig, routingNamespace: opts.routingNamespace, healthRetry: opts.healthRetry }),
    timeouts: { ...LOCAL_TIMEOUTS, ...opts.timeouts },
    drainMs: () => drain,
  };
}
