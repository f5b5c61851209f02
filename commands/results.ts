/**
 * What the command core returns: typed results every surface renders in its
 * own way (Block Kit, terminal, HTML, JSON). `message` is a plain-text summary
 * any surface may show as is.
 */
import type { DeployPlan } from '../deployer/plan.js';
import type { VersionSupport } from '../deployer/kubernetes-versions.js';
import type { QueuePosition } from '../deployer/queue.js';
import type { EnvironmentScale } from '../store/index.js';
import type { ApprovalRecord, DeployRecord, DeployState, LockRecord, StepRecord } from '../store/index.js';
import type { ParseErrorCode, Verb } from './grammar.js';

/** How a result maps to HTTP statuses and CLI exit codes. */
export type ResultStatus = 'ok' | 'invalid' | 'refused' | 'not_found' | 'conflict' | 'error';

/** A deploy as surfaces show it. */
export interface DeployView extends DeployRecord {
  readonly steps: readonly StepRecord[];
  readonly approval: ApprovalRecord | null;
  /** Place in its app's line while queued. */
  readonly queue: QueuePosition | null;
  /** Milliseconds from start (or creation) to finish (or now). */
  readonly durationMs: number;
}

/** What `status` shows per app. */
export interface AppStatus {
  readonly app: string;
  /**
   * What serves the app: the live environment, which DNS points at. During a blue/green's
   * drain that is already the new version (`deployId` the deploy that cut over, `since` its cutover).
   */
  readonly live: { readonly version: string; readonly cluster: string | null; readonly deployId: number; readonly since: number } | null;
  /** During a blue/green's teardown: the previous environment, which DNS no longer points at. */
  readonly draining?: DrainingStatus | null;
  readonly active: readonly DeployView[];
  readonly lock: LockRecord | null;
  /**
   * The live cluster's Kubernetes version, the day its standard support ends and, within 60 days of it
   * (or after), a warning that says to upgrade. Null when nothing is live or the version is not known.
   */
  readonly kubernetes?: VersionSupport | null;
  /** What the live environment runs with, when a scale changed it from what its deploy made (the next blue/green deploy resets it). */
  readonly scaled?: ScaledStatus | null;
}

/** A live environment changed in place by a scale. */
export interface ScaledStatus {
  /** What it runs with now. */
  readonly now: EnvironmentScale;
  /** What the KubeApp declares (what the next blue/green deploy brings back). */
  readonly declared: EnvironmentScale;
  /** The scale deploy that set it. */
  readonly deployId: number;
  readonly by: string;
  readonly reason: string | null;
}

/** A queued scale: what runs now, what it will run, and the command that undoes it. */
export interface ScaleChange {
  readonly from: EnvironmentScale;
  readonly to: EnvironmentScale;
  /** e.g. `scale search-svc replicas=3`. */
  readonly undo: string;
}

/** The environment a blue/green deploy took the traffic from, while that deploy tears it down. */
export interface DrainingStatus {
  readonly version: string;
  readonly cluster: string;
  /** The deploy that took the traffic from it (and tears it down). */
  readonly deployId: number;
  /** The record that moved, now pointing at the live environment. */
  readonly dns: string;
  /** When the drain ends and its deletion starts (ms since the epoch); null until the drain has started. */
  readonly until: number | null;
  /** Still whole and serving its last connections: `rollback APP` flips traffic back to it. False once its deletion started. */
  readonly rollback: boolean;
}

/** What `apps` shows per app. */
export interface AppSummary {
  readonly name: string;
  readonly description: string;
  readonly strategy: string;
  readonly dns: string;
  readonly channel: string;
  readonly hardware: string;
  readonly owners: readonly string[];
  readonly deployers: readonly string[];
  readonly approvers: readonly string[];
  readonly liveVersion: string | null;
  readonly locked: boolean;
}

/** Who paused an app's scheduled refresh, why and since when. */
export interface SchedulePause {
  /** Who paused it (the id recorded). */
  readonly by: string;
  /** Who paused it, as shown. */
  readonly byName: string | null;
  readonly reason: string | null;
  /** Since when (ms since the epoch). */
  readonly since: number;
}

