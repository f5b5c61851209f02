/**
 * The deploy lifecycle: every state and the states it may move to. This table
 * is the one place the lifecycle is declared; `DeploysRepo.transition` refuses
 * (throws) any move it does not list, so no code path can invent one.
 *
 *   blue/green: queued → building ∥ provisioning → deploying → awaiting_approval → cutting_over → tearing_down → succeeded
 *   rolling:    queued → building → deploying → succeeded
 *   scale, restart (in place): queued → deploying → succeeded
 *   exits:      failed · rejected · timed_out · cancelled (each replays the deploy's undo log)
 *
 * It lives in store/ because the store enforces it and imports nothing above
 * itself; deployer/lifecycle.ts re-exports it for the pipeline.
 */
import type { DeployState } from './types.js';

export const LIFECYCLE: Readonly<Record<DeployState, readonly DeployState[]>> = {
  // queued → deploying: an in-place operation (scale, restart) builds and provisions nothing.
  queued: ['building', 'deploying', 'cancelled', 'failed'],
  // building → provisioning: the image is ready and only the cluster is left.
  building: ['provisioning', 'deploying', 'failed', 'cancelled'],
  provisioning: ['deploying', 'failed', 'cancelled'],
  // deploying → succeeded: a rolling update is live as soon as its rollout is healthy.
  deploying: ['awaiting_approval', 'succeeded', 'failed', 'cancelled'],
  awaiting_approval: ['cutting_over', 'rejected', 'timed_out', 'cancelled'],
  // Traffic is moving: no cancel; a failure replays the undo log (DNS back first).
  cutting_over: ['tearing_down', 'failed'],
  // tearing_down → cancelled: a rollback within the drain flips traffic back.
  tearing_down: ['succeeded', 'cancelled'],
  succeeded: [],
  failed: [],
  rejected: [],
  timed_out: [],
  cancelled: [],
};

/** A move the lifecycle table does not allow. */
export class IllegalTransition extends Error {
  constructor(
    readonly from: DeployState,
    readonly to: DeployState,
  ) {
    super(`illegal deploy transition ${from} → ${to} (allowed from ${from}: ${LIFECYCLE[from].join(', ') || 'none, it is final'})`);
    this.name = 'IllegalTransition';
  }
}

/** Throws IllegalTransition unless every state in `from` may move to `to`. */
export function assertTransition(from: readonly DeployState[], to: DeployState): void {
  for (const f of from) if (!LIFECYCLE[f].includes(to)) throw new IllegalTransition(f, to);
}

/** States a deploy can be cancelled from. */
export const CANCELLABLE: readonly DeployState[] = (Object.keys(LIFECYCLE) as DeployState[]).filter(
  (s) => LIFECYCLE[s].includes('cancelled') && s !== 'tearing_down',
);
