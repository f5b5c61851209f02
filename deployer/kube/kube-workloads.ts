/**
 * The Workloads port over the Kubernetes API: server-side apply of the app's
 * objects, then a rollout followed by Watch (never polling), then the
 * Service's load-balancer hostname. Also what the aws provider needs of a
 * cluster besides: the app's Karpenter NodePool (EKS Auto Mode), the
 * configuration of Fargate's log router (EKS on Fargate), a GET
 * through the API server's service proxy (the health check of an internal
 * load balancer), and a teardown that deletes the LoadBalancer Services and
 * waits until their load balancers are gone before the namespace goes.
 */
import { apiGet } from './api-get.js';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type KubeConfig,
  type CoreV1Event,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { errorMessage, InfraError, isInfraError } from '../errors.js';
import type { Capacity, ClusterRef, ContainerImage, Installation, Progress, Registry, StepContext, WorkloadSpec, WorkloadState, Workloads } from '../ports.js';
import { httpStatus, isNotFound, kubeFailure } from './api-errors.js';
import { assertOwned, installationLabel } from './installation.js';
import { ANNOTATION_VERSION, containerImage, isLabelValue, LABEL_NAME, LABEL_VERSION, LEGACY_LABEL_VERSION, MANAGER, renderManifests, versionOf } from './manifests.js';
import { claimNamespace, deleteLoadBalancerServices, deleteNamespaceAndWait, readNamespace } from './namespaces.js';
import { FARGATE_LOGGING_CONFIGMAP, FARGATE_LOGGING_NAMESPACE, fargateLogGroup, renderFargateLogging } from './fargate-logging.js';
import { nodePoolName, renderNodePool } from './nodepool.js';
import { RESTARTED_AT } from '../operations.js';
import { watchUntil } from './watch.js';
import { sleep } from '../time.js';

export { httpStatus, isConflict, isNotFound, kubeFailure } from './api-errors.js';
export { assertOwned, installationLabel, LABEL_INSTALLATION, ownerOf } from './installation.js';
export {
  claimNamespace,
  deleteLoadBalancerServices,
  deleteNamespaceAndWait,
  isTerminating,
  readNamespace,
  type ClaimNamespace,
  type DeleteLoadBalancerServices,
  type DeleteNamespace,
} from './namespaces.js';
export { abortedWait, watchUntil, type WatchUntilOptions } from './watch.js';
export { FARGATE_LOG_STREAM_PREFIX, FARGATE_LOGGING_CONFIGMAP, FARGATE_LOGGING_NAMESPACE, fargateLogGroup, renderFargateLogging } from './fargate-logging.js';

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
  /**
   * How long teardown waits for a namespace to go, ms; one still Terminating then fails
   * teardown (`timed_out`): deleting the cluster around it could orphan what it holds. @default 600000
   */
  readonly namespaceDeleteTimeoutMs?: number;
  /**
   * How long teardown waits for the LoadBalancer Services to go (their controller deletes the
   * load balancers first; a minute or two on AWS), ms; then teardown fails (`timed_out`). @default 600000
   */
  readonly serviceDeleteTimeoutMs?: number;
  /** How long `applyNodePool` waits for the NodePool to report Ready, ms. @default 300000 */
  readonly nodePoolReadyTimeoutMs?: number;
  /**
   * The tags the load-balancing controller puts on the Service's load balancer, target group and
   * security group (the Service's `aws-load-balancer-additional-resource-tags`): kubecontrol:app,
   * :deploy, :installation, :managed-by, so teardown and `gc` find them. Unset: the manifests' defaults.
   */
  readonly loadBalancerTags?: (ctx: StepContext) => Record<string, string>;
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

/** Attempts of a call the API server answers 429 TooManyRequests (API Priority and Fairness), as client-go retries them. */
const THROTTLED_ATTEMPTS = 6;

