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

/**
 * What a deploy row is: a new version (`deploy`), the previous one again (`rollback`), the live
 * version on a fresh cluster by a schedule (`refresh`) or by its owners onto a newer Kubernetes
 * (`upgrade`, blue/green), or an in-place operation of the live environment that holds the app's
 * place in line like any deploy (`scale`, `restart`).
 */
export type DeployKind = 'deploy' | 'rollback' | 'refresh' | 'upgrade' | 'scale' | 'restart';
/** The kinds that change the live environment in place instead of deploying a version. */
export const OPERATION_KINDS: readonly DeployKind[] = ['scale', 'restart'];
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
  /** The environment that was live when this deploy started (what it replaces or updates). */
  readonly fromEnvId: number | null;
  /** The environment this deploy serves from: a new one (blue/green) or the live one (rolling). */
  readonly toEnvId: number | null;
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
  /** An upgrade: the Kubernetes version its new cluster gets. */
  readonly kubernetesVersion: string | null;
  /** A scale: the replicas it sets (null: unchanged). */
  readonly replicas: number | null;
  /** A scale: the capacity's minimum and maximum of nodes it sets (null: unchanged). */
  readonly minNodes: number | null;
  readonly maxNodes: number | null;
  /** Why, as the requester said it (scale, restart, upgrade). */
  readonly reason: string | null;
}

export type StepName = 'build' | 'provision' | 'deploy' | 'approval' | 'cutover' | 'teardown' | 'cleanup' | 'scale' | 'restart';
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
  /** Who holds it, as shown (their name, else their id). */
  readonly lockedBy: string;
  /** Who holds it, as checked (the actor's id); null for a lock taken before ids were kept. */
  readonly lockedById: string | null;
  readonly at: number;
}

export type ResourceState = 'intent' | 'created' | 'deleting' | 'deleted' | 'failed';

