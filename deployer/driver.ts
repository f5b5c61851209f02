/**
 * The driver: walks a deploy through its strategy's phases (deployer/strategies),
 * one persisted state at a time, and replays its undo log on every exit.
 *
 *   start()    resume what a previous process left (non-terminal deploys, unfinished undos)
 *   submit()   a recorded deploy joins its app's line (called AFTER the surface answered)
 *   decide() · cancel() · flipBackIfHealthy()   people's decisions, each one compare-and-set
 *   advance()  the walk: queued → phases… → succeeded, or an exit → undo
 *
 * States and legal moves are the lifecycle table (store/lifecycle.ts); steps
 * are small modules (deployer/steps); time comes from the injected Clock.
 */
import type { Logger } from 'pino';
import type { KubeApp } from '../kubeapps/index.js';
import { CANCELLABLE, isTerminal, type DeployPatch, type EnvironmentRecord, type DeployRecord, type DeployState, type StepName, type Store, type Surface } from '../store/index.js';
import type { Clock, Timer } from './clock.js';
import { AbortReason, InfraError, abortKind, errorMessage } from './errors.js';
import { createDeployLedger } from './ledger.js';
import type { Provider, StepContext } from './ports.js';
import { DeployQueue, type QueuePosition } from './queue.js';
import type { Step, StepEnv } from './steps/step.js';
import { clusterRef, healthCheck } from './specs.js';
import { appScale, envScale, scaleWords } from './operations.js';
import { phasesOf, type Phase } from './strategies/index.js';
import { abortable, formatDuration } from './time.js';
import { replayUndoLog } from './undo.js';

/** How long a stopped step is waited for before the deploy is undone, when it does not stop on its signal. */
const STOP_GRACE_MS = 60_000;

/** A step that failed, with the message users see. */
export class StepError extends InfraError {
  constructor(
    readonly step: StepName,
    message: string,
    options?: { cause?: unknown },
    /** Stopped by a cancel or a failing sibling step, rather than failed on its own. */
    readonly stopped = false,
  ) {
    super('provider_failed', message, options);
    this.name = 'StepError';
  }
}

export interface DeployerOptions {
  readonly store: Store;
  readonly provider: Provider;
  /** The KubeApps by name. */
  readonly apps: ReadonlyMap<string, KubeApp>;
  /** How many deploys may run at once across all apps. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Overrides every app's approval timeout (demos, tests). */
  readonly approvalTimeoutMs?: number;
  /** Attempts per resource when tearing down; default 3. */
  readonly teardownAttempts?: number;
}

/** The outcome of a cancel or a decision, for the command core to phrase. */
export type ControlOutcome =
  | { readonly ok: true; readonly deploy: DeployRecord }
  | { readonly ok: false; readonly reason: 'not_found' | 'wrong_state'; readonly deploy?: DeployRecord };

/** A flip-back's outcome: also refused when the environment traffic would go back to is unhealthy. */
export type FlipBackOutcome =
  | ControlOutcome
  | { readonly ok: false; readonly reason: 'unhealthy'; readonly deploy: DeployRecord; /** Why, for people: what failed and that nothing changed. */ readonly message: string };

/** Whether a refresh's new cluster passed the cutover's health check, and what was seen. */
interface HealthVerdict {
  readonly healthy: boolean;
  readonly detail: string;
}

/** Who decided something, as recorded. */
export interface By {
  readonly actor: string;
  readonly actorName?: string | null;
  readonly surface: Surface;
  readonly reason?: string | null;
}

export class Deployer {
  private readonly store: Store;
  private readonly provider: Provider;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly queue: DeployQueue;
  private readonly controllers = new Map<number, AbortController>();
  private readonly deadlines = new Map<number, Timer>();
  private closed = false;

  constructor(private readonly options: DeployerOptions) {
    this.store = options.store;
    this.provider = options.provider;
    this.clock = options.clock;
    this.log = options.logger.child({ component: 'deployer' });
    this.queue = new DeployQueue(options.concurrency, (id) => this.advance(id), (id, err) => this.log.error({ deployId: id, err }, 'deploy phase crashed'));
  }

