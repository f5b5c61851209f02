/**
 * What a step is: a named piece of the pipeline that does one thing to the
 * world through the provider's ports and says what it did. The driver
 * (deployer/driver.ts) runs it with a timeout, records its start and outcome,
 * and runs its `commit` in the transaction that records its success.
 */
import type { KubeApp } from '../../kubeapps/index.js';
import type { DeployRecord, StepName, Store } from '../../store/index.js';
import type { Clock } from '../clock.js';
import type { Provider, StepContext, StepTimeouts } from '../ports.js';

/** Everything a step may use. */
export interface StepEnv {
  readonly store: Store;
  readonly provider: Provider;
  readonly clock: Clock;
  /** The deploy as it stood when the step started. */
  readonly deploy: DeployRecord;
  readonly app: KubeApp;
  /** The adapters' context: progress, the ledger bound to this deploy, the step's cancel signal. */
  readonly ctx: StepContext;
  /** Attempts per resource when tearing down. */
  readonly teardownAttempts: number;
}

/** A step's outcome: what people read, and what to record with its success. */
export interface StepOutcome {
  readonly detail: string;
  /** Runs inside the transaction that records the step's success (state, ownership, undo entries). */
  readonly commit?: () => void;
  /** There was nothing to do (recorded as skipped, with `detail` as the reason). */
  readonly skipped?: boolean;
}

export interface Step {
  readonly name: StepName;
  /** Whose time limit it has (`Provider.timeouts`). @default its name's */
  readonly timeout?: keyof StepTimeouts;
  run(env: StepEnv): Promise<StepOutcome>;
}