export interface ResourceRecord {
  readonly id: number;
  /** The deploy that created it (history only: ownership is `envId`). */
  readonly deployId: number;
  /** The environment that owns it. */
  readonly envId: number | null;
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

/**
 * An app's environment: one cluster and everything in it. `building` while a
 * deploy creates it, `live` while it serves the app (at most one per app),
 * `retiring` after another took over (torn down after the drain), `retired`
 * once its resources are gone, `discarded` when the deploy that built it was undone.
 */
export type EnvironmentState = 'building' | 'live' | 'retiring' | 'retired' | 'discarded';

export interface EnvironmentRecord {
  readonly id: number;
  readonly app: string;
  /** The cluster's name, e.g. search-svc-3. */
  readonly name: string;
  readonly provider: string;
  /** The deploy that built it. */
  readonly createdBy: number;
  readonly state: EnvironmentState;
  /** The version it serves (a rolling update changes it in place). */
  readonly version: string | null;
  /** Its load balancer's hostname. */
  readonly endpoint: string | null;
  /** The deploy that took the traffic from it and owes its teardown. */
  readonly retiringBy: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly liveSince: number | null;
  /** The Kubernetes version of its cluster, as created (null: not recorded, e.g. before it was kept, or a laptop cluster). */
  readonly kubernetesVersion: string | null;
  /** What it runs with: the KubeApp's values when it was created, or a scale's since (null: not recorded). */
  readonly replicas: number | null;
  readonly minNodes: number | null;
  readonly maxNodes: number | null;
  /** The scale deploy that last changed it in place (null: as its deploy created it). */
  readonly scaledBy: number | null;
}

/** What an environment runs with (`EnvironmentRecord`), as a scale changes it. */
export interface EnvironmentScale {
  readonly replicas: number | null;
  readonly minNodes: number | null;
  readonly maxNodes: number | null;
}

/** What an undo-log entry undoes. */
export type UndoEntry =
  /** The environment this deploy is building: discarded when undone (after its resources). */
  | { readonly kind: 'environment'; readonly envId: number; readonly name: string }
  /** A ledger resource: deleted when undone. */
  | { readonly kind: 'resource'; readonly resourceId: number; readonly name: string; readonly resourceKind: string }
  /** DNS `name` was pointed from `from` to `to`: pointed back when it still points at `to`. */
  | { readonly kind: 'dns'; readonly name: string; readonly from: string | null; readonly to: string }
  /** Images of the app on `cluster` were replaced from `fromVersion`: put back. */
  | { readonly kind: 'images'; readonly envId: number; readonly cluster: string; readonly fromVersion: string; readonly toVersion: string }
  /** Ownership of the app's traffic was handed from env `from` to env `to`: handed back. */
  | { readonly kind: 'ownership'; readonly app: string; readonly from: number | null; readonly to: number }
  /** A scale of env `envId` from `from` to `to` (and who had scaled it before, `scaledBy`): scaled back. */
  | { readonly kind: 'scale'; readonly envId: number; readonly cluster: string; readonly from: EnvironmentScale; readonly to: EnvironmentScale; readonly scaledBy: number | null }
  /** A rolling restart set the pod template's restartedAt from `from` (null: none) to `to`: set back (another rollout). */
  | { readonly kind: 'restart'; readonly envId: number; readonly cluster: string; readonly from: string | null; readonly to: string };

export type UndoState = 'pending' | 'done' | 'failed' | 'kept';

export interface UndoRecord {
  readonly id: number;
  readonly deployId: number;
  readonly kind: UndoEntry['kind'];
  readonly data: UndoEntry;
  /** pending: to replay on an exit; done/failed: replayed; kept: the deploy succeeded, nothing to undo. */
  readonly state: UndoState;
  readonly outcome: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A scheduled refresh's state (store/schedules.ts): the last tick it reached, and whether it is paused. */
export interface ScheduleStateRecord {
  readonly app: string;
  /**
   * The last tick reached (ms): run, skipped, or — on a first start — the moment the schedule was
   * first armed. Ticks after it that are already past when kubecontrol starts were missed while it was down.
   */
  readonly lastPlannedAt: number | null;
  /** Who paused it (the id checked); null when it is not paused. */
  readonly pausedBy: string | null;
  /** Who paused it, as shown. */
  readonly pausedByName: string | null;
  readonly pausedReason: string | null;
  readonly pausedAt: number | null;
  readonly updatedAt: number;
}

/** What a schedule did with one tick: started a refresh, or skipped it (and why). */
export type ScheduleRunOutcome = 'started' | 'skipped';

/** One tick of a scheduled refresh, as decided (store/schedules.ts). */
export interface ScheduleRunRecord {
  readonly id: number;
  readonly app: string;
  /** The tick the cron planned (ms). */
  readonly plannedAt: number;
  /** When it was decided (ms): later than `plannedAt` for a run missed while kubecontrol was down. */
  readonly at: number;
  readonly outcome: ScheduleRunOutcome;
  /** Why it was skipped, or what it started. */
  readonly reason: string | null;
  /** 1 when the tick passed while kubecontrol was down (then run late as a catch-up, or skipped). */
  readonly missed: number;
  /** The refresh deploy it started. */
  readonly deployId: number | null;
  /** The commands row it was recorded as. */
  readonly commandId: number | null;
  /** The night whose summary it belongs to: `YYYY-MM-DD` (noon to noon UTC, named by its evening). */
  readonly night: string;
  /** The refresh channel, as the KubeApp names it. */
  readonly channel: string;
  /** The notice in the refresh channel (the announcement, or why it was skipped), once Slack took it. */
  readonly noticeChannel: string | null;
  readonly noticeTs: string | null;
  /** What the notice last showed (its key): an announcement is edited once more with the result. */
  readonly noticeShown: string | null;
  /** 1 once the notice says all it will (a skip, or a refresh's result). */
  readonly noticeDone: number;
}

/** The summary of one night's scheduled refreshes in the platform channel, edited in place. */
export interface ScheduleSummaryRecord {
  readonly night: string;
  /** The channel id Slack answered with, once posted. */
  readonly channel: string | null;
  readonly ts: string | null;
  /** What the summary last showed (its key), to skip edits that change nothing. */
  readonly shown: string | null;
  /** 1 once every run of the night has ended and the summary shows it. */
  readonly done: number;
  readonly updatedAt: number;
}