  /** Picks up every non-terminal deploy (oldest first per app) and every unfinished undo. Call once at start. */
  start(): void {
    for (const d of this.store.deploys.pendingCleanup()) {
      // In its app's line, as before the restart: the app's next deploy waits until the cleanup has finished.
      if (isTerminal(d.state)) this.queue.enqueue(d.app, d.id);
    }
    for (const d of this.store.deploys.active()) {
      this.event(d.id, 'queue', `resumed after a restart in state ${d.state}`);
      this.queue.enqueue(d.app, d.id);
    }
  }

  /**
   * A recorded deploy takes its place at the end of its app's line, without starting: the command
   * core calls it in the transaction that creates the deploy, so the place it answers with is exact
   * (two deploys accepted before either started cannot both be first). Says "queued behind" in the
   * deploy's events when it waits. `submit` starts it, after the surface answered.
   */
  join(deploy: DeployRecord): QueuePosition {
    const joined = this.queue.join(deploy.app, deploy.id);
    if (!joined.added || joined.position.position === 0) return joined.position;
    const position = joined.position;
    const ahead = this.store.deploys.get(position.ahead[0]!);
    this.event(
      deploy.id,
      'queue',
      `queued behind ${position.position} deploy${position.position > 1 ? 's' : ''} of ${deploy.app} (now running: #${ahead?.id} ${ahead?.version}, ${ahead?.state})`,
      'info',
      { position: position.position, ahead: position.ahead },
    );
    return position;
  }

  /** A deploy that joined in a transaction that did not commit leaves its line again. */
  leave(deploy: DeployRecord): void {
    this.queue.release(deploy.app, deploy.id);
  }

  /** A recorded deploy joins its app's line (if it has not yet) and starts when it is at the head. Surfaces call it after they answered. */
  submit(deploy: DeployRecord): QueuePosition {
    const position = this.join(deploy);
    this.queue.startIfFirst(deploy.app, deploy.id);
    return position;
  }

  /** Where a deploy stands in its app's line: from the line itself, else (not joined yet) counted in the store. */
  position(deploy: DeployRecord): QueuePosition | undefined {
    if (isTerminal(deploy.state)) return undefined;
    const inLine = this.queue.position(deploy.app, deploy.id);
    if (inLine) return inLine;
    const { count, ids } = this.store.deploys.ahead(deploy.app, deploy.id);
    return { position: count, ahead: ids };
  }

  /** Running phases and phases waiting for a global slot. */
  get load(): { running: number; waiting: number } {
    return this.queue.load;
  }

