/**
 * The installation's identity on Kubernetes objects: the label
 * `kubecontrol/installation=<id>`. Everything kubecontrol creates carries it,
 * and nothing that lacks it (or carries another id) is adopted, changed or
 * deleted: two kubecontrol databases pointed at one cluster must not take
 * over each other's namespaces just because deploy ids repeat.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { InfraError } from '../errors.js';
import type { Installation } from '../ports.js';

/** The label that names the installation an object belongs to. */
export const LABEL_INSTALLATION = 'kubecontrol/installation';

/** A Kubernetes label value: at most 63 characters, alphanumeric at both ends, `-_.` inside. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Checks that the installation id can be a label value (the API server refuses
 * the whole object otherwise, at the first deploy: better to say so at start).
 */
export function installationLabel(installation: Installation): string {
  const id = installation.id;
  if (!id || id.length > 63 || !LABEL_VALUE.test(id)) {
    throw new InfraError(
      'misconfigured',
      `the installation id must be usable as a Kubernetes label value (1-63 characters, letters, digits, '-', '_' or '.', alphanumeric at both ends); got: ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/** Whose an object is: ours, another installation's, or nobody's (no label). */
export function ownerOf(obj: KubernetesObject, installation: Installation): { mine: true } | { mine: false; owner: string | undefined } {
  const owner = obj.metadata?.labels?.[LABEL_INSTALLATION];
  return owner === installation.id ? { mine: true } : { mine: false, owner };
}

/**
 * Throws `not_owned` unless `obj` carries this installation's label. `what`
 * names it ("namespace search-svc-1"); `refusing` says what is not done
 * ("not adopting it", "not deleting it").
 */
export function assertOwned(obj: KubernetesObject, installation: Installation, what: string, refusing: string): void {
  const o = ownerOf(obj, installation);
  if (o.mine) return;
  if (o.owner !== undefined) {
    throw new InfraError('not_owned', `${what} exists but belongs to another kubecontrol installation (${o.owner}); ${refusing}`);
  }
  // Objects from before installations were labelled land here too: say how to claim one on purpose.
  throw new InfraError(
    'not_owned',
    `${what} exists but carries no ${LABEL_INSTALLATION} label (not created by this kubecontrol installation); ${refusing} ` +
      `(if it is this installation's, label it ${LABEL_INSTALLATION}=${installation.id})`,
  );
}
