/**
 * The Workloads port over the Kubernetes API: server-side apply of the app's
 * objects, then a rollout followed by Watch (never polling), then the
 * Service's load-balancer hostname.
 */
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { InfraError, isInfraError } from '../errors.js';
import type { ClusterRef, ContainerImage, Installation, Progress, Registry, StepContext, WorkloadSpec, Workloads } from '../ports.js';
import { httpStatus, kubeFailure } from './api-errors.js';
import { assertOwned, installationLabel } from './installation.js';
import { containerImage, LABEL_NAME, LABEL_VERSION, MANAGER, renderManifests } from './manifests.js';
import { claimNamespace, deleteNamespaceAndWait, readNamespace } from './namespaces.js';
import { watchUntil } from './watch.js';

export { httpStatus, isConflict, isNotFound, kubeFailure } from './api-errors.js';
export { assertOwned, installationLabel, LABEL_INSTALLATION, ownerOf } from './installation.js';
export { claimNamespace, deleteNamespaceAndWait, isTerminating, readNamespace, type ClaimNamespace, type DeleteNamespace } from './namespaces.js';
export { abortedWait, watchUntil, type WatchUntilOptions } from './watch.js';

/** Gives a KubeConfig (endpoint + credentials) for a cluster. */
export interface KubeConfigSource {
  kubeConfigFor(cluster: string, opts?: { region?: string; signal?: AbortSignal }): Promise<KubeConfig>;
  /** Drops what is cached for `cluster` (its credentials were refused). */
  forget?(cluster: string): void;
}

/** What KubeWorkloads needs; the aws provider and the local provider each build one. */
export interface KubeWorkloadsOptions {
  readonly source: KubeConfigSource;
  /**
   * Whose objects these are: every object applied carries `kubecontrol/installation=<id>`,
   * and a namespace of another installation (or an unlabelled one) is never adopted, changed or deleted.
   */
  readonly installation: Installation;
  /** Where the app's images are (only `imageUri` is used). */
  readonly registry: Pick<Registry, 'imageUri'>;
  /** Seconds without rollout progress before Kubernetes reports ProgressDeadlineExceeded. @default 600 */
  readonly progressDeadlineSeconds?: number;
  /** A pod of the new version restarting this often in CrashLoopBackOff fails the rollout at once. @default 3 */
  readonly crashLoopRestarts?: number;
  /** Pause before a watch that ended is opened again, ms. @default 1000 */
  readonly rewatchDelayMs?: number;
  /** How long teardown waits for a namespace to go before it goes on without it, ms. @default 600000 */
  readonly namespaceDeleteTimeoutMs?: number;
  /** The namespace of `app` (its name) on `cluster` (the local provider: the cluster name, one namespace per deploy). @default app */
  readonly namespaceFor?: (cluster: string, app: string) => string;
  /**
   * LoadBalancer: the endpoint is the load balancer's hostname, awaited. ClusterIP: no load
   * balancer; the endpoint is the Service's in-cluster DNS name `<app>.<namespace>.svc.cluster.local`.
   * @default 'LoadBalancer'
   */
  readonly serviceType?: 'LoadBalancer' | 'ClusterIP';
  /**
   * Whether `deploy` records the namespace in the ledger (so that teardown deletes it before
   * the cluster). Off when the namespace is itself the deploy's ledgered "cluster".
   * @default true
   */
  readonly recordNamespace?: boolean;
}

/** Server-side apply options: our field manager wins conflicts (kubecontrol owns these objects). */
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** Where a rollout stands, computed like `kubectl rollout status`. */
export function rolloutState(d: V1Deployment): { done: boolean; message: string; failed?: string } {
  const name = d.metadata?.name ?? 'deployment';
  const generation = d.metadata?.generation ?? 0;
  const st = d.status ?? {};
  if ((st.observedGeneration ?? 0) < generation) return { done: false, message: `waiting for ${name}'s new spec to be observed` };
  const progressing = (st.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { done: false, message: 'progress deadline exceeded', failed: `ProgressDeadlineExceeded: ${progressing.message ?? ''}`.trim() };
  }
  const want = d.spec?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  if (updated < want) return { done: false, message: `${updated}/${want} replicas updated, ${available} available` };
  if (total > updated) return { done: false, message: `${total - updated} old replicas still terminating` };
  if (available < want) return { done: false, message: `${available}/${want} updated replicas available` };
  return { done: true, message: `${available}/${want} replicas updated and available` };
}

