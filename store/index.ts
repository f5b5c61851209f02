/** The store: one SQLite file, one repository per aggregate. Only store/ writes SQL. */
import { ApprovalsRepo } from './approvals.js';
import { CommandsRepo } from './commands.js';
import { openDb, type Db } from './db.js';
import { DeploysRepo } from './deploys.js';
import { EventsRepo } from './events.js';
import { ResourcesRepo } from './ledger.js';
import { LocksRepo } from './locks.js';
import { SandboxRepo } from './sandbox.js';
import { SlackThreadsRepo } from './slack.js';
import { TokensRepo } from './tokens.js';

export * from './types.js';
export type { NewCommand } from './commands.js';
export type { NewDeploy, DeployPatch } from './deploys.js';
export type { NewEvent } from './events.js';
export type { NewResource } from './ledger.js';
export type { SandboxFault } from './sandbox.js';

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

  constructor(readonly db: Db) {
    this.commands = new CommandsRepo(db);
    this.deploys = new DeploysRepo(db);
    this.events = new EventsRepo(db);
    this.approvals = new ApprovalsRepo(db);
    this.locks = new LocksRepo(db);
    this.resources = new ResourcesRepo(db);
    this.tokens = new TokensRepo(db);
    this.sandbox = new SandboxRepo(db);
    this.slack = new SlackThreadsRepo(db);
  }

  /** Opens the file at `path` (migrating it) and returns the store. */
  static open(path: string): Store {
    return new Store(openDb(path));
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}
