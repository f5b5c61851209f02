/**
 * Namespaces kubecontrol owns: claiming one (create, or adopt one of this
 * installation's on a resumed step) and deleting one (only one of this
 * installation's, waiting by watch until it is gone), and before that its
 * LoadBalancer Services (waiting until their load balancers are gone). Shared by KubeWorkloads
 * (the app namespace on an EKS cluster) and the local provider (a namespace
 * per deploy).
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Namespace, type V1Service } from '@kubernetes/client-node';
import { InfraError } from '../errors.js';
import type { Installation } from '../ports.js';
import { isConflict, isNotFound, kubeFailure } from './api-errors.js';
import { assertOwned } from './installation.js';
import { watchUntil } from './watch.js';

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** How often a claim or delete starts over when the namespace changed under it (409) before it gives up. */
const ROUNDS = 3;

/** The namespace `name`, or undefined when there is none. */
export async function readNamespace(core: CoreV1Api, name: string): Promise<V1Namespace | undefined> {
  try {
    return await core.readNamespace({ name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw kubeFailure(`read Namespace ${name}`, err);
  }
}

/** Whether the namespace is being deleted (nothing new can be created in it). */
export const isTerminating = (ns: V1Namespace): boolean => ns.status?.phase === 'Terminating' || !!ns.metadata?.deletionTimestamp;

/** What `claimNamespace` needs. */
export interface ClaimNamespace {
  readonly core: CoreV1Api;
  /** The namespace as it should be; its labels must include this installation's. */
  readonly body: V1Namespace;
  readonly installation: Installation;
  readonly fieldManager: string;
  /**
   * Called once the namespace is known to be absent or this installation's,
   * before anything is written: where the ledger's intent goes, so that a
   * row never names a namespace that is not ours.
   */
  readonly beforeWrite?: () => void;
}

/**
 * Creates the namespace, or adopts it when it is this installation's (a
 * resumed step). Another installation's or an unlabelled one is refused
 * (`not_owned`) and left untouched, as is one still Terminating. A create
 * that loses a race (409) looks again, with the same checks.
 */
export async function claimNamespace(opts: ClaimNamespace): Promise<{ namespace: V1Namespace; adopted: boolean }> {
  const { core, body, installation } = opts;
  const name = body.metadata?.name ?? '';
  let wrote = false;
  const beforeWrite = (): void => {
    if (!wrote) opts.beforeWrite?.();
    wrote = true;
  };
  for (let round = 1; ; round++) {
    const existing = await readNamespace(core, name);
    if (!existing) {
      beforeWrite();
      try {
        return { namespace: await core.createNamespace({ body, fieldManager: opts.fieldManager }), adopted: false };
      } catch (err) {
        // Created by someone else between the read and the create: look at it again.
        if (isConflict(err) && round < ROUNDS) continue;
        throw kubeFailure(`create Namespace ${name}`, err);
      }
    }
    assertOwned(existing, installation, `namespace ${name}`, 'not adopting it');
    if (isTerminating(existing)) {
      throw new InfraError('provider_failed', `namespace ${name} is still being deleted (Terminating); deploy again once it is gone`);
    }
    beforeWrite();
    // The resourceVersion makes the apply conditional: a namespace replaced since the check is not taken over.
    const applied = { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } };
    try {
      return { namespace: await core.patchNamespace({ name, body: applied, fieldManager: opts.fieldManager, force: true }, APPLY), adopted: true };
    } catch (err) {
      if ((isConflict(err) || isNotFound(err)) && round < ROUNDS) continue;
      throw kubeFailure(`apply Namespace ${name}`, err);
    }
  }
}

/** What `deleteNamespaceAndWait` needs. */
export interface DeleteNamespace {
  readonly kubeConfig: () => Promise<KubeConfig>;
  readonly name: string;
  readonly installation: Installation;
  /** How long to wait for the namespace to be gone before answering 'stuck', ms. */
  readonly limitMs: number;
  readonly rewatchDelayMs: number;
  readonly signal?: AbortSignal;
  /** Called once the namespace is being deleted (by this call or already). */
  readonly onDeleting: () => void;
}

/**
 * Deletes a namespace of this installation and waits, by watch, until it is
 * gone. One that is not there counts as gone; another installation's (or an
 * unlabelled one) is refused with `not_owned` and left alone. 'stuck' when it
 * is still Terminating after `limitMs` (a finalizer nobody removes): the
 * caller decides whether that fails.
 */
export async function deleteNamespaceAndWait(opts: DeleteNamespace): Promise<'already-gone' | 'deleted' | 'stuck'> {
  const { name } = opts;
  const core = (await opts.kubeConfig()).makeApiClient(CoreV1Api);
  for (let round = 1; ; round++) {
    const existing = await readNamespace(core, name);
    if (!existing) return 'already-gone';
    assertOwned(existing, opts.installation, `namespace ${name}`, 'not deleting it');
    if (!isTerminating(existing)) {
      try {
        // The uid precondition: a namespace of the same name created since the check is not deleted.
        await core.deleteNamespace({ name, body: { preconditions: { uid: existing.metadata?.uid } } });
      } catch (err) {
        if (isNotFound(err)) return 'already-gone';
        // Replaced meanwhile, or its deletion started meanwhile: look again.
        if (isConflict(err) && round < ROUNDS) continue;
        throw kubeFailure(`delete Namespace ${name}`, err);
      }
    }
    break;
  }
  opts.onDeleting();
  // Watch from the version read after the delete, so that a DELETED event in between is not missed.
  const after = await readNamespace(core, name);
  if (!after) return 'deleted';
  const gone = await waitUntilGone({
    kubeConfig: opts.kubeConfig,
    collection: '/api/v1/namespaces',
    name,
    resourceVersion: after.metadata?.resourceVersion,
    read: () => readNamespace(core, name),
    limitMs: opts.limitMs,
    rewatchDelayMs: opts.rewatchDelayMs,
    signal: opts.signal,
    what: `deletion of namespace ${name}`,
  });
  return gone ? 'deleted' : 'stuck';
}

/**
 * Waits by watch until the object `name` of `collection` is DELETED; false
 * when it is still there after `limitMs`. A cancel (`signal`) rejects. Each
 * time the watch is opened again the object is read first: gone is gone, and
 * the next watch starts from its current resourceVersion (an old one may have
 * been compacted away: 410 Gone, and a DELETED event never seen).
 */
async function waitUntilGone(opts: {
  kubeConfig: () => Promise<KubeConfig>;
  collection: string;
  name: string;
  resourceVersion: string | undefined;
  /** Reads the object again: undefined when it is gone. */
  read: () => Promise<{ metadata?: { resourceVersion?: string } } | undefined>;
  limitMs: number;
  rewatchDelayMs: number;
  signal: AbortSignal | undefined;
  what: string;
}): Promise<boolean> {
  const limit = AbortSignal.timeout(opts.limitMs);
  const query = (rv: string | undefined): Record<string, string> => ({ fieldSelector: `metadata.name=${opts.name}`, ...(rv ? { resourceVersion: rv } : {}) });
  try {
    await watchUntil<true>({
      kubeConfig: opts.kubeConfig,
      path: opts.collection,
      query: query(opts.resourceVersion),
      signal: opts.signal ? AbortSignal.any([opts.signal, limit]) : limit,
      what: opts.what,
      rewatchDelayMs: opts.rewatchDelayMs,
      onAbort: async () => '',
      check: (type) => (type === 'DELETED' ? true : undefined),
      refresh: async () => {
        const now = await opts.read();
        return now ? { query: query(now.metadata?.resourceVersion) } : { answer: true };
      },
    });
  } catch (err) {
    if (opts.signal?.aborted || !limit.aborted) throw err;
    return false;
  }
  return true;
}

/** What `deleteLoadBalancerServices` needs. */
export interface DeleteLoadBalancerServices {
  readonly kubeConfig: () => Promise<KubeConfig>;
  readonly namespace: string;
  /** Named in messages. */
  readonly cluster: string;
  /** How long to wait for the Services (and so their load balancers) to be gone, ms. */
  readonly limitMs: number;
  readonly rewatchDelayMs: number;
  readonly signal?: AbortSignal;
  readonly progress: (message: string) => void;
}

/** Whether a Service holds (or may still hold) a cloud load balancer: its type, or a controller's finalizer left on it. */
const holdsLoadBalancer = (s: V1Service): boolean => s.spec?.type === 'LoadBalancer' || (s.metadata?.finalizers?.length ?? 0) > 0;

/**
 * Deletes every LoadBalancer Service of `namespace` and waits, by watch,
 * until each is gone. A load-balancing controller (EKS Auto Mode's) keeps a
 * finalizer on such a Service until it has deleted the load balancer, its
 * target group and security group: a Service gone means they are gone. The
 * caller checks the namespace is this installation's first. One still there
 * after `limitMs` is a `timed_out` error naming it and what holds it:
 * deleting the cluster around it would orphan the load balancer.
 */
export async function deleteLoadBalancerServices(opts: DeleteLoadBalancerServices): Promise<number> {
  const { namespace: ns, cluster } = opts;
  const core = (await opts.kubeConfig()).makeApiClient(CoreV1Api);
  let services: V1Service[];
  try {
    services = (await core.listNamespacedService({ namespace: ns })).items.filter(holdsLoadBalancer);
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw kubeFailure(`list Services in ${ns}`, err);
  }
  const limit = Date.now() + opts.limitMs;
  const stuck: string[] = [];
  await Promise.all(
    services.map(async (svc) => {
      const name = svc.metadata?.name ?? '';
      const address = svc.status?.loadBalancer?.ingress?.[0]?.hostname ?? svc.status?.loadBalancer?.ingress?.[0]?.ip;
      if (!svc.metadata?.deletionTimestamp) {
        try {
          await core.deleteNamespacedService({ name, namespace: ns, body: { preconditions: { uid: svc.metadata?.uid } } });
        } catch (err) {
          if (isNotFound(err)) return;
          // Replaced since the list: a new Service of that name is not deleted unseen; the namespace's deletion takes it.
          if (!isConflict(err)) throw kubeFailure(`delete Service ${ns}/${name}`, err);
        }
      }
      opts.progress(`deleting service ${ns}/${name} and its load balancer${address ? ` ${address}` : ''} on ${cluster}`);
      let after: V1Service | undefined;
      try {
        after = await core.readNamespacedService({ name, namespace: ns });
      } catch (err) {
        if (isNotFound(err)) return;
        throw kubeFailure(`read Service ${ns}/${name}`, err);
      }
      const gone = await waitUntilGone({
        kubeConfig: opts.kubeConfig,
        collection: `/api/v1/namespaces/${ns}/services`,
        name,
        resourceVersion: after.metadata?.resourceVersion,
        read: async () => {
          try {
            return await core.readNamespacedService({ name, namespace: ns });
          } catch (err) {
            if (isNotFound(err)) return undefined;
            throw kubeFailure(`read Service ${ns}/${name}`, err);
          }
        },
        limitMs: Math.max(0, limit - Date.now()),
        rewatchDelayMs: opts.rewatchDelayMs,
        signal: opts.signal,
        what: `deletion of service ${ns}/${name}`,
      });
      if (!gone) {
        const finalizers = after.metadata?.finalizers ?? [];
        stuck.push(`service ${ns}/${name}${address ? ` (load balancer ${address})` : ''}${finalizers.length ? ` held by finalizer ${finalizers.join(', ')}` : ''}`);
      } else opts.progress(`service ${ns}/${name} and its load balancer are gone`);
    }),
  );
  if (stuck.length) {
    throw new InfraError(
      'timed_out',
      `${stuck.join('; ')} still being deleted on ${cluster} after ${Math.round(opts.limitMs / 1000)} s: its load-balancing controller has not removed the load balancer; ` +
        'not deleting the namespace or the cluster around it (that would leave the load balancer, its target group and security group behind)',
    );
  }
  return services.length;
}
