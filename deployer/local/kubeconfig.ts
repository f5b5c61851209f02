/**
 * The local provider's one cluster: a kubeconfig context (kind, minikube,
 * Docker Desktop, ...). Loaded once; every "cluster" the pipeline names is a
 * namespace on it, so the KubeConfigSource gives the same config for all.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeConfigSource } from '../kube/kube-workloads.js';

/** Context names of laptop clusters: the current context is used without asking only when it looks like one. */
export const LOCAL_CONTEXT = /^(kind-.+|minikube|docker-desktop|docker-for-desktop|rancher-desktop|orbstack|colima(-.+)?|k3d-.+|microk8s)$/;

/** Why the local provider cannot start, with what to do about it. */
export class LocalKubeConfigError extends Error {
  readonly code = 'local_kubeconfig';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalKubeConfigError';
  }
}

/**
 * Loads the kubeconfig as kubectl would (KUBECONFIG, then ~/.kube/config) and
 * picks the context: `context` when given (any cluster: the user named it),
 * else the current context, which must look like a laptop cluster — a
 * current context that happens to point at a shared cluster must not receive
 * namespaces by accident.
 */
export function loadLocalKubeConfig(opts: { context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new LocalKubeConfigError(`KUBECONTROL_PROVIDER=local: the kubeconfig could not be read: ${(err as Error).message}`, { cause: err });
  }
  // Without any kubeconfig, client-node falls back to an unauthenticated http://localhost:8080.
  if (kc.getContexts().length === 0 || kc.getCurrentCluster()?.server === 'http://localhost:8080') {
    throw new LocalKubeConfigError('KUBECONTROL_PROVIDER=local needs a kubeconfig with a context: start a cluster (`kind create cluster`, `minikube start`) or set KUBECONFIG');
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new LocalKubeConfigError(`KUBECONTROL_LOCAL_CONTEXT: no context ${opts.context} in the kubeconfig (contexts: ${kc.getContexts().map((c) => c.name).join(', ')})`);
    }
    kc.setCurrentContext(opts.context);
    return kc;
  }
  const current = kc.getCurrentContext();
  if (!LOCAL_CONTEXT.test(current)) {
    throw new LocalKubeConfigError(
      `KUBECONTROL_PROVIDER=local deploys onto a laptop cluster, but the current kubeconfig context is ${current || '(none)'}; ` +
        `switch to a kind/minikube context or set KUBECONTROL_LOCAL_CONTEXT=${current || '<context>'} to use it anyway`,
    );
  }
  return kc;
}

/** The same KubeConfig for every "cluster" (they are namespaces on one cluster). */
export function sameClusterSource(kc: KubeConfig): KubeConfigSource {
  return { kubeConfigFor: async () => kc };
}