  /** Cancels a queued, running or approval-waiting deploy. */
  cancel(deployId: number, by: By): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    if (!CANCELLABLE.includes(d.state)) return { ok: false, reason: 'wrong_state', deploy: d };
    const moved = this.exit(d, 'cancelled', `cancelled by ${by.actor} (${by.surface}) while ${d.state}`, `cancelled by ${by.actor}`);
    if (!moved) return { ok: false, reason: 'wrong_state', deploy: this.store.deploys.get(deployId) };
    this.stop(deployId, new AbortReason('cancelled', `cancelled by ${by.actor}`));
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /**
   * Rollback during the drain: the deploy that just took the traffic gives it
   * back, while the retiring environment is still whole. The deploy ends
   * `cancelled` and its undo log hands ownership back, points DNS back and
   * deletes its own environment.
   *
   * The previous environment is checked first (the same health check a cutover
   * runs, against its endpoint): traffic never goes back to something that does
   * not answer. When it is unhealthy nothing changes — the deploy keeps its
   * traffic and its drain — and the outcome says why.
   */
  async flipBackIfHealthy(deployId: number, by: By, signal?: AbortSignal): Promise<FlipBackOutcome> {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    const previous = this.drainingFrom(d);
    if (!previous) return { ok: false, reason: 'wrong_state', deploy: d };
    const app = this.options.apps.get(d.app);
    if (!app) return { ok: false, reason: 'wrong_state', deploy: d };
    try {
      await this.provider.dns.checkHealth({
        ...healthCheck(app, clusterRef(app, previous.name)),
        target: previous.endpoint!,
        progress: (message, data) => this.event(d.id, 'progress', `flip-back check of ${previous.name}: ${message}`, 'info', data ?? null, 'teardown'),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const message =
        `${previous.name} (${previous.version ?? d.fromVersion ?? '?'}) does not pass its health check (${errorMessage(err)}): ` +
        `traffic stays on ${d.toCluster} and nothing was changed`;
      this.event(d.id, 'error', `rollback by ${by.actor} refused: ${message}`, 'warn', { flipBack: 'refused' }, 'teardown');
      return { ok: false, reason: 'unhealthy', deploy: this.store.deploys.get(deployId)!, message };
    }
    // Checked again after the wait: the drain may have ended, and the teardown started, meanwhile.
    return this.flipBack(deployId, by);
  }

  /**
   * The flip-back's compare-and-set, without the health check of the previous
   * environment: callers use `flipBackIfHealthy`.
   */
  flipBack(deployId: number, by: By): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    const previous = this.drainingFrom(d);
    if (!previous) return { ok: false, reason: 'wrong_state', deploy: d };
    // Synchronous from the check to the abort: the teardown cannot start deleting in between.
    const moved = this.exit(d, 'cancelled', `rolled back by ${by.actor} (${by.surface}) during the drain: traffic goes back to ${previous.name}`, `rolled back by ${by.actor} during the drain`);
    if (!moved) return { ok: false, reason: 'wrong_state', deploy: this.store.deploys.get(deployId) };
    this.stop(deployId, new AbortReason('cancelled', `rolled back by ${by.actor}`));
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /** The environment a draining deploy took the traffic from, when it is still whole (serving, nothing deleted). */
  private drainingFrom(d: DeployRecord): EnvironmentRecord | undefined {
    if (d.state !== 'tearing_down') return undefined;
    const previous = d.fromEnvId ? this.store.environments.get(d.fromEnvId) : undefined;
    const whole = !!previous?.endpoint && previous.state === 'retiring' && this.store.resources.forEnv(previous.id).every((r) => r.state === 'created');
    return whole ? previous : undefined;
  }

  /** Records a cutover decision on a deploy waiting for approval; exactly one decision wins. */
  decide(deployId: number, decision: 'approved' | 'rejected' | 'timed_out', by: By): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    const to: DeployState = decision === 'approved' ? 'cutting_over' : decision;
    const won = this.store.tx(() => {
      const patch: DeployPatch =
        decision === 'approved'
          ? {}
          : { finishedAt: this.clock.now(), cleanup: 'pending', error: decision === 'rejected' ? `rejected by ${by.actor}${by.reason ? `: ${by.reason}` : ''}` : 'approval timed out' };
      if (!this.store.deploys.transition(deployId, ['awaiting_approval'], to, patch)) return false;
      this.store.approvals.record({ deployId, decision, actor: by.actor, actorName: by.actorName, surface: by.surface, reason: by.reason });
      const who = by.actorName ?? by.actor;
      const text =
        decision === 'approved' ? `cutover approved by ${who}` : decision === 'rejected' ? `cutover rejected by ${who}${by.reason ? `: ${by.reason}` : ''}` : 'no decision before the approval timeout';
      this.store.deploys.step(deployId, 'approval', decision === 'approved' ? 'succeeded' : 'failed', text);
      this.event(deployId, 'approval', text, decision === 'approved' ? 'info' : 'warn', { decision, actor: by.actor });
      this.event(deployId, 'state', to, 'info', { state: to });
      return true;
    });
    if (!won) return { ok: false, reason: 'wrong_state', deploy: this.store.deploys.get(deployId) };
    this.clearDeadline(deployId);
    this.queue.schedule(deployId, 1);
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /** Resolves when no phase is running or waiting for a slot (approval waits do not count). */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  /** Stops: no new phases start; running ones are aborted as "shutdown" and keep their state for the next process. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.pause();
    for (const t of this.deadlines.values()) t.cancel();
    this.deadlines.clear();
    for (const c of this.controllers.values()) c.abort(new AbortReason('shutdown', 'kubecontrol is shutting down'));
    await this.queue.onIdle();
  }

  // --- the walk ------------------------------------------------------------

  /** Runs a deploy from its current state until it waits for approval or ends (then undoes, if it must). */
  private async advance(id: number): Promise<void> {
    if (this.closed) return;
    const d = this.store.deploys.get(id);
    if (!d) return;
    if (!isTerminal(d.state)) {
      if (d.state === 'awaiting_approval') return this.armDeadline(d);
      const controller = new AbortController();
      this.controllers.set(id, controller);
      try {
        await this.walk(d, controller.signal);
      } catch (err) {
        if (abortKind(controller.signal) === 'shutdown') return; // resumed by the next process
        const current = this.store.deploys.get(id)!;
        if (!isTerminal(current.state)) this.exit(current, 'failed', `failed: ${errorMessage(err)}`, errorMessage(err), 'error');
      } finally {
        if (this.controllers.get(id) === controller) this.controllers.delete(id);
      }
    }
    const end = this.store.deploys.get(id)!;
    if (!isTerminal(end.state)) return; // waiting for approval
    if (end.cleanup === 'pending') await this.undo(end);
    this.queue.release(end.app, end.id);
  }

  /** Walks the strategy's phases from the deploy's state. Returns when it waits or has succeeded. */
  private async walk(d: DeployRecord, signal: AbortSignal): Promise<void> {
    const app = this.app(d.app);
    if (d.state === 'queued') d = this.begin(d, app);
    const phases = phasesOf(d);
    // A scheduled refresh's health verdict, taken before it waits for approval (see awaitApproval).
    let verdict: HealthVerdict | undefined;
    for (let i = phases.findIndex((p) => p.states.includes(d.state)); i >= 0 && i < phases.length; i++) {
      const phase = phases[i]!;
      if (phase.await === 'approval') return this.awaitApproval(d, app, verdict);
      await this.runPhase(d, app, phase, signal);
      const nextPhase = phases[i + 1];
      if (nextPhase?.await === 'approval' && d.kind === 'refresh') verdict = await this.healthVerdict(this.store.deploys.get(d.id)!, app, signal);
      const current = d;
      const moved = this.store.tx(() => {
        if (!nextPhase) {
          if (!this.move(current.id, phase.states, 'succeeded', succeededMessage(current, app), { finishedAt: this.clock.now() })) return false;
          this.succeed(current);
          return true;
        }
        if (nextPhase.await === 'approval') return this.enterApproval(current, app, phase.states);
        return this.move(current.id, phase.states, nextPhase.states[0]!, nextPhase.states[0]!);
      });
      if (!moved) return; // someone else moved it (a cancel, a flip back)
      d = this.store.deploys.get(d.id)!;
    }
  }

  /**
   * queued → its first phase: notes what is live (the "from" side); a blue/green records its new environment
   * (with what the KubeApp says it runs with) and that environment's undo. An in-place operation works on the live one.
   */
  private begin(d: DeployRecord, app: KubeApp): DeployRecord {
    const live = this.store.environments.live(d.app);
    const lastOk = this.store.deploys.lastSucceeded(d.app);
    const operation = d.kind === 'scale' || d.kind === 'restart';
    if (operation && !live) {
      throw new StepError(d.kind as 'scale' | 'restart', `${app.name} has no running cluster to ${d.kind}: deploy it first`);
    }
    if (d.strategy === 'rolling' && !live) {
      throw new StepError('deploy', `${app.name} has no running cluster to update: deploy it with --strategy blue-green first`);
    }
    const first = phasesOf(d)[0]!.states[0]!;
    this.store.tx(() => {
      let toEnvId = live?.id ?? null;
      let toCluster = live?.name ?? null;
      if (d.strategy === 'blue-green') {
        // The provider names it (the aws provider adds the installation, so two installations never collide).
        toCluster = this.provider.clusterName?.({ app: app.name, deployId: d.id }) ?? `${app.name}-${d.id}`;
        const env = this.store.environments.create({ app: app.name, name: toCluster, provider: this.provider.name, createdBy: d.id, version: d.version, scale: appScale(app) });
        toEnvId = env.id;
        this.store.undo.append(d.id, { kind: 'environment', envId: env.id, name: env.name });
      }
      const turn = operation ? `${d.kind} of ${d.app} on ${live!.name}` : d.kind === 'upgrade' ? `upgrade of ${d.app} ${d.version} onto Kubernetes ${d.kubernetesVersion ?? '?'}` : `${d.app} ${live?.version ? `${live.version} → ` : ''}${d.version}`;
      this.event(d.id, 'queue', `your turn: ${turn} starts now`);
      // A new cluster comes from the KubeApp: a scale of the live one does not come along, said where it is seen.
      if (d.strategy === 'blue-green' && live?.scaledBy) {
        const was = envScale(live, app);
        this.event(d.id, 'queue', `this ${d.kind} resets the scale of ${d.app}: ${live.name} runs ${scaleWords(was)} (scale #${live.scaledBy}); ${toCluster} gets the KubeApp's ${scaleWords(appScale(app))}`, 'warn', {
          scaledBy: live.scaledBy,
          from: was,
          to: appScale(app),
        });
      }
      this.move(d.id, ['queued'], first, first, {
        startedAt: this.clock.now(),
        fromVersion: live?.version ?? null,
        fromCluster: live?.name ?? null,
        fromEnvId: live?.id ?? null,
        fromDeployId: lastOk?.id ?? null,
        toCluster,
        toEnvId,
      });
    });
    return this.store.deploys.get(d.id)!;
  }

  /** Runs a phase's steps in parallel. If one fails, the others are stopped rather than left to run for nothing. */
  private async runPhase(d: DeployRecord, app: KubeApp, phase: Phase, signal: AbortSignal): Promise<void> {
    const group = new AbortController();
    const onAbort = (): void => group.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const ready = new Set<StepName>(this.store.deploys.steps(d.id).filter((s) => s.state === 'succeeded').map((s) => s.name));
    const todo = phase.steps.filter((s) => !ready.has(s.name));
    const results = await Promise.allSettled(
      todo.map((step) =>
        this.runStep(d, app, step, group.signal)
          .then(() => {
            // The state names the longer-running half: once the image is ready, the deploy is provisioning.
            if (step.name === 'build' && todo.some((s) => s.name === 'provision')) this.move(d.id, ['building'], 'provisioning', 'provisioning');
          })
          .catch((err: unknown) => {
            if (!group.signal.aborted) group.abort(new AbortReason('cancelled', `${todo.filter((s) => s !== step).map((s) => s.name).join(' and ')} stopped because ${step.name} failed`));
            throw err;
          }),
      ),
    );
    signal.removeEventListener('abort', onAbort);
    // Report the step that failed first, not the one stopped because of it.
    const failed =
      results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof StepError && r.reason.stopped)) ??
      results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    const kind = abortKind(signal);
    if (phase.tolerateFailure && kind !== 'shutdown' && kind !== 'cancelled') {
      // Traffic already moved: record it, leave what is left to `gc`, and go on.
      this.event(d.id, 'error', `the old cluster ${d.fromCluster} was not fully torn down (${errorMessage(failed.reason)}); \`kubecontrol gc\` lists what is left`, 'error', {}, 'teardown');
      return;
    }
    throw failed.reason;
  }

