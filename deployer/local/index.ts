/**
 * The local provider: real KubeApps on a laptop cluster (kind, minikube, ...)
 * reached through the kubeconfig. Blue/green is two namespaces
 * `<app>-<deployId>` side by side; the cutover switches an ExternalName
 * Service `kubecontrol/<app>` from one to the other; the old namespace is
 * deleted after a short drain. Everything it creates carries the
 * installation's label, and it touches nothing of another installation's.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeWorkloads } from '../kube/kube-workloads.js';
import type { Builder, Installation, Provider, StepTimeouts } from '../ports.js';
import { ExternalNameDns, type LocalHealthRetry } from './external-name-dns.js';
import { loadLocalKubeConfig, sameClusterSource } from './kubeconfig.js';
import { LocalBuilder, LocalRegistry } from './local-images.js';
import { NamespaceClusters } from './namespace-clusters.js';
import { planLocal } from './plan.js';
import type { LocalSettings } from './settings.js';

export { ExternalNameDns, LABEL_ROLE, parseServiceHost, type ExternalNameDnsOptions, type LocalHealthRetry } from './external-name-dns.js';
export { LOCAL_CONTEXT, loadLocalKubeConfig, sameClusterSource, type LoadLocalKubeConfig } from './kubeconfig.js';
export { LocalBuilder, LocalRegistry, localBuildCommand, type LocalImagesOptions } from './local-images.js';
export { LABEL_APP, LABEL_DEPLOY, LOCAL_MANAGER, NamespaceClusters, type NamespaceClustersOptions } from './namespace-clusters.js';
export { planLocal } from './plan.js';
export { loadLocalSettings, type LocalSettings, type LocalSettingsResult } from './settings.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Step limits on a laptop: no cloud resource takes minutes to appear. */
export const LOCAL_TIMEOUTS: StepTimeouts = { build: 30 * MINUTE, provision: 5 * MINUTE, deploy: 10 * MINUTE, cutover: 5 * MINUTE, teardown: 10 * MINUTE };

/**
 * Cluster DNS serves Service records with a 5 s TTL: after two of them no
 * resolver in the cluster still answers with the old namespace.
 */
export const LOCAL_DRAIN_MS = 10 * SECOND;

/** What `createLocalProvider` is given: the installation, the validated settings, and optional replacements of its defaults. */
export interface LocalProviderOptions {
  /** Whose resources these are: every namespace and routing Service carries `kubecontrol/installation=<id>`. */
  readonly installation: Installation;
  /** From `loadLocalSettings(env)`: context, registry prefix, build command, kubeconfig files. */
  readonly settings: LocalSettings;
  /** Environment of build commands (the composition root passes the process environment). */
  readonly buildEnv: NodeJS.ProcessEnv;
  /** Working directory of build commands. @default the process's working directory */
  readonly buildCwd?: string;
  /** The cluster. @default loaded from `settings.kubeconfigFiles` and `settings.context` (a current context must look like a laptop cluster) */
  readonly kubeConfig?: KubeConfig;
  /** Replaces the build-command builder. @default LocalBuilder (the app's aws.buildCommand, else settings.buildCommand, on this host) */
  readonly builder?: Builder;
  /** Namespace of the apps' stable ExternalName Services. @default 'kubecontrol' */
  readonly routingNamespace?: string;
  readonly healthRetry?: LocalHealthRetry;
  /** Pause before a Kubernetes watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** Seconds without rollout progress before Kubernetes reports ProgressDeadlineExceeded. @default 300 */
  readonly progressDeadlineSeconds?: number;
  /** How long a teardown waits for a namespace to be gone before it fails (gc retries later), ms. @default 300000 */
  readonly namespaceDeleteTimeoutMs?: number;
  /** @default LOCAL_TIMEOUTS */
  readonly timeouts?: Partial<StepTimeouts>;
  /** @default LOCAL_DRAIN_MS */
  readonly drainMs?: number;
}

/**
 * Builds the local provider. Reads the kubeconfig now (a missing or non-local
 * context, or an installation id that cannot be a label, throws `misconfigured`
 * at start); calls nothing yet.
 */
export function createLocalProvider(opts: LocalProviderOptions): Provider {
  const { installation, settings } = opts;
  const kubeConfig = opts.kubeConfig ?? loadLocalKubeConfig({ files: settings.kubeconfigFiles, context: settings.context });
  const images = {
    registryPrefix: settings.registryPrefix,
    buildCommand: settings.buildCommand,
    env: opts.buildEnv,
    ...(opts.buildCwd !== undefined ? { cwd: opts.buildCwd } : {}),
  };
  const registry = new LocalRegistry(images);
  const workloads = new KubeWorkloads({
    source: sameClusterSource(kubeConfig),
    registry,
    installation,
    // Each deploy's "cluster" is its own namespace; the namespace is that deploy's ledger row already.
    namespaceFor: (cluster) => cluster,
    recordNamespace: false,
    serviceType: 'ClusterIP',
    progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 300,
    rewatchDelayMs: opts.rewatchDelayMs,
  });
  const drain = opts.drainMs ?? LOCAL_DRAIN_MS;
  const context = kubeConfig.getCurrentContext() || '(none)';
  const clusters = new NamespaceClusters({ kubeConfig, installation, rewatchDelayMs: opts.rewatchDelayMs, namespaceDeleteTimeoutMs: opts.namespaceDeleteTimeoutMs });
  const dns = new ExternalNameDns({ kubeConfig, installation, routingNamespace: opts.routingNamespace, healthRetry: opts.healthRetry });
  return {
    name: 'local',
    label: `local (kubeconfig context ${context})`,
    registry,
    builder: opts.builder ?? new LocalBuilder(registry, images),
    clusters,
    workloads,
    dns,
    timeouts: { ...LOCAL_TIMEOUTS, ...opts.timeouts },
    drainMs: () => drain,
    plan: (request) => planLocal({ context, registry, buildCommand: settings.buildCommand, clusters, dns }, request),
  };
}
