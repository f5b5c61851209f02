/** The store: one SQLite file, one repository per aggregate. Only store/ writes SQL. */
import { ApprovalsRepo } from './approvals.js';
import { CommandsRepo } from './commands.js';
import { ConsoleRepo } from './console.js';
import { openDb, type Db } from './db.js';
import { DeploysRepo } from './deploys.js';
import { EnvironmentsRepo } from './environments.js';
import { EventsRepo } from './events.js';
import { EventFeed } from './feed.js';
import { ResourcesRepo } from './ledger.js';
import { LocksRepo } from './locks.js';
import { MetaRepo } from './meta.js';
import { SandboxRepo } from './sandbox.js';
import { SchedulesRepo } from './schedules.js';
import { SlackThreadsRepo } from './slack.js';
import { TokensRepo } from './tokens.js';
import { UndoLogRepo } from './undo.js';

export * from './types.js';
export { LIFECYCLE, IllegalTransition, assertTransition, CANCELLABLE } from './lifecycle.js';
export { EventFeed, type EventListener } from './feed.js';
export type { NewCommand } from './commands.js';
export type { NewDeploy, DeployPatch } from './deploys.js';
export type { NewEvent } from './events.js';
export type { NewResource } from './ledger.js';
export type { ActiveDeployRow, DeployFilter, DeployPageRows, DoraRow, VersionFilter } from './console.js';
export type { SandboxFault } from './sandbox.js';
export { nightOf, type NewScheduleRun, type PauseActor, type PauseOutcome } from './schedules.js';

export interface StoreOptions {
  /** The clock's `now` (epoch ms) for every timestamp the store writes. @default Date.now */
  readonly now?: () => number;
  /** Told when an event listener throws (the writer is never interrupted). */
  readonly onListenerError?: (err: unknown) => void;
}

export class Store {
  readonly commands: CommandsRepo;
  readonly deploys: DeploysRepo;
  readonly events: EventsRepo;
  readonly approvals: ApprovalsRepo;
  readonly locks: LocksRepo;
  readonly resources: ResourcesRepo;
  readonly tokens: TokensRepo;
  readonly sandbox: SandboxRepo;
  readonly slack: SlackThreadsRepo;
  readonly environments: EnvironmentsRepo;
  readonly undo: UndoLogRepo;
  readonly meta: MetaRepo;
  /** The web console's reads: history filters, search, DORA rows, the fleet (indexed, see store/console.ts). */
  readonly console: ConsoleRepo;
  /** Scheduled refreshes: last tick reached, pauses, each tick decided, Slack notices and nightly summaries. */
  readonly schedules: SchedulesRepo;
  /** Committed events, announced after the outermost transaction. */
  readonly feed: EventFeed;
  readonly now: () => number;

  constructor(
    readonly db: Db,
    options: StoreOptions = {},
  ) {
    const now = (this.now = options.now ?? Date.now);
    this.feed = new EventFeed(options.onListenerError);
    this.commands = new CommandsRepo(db, now);
    this.deploys = new DeploysRepo(db, now);
    this.events = new EventsRepo(db, this.feed, now);
    this.approvals = new ApprovalsRepo(db, now);
    this.locks = new LocksRepo(db, now);
    this.resources = new ResourcesRepo(db, now);
    this.environments = new EnvironmentsRepo(db, now);
    this.undo = new UndoLogRepo(db, now);
    this.meta = new MetaRepo(db);
    this.tokens = new TokensRepo(db);
    this.sandbox = new SandboxRepo(db);
    this.slack = new SlackThreadsRepo(db, now);
    this.console = new ConsoleRepo(db);
    this.schedules = new SchedulesRepo(db, now);
  }

  /** Opens the file at `path` (migrating it) and returns the store. */
  static open(path: string, options: StoreOptions = {}): Store {
    return new Store(openDb(path), options);
  }

  /**
   * Runs `fn` in one transaction (nested calls become savepoints). Events it
   * appends are announced once the outermost transaction commits, and never
   * if it rolls back.
   */
  tx<T>(fn: () => T): T {
    return this.feed.within(() => this.db.transaction(fn)());
  }

  close(): void {
    this.db.close();
  }
}