  /** Runs one step with its timeout, recording its start, progress and outcome (and its commit with the success). */
  private async runStep(d: DeployRecord, app: KubeApp, step: Step, parent: AbortSignal): Promise<void> {
    const name = step.name;
    const timeoutMs = this.provider.timeouts[step.timeout ?? (name as keyof Provider['timeouts'])];
    const controller = new AbortController();
    const onParentAbort = (): void => controller.abort(parent.reason);
    if (parent.aborted) controller.abort(parent.reason);
    parent.addEventListener('abort', onParentAbort, { once: true });
    const timer = timeoutMs ? this.clock.setTimer(() => controller.abort(new AbortReason('timeout', `${name} timed out after ${formatDuration(timeoutMs)}`)), timeoutMs) : undefined;
    const started = this.clock.now();
    this.store.tx(() => {
      this.store.deploys.step(d.id, name, 'running');
      this.event(d.id, 'step', `${name} started`, 'info', { state: 'running' }, name);
    });
    let running: Promise<unknown> | undefined;
    try {
      const current = this.store.deploys.get(d.id)!;
      const run = step.run(this.stepEnv(current, app, name, controller.signal));
      running = run;
      const outcome = await abortable(run, controller.signal);
      if (outcome.skipped) {
        this.store.tx(() => {
          this.store.deploys.step(d.id, name, 'skipped', outcome.detail);
          this.event(d.id, 'step', `${name} skipped: ${outcome.detail}`, 'info', { state: 'skipped' }, name);
        });
        return;
      }
      this.store.tx(() => {
        outcome.commit?.();
        this.store.deploys.step(d.id, name, 'succeeded', outcome.detail);
        const took = this.clock.now() - started;
        this.event(d.id, 'step', `${name} succeeded in ${formatDuration(took)}: ${outcome.detail}`, 'info', { state: 'succeeded', durationMs: took }, name);
      });
    } catch (err) {
      const kind = abortKind(controller.signal);
      if (kind === 'shutdown') throw err;
      const reason = controller.signal.reason as AbortReason | undefined;
      const message = kind === 'timeout' || kind === 'cancelled' ? reason!.message : `${name} failed: ${errorMessage(err)}`;
      const cancelled = kind === 'cancelled';
      this.store.tx(() => {
        this.store.deploys.step(d.id, name, cancelled ? 'cancelled' : 'failed', message);
        this.event(d.id, 'step', message, cancelled ? 'warn' : 'error', { state: cancelled ? 'cancelled' : 'failed', durationMs: this.clock.now() - started }, name);
      });
      // A step stopped by its time limit, a cancel or a failing sibling may still be inside a call (a cluster
      // being created): it is let see its signal and stop before the deploy is undone, or what it makes
      // after the undo ran would be left behind with the undo saying nothing was.
      if (running && controller.signal.aborted) await this.stopped(running);
      throw new StepError(name, message, { cause: err }, cancelled);
    } finally {
      timer?.cancel();
      parent.removeEventListener('abort', onParentAbort);
    }
  }

