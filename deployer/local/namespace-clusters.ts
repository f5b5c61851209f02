/**
 * The Clusters port on one laptop cluster: the "cluster" of a deploy is a
 * namespace `<app>-<deployId>`, so blue and green are two namespaces side by
 * side. Namespaces are labelled with their app, deploy and installation
 * (kubecontrol's tags) and recorded in the ledger before they are created;
 * only this installation's are adopted, deleted or listed.
 */
import { CoreV1Api, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { ResourceRecord } from '../../store/index.js';
import { InfraError } from '../errors.js';
import { kubeFailure } from '../kube/api-errors.js';
import { LABEL_INSTALLATION, installationLabel } from '../kube/installation.js';
import { LABEL_MANAGED_BY, MANAGER } from '../kube/manifests.js';
import { claimNamespace, deleteNamespaceAndWait, readNamespace } from '../kube/namespaces.js';
import type { ClusterInfo, ClusterRef, Clusters, ClusterSpec, Installation, PlacementOverrides, Progress, StepContext, TaggedResource } from '../ports.js';
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

/** What NamespaceClusters needs. */
export interface NamespaceClustersOptions {
  readonly kubeConfig: KubeConfig;
  /** Whose namespaces these are: only those labelled with this installation are adopted, deleted or listed. */
  readonly installation: Installation;
  /** Pause before a watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** How long `destroy` waits for a namespace to be gone before it fails (gc retries later), ms. @default 300000 */
  readonly namespaceDeleteTimeoutMs?: number;
}

/** Namespaces as clusters. */
export class NamespaceClusters implements Clusters {
  private readonly installationId: string;

  /** Throws `misconfigured` when the installation id cannot be a label value. */
  constructor(private readonly opts: NamespaceClustersOptions) {
    this.installationId = installationLabel(opts.installation);
  }

  private core(): CoreV1Api {
    return this.opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  private info(ns: V1Namespace): ClusterInfo {
    const server = this.opts.kubeConfig.getCurrentCluster()?.server;
    return { name: ns.metadata?.name ?? '', status: ns.status?.phase ?? 'Active', ...(server ? { endpoint: server } : {}) };
  }

  /** A namespace `<app>-<deployId>`; the spec's capacity and version are the laptop cluster's own business. */
  async provision({ ctx, cluster }: { ctx: StepContext; cluster: ClusterSpec }): Promise<ClusterInfo> {
    const { deployId } = ctx;
    const { app, name: clusterName } = cluster;
    const context = this.opts.kubeConfig.getCurrentContext();
    let row: ResourceRecord | undefined;
    const body: V1Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: clusterName,
        labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: this.installationId, [LABEL_APP]: app, [LABEL_DEPLOY]: String(deployId) },
      },
    };
    const { namespace, adopted } = await claimNamespace({
      core: this.core(),
      body,
      installation: this.opts.installation,
      fieldManager: LOCAL_MANAGER,
      // After the ownership check: a row would make teardown try to delete a namespace that is not ours.
      beforeWrite: () => {
        row = ctx.ledger.intend({ kind: 'namespace', name: clusterName, data: { namespace: clusterName, context } });
      },
    }).catch((err: unknown) => {
      // Lost a race to another installation after the intent: nothing of ours to tear down.
      if (row && err instanceof InfraError && err.code === 'not_owned') ctx.ledger.failed(row.id, err.message);
      throw err;
    });
    ctx.ledger.created(row!.id, { namespace: clusterName, context });
    ctx.progress(adopted ? `adopted namespace ${clusterName} on context ${context}` : `created namespace ${clusterName} on context ${context}`, {
      namespace: clusterName,
      context,
    });
    return this.info(namespace);
  }

  async describe({ cluster }: { cluster: ClusterRef; signal?: AbortSignal }): Promise<ClusterInfo | undefined> {
    const ns = await readNamespace(this.core(), cluster.name);
    return ns ? this.info(ns) : undefined;
  }

  async destroy({ resource, progress, signal }: { resource: ResourceRecord; placement?: PlacementOverrides; progress: Progress; signal?: AbortSignal }): Promise<void> {
    if (resource.kind !== 'namespace') throw new InfraError('misconfigured', `the local provider has no ${resource.kind} to delete (${resource.name})`);
    const data = (resource.data ?? {}) as { namespace?: unknown };
    const name = typeof data.namespace === 'string' ? data.namespace : resource.name;
    const limitMs = this.opts.namespaceDeleteTimeoutMs ?? 300_000;
    // Another installation's namespace of the same name is refused (not_owned) and left alone.
    const outcome = await deleteNamespaceAndWait({
      kubeConfig: async () => this.opts.kubeConfig,
      name,
      installation: this.opts.installation,
      limitMs,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      signal,
      onDeleting: () => progress(`deleting namespace ${name}`, { namespace: name }),
    });
    if (outcome === 'already-gone') return progress(`namespace ${name} is already gone`);
    // Not reported as deleted: the ledger keeps it, and `kubecontrol gc` tries again.
    if (outcome === 'stuck') throw new InfraError('timed_out', `namespace ${name} is still terminating after ${formatDuration(limitMs)} (a finalizer nobody removes?)`);
    progress(`namespace ${name} deleted`, { namespace: name });
  }

  async listTagged(): Promise<TaggedResource[]> {
    let list;
    try {
      // The API server filters: another installation's namespaces never reach gc.
      list = await this.core().listNamespace({ labelSelector: `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_INSTALLATION}=${this.installationId},${LABEL_APP}` });
    } catch (err) {
      throw kubeFailure('list Namespaces', err);
    }
    const out: TaggedResource[] = [];
    for (const ns of list.items) {
      const labels = ns.metadata?.labels ?? {};
      // Deploy namespaces only (the selector asks for kubecontrol/app): not the routing namespace.
      const app = labels[LABEL_APP];
      if (!app) continue;
      const deployId = Number(labels[LABEL_DEPLOY]);
      out.push({
        kind: 'namespace',
        name: ns.metadata?.name ?? '',
        app,
        ...(Number.isInteger(deployId) && labels[LABEL_DEPLOY] ? { deployId } : {}),
      });
    }
    return out;
  }
}
