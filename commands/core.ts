/**
 * The command core: parse → authorise → record → act, for every surface.
 * It never imports Slack, HTTP or terminal code; surfaces call `execute` with
 * who asked, what they typed and where, and render the typed result.
 */
import type { Logger } from 'pino';
import type { Deployer } from '../deployer/driver.js';
import type { QueuePosition } from '../deployer/queue.js';
import { planDeploy } from '../deployer/plan.js';
import { drainDeadline } from '../deployer/steps/teardown.js';
import type { KubernetesVersion } from '../deployer/kubernetes-versions.js';
import type { Provider } from '../deployer/ports.js';
import type { KubeApp, Strategy } from '../kubeapps/index.js';
import { cronInWords, FAR_AWAY_MS, localTime, nextRun } from '../schedules/cron.js';
import { isTerminal, type DeployRecord, type EnvironmentRecord, type LockRecord, type ScheduleStateRecord, type Store, type Surface } from '../store/index.js';
import type { LastSuccess } from '../store/environments.js';
import { holds, type LockActor, type ReleaseOutcome } from '../store/locks.js';
import { canDo, describeRole, GroupLookupError, type Actor, type GroupResolver } from './authorize.js';
import { helpText, nearest, parse, tokenize, type Command, type Verb } from './grammar.js';
import { liveOperationsStatus, operate, scaleNote } from './operate.js';
import type { AppStatus, AppSummary, CommandResult, DeployView, DrainingStatus, ErrorCode, ResultStatus, SchedulePause, ScheduleView } from './results.js';

export type { Actor, GroupResolver } from './authorize.js';

/**
 * What runs once the surface has answered: a deploy joins the deployer's line.
 * Carried on the result as a non-enumerable property, so it never reaches JSON.
 */
export type AfterAck = () => void;

/** Runs the result's continuation, if it has one. Surfaces call it right after they answered. */
export function runAfterAck(result: CommandResult): void {
  const next = (result as { afterAck?: AfterAck }).afterAck;
  next?.();
}

/** Attaches the continuation to a result without making it part of what is sent. */
function withAfterAck<T extends CommandResult>(result: T, next: AfterAck): T {
  Object.defineProperty(result, 'afterAck', { value: next, enumerable: false });
  return result;
}

/** One request from a surface. */
export interface CommandRequest {
  readonly actor: Actor;
  readonly surface: Surface;
  /** What was typed (`deploy search-svc v123`), or the words of a CLI's argv. */
  readonly input: string | readonly string[];
  /** A delivery id: a second request with the same key is recognised as a retry and not acted on. */
  readonly idempotencyKey?: string;
  /** Where a deploy's thread goes (Slack channel), if the surface knows. */
  readonly channel?: string;
}

export interface CommandCoreOptions {
  readonly store: Store;
  readonly deployer: Deployer;
  readonly provider: Provider;
  readonly apps: ReadonlyMap<string, KubeApp>;
  /** Resolves `@group` handles in KubeApps (Slack user groups); without one, groups match nobody. */
  readonly groups?: GroupResolver;
  /** The operator's log: one `info` line per command with who, from where, what and how it ended (refusals too). */
  readonly logger?: Logger;
}

/** Who asked and from where, as the operator's log names them. */
interface Who {
  readonly actor: string;
  readonly surface: string;
}