  /** Resolves once a stopped step's code has settled, or after STOP_GRACE_MS (clock) when it ignores its signal. */
  private async stopped(running: Promise<unknown>): Promise<void> {
    let timer: Timer | undefined;
    await Promise.race([running.then(() => undefined, () => undefined), new Promise<void>((resolve) => (timer = this.clock.setTimer(resolve, STOP_GRACE_MS)))]);
    timer?.cancel();
  }

  private stepEnv(d: DeployRecord, app: KubeApp, step: StepName, signal: AbortSignal): StepEnv {
    return {
      store: this.store,
      provider: this.provider,
      clock: this.clock,
      deploy: d,
      app,
      ctx: this.context(d, app, step, signal),
      teardownAttempts: this.options.teardownAttempts ?? 3,
    };
  }

  /** The adapters' context: it names the app; what they need of it travels as specs (deployer/specs.ts). */
  private context(d: DeployRecord, app: KubeApp, step: StepName, signal: AbortSignal): StepContext {
    return {
      deployId: d.id,
      app: app.name,
      version: d.version,
      step,
      signal,
      ledger: createDeployLedger(this.store, { id: d.id, app: d.app, envId: d.strategy === 'blue-green' ? d.toEnvId : null }, this.provider.name),
      progress: (message, data) => this.event(d.id, 'progress', message, 'info', data ?? null, step),
    };
  }

