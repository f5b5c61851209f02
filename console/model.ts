/**
 * The console's read model: what each page of the KMC (KubeApp Management Console) shows,
 * as typed data read from the store. The pages (console/pages/) render it; the JSON API
 * serves it too. Implemented by `createConsoleReads` (console/reads.ts) over the store's
 * indexed queries (store/console.ts); nothing here is kept in memory between requests, so a
 * page never shows a state the store does not hold.
 */
import type { AppStatus, DeployView } from '../commands/results.js';
import type { ApprovalRecord, DeployRecord, DeployState, EventRecord, LockRecord, ResourceRecord } from '../store/index.js';

/** One app on the fleet page. */
export interface FleetRow {
  readonly app: string;
  readonly description: string;
  readonly strategy: 'blue-green' | 'rolling';
  /** From the KubeApp as resolved: e.g. "auto: m6i.large|m6i.xlarge, ≤12 nodes, on-demand amd64" / "fargate" / "nodes 2–10, spot arm64". */
  readonly hardware: string;
  readonly capacity: 'auto' | 'nodes' | 'fargate';
  readonly spot: boolean;
  readonly arch: 'amd64' | 'arm64';
  readonly minNodes: number;
  readonly maxNodes: number;
  /** What serves the app (AppStatus.live), and what drains, as `status` says it. */
  readonly live: AppStatus['live'];
  readonly draining: AppStatus['draining'];
  /** The live cluster's Kubernetes version and its end of standard support (with a warning within 60 days), as `status` says it. */
  readonly kubernetes: AppStatus['kubernetes'] | null;
  /** A scale in force on the live environment that the next blue/green deploy resets, as `status` says it. */
  readonly scaled: AppStatus['scaled'] | null;
  /** The newest deploy that ended (any outcome): who, when, how. */
  readonly lastDeploy: Pick<DeployRecord, 'id' | 'version' | 'state' | 'requestedBy' | 'requestedByName' | 'finishedAt' | 'kind'> | null;
  readonly lock: LockRecord | null;
  /**
   * Queued or running deploys, oldest first, with the running step (parallel ones joined by " + ", e.g.
   * "build + provision"; null while queued or between steps) and elapsed time since it started, else since
   * it was requested (ms, at `now`).
   */
  readonly active: readonly { readonly id: number; readonly version: string; readonly state: DeployState; readonly step: string | null; readonly elapsedMs: number; readonly requestedBy: string; readonly requestedByName: string | null }[];
  /** The next scheduled refresh, if the app has one (ms since the epoch), with its cron in words (`schedule`) and as written (`cron`). */
  readonly nextRefresh: { readonly at: number | null; readonly schedule: string; readonly cron: string; readonly timezone: string } | null;
}

/** Filters of an app's history (all optional; combined with AND). */
export interface HistoryQuery {
  readonly app: string;
  /** Exact version, or a prefix when it ends with `*` (e.g. `v12*`). */
  readonly version?: string;
  /** Who requested (id or display name, whole, in any case). */
  readonly person?: string;
  /** 'succeeded' | 'failed' | 'rejected' | 'timed_out' | 'cancelled' | 'active' (not ended). */
  readonly outcome?: DeployState | 'active';
  /** Created at or after / before (ms since the epoch). */
  readonly from?: number;
  readonly to?: number;
  /** Keyset paging: deploys with id < before. */
  readonly before?: number;
  /** @default 25, at most 100 */
  readonly limit?: number;
}

export interface HistoryPage {
  readonly rows: readonly DeployRecord[];
  /** The `before` of the next (older) page, or null when this is the last. */
  readonly nextBefore: number | null;
}

/** DORA figures for one app over a window. */
export interface DoraReport {
  readonly app: string;
  readonly from: number;
  readonly to: number;
  /**
   * Deploys that went live in the window (succeeded; kinds deploy and rollback — a refresh redeploys the
   * live version and is not a change), and per day (over the window's length in days).
   * Every definition in words: console/dora.ts.
   */
  readonly deploys: number;
  readonly deploysPerDay: number;
  /** Request (createdAt) → live (cutover done for blue/green, finishedAt for rolling), ms: median and p90 (nearest rank); null without deploys. */
  readonly leadTimeMs: { readonly median: number; readonly p90: number } | null;
  /**
   * failedChanges / changes. Changes: deploys and rollbacks that ended succeeded, failed, or cancelled after
   * their cutover (flipped back within the drain). Failed: ended failed, flipped back, rolled back (the next
   * change that went live was a rollback) or rolled forward within the drain (the next change that went live
   * was requested while this one still drained). Rejected, timed-out and cancelled-before-cutover deploys
   * never touched production and are not changes. Null without changes.
   */
  readonly changeFailureRate: number | null;
  readonly failedChanges: number;
  readonly changes: number;
  /**
   * From when a failed change hurt (failed: when it failed; else when it went live) to when a good version
   * served again (the flip back, or the next change that went live), ms: median over those restored; null without restores.
   */
  readonly timeToRestoreMs: { readonly median: number; readonly count: number } | null;
  /** The failed changes of the window, oldest first: how each failed, and when it was restored (null: not yet). */
  readonly failures: readonly {
    readonly id: number;
    readonly version: string;
    readonly how: 'failed' | 'flipped_back' | 'rolled_back' | 'rolled_forward';
    /** When it started to hurt (ms since the epoch). */
    readonly at: number;
    readonly restoredAt: number | null;
    /** The deploy that replaced it (rolled back / forward, or the one that went live after a failure). */
    readonly replacedBy: number | null;
  }[];
  /**
   * Per-day buckets for the charts (UTC days the window touches, oldest first): deploys that went live and
   * their median lead time; changes and failed changes, each by the day it went live (or failed).
   */
  readonly daily: readonly { readonly day: string; readonly deploys: number; readonly changes: number; readonly failed: number; readonly leadTimeMedianMs: number | null }[];
}

/** One hit of the search box. */
export interface SearchHit {
  readonly deploy: DeployRecord;
  /** Why it matched, in words: "version v123", "carol, this week", "failed yesterday". */
  readonly why: string;
}

export interface SearchResult {
  /** How the query was understood, in words (shown above the hits). */
  readonly understood: string;
  readonly hits: readonly SearchHit[];
  /** The query could not be understood: what to type instead. */
  readonly problem?: string;
}

/** Everything the deploy page shows. */
export interface DeployPage {
  readonly deploy: DeployView;
  readonly events: readonly EventRecord[];
  readonly resources: readonly ResourceRecord[];
  readonly approval: ApprovalRecord | null;
  /** A link to the deploy's Slack thread, when it has one. */
  readonly slackUrl: string | null;
  /** The plan lines the deploy was accepted with, if stored; else null. */
  readonly plan: readonly string[] | null;
}

/** The console's reads; `now` is the injected clock's. */
export interface ConsoleReads {
  fleet(now: number): FleetRow[];
  history(q: HistoryQuery): HistoryPage;
  dora(app: string, from: number, to: number): DoraReport;
  search(query: string, now: number, limit?: number): SearchResult;
  deployPage(id: number): DeployPage | undefined;
}