/** Pods that cannot run, as `pod/x container y: CrashLoopBackOff (5 restarts, last exit 1 Error)`. */
export function brokenPods(pods: readonly V1Pod[], minRestarts = 0): string[] {
  const out: string[] = [];
  for (const p of pods) {
    for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const reason = cs.state?.waiting?.reason;
      if (!reason || !/CrashLoopBackOff|ImagePullBackOff|ErrImagePull|CreateContainerConfigError|InvalidImageName|RunContainerError/.test(reason)) continue;
      if (reason === 'CrashLoopBackOff' && cs.restartCount < minRestarts) continue;
      const last = cs.lastState?.terminated;
      const lastText = last ? `, last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ''}` : '';
      const msg = reason !== 'CrashLoopBackOff' && cs.state?.waiting?.message ? `: ${cs.state.waiting.message}` : '';
      out.push(`pod/${p.metadata?.name} container ${cs.name}: ${reason} (${cs.restartCount} restarts${lastText})${msg}`);
    }
  }
  return out;
}

/** Workloads over a cluster's Kubernetes API. */
export class KubeWorkloads implements Workloads {
  private readonly installationId: string;

  /** Throws `misconfigured` when the installation id cannot be a label value. */
  constructor(private readonly opts: KubeWorkloadsOptions) {
    this.installationId = installationLabel(opts.installation);
  }

  /** Credentials for `cluster`, in its region (the aws provider puts the placed region on the ref). */
  private kc(cluster: ClusterRef, signal?: AbortSignal): () => Promise<KubeConfig> {
    return () => this.opts.source.kubeConfigFor(cluster.name, { region: cluster.placement?.region, signal });
  }

  /** The app's namespace on `cluster`. */
  private ns(cluster: string, app: string): string {
    return this.opts.namespaceFor?.(cluster, app) ?? app;
  }

  async deploy({ ctx, cluster: ref, workload }: { ctx: StepContext; cluster: ClusterRef; workload: WorkloadSpec }): Promise<{ endpoint: string }> {
    const { version } = ctx;
    const cluster = ref.name;
    const app = workload.name;
    const region = ref.placement?.region;
    const kc = this.kc(ref, ctx.signal);
    const ns = this.ns(cluster, app);
    const m = renderManifests(workload, {
      imageUri: (image) => this.opts.registry.imageUri({ image, placement: ref.placement }),
      installation: this.installationId,
      progressDeadlineSeconds: this.opts.progressDeadlineSeconds,
      namespace: ns,
      ...(this.opts.serviceType ? { serviceType: this.opts.serviceType } : {}),
    });
    const apply = { fieldManager: MANAGER, force: true };
    // The namespace is in the ledger so that teardown deletes it (and the Service's load balancer) before the cluster.
    let row: { id: number } | undefined;
    await this.call('claim Namespace', cluster, kc, (c) =>
      claimNamespace({
        core: c.makeApiClient(CoreV1Api),
        body: m.namespace,
        installation: this.opts.installation,
        fieldManager: MANAGER,
        // Only once the namespace is known to be ours (or absent): a row would make teardown delete it.
        beforeWrite: () => {
          if (this.opts.recordNamespace !== false && !row) {
            row = ctx.ledger.intend({ kind: 'namespace', name: `${cluster}/${ns}`, data: { cluster, namespace: ns, region } });
          }
        },
      }),
    );
    if (row) ctx.ledger.created(row.id, { cluster, namespace: ns, region });
    const applied = await this.call('apply Deployment', cluster, kc, (c) =>
      c.makeApiClient(AppsV1Api).patchNamespacedDeployment({ name: app, namespace: ns, body: m.deployment, ...apply }, APPLY),
    );
    await this.call('apply Service', cluster, kc, (c) =>
      c.makeApiClient(CoreV1Api).patchNamespacedService({ name: app, namespace: ns, body: m.service, ...apply }, APPLY),
    );
    ctx.progress(`applied namespace, deployment and service of ${app} at ${version} on ${cluster}`, {
      cluster,
      generation: applied.metadata?.generation,
    });
    await this.waitForRollout(ctx, kc, cluster);
    const endpoint = await this.endpoint(ctx, kc, cluster);
    return { endpoint };
  }