  /** Moves to awaiting_approval with its deadline and the approval step, in the caller's transaction. */
  private enterApproval(d: DeployRecord, app: KubeApp, from: readonly DeployState[]): boolean {
    const timeoutMs = this.options.approvalTimeoutMs ?? app.approvalTimeoutMinutes * 60_000;
    const deadline = this.clock.now() + timeoutMs;
    if (!this.move(d.id, from, 'awaiting_approval', 'awaiting_approval', { approvalDeadline: deadline })) return false;
    this.store.deploys.step(d.id, 'approval', 'running', `waiting for an approver until ${new Date(deadline).toISOString()}`);
    const target = this.store.deploys.get(d.id)!;
    this.event(
      d.id,
      'approval',
      `waiting for approval: ${app.dns.name} would move from ${target.fromCluster ?? 'nothing'} to ${target.toCluster}; ` +
        `approvers: ${app.approvers.join(', ')}; times out in ${formatDuration(timeoutMs)}`,
      'info',
      { deadline, approvers: app.approvers, dns: app.dns.name, from: target.fromCluster, to: target.toCluster },
    );
    return true;
  }

  /**
   * In awaiting_approval: the deadline is armed and the slot given back. A scheduled refresh redeploys
   * the version that is already live and approved, so it may cut over without a person — when its app
   * allows it (`refresh.autoCutover`, 'when-healthy' by default) and only on a real health verdict (the
   * cutover's own health check against the new cluster, `healthVerdict`). Otherwise it waits for an
   * approver like any deploy, and says why (an event, and the approval step's detail).
   */
  private awaitApproval(d: DeployRecord, app: KubeApp, verdict: HealthVerdict | undefined): void {
    if (d.state !== 'awaiting_approval') return;
    if (d.kind === 'refresh' && !this.store.approvals.forDeploy(d.id)) {
      const policy = app.refresh?.autoCutover ?? 'when-healthy';
      const why =
        policy === 'never'
          ? `${app.name}'s refresh.autoCutover is 'never'`
          : !verdict
            ? 'no health verdict was taken (the deploy was resumed after a restart)'
            : !verdict.healthy
              ? `the health check of ${d.toCluster} failed: ${verdict.detail}`
              : undefined;
      if (!why) {
        this.decide(d.id, 'approved', { actor: 'schedule', actorName: 'kubecontrol schedule', surface: 'schedule', reason: `every health check passed (${verdict!.detail})` });
        return;
      }
      const text = `no cutover without a person: ${why}; waiting for an approver (${app.approvers.join(', ')}) like any deploy`;
      this.store.tx(() => {
        this.store.deploys.step(d.id, 'approval', 'running', text);
        this.event(d.id, 'approval', text, 'warn', { autoCutover: 'withheld', reason: why });
      });
    }
    this.armDeadline(d);
  }