/** What `schedules` shows per scheduled app. */
export interface ScheduleView {
  readonly app: string;
  /** The cron expression as written. */
  readonly cron: string;
  /** The schedule in words, with its time zone: "every day at 03:00 Europe/Dublin". */
  readonly words: string;
  readonly timezone: string;
  /** The next run, as an ISO time; null when it never runs again. */
  readonly next: string | null;
  /** Where the refresh is announced and its thread goes. */
  readonly channel: string;
  /** Whether it may cut over without a person: only when every health check passes, or never. */
  readonly autoCutover: 'when-healthy' | 'never';
  /** A run missed while kubecontrol was down runs once within this many minutes of it; 0: skipped. */
  readonly catchUpMinutes: number;
  readonly paused: SchedulePause | null;
  /** The newest tick and what came of it. */
  readonly last: {
    /** The tick the cron planned (ms since the epoch). */
    readonly plannedAt: number;
    /** It started a refresh, or was skipped (`reason` says why). */
    readonly outcome: 'started' | 'skipped';
    /** It passed while kubecontrol was down (then ran late as a catch-up, or was skipped). */
    readonly missed: boolean;
    readonly reason: string | null;
    /** The refresh it started, and where that deploy is now. */
    readonly deployId: number | null;
    readonly state: DeployState | null;
    /** The deploy's Slack thread, when it has one. */
    readonly thread: { readonly channel: string; readonly ts: string } | null;
  } | null;
  /** Something to look at: the next run is more than a year away. */
  readonly warning: string | null;
}

/**
 * Why a command was not done. Each renderer (cli/render.ts, bot/views.ts)
 * switches over every code, so a new one must be rendered deliberately.
 * `group_lookup_failed` (status 'error'): a user group that could grant the
 * role could not be resolved; the answer says to try again, it is not a refusal.
 */
export type ErrorCode =
  | ParseErrorCode
  | 'unknown_app'
  | 'unknown_deploy'
  | 'forbidden'
  | 'self_approval'
  | 'locked'
  | 'not_locked'
  | 'wrong_state'
  | 'no_live_version'
  | 'no_previous_version'
  /** A rollback within the drain whose previous cluster fails its health check. */
  | 'unhealthy_target'
  /** A scale outside the KubeApp's limits (replicas, nodes). */
  | 'beyond_limits'
  /** What the app or the provider does not have: nodes on Fargate, Kubernetes versions on a laptop cluster. */
  | 'not_supported'
  /** An upgrade to a Kubernetes version that is unknown, out of standard support, or older than the live cluster's. */
  | 'unsupported_version'
  /** A scheduled refresh skipped because its app's schedule is paused. */
  | 'paused'
  /** `resume` of a schedule that is not paused. */
  | 'not_paused'
  /** `pause` / `resume` of an app without a refresh schedule. */
  | 'no_schedule'
  /** A scheduled refresh missed while kubecontrol was down, outside the app's catch-up window. */
  | 'missed_run'
  | 'group_lookup_failed'
  | 'infrastructure';

interface Base {
  readonly status: ResultStatus;
  readonly message: string;
  /** The commands row this was recorded as. */
  readonly commandId: number | null;
}

export type CommandResult =
  | (Base & { readonly kind: 'deploy_queued'; readonly deploy: DeployView; readonly position: QueuePosition; /** A scale's before and after. */ readonly scale?: ScaleChange })
  | (Base & { readonly kind: 'plan'; readonly plan: DeployPlan })
  | (Base & { readonly kind: 'decision'; readonly deploy: DeployView; readonly decision: 'approved' | 'rejected' })
  | (Base & { readonly kind: 'cancelled'; readonly deploy: DeployView })
  /** `rollback` during the drain: traffic flipped back to the previous cluster at once. */
  | (Base & { readonly kind: 'flipped_back'; readonly deploy: DeployView; readonly to: { readonly version: string; readonly cluster: string } })
  | (Base & { readonly kind: 'status'; readonly apps: readonly AppStatus[]; readonly provider: string })
  | (Base & { readonly kind: 'history'; readonly app: string; readonly deploys: readonly DeployView[] })
  | (Base & { readonly kind: 'lock'; readonly app: string; readonly lock: LockRecord | null })
  | (Base & { readonly kind: 'apps'; readonly apps: readonly AppSummary[] })
  | (Base & { readonly kind: 'schedules'; readonly schedules: readonly ScheduleView[] })
  /** `pause` / `resume`: the app's schedule as it is now (`paused` null once resumed). */
  | (Base & { readonly kind: 'pause'; readonly app: string; readonly paused: SchedulePause | null; readonly schedule: ScheduleView })
  | (Base & { readonly kind: 'help'; readonly text: string })
  | (Base & { readonly kind: 'duplicate'; readonly original: { readonly commandId: number; readonly outcome: string; readonly deployId: number | null } })
  | (Base & { readonly kind: 'error'; readonly code: ErrorCode; readonly verb?: Verb; readonly suggestion?: string });

/** Exit codes of the CLI per result status. */
export const EXIT_CODES: Readonly<Record<ResultStatus, number>> = {
  ok: 0,
  error: 1,
  invalid: 2,
  refused: 3,
  not_found: 4,
  conflict: 5,
};
