/**
 * The local provider's one cluster: a kubeconfig context (kind, minikube,
 * Docker Desktop, ...). Loaded once, from the files the settings name; every
 * "cluster" the pipeline names is a namespace on it, so the KubeConfigSource
 * gives the same config for all.
 */
import { existsSync } from 'node:fs';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { InfraError, errorMessage } from '../errors.js';
import type { KubeConfigSource } from '../kube/kube-workloads.js';

/** Context names of laptop clusters: the current context is used without asking only when it looks like one. */
export const LOCAL_CONTEXT = /^(kind-.+|minikube|docker-desktop|docker-for-desktop|rancher-desktop|orbstack|colima(-.+)?|k3d-.+|microk8s)$/;

/** Where the kubeconfig comes from and which context to use. */
export interface LoadLocalKubeConfig {
  /** The kubeconfig files in kubectl's order (LocalSettings.kubeconfigFiles); missing ones are skipped. */
  readonly files: readonly string[];
  /** The context to use (any cluster: the user named it). @default the current context, which must look like a laptop cluster */
  readonly context?: string;
}

/**
 * Merges the files as kubectl does: the first file to name a cluster, user
 * or context (or the current context) wins.
 */
function mergeFiles(files: readonly string[]): KubeConfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of files) {
    if (!existsSync(file)) continue;
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new InfraError('misconfigured', `KUBECONTROL_PROVIDER=local: the kubeconfig ${file} could not be read: ${errorMessage(err)}`, { cause: err });
    }
    for (const c of kc.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of kc.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    currentContext ||= kc.getCurrentContext();
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext });
  return kc;
}

/**
 * Loads the kubeconfig from `files` and picks the context: `context` when
 * given, else the current context, which must look like a laptop cluster — a
 * current context that happens to point at a shared cluster must not receive
 * namespaces by accident. Throws `misconfigured` with what to do about it.
 */
export function loadLocalKubeConfig(opts: LoadLocalKubeConfig): KubeConfig {
  const kc = mergeFiles(opts.files);
  if (kc.getContexts().length === 0) {
    throw new InfraError(
      'misconfigured',
      `KUBECONTROL_PROVIDER=local needs a kubeconfig with a context: start a cluster (\`kind create cluster\`, \`minikube start\`) or set KUBECONFIG (looked in: ${opts.files.join(', ') || 'nowhere: neither KUBECONFIG nor HOME is set'})`,
    );
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new InfraError('misconfigured', `KUBECONTROL_LOCAL_CONTEXT: no context ${opts.context} in the kubeconfig (contexts: ${kc.getContexts().map((c) => c.name).join(', ')})`);
    }
    kc.setCurrentContext(opts.context);
  } else {
    const current = kc.getCurrentContext();
    if (!LOCAL_CONTEXT.test(current)) {
      throw new InfraError(
        'misconfigured',
        `KUBECONTROL_PROVIDER=local deploys onto a laptop cluster, but the current kubeconfig context is ${current || '(none)'}; ` +
          `switch to a kind/minikube context or set KUBECONTROL_LOCAL_CONTEXT=${current || '<context>'} to use it anyway`,
      );
    }
  }
  // A context whose cluster or user is missing would fail at the first call, with a less clear message.
  if (!kc.getCurrentCluster()) {
    throw new InfraError('misconfigured', `the kubeconfig context ${kc.getCurrentContext()} names a cluster that is not in the kubeconfig`);
  }
  return kc;
}

/** The same KubeConfig for every "cluster" (they are namespaces on one cluster). */
export function sameClusterSource(kc: KubeConfig): KubeConfigSource {
  return { kubeConfigFor: async () => kc };
}
