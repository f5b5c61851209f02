/**
 * The Clusters port on one laptop cluster: the "cluster" of a deploy is a
 * namespace `<app>-<deployId>`, so blue and green are two namespaces side by
 * side. Namespaces are labelled with their app and deploy (kubecontrol's tags)
 * and recorded in the ledger before they are created.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { KubeApp } from '../../kubeapps/index.js';
import type { ResourceRecord } from '../../store/index.js';
import { deleteNamespaceAndWait, kubeFailure } from '../kube/kube-workloads.js';
import { LABEL_MANAGED_BY, MANAGER } from '../kube/manifests.js';
import type { ClusterInfo, Clusters, Progress, StepContext, TaggedResource } from '../ports.js';
import { formatDuration } from '../time.js';

/** kubecontrol's tags as namespace labels (label keys cannot hold `:`). */
export const LABEL_APP = 'kubecontrol/app';
export const LABEL_DEPLOY = 'kubecontrol/deploy';
/**
 * The field manager of what the local adapters apply. Not KubeWorkloads'
 * `kubecontrol`: it applies the same namespace without these labels, and
 * under one manager server-side apply would remove the labels it no longer sees.
 */
export const LOCAL_MANAGER = 'kubecontrol-local';

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export const isNotFound = (err: unknown): boolean => (err as { code?: unknown })?.code === 404;

export interface NamespaceClustersOptions {
  readonly kubeConfig: KubeConfig;
  /** Pause before a watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** How long `destroy` waits for a namespace to be gone before it fails (gc retries later), ms. @default 300000 */
  readonly namespaceDeleteTimeoutMs?: number;
}

/** Namespaces as clusters. */
export class NamespaceClusters implements Clusters {
  constructor(private readonly opts: NamespaceClustersOptions) {}

  private core(): CoreV1Api {
    return this.opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  private async read(name: string): Promise<V1Namespace | undefined> {
    try {
      return await this.core().readNamespace({ name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeFailure(`read Namespace ${name}`, err);
    }
  }

  private info(ns: V1Namespace): ClusterInfo {
    const server = this.opts.kubeConfig.getCurrentCluster()?.server;
    return { name: ns.metadata?.name ?? '', status: ns.status?.phase ?? 'Active', ...(server ? { endpoint: server } : {}) };
  }

  async provision({ ctx, clusterName }: { ctx: StepContext; clusterName: string }): Promise<ClusterInfo> {
    const { app, deployId } = ctx;
    const existing = await this.read(clusterName);
    // Checked before the ledger row: a row would make teardown delete a namespace that is not ours.
    if (existing && existing.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGER) {
      throw new Error(`namespace ${clusterName} already exists and is not managed by kubecontrol; delete or rename it first`);
    }
    if (existing?.status?.phase === 'Terminating') {
      throw new Error(`namespace ${clusterName} is still being deleted (Terminating); deploy again once it is gone`);
    }
    const context = this.opts.kubeConfig.getCurrentContext();
    const row = ctx.ledger.intend({ kind: 'namespace', name: clusterName, data: { namespace: clusterName, context } });
    const body: V1Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: clusterName, labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_APP]: app.name, [LABEL_DEPLOY]: String(deployId) } },
    };
    let applied: V1Namespace;
    try {
      // Server-side apply creates or adopts (a resumed step) alike.
      applied = await this.core().patchNamespace({ name: clusterName, body, fieldManager: LOCAL_MANAGER, force: true }, APPLY);
    } catch (err) {
      throw kubeFailure(`apply Namespace ${clusterName}`, err);
    }
    ctx.ledger.created(row.id, { namespace: clusterName, context });
    ctx.progress(existing ? `adopted namespace ${clusterName} on context ${context}` : `created namespace ${clusterName} on context ${context}`, {
      namespace: clusterName,
      context,
    });
    return this.info(applied);
  }

  async describe({ name }: { name: string; app: KubeApp; signal?: AbortSignal }): Promise<ClusterInfo | undefined> {
    const ns = await this.read(name);
    return ns ? this.info(ns) : undefined;
  }

  async destroy({ resource, progress, signal }: { resource: ResourceRecord; app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void> {
    if (resource.kind !== 'namespace') throw new Error(`the local provider has no ${resource.kind} to delete (${resource.name})`);
    const data = (resource.data ?? {}) as { namespace?: unknown };
    const name = typeof data.namespace === 'string' ? data.namespace : resource.name;
    const existing = await this.read(name);
    if (!existing) return progress(`namespace ${name} is already gone`);
    if (existing.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGER) {
      throw new Error(`namespace ${name} is not labelled ${LABEL_MANAGED_BY}=${MANAGER}; not deleting it`);
    }
    const limitMs = this.opts.namespaceDeleteTimeoutMs ?? 300_000;
    const outcome = await deleteNamespaceAndWait({
      kubeConfig: async () => this.opts.kubeConfig,
      name,
      limitMs,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      signal,
      onDeleting: () => progress(`deleting namespace ${name}`, { namespace: name }),
    });
    if (outcome === 'already-gone') return progress(`namespace ${name} is already gone`);
    // Not reported as deleted: the ledger keeps it, and `kubecontrol gc` tries again.
    if (outcome === 'stuck') throw new Error(`namespace ${name} is still terminating after ${formatDuration(limitMs)} (a finalizer nobody removes?)`);
    progress(`namespace ${name} deleted`, { namespace: name });
  }

  async listTagged(): Promise<TaggedResource[]> {
    let list;
    try {
      list = await this.core().listNamespace({ labelSelector: `${LABEL_MANAGED_BY}=${MANAGER}` });
    } catch (err) {
      throw kubeFailure('list Namespaces', err);
    }
    const out: TaggedResource[] = [];
    for (const ns of list.items) {
      const labels = ns.metadata?.labels ?? {};
      // Deploy namespaces only: not the routing namespace, nor an app namespace applied by hand.
      if (!labels[LABEL_APP]) continue;
      const deployId = Number(labels[LABEL_DEPLOY]);
      out.push({
        kind: 'namespace',
        name: ns.metadata?.name ?? '',
        app: labels[LABEL_APP],
        ...(Number.isInteger(deployId) && labels[LABEL_DEPLOY] ? { deployId } : {}),
      });
    }
    return out;
  }
}
