/**
 * Strategies are ordered lists of phases. A phase names the states a deploy is
 * in while it runs and the steps it runs in parallel; the driver walks the list
 * from the deploy's current state. An `await` phase runs no step: the deploy
 * waits there (for an approver) with its global slot given back.
 */
import type { DeployKind, DeployState } from '../../store/index.js';
import { build } from '../steps/build.js';
import { cutover } from '../steps/cutover.js';
import { deploy } from '../steps/deploy.js';
import { provision } from '../steps/provision.js';
import { restart } from '../steps/restart.js';
import { scale } from '../steps/scale.js';
import type { Step } from '../steps/step.js';
import { teardown } from '../steps/teardown.js';
import { updateImages } from '../steps/update-images.js';

export interface Phase {
  /** The states of the deploy while this phase runs; the first is the one it enters. */
  readonly states: readonly DeployState[];
  /** Run in parallel; the phase succeeds when all do. */
  readonly steps: readonly Step[];
  /** A phase that waits for a decision instead of running steps. */
  readonly await?: 'approval';
  /**
   * A failed step is recorded and the deploy still goes on: after traffic moved,
   * failing the deploy would undo it and delete the live cluster.
   */
  readonly tolerateFailure?: boolean;
}

export interface Strategy {
  readonly name: 'blue-green' | 'rolling';
  readonly phases: readonly Phase[];
}

/** The two strategies. */
export const STRATEGIES: Readonly<Record<Strategy['name'], Strategy>> = {
  // New environment: build ∥ provision → deploy → approval → cutover → teardown of the old one.
  'blue-green': {
    name: 'blue-green',
    phases: [
      { states: ['building', 'provisioning'], steps: [build, provision] },
      { states: ['deploying'], steps: [deploy] },
      { states: ['awaiting_approval'], steps: [], await: 'approval' },
      { states: ['cutting_over'], steps: [cutover] },
      { states: ['tearing_down'], steps: [teardown], tolerateFailure: true },
    ],
  },
  // Inside the live environment: build → new images.
  rolling: {
    name: 'rolling',
    phases: [
      { states: ['building', 'provisioning'], steps: [build] },
      { states: ['deploying'], steps: [updateImages] },
    ],
  },
};

/**
 * In-place operations of the live environment: no build, no new cluster, no approval. They
 * hold their app's place in line like any deploy (one change per app at a time) and undo
 * themselves on a failure. An `upgrade` is not one of them: it is a blue/green deploy.
 */
export const OPERATIONS: Readonly<Record<'scale' | 'restart', { readonly phases: readonly Phase[] }>> = {
  scale: { phases: [{ states: ['deploying'], steps: [scale] }] },
  restart: { phases: [{ states: ['deploying'], steps: [restart] }] },
};

/** The phases a deploy walks: its operation's, else its strategy's. */
export function phasesOf(d: { readonly strategy: Strategy['name']; readonly kind: DeployKind }): readonly Phase[] {
  return d.kind === 'scale' || d.kind === 'restart' ? OPERATIONS[d.kind].phases : STRATEGIES[d.strategy].phases;
}