  async updateImages({ ctx, cluster: ref, images }: { ctx: StepContext; cluster: ClusterRef; images: readonly ContainerImage[] }): Promise<{ endpoint: string }> {
    const { app, version } = ctx;
    const cluster = ref.name;
    const kc = this.kc(ref, ctx.signal);
    const ns = this.ns(cluster, app);
    // A rolling update changes what is running: only in a namespace of this installation.
    const existing = await this.call('read Namespace', cluster, kc, (c) => readNamespace(c.makeApiClient(CoreV1Api), ns));
    if (!existing) throw new InfraError('not_found', `namespace ${ns} does not exist on ${cluster}: nothing to update (deploy ${app} first)`);
    assertOwned(existing, this.opts.installation, `namespace ${ns}`, 'not changing it');
    const containers = images.map((c) => ({
      name: c.name,
      image: containerImage(c, { imageUri: (image) => this.opts.registry.imageUri({ image, placement: ref.placement }) }),
    }));
    // A strategic merge patch merges containers by name: sidecars and everything else stay as they are.
    const patch = {
      metadata: { labels: { [LABEL_VERSION]: version } },
      spec: { template: { metadata: { labels: { [LABEL_VERSION]: version } }, spec: { containers } } },
    };
    await this.call('patch Deployment images', cluster, kc, (c) =>
      c.makeApiClient(AppsV1Api).patchNamespacedDeployment({ name: app, namespace: ns, body: patch, fieldManager: MANAGER }, STRATEGIC),
    );
    ctx.progress(`set ${containers.map((c) => `${c.name}=${c.image}`).join(', ')} on ${cluster}`, { cluster });
    await this.waitForRollout(ctx, kc, cluster);
    const endpoint = await this.endpoint(ctx, kc, cluster);
    return { endpoint };
  }