  /**
   * The health verdict a refresh's automatic cutover depends on: the cutover's health check
   * (`Dns.checkHealth`, the same check through the new load balancer), taken while the deploy is
   * still deploying, so that a cancel stops it and no one can decide meanwhile.
   */
  private async healthVerdict(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<HealthVerdict> {
    if ((app.refresh?.autoCutover ?? 'when-healthy') === 'never' || !d.endpoint) return { healthy: false, detail: 'not checked' };
    try {
      await this.provider.dns.checkHealth({
        ...healthCheck(app, d.toCluster ? clusterRef(app, d.toCluster) : undefined),
        target: d.endpoint,
        progress: (message, data) => this.event(d.id, 'progress', `health verdict for an automatic cutover: ${message}`, 'info', data ?? null, 'approval'),
        signal,
      });
      return { healthy: true, detail: `${d.toCluster} answers ${app.service.healthCheckPath} through its load balancer` };
    } catch (err) {
      if (signal.aborted) throw err;
      return { healthy: false, detail: errorMessage(err) };
    }
  }

  /** The approval deadline, on the clock; re-armed from the stored deadline after a restart. */
  private armDeadline(d: DeployRecord): void {
    if (this.deadlines.has(d.id) || this.closed) return;
    const wait = Math.max(0, (d.approvalDeadline ?? this.clock.now()) - this.clock.now());
    const timer = this.clock.setTimer(() => {
      this.deadlines.delete(d.id);
      this.decide(d.id, 'timed_out', { actor: 'kubecontrol', actorName: 'kubecontrol', surface: 'api', reason: 'approval timeout' });
    }, wait);
    this.deadlines.set(d.id, timer);
  }

  private clearDeadline(id: number): void {
    this.deadlines.get(id)?.cancel();
    this.deadlines.delete(id);
  }

  /** The transaction that makes a deploy succeed: its undo log is kept, its environment serves its version. */
  private succeed(d: DeployRecord): void {
    this.store.undo.keepAll(d.id);
    if (d.toEnvId) this.store.environments.serving(d.toEnvId, { version: d.version });
  }

  /** An exit: the state, and an undo owed if the deploy changed anything. */
  private exit(d: DeployRecord, to: DeployState, message: string, error: string, level: 'info' | 'warn' | 'error' = 'info'): boolean {
    return this.store.tx(() => {
      const owed = this.store.undo.pending(d.id).length > 0;
      return this.move(d.id, [d.state], to, message, { finishedAt: this.clock.now(), cleanup: owed ? 'pending' : 'none', error }, level);
    });
  }

  /** Aborts whatever runs for the deploy, or schedules its undo / release when nothing runs. */
  private stop(id: number, reason: AbortReason): void {
    this.clearDeadline(id);
    const controller = this.controllers.get(id);
    if (controller) return controller.abort(reason);
    const d = this.store.deploys.get(id)!;
    if (d.cleanup === 'pending') this.queue.schedule(id, 1);
    else this.queue.release(d.app, d.id);
  }

  /** Replays the undo log, recording the cleanup step and its outcome. */
  private async undo(d: DeployRecord): Promise<void> {
    const app = this.options.apps.get(d.app);
    if (!app) {
      this.event(d.id, 'error', `cleanup impossible: KubeApp ${d.app} is no longer defined; run \`kubecontrol gc\``, 'error');
      this.store.deploys.patch(d.id, { cleanup: 'failed' });
      return;
    }
    const controller = new AbortController();
    this.controllers.set(d.id, controller);
    try {
      this.store.tx(() => {
        this.store.deploys.step(d.id, 'cleanup', 'running');
        this.event(d.id, 'step', 'cleanup started: tearing down what this deploy created', 'info', {}, 'cleanup');
      });
      const left = await replayUndoLog(
        { store: this.store, provider: this.provider, clock: this.clock, attempts: this.options.teardownAttempts ?? 3 },
        d,
        app,
        controller.signal,
      );
      const done = left === 0;
      this.store.tx(() => {
        this.store.deploys.patch(d.id, { cleanup: done ? 'done' : 'failed' });
        this.store.deploys.step(d.id, 'cleanup', done ? 'succeeded' : 'failed', done ? 'nothing left behind' : `${left} change(s) could not be undone; run \`kubecontrol gc\``);
        this.event(
          d.id,
          'step',
          done ? 'cleanup finished: nothing left behind' : `cleanup incomplete: ${left} change(s) could not be undone; \`kubecontrol gc\` lists what is left`,
          done ? 'info' : 'error',
          { left },
          'cleanup',
        );
      });
    } catch (err) {
      if (abortKind(controller.signal) === 'shutdown') return; // still pending: the next process finishes it
      this.store.deploys.patch(d.id, { cleanup: 'failed' });
      this.event(d.id, 'error', `cleanup failed: ${errorMessage(err)}`, 'error', {}, 'cleanup');
    } finally {
      if (this.controllers.get(d.id) === controller) this.controllers.delete(d.id);
    }
  }

  /** The app of a deploy; a deploy of an app that was removed from kubeapps/ cannot proceed. */
  private app(name: string): KubeApp {
    const app = this.options.apps.get(name);
    if (!app) throw new InfraError('app_missing', `KubeApp ${name} is no longer defined in kubeapps/`);
    return app;
  }

  /** Compare-and-set of the state, with its event, in one transaction. */
  private move(id: number, from: readonly DeployState[], to: DeployState, message: string, patch: DeployPatch = {}, level: 'info' | 'warn' | 'error' = 'info'): boolean {
    return this.store.tx(() => {
      if (!this.store.deploys.transition(id, from, to, patch)) return false;
      this.event(id, 'state', message, level, { state: to });
      return true;
    });
  }

  private event(
    deployId: number,
    kind: Parameters<Store['events']['append']>[0]['kind'],
    message: string,
    level: 'info' | 'warn' | 'error' = 'info',
    data: Record<string, unknown> | null = null,
    step: StepName | null = null,
  ): void {
    this.store.events.append({ deployId, kind, message, level, data, step });
  }
}

/** What a deploy that succeeded did, in the words of its kind. */
function succeededMessage(d: DeployRecord, app: KubeApp): string {
  switch (d.kind) {
    case 'scale':
      return `succeeded: ${app.name} is scaled on ${d.toCluster}`;
    case 'restart':
      return `succeeded: every pod of ${app.name} on ${d.toCluster} was restarted`;
    case 'upgrade':
      return `succeeded: ${app.name} ${d.version} is live on ${d.toCluster}${d.kubernetesVersion ? ` (Kubernetes ${d.kubernetesVersion})` : ''}`;
    default:
      return `succeeded: ${app.name} ${d.version} is live on ${d.toCluster}`;
  }
}