/** How long a 429 asks to wait (its Retry-After, in seconds), at most 10 s; 1 s when it does not say. */
function retryAfterMs(err: unknown): number {
  const cause = err instanceof InfraError ? err.cause : err;
  const headers = (cause as { headers?: Record<string, string> } | undefined)?.headers ?? {};
  const seconds = Number(headers['retry-after'] ?? headers['Retry-After']);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 10) * 1000 : 1000;
}

/** Server-side apply options: our field manager wins conflicts (kubecontrol owns these objects). */
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Karpenter's NodePool (EKS Auto Mode serves it): a cluster-scoped custom resource. */
const NODEPOOLS = { group: 'karpenter.sh', version: 'v1', plural: 'nodepools' } as const;

type Condition = { type: string; status: string; reason?: string; message?: string; observedGeneration?: number };

/** Where a rollout stands, computed like `kubectl rollout status`. */
export function rolloutState(d: V1Deployment): { done: boolean; message: string; failed?: string } {
  const name = d.metadata?.name ?? 'deployment';
  const generation = d.metadata?.generation ?? 0;
  const st = d.status ?? {};
  if ((st.observedGeneration ?? 0) < generation) return { done: false, message: `waiting for ${name}'s new spec to be observed` };
  const progressing = (st.conditions ?? []).find((c) => c.type === 'Progressing');
  // The ReplicaSet could not create pods (admission refused them): `kubectl describe` shows it only as FailedCreate events.
  const replicaFailure = (st.conditions ?? []).find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const cannotCreate = replicaFailure ? `${replicaFailure.reason ?? 'FailedCreate'}: ${replicaFailure.message ?? ''}`.trim() : undefined;
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    const why = `ProgressDeadlineExceeded: ${progressing.message ?? ''}`.trim();
    return { done: false, message: 'progress deadline exceeded', failed: cannotCreate ? `${why}; ${cannotCreate}` : why };
  }
  // Pod Security admission refuses every pod of this template: waiting for the deadline cannot help.
  if (cannotCreate && /violates PodSecurity/.test(cannotCreate)) {
    return {
      done: false,
      message: 'pods refused by Pod Security',
      failed: `${cannotCreate} (the namespace enforces Pod Security "restricted": give the container a restricted securityContext, or mark it unrestricted with the reason)`,
    };
  }
  if (cannotCreate) return { done: false, message: `pods cannot be created: ${cannotCreate}` };
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
      ...(this.opts.loadBalancerTags ? { loadBalancerTags: this.opts.loadBalancerTags(ctx) } : {}),
      ...(region ? { region } : {}),
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
    // The service account first: the ReplicaSet cannot create pods that name a missing one.
    await this.call('apply ServiceAccount', cluster, kc, (c) =>
      c.makeApiClient(CoreV1Api).patchNamespacedServiceAccount({ name: nameOf(m.serviceAccount, app), namespace: ns, body: m.serviceAccount, ...apply }, APPLY),
    );
    const applied = await this.call('apply Deployment', cluster, kc, (c) =>
      c.makeApiClient(AppsV1Api).patchNamespacedDeployment({ name: app, namespace: ns, body: m.deployment, ...apply }, APPLY),
    );
    await this.call('apply Service', cluster, kc, (c) =>
      c.makeApiClient(CoreV1Api).patchNamespacedService({ name: nameOf(m.service, app), namespace: ns, body: m.service, ...apply }, APPLY),
    );
    await this.call('apply PodDisruptionBudget', cluster, kc, (c) =>
      c
        .makeApiClient(PolicyV1Api)
        .patchNamespacedPodDisruptionBudget({ name: nameOf(m.podDisruptionBudget, app), namespace: ns, body: m.podDisruptionBudget, ...apply }, APPLY),
    );
    ctx.progress(`applied namespace, service account, deployment, service and disruption budget of ${app} at ${version} on ${cluster}`, {
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
    // The version is always the annotation; the label only when the version can be one (else it is removed,
    // not left naming the previous version), and the label of older kubecontrol releases goes.
    const meta = {
      labels: { [LABEL_VERSION]: isLabelValue(version) ? version : null, [LEGACY_LABEL_VERSION]: null },
      annotations: { [ANNOTATION_VERSION]: version },
    };
    const patch = { metadata: meta, spec: { template: { metadata: meta, spec: { containers } } } };
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
   * cached token can outlive its welcome (clock skew, revoked session); a
   * busy API server's 429 is tried again after its Retry-After, a few times.
   * Failures are InfraErrors (an InfraError from `fn` is kept as it is).
   */
  private async call<T>(operation: string, cluster: string, kc: () => Promise<KubeConfig>, fn: (config: KubeConfig) => Promise<T>): Promise<T> {
    for (let attempt = 1, throttled = 0; ; attempt++) {
      const config = await kc();
      try {
        return await fn(config);
      } catch (err) {
        if (attempt === 1 && httpStatus(err) === 401 && this.opts.source.forget) {
          this.opts.source.forget(cluster);
          continue;
        }
        if (httpStatus(err) === 429 && ++throttled < THROTTLED_ATTEMPTS) {
          await sleep(retryAfterMs(err));
          continue;
        }
        throw isInfraError(err) ? err : kubeFailure(operation, err);
      }
    }
  }

  /** Pods of the version being rolled out that cannot run. */
  private async podProblems(kc: () => Promise<KubeConfig>, app: string, ns: string, ofRollout: (p: V1Pod) => boolean, minRestarts = 0): Promise<string[]> {
    const core = (await kc()).makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABEL_NAME}=${app}` });
    return brokenPods(pods.items.filter(ofRollout), minRestarts);
  }

  /**
   * Waits until the rollout of the Deployment's current template is healthy; its pods that cannot run
   * fail it at once. Its pods are those of `ctx.version` — and, for a restart (`restartedAt` given, null
   * for none), of that restartedAt: a restart keeps the version, so the pods it replaces (or, when a failed
   * restart is undone, the crashing pods of that restart, still there while their replacement comes up)
   * are not taken for its own.
   */
  private async waitForRollout(ctx: StepContext, kc: () => Promise<KubeConfig>, cluster: string, template: { restartedAt?: string | null } = {}): Promise<void> {
    const { app, version, signal } = ctx;
    const ofRollout = (p: V1Pod): boolean =>
      versionOf(p) === version && (template.restartedAt === undefined || (p.metadata?.annotations?.[RESTARTED_AT] ?? null) === template.restartedAt);
    const name = app;
    const ns = this.ns(cluster, app);
    const what = `rollout of ${name} ${version} on ${cluster}`;
    const unhealthy = `rollout of ${name} did not become healthy`;
    const local = new AbortController();
    const both = AbortSignal.any([signal, local.signal]);
    const podSuffix = async (): Promise<string> => {
      const problems = await this.podProblems(kc, app, ns, ofRollout).catch(() => []);
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
      // The version is an annotation (a version need not be a valid label value): pods of other versions are skipped here.
      query: { labelSelector: `${LABEL_NAME}=${app}` },
      // Ends with the rollout watch; a cancel is reported by the rollout watch (with the pods' state).
      signal: local.signal,
      what: `pods of ${name}`,
      rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
      onAbort: async () => '',
      check: (_type, obj) => {
        if (!ofRollout(obj as V1Pod)) return undefined;
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
    const rewatchDelayMs = this.opts.rewatchDelayMs ?? 1000;
    // What the load-balancing controller reports when it cannot make the load balancer (subnets not
    // tagged for load balancers, a refused annotation): said as it happens, and in the error.
    const warnings: string[] = [];
    const local = new AbortController();
    const events = watchUntil<never>({
      kubeConfig: kc,
      path: `/api/v1/namespaces/${ns}/events`,
      query: { fieldSelector: `involvedObject.kind=Service,involvedObject.name=${app},type=Warning` },
      signal: local.signal,
      what: `events of service ${app}`,
      rewatchDelayMs,
      onAbort: async () => '',
      check: (type, obj) => {
        const e = obj as CoreV1Event;
        const text = `${e.reason ?? 'Warning'}: ${e.message ?? ''}`.trim();
        if (type !== 'DELETED' && !warnings.includes(text)) {
          warnings.push(text);
          ctx.progress(`load balancer of service ${app}: ${text}`, { warning: text });
        }
        return undefined;
      },
    });
    events.catch(() => undefined);
    let endpoint: string;
    try {
      endpoint = await watchUntil<string>({
        kubeConfig: kc,
        path: `/api/v1/namespaces/${ns}/services`,
        query: { fieldSelector: `metadata.name=${app}` },
        signal,
        what: `load balancer of service ${app}`,
        rewatchDelayMs,
        onAbort: async () =>
          warnings.length
            ? `; the load-balancing controller reported: ${warnings.slice(-3).join('; ')}`
            : '; no load-balancing controller reported anything about it (the cluster needs EKS Auto Mode with load balancing enabled, and the Service the class eks.amazonaws.com/nlb)',
        check: (_type, obj) => {
          const ingress = (obj as V1Service).status?.loadBalancer?.ingress?.[0];
          return ingress?.hostname || ingress?.ip || undefined;
        },
      });
    } finally {
      local.abort('load balancer wait over');
    }
    ctx.progress(`service ${app} is reachable at ${endpoint}`, { endpoint });
    return endpoint;
  }

  /**
   * Applies the app's Karpenter NodePool (EKS Auto Mode: nodes of the app's
   * instance types, capacity type and architecture, up to its limits) and
   * waits until it reports Ready. One of another installation (or unlabelled)
   * is refused (`not_owned`) and left as it is; a cluster without NodePools
   * (not Auto Mode) is `misconfigured`; one that is not Ready within
   * `nodePoolReadyTimeoutMs` is `timed_out`, naming its conditions.
   */
  async applyNodePool(cmd: {
    cluster: ClusterRef;
    capacity: Extract<Capacity, { kind: 'auto' }>;
    app: string;
    progress: Progress;
    signal?: AbortSignal;
  }): Promise<void> {
    const { cluster: ref, capacity, app, progress, signal } = cmd;
    const cluster = ref.name;
    const kc = this.kc(ref, signal);
    const body = renderNodePool({ capacity, app, installation: this.installationId });
    const name = body.metadata?.name ?? `kubecontrol-${app}`;
    const what = `NodePool ${name} on ${cluster}`;
    const notAutoMode = (err: unknown): InfraError =>
      new InfraError('misconfigured', `${what}: the cluster has no karpenter.sh/v1 NodePools (it is not an EKS Auto Mode cluster with compute enabled)`, { cause: err });
    const existing = await this.call(`read ${what}`, cluster, kc, async (c) => {
      try {
        return (await c.makeApiClient(CustomObjectsApi).getClusterCustomObject({ ...NODEPOOLS, name })) as KubernetesObject;
      } catch (err) {
        // Not there yet, or no such resource at all: the apply tells which.
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    if (existing) assertOwned(existing, this.opts.installation, what, 'not changing it');
    const applied = (await this.call(`apply ${what}`, cluster, kc, async (c) => {
      try {
        return await c.makeApiClient(CustomObjectsApi).patchClusterCustomObject({ ...NODEPOOLS, name, body, fieldManager: MANAGER, force: true }, APPLY);
      } catch (err) {
        // A server-side apply creates what is missing: a 404 means the resource itself does not exist.
        if (isNotFound(err)) throw notAutoMode(err);
        throw err;
      }
    })) as KubernetesObject;
    const generation = applied.metadata?.generation;
    progress(`applied ${what}: ${capacity.instanceTypes.join(', ')} (${capacity.spot ? 'spot' : 'on-demand'}, ${capacity.arch}), at most ${capacity.maxNodes} nodes`, {
      cluster,
      nodePool: name,
    });
    await this.waitNodePoolReady({ kc, cluster, name, what, generation, progress, signal });
  }

  /**
   * Waits until the NodePool `name` reports Ready for `generation` (conditions of an older one say
   * nothing of what was just applied); refused by Karpenter's validation: `provider_failed`; not
   * Ready within `nodePoolReadyTimeoutMs`: `timed_out`, naming its conditions.
   */
  private async waitNodePoolReady(cmd: {
    kc: () => Promise<KubeConfig>;
    cluster: string;
    name: string;
    what: string;
    generation: number | undefined;
    progress: Progress;
    signal?: AbortSignal;
  }): Promise<void> {
    const { kc, cluster, name, what, generation, progress, signal } = cmd;
    const limitMs = this.opts.nodePoolReadyTimeoutMs ?? 300_000;
    const limit = AbortSignal.timeout(limitMs);
    let last: Condition[] = [];
    const summary = (): string =>
      last.length ? last.map((c) => `${c.type}=${c.status}${c.reason || c.message ? ` (${[c.reason, c.message].filter(Boolean).join(': ')})` : ''}`).join('; ') : 'no conditions reported';
    try {
      await watchUntil<true>({
        kubeConfig: kc,
        path: `/apis/${NODEPOOLS.group}/${NODEPOOLS.version}/${NODEPOOLS.plural}`,
        query: { fieldSelector: `metadata.name=${name}` },
        signal: signal ? AbortSignal.any([signal, limit]) : limit,
        what: `readiness of ${what}`,
        rewatchDelayMs: this.opts.rewatchDelayMs ?? 1000,
        onAbort: async () => `; ${summary()}`,
        check: (type, obj) => {
          if (type === 'DELETED') throw new InfraError('not_found', `${what} was deleted while kubecontrol waited for it to be Ready`);
          const conditions = ((obj as { status?: { conditions?: Condition[] } }).status?.conditions ?? []).filter((c) => typeof c?.type === 'string');
          // Conditions of an older generation say nothing about what was just applied.
          const current = conditions.filter((c) => c.observedGeneration === undefined || generation === undefined || c.observedGeneration >= generation);
          last = current;
          const validation = current.find((c) => c.type === 'ValidationSucceeded');
          if (validation?.status === 'False') {
            throw new InfraError('provider_failed', `${what} was refused by Karpenter: ${validation.reason ?? ''}${validation.message ? `: ${validation.message}` : ''}`);
          }
          return current.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
        },
      });
    } catch (err) {
      if (limit.aborted && !signal?.aborted) {
        throw new InfraError('timed_out', `${what} did not become Ready within ${Math.round(limitMs / 1000)} s: ${summary()}`, { cause: err });
      }
      throw err;
    }
    progress(`${what} is Ready`, { cluster, nodePool: name });
  }

  /**
   * Changes the limits of the app's NodePool on a running cluster in place (a JSON merge patch of
   * `spec.limits`: custom resources take no strategic merge) to `capacity.maxNodes` nodes and as many
   * times the vCPUs of its largest type, then waits until it is Ready again. A NodePool that is
   * missing is `not_found`; one of another installation (or unlabelled) is refused (`not_owned`).
   */
  async resizeNodePool(cmd: { cluster: ClusterRef; capacity: Extract<Capacity, { kind: 'auto' }>; app: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { cluster: ref, capacity, app, progress, signal } = cmd;
    const cluster = ref.name;
    const kc = this.kc(ref, signal);
    const name = nodePoolName(app);
    const what = `NodePool ${name} on ${cluster}`;
    const existing = await this.call(`read ${what}`, cluster, kc, async (c) => {
      try {
        return (await c.makeApiClient(CustomObjectsApi).getClusterCustomObject({ ...NODEPOOLS, name })) as KubernetesObject & { spec?: { limits?: Record<string, string> } };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    if (!existing) throw new InfraError('not_found', `${what} does not exist: nothing to resize (deploy ${app} first)`);
    assertOwned(existing, this.opts.installation, what, 'not changing it');
    const limits = (renderNodePool({ capacity, app, installation: this.installationId }).spec as { limits: Record<string, string> }).limits;
    const before = existing.spec?.limits ?? {};
    const patched = (await this.call(`patch ${what} limits`, cluster, kc, (c) =>
      c.makeApiClient(CustomObjectsApi).patchClusterCustomObject({ ...NODEPOOLS, name, body: { spec: { limits } }, fieldManager: MANAGER }, MERGE),
    )) as KubernetesObject;
    progress(`${what}: limits nodes ${before.nodes ?? '-'} → ${limits.nodes}, cpu ${before.cpu ?? '-'} → ${limits.cpu}`, { cluster, nodePool: name, limits });
    await this.waitNodePoolReady({ kc, cluster, name, what, generation: patched.metadata?.generation, progress, signal });
  }

  /** The app's Deployment on `cluster`: its replicas and its pod template's restartedAt; undefined when it does not exist. */
  async current(cmd: { cluster: ClusterRef; app: string; signal?: AbortSignal }): Promise<WorkloadState | undefined> {
    const { cluster: ref, app, signal } = cmd;
    const kc = this.kc(ref, signal);
    const ns = this.ns(ref.name, app);
    const d = await this.call('read Deployment', ref.name, kc, async (c) => {
      try {
        return await c.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: app, namespace: ns });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    if (!d) return undefined;
    return { replicas: d.spec?.replicas ?? 1, restartedAt: d.spec?.template?.metadata?.annotations?.[RESTARTED_AT] ?? null };
  }

  /** The app's namespace on `cluster`, checked to be this installation's before anything in it is changed. */
  private async ownedNamespace(kc: () => Promise<KubeConfig>, cluster: string, app: string, doing: string): Promise<string> {
    const ns = this.ns(cluster, app);
    const existing = await this.call('read Namespace', cluster, kc, (c) => readNamespace(c.makeApiClient(CoreV1Api), ns));
    if (!existing) throw new InfraError('not_found', `namespace ${ns} does not exist on ${cluster}: nothing to ${doing} (deploy ${app} first)`);
    assertOwned(existing, this.opts.installation, `namespace ${ns}`, 'not changing it');
    return ns;
  }

  /**
   * Sets the replicas of the app's Deployment through its `scale` subresource (a JSON merge patch
   * of `spec.replicas`, as `kubectl scale` does), then waits with the same watch as a rollout until
   * that many are updated and available.
   */
  async scale({ ctx, cluster: ref, replicas }: { ctx: StepContext; cluster: ClusterRef; replicas: number }): Promise<{ endpoint: string }> {
    const { app } = ctx;
    const cluster = ref.name;
    const kc = this.kc(ref, ctx.signal);
    const ns = await this.ownedNamespace(kc, cluster, app, 'scale');
    const scaled = await this.call('patch Deployment scale', cluster, kc, (c) =>
      c.makeApiClient(AppsV1Api).patchNamespacedDeploymentScale({ name: app, namespace: ns, body: { spec: { replicas } }, fieldManager: MANAGER }, MERGE),
    );
    ctx.progress(`scaled deployment ${app} on ${cluster} to ${scaled.spec?.replicas ?? replicas} replicas`, { cluster, replicas });
    await this.waitForRollout(ctx, kc, cluster);
    return { endpoint: await this.endpoint(ctx, kc, cluster) };
  }

  /**
   * A rolling restart as `kubectl rollout restart` makes one: the pod template's
   * `kubectl.kubernetes.io/restartedAt` set to `restartedAt` by a strategic merge patch (null
   * removes it: the template as it was), then the rollout waited for like a rolling update's.
   */
  async restart({ ctx, cluster: ref, restartedAt }: { ctx: StepContext; cluster: ClusterRef; restartedAt: string | null }): Promise<{ endpoint: string }> {
    const { app } = ctx;
    const cluster = ref.name;
    const kc = this.kc(ref, ctx.signal);
    const ns = await this.ownedNamespace(kc, cluster, app, 'restart');
    const patch = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: restartedAt } } } } };
    await this.call('patch Deployment restartedAt', cluster, kc, (c) =>
      c.makeApiClient(AppsV1Api).patchNamespacedDeployment({ name: app, namespace: ns, body: patch, fieldManager: MANAGER }, STRATEGIC),
    );
    ctx.progress(
      restartedAt ? `restarting the pods of ${app} on ${cluster} (${RESTARTED_AT}=${restartedAt})` : `putting the pod template of ${app} on ${cluster} back as it was (no ${RESTARTED_AT})`,
      { cluster, restartedAt },
    );
    await this.waitForRollout(ctx, kc, cluster, { restartedAt });
    return { endpoint: await this.endpoint(ctx, kc, cluster) };
  }

  /**
   * Configures Fargate's built-in log router on a cluster: the namespace
   * `aws-observability` (labelled `aws-observability: enabled`) and its
   * ConfigMap `aws-logging`, sending the containers' logs to CloudWatch Logs
   * (`/kubecontrol/<app>` in `region`), both applied server-side as
   * kubecontrol's. Pods read it when they start: applied before the app's.
   * A namespace or ConfigMap of another installation (or unlabelled) is
   * refused (`not_owned`) and left as it is. Nothing goes in the ledger: both
   * go with their cluster.
   */
  async applyFargateLogging(cmd: { cluster: ClusterRef; app: string; region: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { cluster: ref, app, region, progress, signal } = cmd;
    const cluster = ref.name;
    const kc = this.kc(ref, signal);
    const m = renderFargateLogging({ app, region, installation: this.installationId });
    const what = `ConfigMap ${FARGATE_LOGGING_NAMESPACE}/${FARGATE_LOGGING_CONFIGMAP} on ${cluster}`;
    await this.call(`claim Namespace ${FARGATE_LOGGING_NAMESPACE}`, cluster, kc, (c) =>
      claimNamespace({ core: c.makeApiClient(CoreV1Api), body: m.namespace, installation: this.opts.installation, fieldManager: MANAGER }),
    );
    const existing = await this.call(`read ${what}`, cluster, kc, async (c) => {
      try {
        return await c.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: FARGATE_LOGGING_CONFIGMAP, namespace: FARGATE_LOGGING_NAMESPACE });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    if (existing) assertOwned(existing, this.opts.installation, what, 'not changing it');
    await this.call(`apply ${what}`, cluster, kc, (c) =>
      c
        .makeApiClient(CoreV1Api)
        .patchNamespacedConfigMap({ name: FARGATE_LOGGING_CONFIGMAP, namespace: FARGATE_LOGGING_NAMESPACE, body: m.configMap, fieldManager: MANAGER, force: true }, APPLY),
    );
    progress(`Fargate log router of ${cluster}: container logs to CloudWatch Logs ${fargateLogGroup(app)} in ${region}`, { cluster, logGroup: fargateLogGroup(app) });
  }

  /**
   * GET `path` of a Service through the cluster API server's service proxy
   * (`/api/v1/namespaces/<ns>/services/<name>:<port>/proxy<path>`): reaches
   * the pods from outside the VPC, e.g. behind an internal load balancer. The
   * pods speak plain HTTP on their target port whatever the load balancer
   * does (TLS ends there). Answers the HTTP status (and the API server's
   * message, e.g. "no endpoints available", when it answered itself);
   * rejects only when the API server cannot be reached.
   */
  async proxyGet(cmd: { cluster: ClusterRef; namespace: string; service: string; port: number; path: string; signal?: AbortSignal }): Promise<{ status: number; detail?: string }> {
    const { cluster: ref, namespace, service, port, signal } = cmd;
    const path = cmd.path.startsWith('/') ? cmd.path : `/${cmd.path}`;
    const apiPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service)}:${port}/proxy${path}`;
    for (let attempt = 1; ; attempt++) {
      const kc = await this.opts.source.kubeConfigFor(ref.name, { region: ref.placement?.region, signal });
      let res: { status: number; body: string };
      try {
        res = await apiGet(kc, apiPath, signal);
      } catch (err) {
        const code = signal?.aborted ? 'aborted' : 'provider_failed';
        throw new InfraError(code, `GET ${path} of service ${namespace}/${service}:${port} through the API server of ${ref.name} failed: ${errorMessage(err)}`, { cause: err });
      }
      const status = statusOf(res.body);
      // The API server refused the credentials (not the app answering 401): fetch them again once.
      if (res.status === 401 && status?.reason === 'Unauthorized' && attempt === 1 && this.opts.source.forget) {
        this.opts.source.forget(ref.name);
        continue;
      }
      return { status: res.status, ...(status?.message ? { detail: status.message } : {}) };
    }
  }

  /**
   * Deletes the app's namespace on `cluster` and waits until it is gone: first
   * its LoadBalancer Services, waiting until the load-balancing controller
   * has removed their load balancers (the Services' finalizer), then the
   * namespace. Used at teardown before the cluster goes. Anything still there
   * after its timeout fails teardown (`timed_out`, naming what is stuck):
   * deleting the cluster around it would orphan the load balancer, its target
   * group, security group and network interfaces. A namespace of another
   * installation is refused (`not_owned`) and left alone.
   */
  async deleteNamespace({ cluster: ref, namespace: ns, progress, signal }: { cluster: ClusterRef; namespace: string; progress: Progress; signal: AbortSignal }): Promise<void> {
    const cluster = ref.name;
    const kc = this.kc(ref, signal);
    const existing = await this.call('read Namespace', cluster, kc, (c) => readNamespace(c.makeApiClient(CoreV1Api), ns));
    if (!existing) return progress(`namespace ${ns} is already gone`);
    assertOwned(existing, this.opts.installation, `namespace ${ns}`, 'not deleting it');
    const rewatchDelayMs = this.opts.rewatchDelayMs ?? 1000;
    await this.call('delete LoadBalancer Services', cluster, kc, () =>
      deleteLoadBalancerServices({
        kubeConfig: kc,
        namespace: ns,
        cluster,
        limitMs: this.opts.serviceDeleteTimeoutMs ?? 600_000,
        rewatchDelayMs,
        signal,
        progress: (m) => progress(m),
      }),
    );
    const limitMs = this.opts.namespaceDeleteTimeoutMs ?? 600_000;
    const outcome = await deleteNamespaceAndWait({
      kubeConfig: kc,
      name: ns,
      installation: this.opts.installation,
      limitMs,
      rewatchDelayMs,
      signal,
      onDeleting: () => progress(`deleting namespace ${ns} on ${cluster}`),
    });
    if (outcome === 'already-gone') return progress(`namespace ${ns} is already gone`);
    if (outcome === 'stuck') {
      // What the namespace controller says holds it (finalizers or content remaining).
      const now = await readNamespace((await kc()).makeApiClient(CoreV1Api), ns).catch(() => undefined);
      const held = (now?.status?.conditions ?? [])
        .filter((c) => c.status === 'True' && c.message)
        .map((c) => c.message)
        .join('; ');
      throw new InfraError(
        'timed_out',
        `namespace ${ns} on ${cluster} is still Terminating after ${Math.round(limitMs / 1000)} s${held ? ` (${held})` : ''}; ` +
          'not going on: deleting the cluster around it could leave what it holds (load balancers, volumes) behind',
      );
    }
    progress(`namespace ${ns} deleted`);
  }
}

/** An object's name, or `fallback` (the manifests always name them; the type says they may not). */
function nameOf(obj: KubernetesObject, fallback: string): string {
  return obj.metadata?.name ?? fallback;
}

/** The reason and message of a Kubernetes Status body, if the body is one (the API server answered, not the app). */
function statusOf(body: string): { reason?: string; message?: string } | undefined {
  try {
    const s = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (s.kind !== 'Status') return undefined;
    return { ...(typeof s.reason === 'string' ? { reason: s.reason } : {}), ...(typeof s.message === 'string' ? { message: s.message } : {}) };
  } catch {
    return undefined;
  }
}