  /**
   * One API call; refused credentials (401) are fetched again once, since a
   * cached token can outlive its welcome (clock skew, revoked session).
   * Failures are InfraErrors (an InfraError from `fn` is kept as it is).
   */
  private async call<T>(operation: string, cluster: string, kc: () => Promise<KubeConfig>, fn: (config: KubeConfig) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const config = await kc();
      try {
        return await fn(config);
      } catch (err) {
        if (attempt === 1 && httpStatus(err) === 401 && this.opts.source.forget) {
          this.opts.source.forget(cluster);
          continue;
        }
        throw isInfraError(err) ? err : kubeFailure(operation, err);
      }
    }
  }

  /** Pods of the version being rolled out that cannot run. */
  private async podProblems(kc: () => Promise<KubeConfig>, app: string, ns: string, version: string, minRestarts = 0): Promise<string[]> {
    const core = (await kc()).makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABEL_NAME}=${app},${LABEL_VERSION}=${version}` });
    return brokenPods(pods.items, minRestarts);
  }

  private async waitForRollout(ctx: StepContext, kc: () => Promise<KubeConfig>, cluster: string): Promise<void> {
    const { app, version, signal } = ctx;
    const name = app;
    const ns = this.ns(cluster, app);
    const what = `rollout of ${name} ${version} on ${cluster}`;
    const unhealthy = `rollout of ${name} did not become healthy`;
    const local = new AbortController();
    const both = AbortSignal.any([signal, local.signal]);
    const podSuffix = async (): Promise<string> => {
      const problems = await this.podProblems(kc, app, ns, version).catch(() => []);
      return problems.length ? `; ${problems.join('; ')}` : '';
    };
    let last = '';
    const rollout = watchUntil<true>({
      kubeConfig: kc,
      path: `/apis/apps/v1/namespaces/${ns}/deployments`,
      query: { fieldSelector: `metadata.name=${name}` },
      signal: both,
      what,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      onAbort: podSuffix,
      check: (type, obj) => {
        if (type === 'DELETED') throw new InfraError('not_found', `${unhealthy}: the deployment was deleted`);
        const s = rolloutState(obj as V1Deployment);
        if (s.failed) throw new InfraError('unhealthy', `${unhealthy}: ${s.failed}`);
        if (s.message !== last) {
          last = s.message;
          ctx.progress(`rollout ${name}: ${s.message}`, { cluster });
        }
        return s.done ? true : undefined;
      },
    }).catch(async (err: unknown) => {
      // The deployment's own verdict says little about why: add the pods that cannot run.
      if (isInfraError(err, 'unhealthy')) throw new InfraError('unhealthy', `${err.message}${await podSuffix()}`, { cause: err });
      throw err;
    });
    // Pods of the new version in CrashLoopBackOff fail the rollout now, not at the progress deadline.
    const minRestarts = this.opts.crashLoopRestarts ?? 3;
    const crashes = watchUntil<never>({
      kubeConfig: kc,
      path: `/api/v1/namespaces/${ns}/pods`,
      query: { labelSelector: `${LABEL_NAME}=${app},${LABEL_VERSION}=${version}` },
      // Ends with the rollout watch; a cancel is reported by the rollout watch (with the pods' state).
      signal: local.signal,
      what: `pods of ${name}`,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      onAbort: async () => '',
      check: (_type, obj) => {
        const broken = brokenPods([obj as V1Pod], minRestarts);
        if (broken.length) throw new InfraError('unhealthy', `${unhealthy}: ${broken.join('; ')}`);
        return undefined;
      },
    });
    crashes.catch(() => undefined);
    try {
      await Promise.race([rollout, crashes]);
      ctx.progress(`rollout of ${name} ${version} is healthy`, { cluster });
    } finally {
      local.abort('rollout finished');
      rollout.catch(() => undefined);
    }
  }

  /** Where the Service is reached: its load balancer's hostname, or (ClusterIP) its in-cluster DNS name. */
  private async endpoint(ctx: StepContext, kc: () => Promise<KubeConfig>, cluster: string): Promise<string> {
    const ns = this.ns(cluster, ctx.app);
    if (this.opts.serviceType !== 'ClusterIP') return this.waitForLoadBalancer(ctx, kc, ns);
    const endpoint = `${ctx.app}.${ns}.svc.cluster.local`;
    ctx.progress(`service ${ctx.app} is reachable in the cluster at ${endpoint}`, { endpoint });
    return endpoint;
  }

  private async waitForLoadBalancer(ctx: StepContext, kc: () => Promise<KubeConfig>, ns: string): Promise<string> {
    const { app, signal } = ctx;
    ctx.progress(`waiting for the load balancer of service ${app}`);
    const endpoint = await watchUntil<string>({
      kubeConfig: kc,
      path: `/api/v1/namespaces/${ns}/services`,
      query: { fieldSelector: `metadata.name=${app}` },
      signal,
      what: `load balancer of service ${app}`,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      onAbort: async () => '',
      check: (_type, obj) => {
        const ingress = (obj as V1Service).status?.loadBalancer?.ingress?.[0];
        return ingress?.hostname || ingress?.ip || undefined;
      },
    });
    ctx.progress(`service ${app} is reachable at ${endpoint}`, { endpoint });
    return endpoint;
  }

  /**
   * Deletes the app's namespace (and with it the Service, whose load balancer
   * the AWS Load Balancer Controller then removes) and waits until it is gone.
   * Used at teardown before the cluster goes, so no NLB is left behind. A
   * namespace of another installation is refused (`not_owned`) and left alone.
   */
  async deleteNamespace({ cluster: ref, namespace: ns, progress, signal }: { cluster: ClusterRef; namespace: string; progress: Progress; signal: AbortSignal }): Promise<void> {
    const cluster = ref.name;
    // A namespace can hang in Terminating (a finalizer whose controller is gone): the cluster
    // must still go, so after a while this gives up with a warning instead of failing teardown.
    const outcome = await deleteNamespaceAndWait({
      kubeConfig: this.kc(ref, signal),
      name: ns,
      installation: this.opts.installation,
      limitMs: this.opts.namespaceDeleteTimeoutMs ?? 600_000,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      signal,
      onDeleting: () => progress(`deleting namespace ${ns} on ${cluster}`),
    });
    if (outcome === 'already-gone') return progress(`namespace ${ns} is already gone`);
    if (outcome === 'stuck') {
      return progress(
        `namespace ${ns} on ${cluster} is still terminating; going on without it (its load balancer may be left behind: check the AWS Load Balancer Controller)`,
      );
    }
    progress(`namespace ${ns} deleted`);
  }
}
