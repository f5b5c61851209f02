/** Row types the store hands out. Timestamps are epoch milliseconds. */

/** Where a command came from. */
export type Surface = 'slack' | 'cli' | 'console' | 'schedule' | 'api';

export type CommandOutcome = 'received' | 'accepted' | 'refused' | 'invalid' | 'failed';

export interface CommandRecord {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly actorName: string | null;
  readonly surface: Surface;
  readonly text: string;
  readonly verb: string | null;
  readonly app: string | null;
  readonly deployId: number | null;
  readonly outcome: CommandOutcome;
  readonly message: string | null;
  readonly idempotencyKey: string | null;
}

/** The deploy lifecycle (see DESIGN.md). */
export type DeployState =
  | 'queued'
  | 'building'
  | 'provisioning'
  | 'deploying'
  | 'awaiting_approval'
  | 'cutting_over'
  | 'tearing_down'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'timed_out'
  | 'cancelled';

export const TERMINAL_STATES: readonly DeployState[] = ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'];
export const isTerminal = (s: DeployState): boolean => TERMINAL_STATES.includes(s);

export type DeployKind = 'deploy' | 'rollback' | 'refresh';
export type CleanupState = 'none' | 'pending' | 'done' | 'failed';

export interface DeployRecord {
  readonly id: number;
  readonly app: string;
  readonly version: string;
  readonly strategy: 'blue-green' | 'rolling';
  readonly kind: DeployKind;
  readonly state: DeployState;
  readonly requestedBy: string;
  readonly requestedByName: string | null;
  readonly surface: Surface;
  readonly commandId: number | null;
  readonly provider: string;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly updatedAt: number;
  /** Version that was live when this deploy started. */
  readonly fromVersion: string | null;
  /** Cluster that was live when this deploy started. */
  readonly fromCluster: string | null;
  readonly fromDeployId: number | null;
  /** Cluster this deploy serves from (blue/green: the new one; rolling: the live one). */
  readonly toCluster: string | null;
  /** The new cluster's load-balancer hostname. */
  readonly endpoint: string | null;
  /** Where the DNS record pointed before cutover (for a flip back). */
  readonly previousTarget: string | null;
  readonly approvalDeadline: number | null;
  readonly error: string | null;
  readonly cleanup: CleanupState;
  readonly threadChannel: string | null;
  readonly threadTs: string | null;
}

export type StepName = 'build' | 'provision' | 'deploy' | 'approval' | 'cutover' | 'teardown' | 'cleanup';
export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface StepRecord {
  readonly deployId: number;
  readonly name: StepName;
  readonly state: StepState;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly detail: string | null;
}

export type EventKind = 'command' | 'state' | 'step' | 'progress' | 'resource' | 'approval' | 'queue' | 'error';
export type EventLevel = 'info' | 'warn' | 'error';

export interface EventRecord {
  readonly id: number;
  readonly deployId: number;
  readonly at: number;
  readonly kind: EventKind;
  readonly step: StepName | null;
  readonly level: EventLevel;
  readonly message: string;
  readonly data: Record<string, unknown> | null;
}

export type Decision = 'approved' | 'rejected' | 'timed_out';

export interface ApprovalRecord {
  readonly id: number;
  readonly deployId: number;
  readonly decision: Decision;
  readonly actor: string;
  readonly actorName: string | null;
  readonly surface: Surface;
  readonly reason: string | null;
  readonly at: number;
}

export interface LockRecord {
  readonly app: string;
  readonly reason: string;
  readonly lockedBy: string;
  readonly at: number;
}

export type ResourceState = 'intent' | 'created' | 'deleting' | 'deleted' | 'failed';

export interface ResourceRecord {
  readonly id: number;
  readonly deployId: number;
  readonly app: string;
  readonly provider: string;
  /** e.g. 'cluster', 'nodegroup', 'fargate-profile'. */
  readonly kind: string;
  readonly name: string;
  readonly parentId: number | null;
  readonly state: ResourceState;
  readonly data: Record<string, unknown> | null;
  readonly error: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}