/** When a lock was taken, as messages say it: `2025-03-01 14:05 UTC`. */
function since(at: number): string {
  return `${new Date(at).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** `alice since 2025-03-01 14:05 UTC: “incident 123”`: who holds a lock, since when and why. */
function heldBy(lock: LockRecord): string {
  return `${lock.lockedBy} since ${since(lock.at)}: “${lock.reason}”`;
}

/** What `status` reads for the apps it answers about, grouped by app (CommandCore.statusRows). */
interface StatusRows {
  readonly active: ReadonlyMap<string, readonly DeployRecord[]>;
  readonly live: ReadonlyMap<string, EnvironmentRecord>;
  readonly lastSuccess: (app: string) => LastSuccess | undefined;
  readonly locks: ReadonlyMap<string, LockRecord>;
  /** The provider, its Kubernetes calendar asked once per placement for the whole answer (the sandbox works it out on each call). */
  readonly provider: Provider;
}

const APP_VERBS: readonly Verb[] = ['deploy', 'rollback', 'history', 'lock', 'unlock', 'pause', 'resume', 'scale', 'restart', 'upgrade'];

/**
 * One tick of an app's refresh schedule, as schedules/index.ts hands it to `refresh`.
 */
export interface RefreshTick {
  /** The tick the cron planned (ms since the epoch). */
  readonly plannedAt: number;
  /** How the schedule reads, for the record: `schedule 0 3 * * * Europe/Dublin`. */
  readonly trigger: string;
  /** The tick passed while kubecontrol was down (or could not act): caught up once within the app's window, else skipped. */
  readonly missed?: {
    /** How many ticks passed (this one the newest); `more` when there were more than were counted. */
    readonly count: number;
    readonly more?: boolean;
    /** Within `refresh.catchUpMinutes` of the tick: it runs now, once. */
    readonly catchUp: boolean;
  };
}

/** `alice since 2025-03-01 14:05 UTC: “reason”`: who paused a schedule, since when and why. */
function pausedBy(p: SchedulePause): string {
  return `${p.byName ?? p.by} since ${since(p.since)}${p.reason ? `: “${p.reason}”` : ''}`;
}

function pauseOf(state: ScheduleStateRecord | undefined): SchedulePause | null {
  return state?.pausedBy ? { by: state.pausedBy, byName: state.pausedByName, reason: state.pausedReason, since: state.pausedAt ?? state.updatedAt } : null;
}

/** A catch-up window in words: "45 min", "2 h", "1 h 30 min". */
function formatMinutes(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean).join(' ') || '0 min';
}
const DEPLOY_VERBS: readonly Verb[] = ['approve', 'reject', 'cancel'];

/** What execute does once its transaction has committed (log lines), or undoes if it did not (places in line). */
interface PendingWork {
  readonly logs: (() => void)[];
  readonly joined: DeployRecord[];
}

export class CommandCore {
  private readonly store: Store;
  /** While execute's transaction is open: the log lines to write and the deploys that joined a line, once it commits. */
  private pending: PendingWork | undefined;

  constructor(private readonly options: CommandCoreOptions) {
    this.store = options.store;
  }

  /**
   * Records how a command ended, and says so in the operator's log from what is at hand (who asked,
   * from where, and the outcome just recorded): nothing is read back on the way to the ack.
   */
  private finish(commandId: number, who: Who, patch: Parameters<Store['commands']['finish']>[1]): void {
    this.store.commands.finish(commandId, patch);
    this.logCommand(commandId, who, patch);
  }

  private logCommand(commandId: number, who: Who, c: { verb?: string | null; app?: string | null; deployId?: number | null; outcome: string; message?: string | null }): void {
    const log = this.options.logger;
    if (!log?.isLevelEnabled('info')) return;
    // Inside execute's transaction: said once it commits.
    if (this.pending) this.pending.logs.push(() => this.writeLog(log, commandId, who, c));
    else this.writeLog(log, commandId, who, c);
  }

  private writeLog(log: Logger, commandId: number, who: Who, c: { verb?: string | null; app?: string | null; deployId?: number | null; outcome: string; message?: string | null }): void {
    log.info(
      { commandId, actor: who.actor, surface: who.surface, verb: c.verb ?? null, app: c.app ?? null, deployId: c.deployId ?? null, outcome: c.outcome },
      `command #${commandId} ${c.verb ?? '?'}${c.app ? ` ${c.app}` : ''} by ${who.actor} via ${who.surface}: ${c.outcome}${c.message ? ` — ${c.message}` : ''}`,
    );
  }

  /**
   * Parses, authorises, records and acts, synchronously: a surface can answer
   * as soon as this returns. Only an answer that needs the provider (a dry
   * run's lookups) comes back as a Promise; the command is recorded before
   * either returns. Never throws for user mistakes.
   */
  execute(req: CommandRequest): CommandResult | Promise<CommandResult> {
    const text = typeof req.input === 'string' ? req.input.trim() : req.input.map((w) => (/\s/.test(w) ? `"${w}"` : w)).join(' ');
    // One transaction per command, committed before the surface answers: the command's record
    // first, then whatever it did (a refusal, a deploy with its first events and its place in line)
    // — one commit, not one for the record and another for the rest. Anything that throws after
    // the record rolls back to a savepoint and the command stays recorded, as failed. The
    // operator's log lines wait for the commit, so the log never says what the store does not hold.
    const pending: PendingWork = { logs: [], joined: [] };
    this.pending = pending;
    let out: { result: CommandResult | Promise<CommandResult> };
    try {
      out = this.store.tx(() => {
        const commandId = this.store.commands.recordOnce({
          actor: req.actor.id,
          actorName: req.actor.name ?? null,
          surface: req.surface,
          text,
          outcome: 'received',
          idempotencyKey: req.idempotencyKey ?? null,
        });
        if (commandId === undefined) {
          // A delivery seen before (Slack retries what it thinks was not answered): said, not acted on, not recorded twice.
          const seen = this.store.commands.byIdempotencyKey(req.idempotencyKey!)!;
          return {
            result: {
              kind: 'duplicate',
              status: 'ok',
              commandId: seen.id,
              message: `Already received (command #${seen.id}, ${seen.outcome}); not acting on it twice.`,
              original: { commandId: seen.id, outcome: seen.outcome, deployId: seen.deployId },
            } satisfies CommandResult,
          };
        }
        try {
          // What act writes is in a savepoint of its own (run); parsing and authorising write nothing but the outcome.
          return { result: this.run(req, commandId) };
        } catch (err) {
          this.leaveLines(pending);
          const message = `Something went wrong on our side while handling \`${text.slice(0, 200)}\`: ${err instanceof Error ? err.message : String(err)}`;
          this.finish(commandId, { actor: req.actor.id, surface: req.surface }, { outcome: 'failed', message });
          return { result: { kind: 'error', status: 'error', code: 'infrastructure', message, commandId } satisfies CommandResult };
        }
      });
    } catch (err) {
      // The commit itself failed (the disk, the file): nothing of the command is stored, so nothing of it may stay in a line.
      this.leaveLines(pending);
      throw err;
    } finally {
      this.pending = undefined;
    }
    for (const line of pending.logs) line();
    return out.result;
  }

  /** A deploy just created takes its place at the end of its app's line (started after the answer: Deployer.submit). */
  private join(d: DeployRecord): QueuePosition {
    const position = this.options.deployer.join(d);
    this.pending?.joined.push(d);
    return position;
  }

  /** Deploys that joined their line in a transaction that did not commit leave it again. */
  private leaveLines(pending: PendingWork): void {
    for (const d of pending.joined.splice(0)) this.options.deployer.leave(d);
  }

  /** The command after its record: parse, authorise, act (inside execute's transaction). */
  private run(req: CommandRequest, commandId: number): CommandResult | Promise<CommandResult> {
    const who: Who = { actor: req.actor.id, surface: req.surface };
    const parsed = parse(typeof req.input === 'string' ? tokenize(req.input) : req.input);
    if (!parsed.ok) {
      const { error } = parsed;
      this.finish(commandId, who, { verb: error.verb ?? null, outcome: 'invalid', message: error.message });
      return { kind: 'error', status: 'invalid', code: error.code, message: error.message, suggestion: error.suggestion, verb: error.verb, commandId };
    }
    const command = parsed.command;
    const reject = (status: ResultStatus, code: ErrorCode, message: string, extra: { app?: string | null; suggestion?: string; deployId?: number } = {}): CommandResult => {
      const outcome = status === 'refused' || status === 'conflict' ? 'refused' : status === 'error' ? 'failed' : 'invalid';
      this.finish(commandId, who, { verb: command.verb, app: extra.app ?? null, deployId: extra.deployId ?? null, outcome, message });
      return { kind: 'error', status, code, message, suggestion: extra.suggestion, verb: command.verb, commandId };
    };

    // Resolve the app the command is about, by name or through the deploy it names.
    let app: KubeApp | undefined;
    let deploy: DeployRecord | undefined;
    if ((APP_VERBS as readonly Verb[]).includes(command.verb) || ((command.verb === 'status' || command.verb === 'schedules') && command.app)) {
      const name = (command as { app: string }).app;
      app = this.options.apps.get(name);
      if (!app) {
        const suggestion = nearest(name, [...this.options.apps.keys()]);
        return reject(
          'not_found',
          'unknown_app',
          suggestion
            ? `There is no app \`${name}\`. Did you mean \`${suggestion}\`?`
            : `There is no app \`${name}\`. Apps: ${[...this.options.apps.keys()].join(', ')}.`,
          { suggestion },
        );
      }
    }
    if ((DEPLOY_VERBS as readonly Verb[]).includes(command.verb)) {
      const id = (command as { deployId: number }).deployId;
      deploy = this.store.deploys.get(id);
      if (!deploy) return reject('not_found', 'unknown_deploy', `There is no deploy #${id}. \`status\` lists the deploys in progress.`);
      app = this.options.apps.get(deploy.app);
      if (!app) return reject('error', 'unknown_app', `Deploy #${id} is of ${deploy.app}, which is no longer defined in kubeapps/.`, { app: deploy.app, deployId: id });
    }

    // Authorise per app.
    if (app && command.verb !== 'history' && command.verb !== 'status' && command.verb !== 'schedules') {
      // Pausing and resuming a schedule is the owners' (it changes what happens to the app every night).
      const role =
        command.verb === 'approve' || command.verb === 'reject'
          ? 'approve'
          : command.verb === 'pause' || command.verb === 'resume'
            ? 'own'
            : // Changing the live app in place: its owners (and deployers when its KubeApp says so). An upgrade is a deploy.
              command.verb === 'scale' || command.verb === 'restart'
              ? 'operate'
              : 'deploy';
      const requester = deploy?.requestedBy === req.actor.id;
      // A requester may always withdraw their own deploy, whatever the groups say.
      const withdrawing = requester && (command.verb === 'cancel' || command.verb === 'reject');
      let granted: boolean;
      try {
        granted = canDo(req.actor, app, role, this.options.groups);
      } catch (err) {
        if (!(err instanceof GroupLookupError)) throw err;
        // Unknown is not "no": say so, recorded as failed (not refused), and let them try again.
        if (!withdrawing) {
          return reject('error', 'group_lookup_failed', `Couldn't check your group membership for ${app.name} (${err.group}: ${err.reason}); try again.`, {
            app: app.name,
            deployId: deploy?.id,
          });
        }
        granted = false;
      }
      const allowed = granted || withdrawing;
      if (!allowed) {
        return reject('refused', 'forbidden', `${req.actor.name ?? req.actor.id} may not ${command.verb} ${app.name}: ${describeRole(app, role)}.`, {
          app: app.name,
          deployId: deploy?.id,
        });
      }
      if (command.verb === 'approve' && requester && !app.allowSelfApproval) {
        const others = app.approvers.filter((p) => p !== req.actor.id);
        return reject(
          'refused',
          'self_approval',
          `You requested deploy #${deploy!.id}, so you cannot approve it too: ${app.name} needs a second person (four eyes). Ask one of: ${others.join(', ')}.`,
          { app: app.name, deployId: deploy!.id },
        );
      }
    }

    // An infrastructure error while acting (e.g. a dry run's lookups): recorded, and phrased without a stack.
    const failed = (err: unknown): CommandResult =>
      reject('error', 'infrastructure', `${command.verb} failed: ${err instanceof Error ? err.message : String(err)}`, { app: app?.name ?? null, deployId: deploy?.id });
    try {
      // In a savepoint of its own: what it wrote before throwing (half a deploy) is rolled back, and leaves its line.
      const { result } = this.store.tx(() => ({ result: this.act(command, req, commandId, app, deploy, reject) }));
      return result instanceof Promise ? result.catch(failed) : result;
    } catch (err) {
      if (this.pending) this.leaveLines(this.pending);
      return failed(err);
    }
  }

  private act(
    command: Command,
    req: CommandRequest,
    commandId: number,
    app: KubeApp | undefined,
    deploy: DeployRecord | undefined,
    reject: (status: ResultStatus, code: ErrorCode, message: string, extra?: { app?: string | null; suggestion?: string; deployId?: number }) => CommandResult,
    /** A flip-back was tried and could not be done: a rollback redeploys the previous version. */
    noFlipBack = false,
  ): CommandResult | Promise<CommandResult> {
    const { store, deployer, provider } = this.options;
    const who: Who = { actor: req.actor.id, surface: req.surface };
    const accept = (message: string, extra: { app?: string | null; deployId?: number | null } = {}): number => {
      this.finish(commandId, who, { verb: command.verb, app: extra.app ?? app?.name ?? null, deployId: extra.deployId ?? null, outcome: 'accepted', message });
      return commandId;
    };

    switch (command.verb) {
      case 'deploy':
      case 'rollback': {
        const a = app!;
        let version: string;
        let strategy: Strategy;
        if (command.verb === 'deploy') {
          version = command.version;
          strategy = command.strategy ?? a.strategy;
        } else {
          // Within the drain the previous cluster still runs: flip traffic back instead of redeploying,
          // once its health check passes (a Promise, like a dry run: it reads the provider).
          const draining = store.deploys.active().find((x) => x.app === a.name && x.state === 'tearing_down');
          if (draining && !command.dryRun && !noFlipBack) {
            return deployer.flipBackIfHealthy(draining.id, { actor: req.actor.id, surface: req.surface }).then((flipped): CommandResult | Promise<CommandResult> => {
              if (flipped.ok) {
                const previous = store.environments.get(draining.fromEnvId!)!;
                const version = previous.version ?? draining.fromVersion ?? '?';
                accept(`rollback of ${a.name}: deploy #${draining.id} flipped back to ${version}`, { deployId: draining.id });
                return {
                  kind: 'flipped_back',
                  status: 'ok',
                  commandId,
                  deploy: this.view(draining.id),
                  to: { version, cluster: previous.name },
                  message: `Rolled back within the drain: ${a.dns.name} goes back to ${previous.name} (${version}) now; deploy #${draining.id}'s cluster ${draining.toCluster} is torn down.`,
                };
              }
              if (flipped.reason === 'unhealthy') {
                return reject('conflict', 'unhealthy_target', `Rollback of ${a.name} refused: ${flipped.message}.`, { app: a.name, deployId: draining.id });
              }
              // The drain ended meanwhile: a rollback is a new deploy of the previous version.
              return this.act(command, req, commandId, app, deploy, reject, true);
            });
          }
          // What runs now is the live environment's version (a rolling update changes it in place).
          const env = store.environments.live(a.name);
          const live = env?.version ? { version: env.version } : store.deploys.lastSucceeded(a.name);
          if (!live) return reject('conflict', 'no_live_version', `${a.name} has never been deployed successfully: there is nothing to roll back.`, { app: a.name });
          const previous = store.deploys.lastSucceededOtherThan(a.name, live.version);
          if (!previous) return reject('conflict', 'no_previous_version', `${a.name} has no successful version before ${live.version} to roll back to.`, { app: a.name });
          version = previous.version;
          strategy = a.strategy;
        }
        const lock = store.locks.get(a.name);
        if (lock && !(command.verb === 'deploy' && command.dryRun)) {
          return reject('conflict', 'locked', `${a.name} is locked by ${heldBy(lock)}. \`unlock ${a.name}\` first.`, { app: a.name });
        }
        if (strategy === 'rolling' && !(command.verb === 'deploy' && command.dryRun)) {
          const live = store.environments.live(a.name);
          const pendingBlueGreen = store.deploys.active().some((d) => d.app === a.name && d.strategy === 'blue-green');
          if (!live && !pendingBlueGreen) {
            return reject('conflict', 'no_live_version', `${a.name} has no running cluster for a rolling update: deploy it with \`--strategy blue-green\` first.`, { app: a.name });
          }
        }
        if (command.dryRun) {
          // The one answer that needs the provider (registry, cluster and DNS lookups): it comes later.
          const verb = command.verb;
          return planDeploy({ store, provider, app: a, version, strategy }).then((plan): CommandResult => {
            const id = accept(`dry run of ${a.name} ${version} (${strategy})`);
            return { kind: 'plan', status: 'ok', commandId: id, plan, message: `Dry run: ${verb} ${a.name} ${version} (${strategy}) on ${provider.label}; nothing was changed.` };
          });
        }
        // The deploy, its first event and its place in its app's line, in execute's transaction with the
        // command's record: one commit before anyone is told it was accepted (a savepoint of its own, so
        // they are one change also where act runs after execute's commit: a rollback that could not flip
        // back). The answer is built from what was just written — nothing is read back.
        const { d, position } = store.tx(() => {
          const d = store.deploys.create({
            app: a.name,
            version,
            strategy,
            kind: command.verb === 'rollback' ? 'rollback' : 'deploy',
            requestedBy: req.actor.id,
            requestedByName: req.actor.name ?? null,
            surface: req.surface,
            commandId,
            provider: provider.name,
            threadChannel: req.channel ?? a.channel,
          });
          this.finish(commandId, who, { verb: command.verb, app: a.name, outcome: 'accepted', message: `deploy #${d.id} queued`, deployId: d.id });
          store.events.append({
            deployId: d.id,
            kind: 'command',
            message: `${command.verb} ${a.name} ${version} (${strategy}) requested by ${req.actor.name ?? req.actor.id} via ${req.surface}`,
            data: { actor: req.actor.id, surface: req.surface, commandId },
          });
          // Its place in line, exact and from memory; nothing of the deployer runs before the surface has answered.
          return { d, position: this.join(d) };
        });
        const view: DeployView = { ...d, steps: [], approval: null, queue: position, durationMs: 0 };
        const waiting = position.position > 0 ? ` — ${position.position} ahead of it in ${a.name}'s line (#${position.ahead.join(', #')})` : '';
        return withAfterAck(
          {
            kind: 'deploy_queued',
            status: 'ok',
            commandId,
            deploy: view,
            position,
            message: `Deploy #${d.id}: ${a.name} ${version} (${strategy}${command.verb === 'rollback' ? ', rollback' : ''}) queued on ${provider.label}${waiting}.${scaleNote(store, a, strategy)}`,
          },
          () => void deployer.submit(d),
        );
      }
      case 'scale':
      case 'restart':
      case 'upgrade':
        return operate(
          {
            store,
            deployer,
            provider,
            app: app!,
            actor: req.actor,
            surface: req.surface,
            ...(req.channel ? { channel: req.channel } : {}),
            commandId,
            reject,
            accepted: (message, deployId) => {
              this.finish(commandId, who, { verb: command.verb, app: app!.name, deployId: deployId ?? null, outcome: 'accepted', message });
              return commandId;
            },
            view: (id) => this.view(id),
            afterAck: withAfterAck,
          },
          command,
        );
      case 'approve':
      case 'reject': {
        const d = deploy!;
        const decision = command.verb === 'approve' ? 'approved' : 'rejected';
        const outcome = deployer.decide(d.id, decision, {
          actor: req.actor.id,
          actorName: req.actor.name ?? null,
          surface: req.surface,
          reason: command.verb === 'reject' ? (command.reason ?? null) : null,
        });
        if (!outcome.ok) {
          const now = outcome.deploy ?? d;
          const already = store.approvals.forDeploy(d.id);
          const why = already
            ? `it was already ${already.decision.replace('_', ' ')}${already.decision === 'timed_out' ? '' : ` by ${already.actorName ?? already.actor}`}`
            : `it is ${now.state.replace('_', ' ')}, not waiting for approval`;
          return reject('conflict', 'wrong_state', `Deploy #${d.id} cannot be ${decision}: ${why}.`, { app: d.app, deployId: d.id });
        }
        const commandId = accept(`deploy #${d.id} ${decision}`, { deployId: d.id });
        return {
          kind: 'decision',
          status: 'ok',
          commandId,
          decision,
          deploy: this.view(d.id),
          message:
            decision === 'approved'
              ? `Deploy #${d.id} approved: ${app!.dns.name} moves to ${d.toCluster}${d.fromCluster ? `, then ${d.fromCluster} is torn down after the drain` : ''}.`
              : `Deploy #${d.id} rejected: ${d.toCluster} is torn down${d.fromCluster ? `; traffic stays on ${d.fromCluster}` : ''}.`,
        };
      }
      case 'cancel': {
        const d = deploy!;
        const outcome = deployer.cancel(d.id, { actor: req.actor.id, surface: req.surface });
        if (!outcome.ok) {
          const state = (outcome.deploy ?? d).state;
          const why = isTerminal(state)
            ? `it already ended (${state.replace('_', ' ')})`
            : `traffic is already moving (${state.replace('_', ' ')}); use \`rollback ${d.app}\` once it is done`;
          return reject('conflict', 'wrong_state', `Deploy #${d.id} cannot be cancelled: ${why}.`, { app: d.app, deployId: d.id });
        }
        const commandId = accept(`deploy #${d.id} cancelled`, { deployId: d.id });
        return { kind: 'cancelled', status: 'ok', commandId, deploy: this.view(d.id), message: `Deploy #${d.id} cancelled; anything it created is being torn down.` };
      }
      case 'status': {
        const apps = this.statuses(app ? [app.name] : undefined);
        const commandId = accept('status');
        const busy = apps.filter((s) => s.active.length).length;
        return { kind: 'status', status: 'ok', commandId, apps, provider: provider.label, message: `${busy} of ${apps.length} app(s) deploying (${provider.label}).` };
      }
      case 'history': {
        const deploys = store.deploys.history(app!.name, command.limit).map((d) => this.toView(d));
        const commandId = accept(`history of ${app!.name}`);
        return { kind: 'history', status: 'ok', commandId, app: app!.name, deploys, message: deploys.length ? `Last ${deploys.length} deploy(s) of ${app!.name}.` : `${app!.name} has no deploys yet.` };
      }
      case 'lock': {
        const a = app!;
        const taken = store.locks.take(a.name, command.reason, { id: req.actor.id, name: req.actor.name ?? null }, { force: command.force });
        const until = `No deploys until \`unlock ${a.name}\`.`;
        switch (taken.kind) {
          case 'held':
            return reject(
              'conflict',
              'locked',
              `${a.name} is already locked by ${heldBy(taken.holder)}. To take it over: \`lock ${a.name} ${command.reason} --force\` (whose lock it was and why is recorded).`,
              { app: a.name },
            );
          case 'locked': {
            const commandId = accept(`locked: ${command.reason}`);
            return { kind: 'lock', status: 'ok', commandId, app: a.name, lock: taken.lock, message: `${a.name} is locked: “${command.reason}”. ${until}` };
          }
          case 'updated': {
            const was = taken.previous.reason === command.reason ? '' : `; the reason was “${taken.previous.reason}”`;
            const commandId = accept(`lock reason updated: ${command.reason}${was ? ` (was: ${taken.previous.reason})` : ''}`);
            return {
              kind: 'lock',
              status: 'ok',
              commandId,
              app: a.name,
              lock: taken.lock,
              message: `${a.name} is locked: “${command.reason}” (your lock since ${since(taken.lock.at)}${was}). ${until}`,
            };
          }
          case 'taken_over': {
            const commandId = accept(`locked: ${command.reason} (taken over from ${heldBy(taken.previous)})`);
            return {
              kind: 'lock',
              status: 'ok',
              commandId,
              app: a.name,
              lock: taken.lock,
              message: `${a.name} is locked: “${command.reason}”, taken over from ${heldBy(taken.previous)}. ${until}`,
            };
          }
        }
        break;
      }
      case 'unlock': {
        const a = app!;
        const by = { id: req.actor.id, name: req.actor.name ?? null };
        // Your own lock, or as an owner anyone's; someone else's otherwise only with --force.
        // (Synchronous from the check to the release: nothing can change the lock in between.)
        let mayRemoveOthers = command.force;
        const lock = store.locks.get(a.name);
        if (lock && !mayRemoveOthers && !holds(lock, by)) {
          try {
            mayRemoveOthers = canDo(req.actor, a, 'own', this.options.groups);
          } catch (err) {
            if (!(err instanceof GroupLookupError)) throw err;
            // Whether they own the app is unknown, which is not "no": they are asked to try again.
            return reject('error', 'group_lookup_failed', `Couldn't check whether you own ${a.name} (${err.group}: ${err.reason}); try again, or \`unlock ${a.name} --force\`.`, {
              app: a.name,
            });
          }
        }
        return this.unlocked(store.locks.release(a.name, by, { mayRemoveOthers }), a.name, by, accept, reject);
      }
      case 'schedules': {
        const scheduled = (app ? [app] : [...this.options.apps.values()]).filter((a) => a.refresh);
        const schedules = scheduled.map((a) => this.scheduleView(a));
        const commandId = accept(app ? `schedules of ${app.name}` : 'schedules');
        const paused = schedules.filter((s) => s.paused).length;
        const message = app
          ? schedules.length
            ? `${app.name} refreshes ${schedules[0]!.words}${schedules[0]!.paused ? ' (paused)' : ''}.`
            : `${app.name} has no refresh schedule.`
          : `${schedules.length} scheduled refresh${schedules.length === 1 ? '' : 'es'}${paused ? `, ${paused} paused` : ''}.`;
        return { kind: 'schedules', status: 'ok', commandId, schedules, message };
      }
      case 'pause':
      case 'resume': {
        const a = app!;
        if (!a.refresh) return reject('conflict', 'no_schedule', `${a.name} has no refresh schedule to ${command.verb} (its KubeApp sets no \`refresh\`).`, { app: a.name });
        const words = cronInWords(a.refresh.schedule, a.refresh.timezone);
        if (command.verb === 'pause') {
          const reason = command.reason ?? null;
          const outcome = store.schedules.pause(a.name, { id: req.actor.id, name: req.actor.name ?? null }, reason);
          const paused = pauseOf(outcome.state)!;
          const was = outcome.kind === 'updated' ? ` (paused already by ${pausedBy(pauseOf(outcome.previous)!)})` : '';
          const commandId = accept(`paused${reason ? `: ${reason}` : ''}${was}`);
          return {
            kind: 'pause',
            status: 'ok',
            commandId,
            app: a.name,
            paused,
            schedule: this.scheduleView(a),
            message: `${a.name}'s refresh (${words}) is paused${reason ? `: “${reason}”` : ''}${was}. Its ticks are skipped until \`resume ${a.name}\`.`,
          };
        }
        const previous = store.schedules.resume(a.name);
        if (!previous) return reject('conflict', 'not_paused', `${a.name}'s refresh is not paused.`, { app: a.name });
        const view = this.scheduleView(a);
        const commandId = accept(`resumed (was paused by ${pausedBy(pauseOf(previous)!)})`);
        return {
          kind: 'pause',
          status: 'ok',
          commandId,
          app: a.name,
          paused: null,
          schedule: view,
          message: `${a.name}'s refresh (${words}) runs again (it was paused by ${pausedBy(pauseOf(previous)!)}). Next run: ${view.next ? localTime(Date.parse(view.next), a.refresh.timezone) : 'never'}.`,
        };
      }
      case 'apps': {
        const apps = [...this.options.apps.values()].map((a) => this.summary(a));
        const commandId = accept('apps');
        return { kind: 'apps', status: 'ok', commandId, apps, message: `${apps.length} apps on ${provider.label}.` };
      }
      case 'help': {
        const text = helpText(command.topic);
        const commandId = accept('help');
        return { kind: 'help', status: 'ok', commandId, text, message: text };
      }
    }
  }

  /** The answer to an `unlock`, from what the store did: whose lock was removed, or why not. */
  private unlocked(
    released: ReleaseOutcome,
    app: string,
    by: LockActor,
    accept: (message: string) => number,
    reject: (status: ResultStatus, code: ErrorCode, message: string, extra?: { app?: string | null }) => CommandResult,
  ): CommandResult {
    switch (released.kind) {
      case 'not_locked':
        return reject('conflict', 'not_locked', `${app} is not locked.`, { app });
      case 'held': {
        const owners = this.options.apps.get(app)?.owners ?? [];
        return reject(
          'conflict',
          'locked',
          `${app} is locked by ${heldBy(released.holder)}; only ${released.holder.lockedBy} or an owner (${owners.join(', ')}) unlocks it. \`unlock ${app} --force\` removes it anyway (recorded).`,
          { app },
        );
      }
      case 'unlocked': {
        const previous = released.previous;
        const what = `since ${since(previous.at)}: “${previous.reason}”`;
        const message = holds(previous, by) ? `${app} is unlocked (your lock ${what}).` : `${app} is unlocked: removed ${previous.lockedBy}'s lock (${what}).`;
        const commandId = accept(holds(previous, by) ? 'unlocked' : `unlocked: removed the lock of ${heldBy(previous)}`);
        return { kind: 'lock', status: 'ok', commandId, app, lock: null, message };
      }
    }
  }

  /**
   * A scheduled refresh: redeploys the app's live version blue/green onto a
   * fresh cluster (new nodes, patched AMIs). Called by schedules/index.ts for
   * each tick, recorded like any command (surface 'schedule'), and the tick
   * itself (store.schedules) in the same transaction: what it started, or why
   * it was skipped.
   *
   * Policy, in this order — a tick is skipped (and says why) when:
   *   it passed while kubecontrol was down, outside the app's catch-up window;
   *   the app's schedule is paused; it is locked; the previous refresh has not
   *   finished (running, or still cleaning up); another deploy of it is queued
   *   or running; it has never been deployed (nothing to refresh).
   * Whether the refresh may cut over without a person is the app's
   * `refresh.autoCutover`, applied by the deployer when the new cluster is up.
   */
  refresh(appName: string, tick: RefreshTick): CommandResult {
    const { store, deployer, provider } = this.options;
    const actor = { id: 'schedule', name: 'kubecontrol schedule' };
    const app = this.options.apps.get(appName);
    const missed = tick.missed;
    const late = missed ? ` (the run planned for ${localTime(tick.plannedAt, app?.refresh?.timezone ?? 'UTC')}, missed while kubecontrol was down)` : '';
    const base = { actor: actor.id, actorName: actor.name, surface: 'schedule' as const, text: `refresh ${appName} (${tick.trigger})`, verb: 'refresh', app: appName };
    const channel = app ? (app.refresh?.channel ?? app.channel) : '';
    const skip = (code: ErrorCode, message: string): CommandResult => {
      const commandId = store.tx(() => {
        const id = store.commands.record({ ...base, outcome: 'refused', message });
        if (app) store.schedules.recordRun({ app: app.name, plannedAt: tick.plannedAt, outcome: 'skipped', reason: message, missed: !!missed, commandId: id, channel });
        return id;
      });
      this.logCommand(commandId, base, { ...base, outcome: 'refused', message });
      return { kind: 'error', status: 'conflict', code, message, commandId };
    };
    if (!app) return skip('unknown_app', `refresh skipped: ${appName} is no longer defined`);
    if (missed && !missed.catchUp) {
      const count = missed.count > 1 ? ` (and ${missed.count - 1}${missed.more ? '+' : ''} run${missed.count > 2 ? 's' : ''} before it)` : '';
      const window = app.refresh?.catchUpMinutes ? `its catch-up window of ${formatMinutes(app.refresh.catchUpMinutes)} had passed` : 'it has no catch-up window';
      return skip('missed_run', `refresh of ${app.name} skipped: the run planned for ${localTime(tick.plannedAt, app.refresh?.timezone ?? 'UTC')}${count} was missed while kubecontrol was down, and ${window}`);
    }
    const paused = pauseOf(store.schedules.state(app.name));
    if (paused) return skip('paused', `refresh of ${app.name} skipped${late}: paused by ${pausedBy(paused)}`);
    const lock = store.locks.get(app.name);
    if (lock) return skip('locked', `refresh of ${app.name} skipped${late}: locked by ${heldBy(lock)}`);
    const active = store.deploys.active().filter((d) => d.app === app.name);
    const previous = active.find((d) => d.kind === 'refresh') ?? store.deploys.pendingCleanup().find((d) => d.app === app.name && d.kind === 'refresh');
    if (previous) {
      const where = isTerminal(previous.state) ? `is still cleaning up after it ${previous.state.replace('_', ' ')}` : `has not finished (${previous.state.replace('_', ' ')})`;
      return skip('wrong_state', `refresh of ${app.name} skipped${late}: the previous refresh #${previous.id} (${previous.version}) ${where}`);
    }
    const busy = active[0];
    if (busy) return skip('wrong_state', `refresh of ${app.name} skipped${late}: deploy #${busy.id} (${busy.version}) is ${busy.state.replace('_', ' ')}`);
    const env = store.environments.live(app.name);
    const live = env?.version ? { version: env.version } : undefined;
    if (!live) return skip('no_live_version', `refresh of ${app.name} skipped${late}: it has never been deployed`);
    const caughtUp = missed ? ` — catching up the run planned for ${localTime(tick.plannedAt, app.refresh?.timezone ?? 'UTC')}, missed while kubecontrol was down` : '';
    const created = store.tx(() => {
      const commandId = store.commands.record({ ...base, outcome: 'accepted', message: `refresh of ${app.name} ${live.version} queued` });
      const d = store.deploys.create({
        app: app.name,
        version: live.version,
        strategy: 'blue-green',
        kind: 'refresh',
        requestedBy: actor.id,
        requestedByName: actor.name,
        surface: 'schedule',
        commandId,
        provider: provider.name,
        threadChannel: channel,
      });
      this.finish(commandId, base, { verb: base.verb, app: base.app, outcome: 'accepted', deployId: d.id, message: `refresh deploy #${d.id} queued${caughtUp}` });
      store.schedules.recordRun({
        app: app.name,
        plannedAt: tick.plannedAt,
        outcome: 'started',
        reason: `refresh #${d.id} of ${live.version}${caughtUp}`,
        missed: !!missed,
        deployId: d.id,
        commandId,
        channel,
      });
      store.events.append({ deployId: d.id, kind: 'command', message: `scheduled refresh of ${app.name} ${live.version} (${tick.trigger})${caughtUp}`, data: { actor: actor.id, surface: 'schedule', commandId } });
      return { d, commandId };
    });
    // A schedule has nobody to answer: the deploy joins its line at once.
    const position = deployer.submit(created.d);
    return {
      kind: 'deploy_queued',
      status: 'ok',
      commandId: created.commandId,
      deploy: this.view(created.d.id),
      position,
      message: `Refresh #${created.d.id}: ${app.name} ${live.version} onto a fresh cluster (${tick.trigger})${caughtUp}.`,
    };
  }

  /** An app's schedule as `schedules` shows it: in words, next run, last tick and its outcome, pause. */
  private scheduleView(a: KubeApp): ScheduleView {
    const { store } = this.options;
    const r = a.refresh!;
    const now = store.now();
    const next = nextRun(r.schedule, r.timezone, now);
    const last = store.schedules.lastRun(a.name);
    const d = last?.deployId ? store.deploys.get(last.deployId) : undefined;
    return {
      app: a.name,
      cron: r.schedule,
      words: cronInWords(r.schedule, r.timezone),
      timezone: r.timezone,
      next: next === null ? null : new Date(next).toISOString(),
      channel: r.channel,
      autoCutover: r.autoCutover,
      catchUpMinutes: r.catchUpMinutes,
      paused: pauseOf(store.schedules.state(a.name)),
      last: last
        ? {
            plannedAt: last.plannedAt,
            outcome: last.outcome,
            missed: last.missed === 1,
            reason: last.reason,
            deployId: last.deployId,
            state: d?.state ?? null,
            thread: d?.threadChannel && d.threadTs ? { channel: d.threadChannel, ts: d.threadTs } : null,
          }
        : null,
      warning:
        next === null
          ? 'it never runs again'
          : next - now > FAR_AWAY_MS
            ? `its next run is more than a year away (${localTime(next, r.timezone)})`
            : null,
    };
  }

  /** Every app's status (or the named ones') as `status` answers it, read without being a command: what the console's pages show. */
  statuses(names: readonly string[] = [...this.options.apps.keys()]): AppStatus[] {
    const known = names.filter((n) => this.options.apps.has(n));
    const rows = this.statusRows(known);
    return known.map((n) => this.appStatus(n, rows));
  }

  /**
   * What `status` reads, for the apps named: each table read once and grouped by app (live environments
   * with their last success, locks, unfinished deploys), so every app's status is a few statements
   * whatever the number of apps; one app's, its own rows only.
   */
  private statusRows(names: readonly string[]): StatusRows {
    const { store } = this;
    const active = new Map<string, DeployRecord[]>();
    for (const d of store.deploys.active()) {
      const line = active.get(d.app);
      if (line) line.push(d);
      else active.set(d.app, [d]);
    }
    const { provider } = this.options;
    if (names.length === 1) {
      const name = names[0]!;
      const env = store.environments.live(name);
      const lock = store.locks.get(name);
      return { active, live: new Map(env ? [[name, env]] : []), lastSuccess: (app) => store.deploys.lastSucceeded(app), locks: new Map(lock ? [[name, lock]] : []), provider };
    }
    const live = new Map<string, EnvironmentRecord>();
    const lastSuccess = new Map<string, LastSuccess>();
    for (const { env, lastSuccess: last } of store.environments.liveWithLastSuccess()) {
      live.set(env.app, env);
      if (last) lastSuccess.set(env.app, last);
    }
    const versions = provider.kubernetesVersions?.bind(provider);
    const asked = new Map<string, readonly KubernetesVersion[]>();
    const once: Provider['kubernetesVersions'] = versions && ((cmd) => {
      const key = JSON.stringify(cmd.placement ?? null);
      let v = asked.get(key);
      if (!v) asked.set(key, (v = versions(cmd)));
      return v;
    });
    return { active, live, lastSuccess: (app) => lastSuccess.get(app), locks: store.locks.byApp(), provider: once ? Object.create(provider, { kubernetesVersions: { value: once } }) : provider };
  }

  /** A deploy with its steps, decision and place in line. */
  view(id: number): DeployView {
    return this.toView(this.store.deploys.get(id)!);
  }

  private toView(d: DeployRecord): DeployView {
    const end = d.finishedAt ?? this.store.now();
    return {
      ...d,
      steps: this.store.deploys.steps(d.id),
      approval: this.store.approvals.forDeploy(d.id) ?? null,
      queue: isTerminal(d.state) ? null : (this.options.deployer.position(d) ?? null),
      durationMs: end - (d.startedAt ?? d.createdAt),
    };
  }

  private appStatus(name: string, rows: StatusRows): AppStatus {
    const active = rows.active.get(name) ?? [];
    // Ownership: what serves the app is its live environment, whichever deploy last changed it.
    const env = rows.live.get(name);
    // During a blue/green's drain the deploy that cut over has not succeeded yet, but DNS already points at its environment.
    const cutOver = env ? active.find((d) => d.state === 'tearing_down' && d.toEnvId === env.id) : undefined;
    const last = env && !cutOver ? rows.lastSuccess(name) : undefined;
    return {
      app: name,
      live: env
        ? cutOver
          ? { version: env.version ?? cutOver.version, cluster: env.name, deployId: cutOver.id, since: env.liveSince ?? cutOver.updatedAt }
          : { version: env.version ?? last?.version ?? '?', cluster: env.name, deployId: last?.id ?? env.createdBy, since: last?.finishedAt ?? env.liveSince ?? env.updatedAt }
        : null,
      draining: cutOver ? this.draining(cutOver) : null,
      active: active.map((d) => this.toView(d)),
      lock: rows.locks.get(name) ?? null,
      ...liveOperationsStatus(this.store, rows.provider, this.options.apps.get(name), env),
    };
  }

  /** The environment a deploy in teardown took the traffic from, while it is not yet gone. */
  private draining(d: DeployRecord): DrainingStatus | null {
    const previous = d.fromEnvId ? this.store.environments.get(d.fromEnvId) : undefined;
    if (!previous || previous.state !== 'retiring') return null;
    const app = this.options.apps.get(d.app);
    // As the deployer's flip-back asks (Deployer.drainingFrom): still serving, nothing of it deleted.
    const whole = !!previous.endpoint && this.store.resources.forEnv(previous.id).every((r) => r.state === 'created');
    return {
      version: previous.version ?? d.fromVersion ?? '?',
      cluster: previous.name,
      deployId: d.id,
      dns: app?.dns.name ?? d.app,
      until: drainDeadline(this.store, d.id) ?? null,
      rollback: whole,
    };
  }

  private summary(a: KubeApp): AppSummary {
    const hw = a.hardware;
    return {
      name: a.name,
      description: a.description,
      strategy: a.strategy,
      dns: a.dns.name,
      channel: a.channel,
      hardware:
        hw.capacity === 'fargate'
          ? 'Fargate'
          : `${hw.minNodes}-${hw.maxNodes} × ${hw.instanceTypes.join('/')} (${hw.arch}${hw.spot ? ', spot' : ''})`,
      owners: a.owners,
      deployers: a.deployers,
      approvers: a.approvers,
      liveVersion: this.store.environments.live(a.name)?.version ?? null,
      locked: !!this.store.locks.get(a.name),
    };
  }
}
