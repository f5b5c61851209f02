/**
 * Namespaces kubecontrol owns: claiming one (create, or adopt one of this
 * installation's on a resumed step) and deleting one (only one of this
 * installation's, waiting by watch until it is gone). Shared by KubeWorkloads
 * (the app namespace on an EKS cluster) and the local provider (a namespace
 * per deploy).
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
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
  const resourceVersion = after.metadata?.resourceVersion;
  const limit = AbortSignal.timeout(opts.limitMs);
  try {
    await watchUntil<true>({
      kubeConfig: opts.kubeConfig,
      path: '/api/v1/namespaces',
      query: { fieldSelector: `metadata.name=${name}`, ...(resourceVersion ? { resourceVersion } : {}) },
      signal: opts.signal ? AbortSignal.any([opts.signal, limit]) : limit,
      what: `deletion of namespace ${name}`,
      rewatchDelayMs: opts.rewatchDelayMs,
      onAbort: async () => '',
      check: (type) => (type === 'DELETED' ? true : undefined),
    });
  } catch (err) {
    if (opts.signal?.aborted || !limit.aborted) throw err;
    return 'stuck';
  }
  return 'deleted';
}
