/**
 * The persisted deploy pipeline: a state machine over the `deploys` row.
 *
 *   blue/green: queued → building/provisioning (in parallel) → deploying → awaiting_approval
 *               → cutting_over → tearing_down → succeeded
 *   rolling:    queued → building → deploying → succeeded
 *   exits:      failed · rejected · timed_out · cancelled — each tears down what this deploy created
 *
 * Every state change is a compare-and-set on the row plus an event, in one
 * transaction; every step reads the real state first and is idempotent, so a
 * restarted server picks each non-terminal deploy up where it stood.
 */
import type { Logger } from 'pino';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type DeployPatch, type DeployRecord, type DeployState, type StepName, type Store, type Surface } from '../store/index.js';
import { createDeployLedger } from './ledger.js';
import type { Provider, StepContext } from './ports.js';
import { DeployQueue, type QueuePosition } from './queue.js';
import { abortable, formatDuration, sleep } from './time.js';

/** Why a running step was aborted. */
class AbortReason extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout' | 'shutdown',
    message: string,
  ) {
    super(message);
    this.name = 'AbortReason';
  }
}

/** A step that failed, with the message users see. */
export class StepError extends Error {
  constructor(
    readonly step: StepName,
    message: string,
    readonly timedOut = false,
    options?: { cause?: unknown },
    /** Stopped by a cancel or a failing sibling step, rather than failed on its own. */
    readonly stopped = false,
  ) {
    super(message, options);
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
  /** Overrides every app's approval timeout (demos, tests). */
  readonly approvalTimeoutMs?: number;
  /** Attempts per resource when tearing down; default 3. */
  readonly teardownAttempts?: number;
}

/** The outcome of a cancel or a decision, for the command core to phrase. */
export type ControlOutcome =
  | { readonly ok: true; readonly deploy: DeployRecord }
  | { readonly ok: false; readonly reason: 'not_found' | 'wrong_state'; readonly deploy?: DeployRecord };

const RUNNING_STATES: readonly DeployState[] = ['building', 'provisioning', 'deploying'];
const CANCELLABLE: readonly DeployState[] = ['queued', ...RUNNING_STATES, 'awaiting_approval'];

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class Deployer {
  private readonly store: Store;
  private readonly provider: Provider;
  private readonly log: Logger;
  private readonly queue: DeployQueue;
  private readonly controllers = new Map<number, AbortController>();
  private readonly approvalTimers = new Map<number, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: DeployerOptions) {
    this.store = options.store;
    this.provider = options.provider;
    this.log = options.logger.child({ component: 'deployer' });
    this.queue = new DeployQueue(options.concurrency, (id) => this.advance(id), (id, err) =>
      this.log.error({ deployId: id, err }, 'deploy phase crashed'),
    );
  }

  /** The app of a deploy; a deploy of an app that was removed from kubeapps/ cannot proceed. */
  private app(name: string): KubeApp {
    const app = this.options.apps.get(name);
    if (!app) throw new StepError('build', `KubeApp ${name} is no longer defined in kubeapps/`);
    return app;
  }

  /**
   * Picks up every non-terminal deploy (oldest first per app) and every cleanup
   * a previous process left unfinished. Call once at start.
   */
  start(): void {
    for (const d of this.store.deploys.pendingCleanup()) {
      // A succeeded deploy owed a teardown is torn down by its successor's resumed teardown step;
      // scheduling it here too would delete the same resources twice at once.
      if (isTerminal(d.state) && d.state !== 'succeeded') this.queue.schedule(d.id, 1);
    }
    for (const d of this.store.deploys.active()) {
      this.event(d.id, 'queue', `resumed after a restart in state ${d.state}`);
      this.queue.enqueue(d.app, d.id);
    }
  }

  /** Accepts a newly recorded deploy into its app's line. */
  submit(deploy: DeployRecord): QueuePosition {
    const position = this.queue.enqueue(deploy.app, deploy.id);
    if (position.position > 0) {
      const ahead = this.store.deploys.get(position.ahead[0]!);
      this.event(
        deploy.id,
        'queue',
        `queued behind ${position.position} deploy${position.position > 1 ? 's' : ''} of ${deploy.app} (now running: #${ahead?.id} ${ahead?.version}, ${ahead?.state})`,
        'info',
        { position: position.position, ahead: position.ahead },
      );
    }
    return position;
  }

  /** Where a deploy stands in its app's line, if it is in one. */
  position(deploy: DeployRecord): QueuePosition | undefined {
    return this.queue.position(deploy.app, deploy.id);
  }

  /** Running phases and phases waiting for a global slot. */
  get load(): { running: number; waiting: number } {
    return this.queue.load;
  }

  /** Cancels a queued, running or approval-waiting deploy. */
  cancel(deployId: number, by: { actor: string; surface: Surface }): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    if (!CANCELLABLE.includes(d.state)) return { ok: false, reason: 'wrong_state', deploy: d };
    const cleanup = d.state === 'queued' ? 'none' : 'pending';
    const moved = this.move(d.id, [d.state], 'cancelled', `cancelled by ${by.actor} (${by.surface}) while ${d.state}`, {
      finishedAt: Date.now(),
      cleanup,
      error: `cancelled by ${by.actor}`,
    });
    if (!moved) return { ok: false, reason: 'wrong_state', deploy: this.store.deploys.get(deployId) };
    this.clearApprovalTimer(deployId);
    const controller = this.controllers.get(deployId);
    if (controller) controller.abort(new AbortReason('cancelled', `cancelled by ${by.actor}`));
    else if (cleanup === 'pending') this.queue.schedule(deployId, 1);
    else this.release(d);
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /**
   * Rollback during the drain: the deploy that just took the traffic gives it
   * back. Possible while its predecessor's cluster is still whole (nothing of
   * it deleted yet); the deploy ends `cancelled`, and its cleanup points DNS
   * back at the predecessor before deleting its own cluster.
   */
  flipBack(deployId: number, by: { actor: string; surface: Surface }): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    const previous = d.fromDeployId ? this.store.deploys.get(d.fromDeployId) : undefined;
    const previousWhole = !!previous?.endpoint && this.store.resources.forDeploy(previous.id).every((r) => r.state === 'created');
    if (d.state !== 'tearing_down' || !previous || !previousWhole) return { ok: false, reason: 'wrong_state', deploy: d };
    // Synchronous from the check to the abort: the teardown cannot start deleting in between.
    const moved = this.store.tx(() => {
      const ok = this.move(d.id, ['tearing_down'], 'cancelled', `rolled back by ${by.actor} (${by.surface}) during the drain: traffic goes back to ${previous.toCluster}`, {
        finishedAt: Date.now(),
        cleanup: 'pending',
        error: `rolled back by ${by.actor} during the drain`,
      });
      if (ok) this.store.deploys.patch(previous.id, { cleanup: 'none' });
      return ok;
    });
    if (!moved) return { ok: false, reason: 'wrong_state', deploy: this.store.deploys.get(deployId) };
    const controller = this.controllers.get(deployId);
    if (controller) controller.abort(new AbortReason('cancelled', `rolled back by ${by.actor}`));
    else this.queue.schedule(deployId, 1);
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /** Records a cutover decision on a deploy waiting for approval; exactly one decision wins. */
  decide(deployId: number, decision: 'approved' | 'rejected' | 'timed_out', by: { actor: string; actorName?: string | null; surface: Surface; reason?: string | null }): ControlOutcome {
    const d = this.store.deploys.get(deployId);
    if (!d) return { ok: false, reason: 'not_found' };
    const to: DeployState = decision === 'approved' ? 'cutting_over' : decision;
    const won = this.store.tx(() => {
      const patch: DeployPatch = decision === 'approved' ? {} : { finishedAt: Date.now(), cleanup: 'pending', error: decision === 'rejected' ? `rejected by ${by.actor}${by.reason ? `: ${by.reason}` : ''}` : 'approval timed out' };
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
    this.clearApprovalTimer(deployId);
    this.queue.schedule(deployId, 1);
    return { ok: true, deploy: this.store.deploys.get(deployId)! };
  }

  /** Resolves when no phase is running or waiting for a slot (approval waits do not count). */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  /**
   * Stops: no new phases start, running ones are aborted as "shutdown" and keep
   * their state, so the next process resumes them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.pause();
    for (const timer of this.approvalTimers.values()) clearTimeout(timer);
    this.approvalTimers.clear();
    for (const c of this.controllers.values()) c.abort(new AbortReason('shutdown', 'kubecontrol is shutting down'));
    await this.queue.onIdle();
  }

  // --- the state machine -------------------------------------------------

  /** Runs a deploy from its current state until it waits for approval or ends. */
  private async advance(id: number): Promise<void> {
    if (this.closed) return;
    let d = this.store.deploys.get(id);
    if (!d) return;
    if (isTerminal(d.state)) {
      if (d.cleanup === 'pending') await this.cleanup(d);
      this.release(d); // a no-op for a deploy that is not in a line
      return;
    }
    if (d.state === 'awaiting_approval') {
      this.armApprovalTimer(d);
      return;
    }
    const controller = new AbortController();
    this.controllers.set(id, controller);
    try {
      const app = this.app(d.app);
      if (d.state === 'queued') d = this.begin(d, app);
      if (d.strategy === 'rolling') await this.runRolling(d, app, controller.signal);
      else await this.runBlueGreen(d, app, controller.signal);
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof AbortReason && reason.kind === 'shutdown') return; // resumed by the next process
      const current = this.store.deploys.get(id)!;
      if (!isTerminal(current.state)) {
        const message = errorMessage(err);
        this.move(id, [current.state], 'failed', `failed: ${message}`, { finishedAt: Date.now(), cleanup: 'pending', error: message }, 'error');
      }
    } finally {
      // The next phase (after an approval) may already have registered its own controller.
      if (this.controllers.get(id) === controller) this.controllers.delete(id);
    }
    const end = this.store.deploys.get(id)!;
    if (isTerminal(end.state)) {
      if (end.cleanup === 'pending') await this.cleanup(end);
      this.release(end);
    }
  }

  /** queued → first running state: notes what is live now (the "from" side). */
  private begin(d: DeployRecord, app: KubeApp): DeployRecord {
    const live = this.store.deploys.lastSucceeded(d.app);
    const next: DeployState = 'building';
    const patch: DeployPatch = {
      startedAt: Date.now(),
      fromVersion: live?.version ?? null,
      fromCluster: live?.toCluster ?? null,
      fromDeployId: live?.id ?? null,
      toCluster: d.strategy === 'rolling' ? (live?.toCluster ?? null) : `${app.name}-${d.id}`,
    };
    this.store.tx(() => {
      this.event(d.id, 'queue', `your turn: ${d.app} ${live ? `${live.version} → ` : ''}${d.version} starts now`);
      this.move(d.id, ['queued'], next, next, patch);
    });
    return this.store.deploys.get(d.id)!;
  }

  private async runBlueGreen(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<void> {
    if (d.state === 'building' || d.state === 'provisioning') {
      // Build and provision are independent: the critical path is the longer of the two.
      // If one fails, the other is stopped rather than left to run for nothing.
      const group = new AbortController();
      const onAbort = (): void => group.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const stopOthers = (step: StepName) => (err: unknown) => {
        if (!group.signal.aborted) group.abort(new AbortReason('cancelled', `${step === 'build' ? 'provision' : 'build'} stopped because ${step} failed`));
        throw err;
      };
      let provisioned = false;
      const results = await Promise.allSettled([
        this.runStep(d, app, 'build', group.signal, (ctx) => this.build(ctx))
          // The state names the longer-running half: once the image is ready, the deploy is provisioning.
          .then(() => void (provisioned || this.move(d.id, ['building'], 'provisioning', 'provisioning')))
          .catch(stopOthers('build')),
        this.runStep(d, app, 'provision', group.signal, async (ctx) => {
          const cluster = await this.provider.clusters.provision({ ctx, clusterName: d.toCluster! });
          provisioned = true;
          return `cluster ${cluster.name} ${cluster.status}`;
        }).catch(stopOthers('provision')),
      ]);
      signal.removeEventListener('abort', onAbort);
      // Report the step that failed first, not the one stopped because of it.
      const failed =
        results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof StepError && r.reason.stopped)) ??
        results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (!this.move(d.id, ['building', 'provisioning'], 'deploying', 'deploying')) return;
      d = this.store.deploys.get(d.id)!;
    }
    if (d.state === 'deploying') {
      await this.runStep(d, app, 'deploy', signal, async (ctx) => {
        const { endpoint } = await this.provider.workloads.deploy({ ctx, cluster: d.toCluster! });
        this.store.deploys.patch(d.id, { endpoint });
        return `${app.pods.replicas} replicas healthy on ${d.toCluster}; serving at ${endpoint}`;
      });
      const timeoutMs = this.options.approvalTimeoutMs ?? app.approvalTimeoutMinutes * 60_000;
      const deadline = Date.now() + timeoutMs;
      const moved = this.store.tx(() => {
        if (!this.move(d.id, ['deploying'], 'awaiting_approval', 'awaiting_approval', { approvalDeadline: deadline })) return false;
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
      });
      if (!moved) return;
      if (d.kind === 'refresh') {
        // A refresh redeploys the version that is already live and approved: the schedule approves its own cutover.
        this.decide(d.id, 'approved', { actor: 'schedule', actorName: 'kubecontrol schedule', surface: 'schedule', reason: 'refresh of the approved live version' });
        return;
      }
      this.armApprovalTimer(this.store.deploys.get(d.id)!);
      return; // the global slot is given back while people decide
    }
    if (d.state === 'cutting_over') {
      await this.runStep(d, app, 'cutover', signal, async (ctx) => {
        const endpoint = d.endpoint!;
        await this.provider.dns.checkHealth({ app, target: endpoint, progress: ctx.progress, signal: ctx.signal });
        // Note where traffic goes now BEFORE moving it: a crash right after the change must not
        // leave a resumed cutover (or a cleanup) believing the new target is the previous one.
        const before = await this.provider.dns.current({ app, signal: ctx.signal });
        if (before !== undefined && before !== endpoint && d.previousTarget === null) this.store.deploys.patch(d.id, { previousTarget: before });
        const { previous } = await this.provider.dns.pointRecord({ app, target: endpoint, progress: ctx.progress, signal: ctx.signal });
        return `${app.dns.name} → ${endpoint}${previous && previous !== endpoint ? ` (was ${previous})` : ''}`;
      });
      if (!this.move(d.id, ['cutting_over'], 'tearing_down', 'tearing_down')) return;
      d = this.store.deploys.get(d.id)!;
    }
    if (d.state === 'tearing_down') {
      await this.tearDownPrevious(d, app, signal);
      this.move(d.id, ['tearing_down'], 'succeeded', `succeeded: ${app.name} ${d.version} is live on ${d.toCluster}`, { finishedAt: Date.now() });
    }
  }

  private async runRolling(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<void> {
    if (!d.toCluster) {
      throw new StepError('deploy', `${app.name} has no running cluster to update: deploy it with --strategy blue-green first`);
    }
    if (d.state === 'building' || d.state === 'provisioning') {
      await this.runStep(d, app, 'build', signal, (ctx) => this.build(ctx));
      if (!this.move(d.id, ['building', 'provisioning'], 'deploying', 'deploying')) return;
      d = this.store.deploys.get(d.id)!;
    }
    if (d.state === 'deploying') {
      await this.runStep(d, app, 'deploy', signal, async (ctx) => {
        const { endpoint } = await this.provider.workloads.updateImages({ ctx, cluster: d.toCluster! });
        this.store.deploys.patch(d.id, { endpoint });
        return `images updated to ${d.version} on ${d.toCluster}`;
      });
      this.move(d.id, ['deploying'], 'succeeded', `succeeded: ${app.name} ${d.version} is live on ${d.toCluster}`, { finishedAt: Date.now() });
    }
  }

  /** The build step: reuse the image if the tag exists, else build and check that it arrived. */
  private async build(ctx: StepContext): Promise<string> {
    const { registry, builder } = this.provider;
    await registry.ensureRepository({ app: ctx.app, progress: ctx.progress, signal: ctx.signal });
    const uri = registry.imageUri({ app: ctx.app, tag: ctx.version });
    if (await registry.hasImage({ app: ctx.app, tag: ctx.version, signal: ctx.signal })) {
      ctx.progress(`image ${uri} already exists; not rebuilding`);
      return `image ${uri} exists`;
    }
    ctx.progress(`image ${uri} not found; building it`);
    await builder.build({ ctx, tag: ctx.version });
    if (!(await registry.hasImage({ app: ctx.app, tag: ctx.version, signal: ctx.signal }))) {
      throw new Error(`the build finished but ${uri} is not in the registry`);
    }
    return `built and pushed ${uri}`;
  }

  /** After cutover: drain, then tear down the previous live deploy's resources. */
  private async tearDownPrevious(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<void> {
    const previous = d.fromDeployId ? this.store.deploys.get(d.fromDeployId) : undefined;
    if (!previous || !previous.toCluster || previous.toCluster === d.toCluster) {
      this.store.deploys.step(d.id, 'teardown', 'skipped', 'no previous cluster to tear down');
      this.event(d.id, 'step', 'teardown skipped: no previous cluster', 'info', { step: 'teardown' }, 'teardown');
      return;
    }
    // From here the old deploy's resources are owed a teardown, even across a restart.
    if (previous.cleanup !== 'pending') this.store.deploys.patch(previous.id, { cleanup: 'pending' });
    // Traffic already serves from the new cluster: a teardown that fails or times out must not fail
    // this deploy (its cleanup would delete the live cluster). What is left is marked for `gc`.
    await this.runStep(d, app, 'teardown', signal, async (ctx) => {
      const drain = this.provider.drainMs(app);
      ctx.progress(`draining ${previous.toCluster} for ${formatDuration(drain)} (≥ DNS TTL ${app.dns.ttlSeconds}s) before teardown`);
      await sleep(drain, ctx.signal);
      const left = await this.destroyResources(previous.id, app, d.id, ctx.signal);
      this.store.deploys.patch(previous.id, { cleanup: left ? 'failed' : 'done' });
      if (left) {
        ctx.progress(`${left} resource(s) of ${previous.toCluster} could not be deleted; \`kubecontrol gc\` will retry`, { left });
        return `old cluster ${previous.toCluster} partly torn down (${left} left)`;
      }
      return `old cluster ${previous.toCluster} torn down`;
    }).catch((err: unknown) => {
      const reason: unknown = signal.reason;
      // Shutdown: resumed later. Cancelled: a rollback flipped traffic back during the drain.
      if (reason instanceof AbortReason && (reason.kind === 'shutdown' || reason.kind === 'cancelled')) throw err;
      this.store.deploys.patch(previous.id, { cleanup: 'failed' });
      this.event(d.id, 'error', `the old cluster ${previous.toCluster} was not fully torn down (${errorMessage(err)}); \`kubecontrol gc\` lists what is left`, 'error', {}, 'teardown');
    });
  }

  /**
   * Exits: tears down everything this deploy created, newest first, recording
   * each undo's outcome. A rolling update puts the previous images back instead.
   */
  private async cleanup(d: DeployRecord): Promise<void> {
    const app = this.options.apps.get(d.app);
    if (!app) {
      this.event(d.id, 'error', `cleanup impossible: KubeApp ${d.app} is no longer defined; run \`kubecontrol gc\``, 'error');
      this.store.deploys.patch(d.id, { cleanup: 'failed' });
      return;
    }
    const controller = new AbortController();
    this.controllers.set(d.id, controller);
    try {
      this.store.deploys.step(d.id, 'cleanup', 'running');
      this.event(d.id, 'step', 'cleanup started: tearing down what this deploy created', 'info', {}, 'cleanup');
      let left = 0;
      if (d.strategy === 'rolling') {
        left = await this.restoreImages(d, app, controller.signal);
      } else {
        await this.restoreDns(d, app, controller.signal);
        left = await this.destroyResources(d.id, app, d.id, controller.signal);
      }
      const done = left === 0;
      this.store.deploys.patch(d.id, { cleanup: done ? 'done' : 'failed' });
      this.store.deploys.step(d.id, 'cleanup', done ? 'succeeded' : 'failed', done ? 'nothing left behind' : `${left} resource(s) left; run \`kubecontrol gc\``);
      this.event(
        d.id,
        'step',
        done ? 'cleanup finished: nothing left behind' : `cleanup incomplete: ${left} resource(s) could not be removed; \`kubecontrol gc\` lists them`,
        done ? 'info' : 'error',
        { left },
        'cleanup',
      );
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof AbortReason && reason.kind === 'shutdown') return; // still pending: the next process finishes it
      this.store.deploys.patch(d.id, { cleanup: 'failed' });
      this.event(d.id, 'error', `cleanup failed: ${errorMessage(err)}`, 'error', {}, 'cleanup');
    } finally {
      if (this.controllers.get(d.id) === controller) this.controllers.delete(d.id);
    }
  }

  /**
   * A blue/green deploy that failed during or after moving DNS: point the record
   * back at the previous cluster before this deploy's cluster is deleted.
   */
  private async restoreDns(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<void> {
    if (!d.endpoint) return;
    const progress = (message: string): void => this.event(d.id, 'progress', message, 'warn', null, 'cleanup');
    const current = await this.provider.dns.current({ app, signal });
    if (current !== d.endpoint) return;
    const back = d.previousTarget ?? (d.fromDeployId ? this.store.deploys.get(d.fromDeployId)?.endpoint : null) ?? null;
    if (!back) {
      progress(`${app.dns.name} points at this deploy's cluster and there is no previous target to move it back to`);
      return;
    }
    progress(`${app.dns.name} points at this deploy's cluster; moving it back to ${back} first`);
    await this.provider.dns.pointRecord({ app, target: back, progress, signal });
  }

  /** A failed rolling update: put the previous version's images back on the live cluster. */
  private async restoreImages(d: DeployRecord, app: KubeApp, signal: AbortSignal): Promise<number> {
    const touched = this.store.deploys.steps(d.id).some((s) => s.name === 'deploy');
    if (!touched || !d.fromVersion || !d.toCluster) return 0;
    const ctx = this.context(d, app, 'cleanup', signal, d.fromVersion);
    ctx.progress(`restoring images of ${d.toCluster} to ${d.fromVersion}`);
    try {
      await this.provider.workloads.updateImages({ ctx, cluster: d.toCluster });
      ctx.progress(`images restored to ${d.fromVersion}`);
      return 0;
    } catch (err) {
      if (signal.aborted) throw err;
      ctx.progress(`could not restore images to ${d.fromVersion}: ${errorMessage(err)}`);
      return 1;
    }
  }

  /**
   * Deletes a deploy's ledger resources that are not yet deleted, newest first
   * (node groups before their cluster), retrying each a few times. Events go to
   * `eventsTo`. Returns how many are left.
   */
  private async destroyResources(ownerId: number, app: KubeApp, eventsTo: number, signal: AbortSignal): Promise<number> {
    const ledger = createDeployLedger(this.store, { id: eventsTo, app: app.name }, this.provider.name);
    const progress = (message: string, data?: Record<string, unknown>): void => this.event(eventsTo, 'progress', message, 'info', data ?? null);
    const attempts = this.options.teardownAttempts ?? 3;
    let left = 0;
    const resources = this.store.resources.forDeploy(ownerId).filter((r) => r.state !== 'deleted').reverse();
    for (const resource of resources) {
      let done = false;
      for (let attempt = 1; attempt <= attempts && !done; attempt++) {
        try {
          ledger.deleting(resource.id);
          await abortable(this.provider.clusters.destroy({ resource, app, progress, signal }), signal);
          ledger.deleted(resource.id);
          done = true;
        } catch (err) {
          if (signal.aborted) throw err;
          const message = errorMessage(err);
          if (attempt < attempts) {
            progress(`deleting ${resource.kind} ${resource.name} failed (attempt ${attempt}/${attempts}): ${message}; retrying`);
            await sleep(Math.min(30_000, this.provider.timeouts.teardown / 100) * attempt, signal);
          } else {
            ledger.failed(resource.id, message);
          }
        }
      }
      if (!done) left++;
    }
    return left;
  }

  /** Runs one step with its timeout, recording start, progress and outcome. */
  private async runStep(d: DeployRecord, app: KubeApp, step: StepName, parent: AbortSignal, fn: (ctx: StepContext) => Promise<string>): Promise<void> {
    const timeoutMs = this.provider.timeouts[step as keyof Provider['timeouts']];
    const controller = new AbortController();
    const onParentAbort = (): void => controller.abort(parent.reason);
    parent.addEventListener('abort', onParentAbort, { once: true });
    const timer = timeoutMs
      ? setTimeout(() => controller.abort(new AbortReason('timeout', `${step} timed out after ${formatDuration(timeoutMs)}`)), timeoutMs)
      : undefined;
    const started = Date.now();
    this.store.tx(() => {
      this.store.deploys.step(d.id, step, 'running');
      this.event(d.id, 'step', `${step} started`, 'info', { state: 'running' }, step);
    });
    try {
      const detail = await abortable(fn(this.context(d, app, step, controller.signal)), controller.signal);
      this.store.tx(() => {
        this.store.deploys.step(d.id, step, 'succeeded', detail);
        this.event(d.id, 'step', `${step} succeeded in ${formatDuration(Date.now() - started)}: ${detail}`, 'info', { state: 'succeeded', durationMs: Date.now() - started }, step);
      });
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof AbortReason && reason.kind === 'shutdown') throw err;
      const cancelled = reason instanceof AbortReason && reason.kind === 'cancelled';
      const timedOut = reason instanceof AbortReason && reason.kind === 'timeout';
      const message = timedOut || cancelled ? (reason as AbortReason).message : `${step} failed: ${errorMessage(err)}`;
      this.store.tx(() => {
        this.store.deploys.step(d.id, step, cancelled ? 'cancelled' : 'failed', message);
        this.event(d.id, 'step', message, cancelled ? 'warn' : 'error', { state: cancelled ? 'cancelled' : 'failed', durationMs: Date.now() - started }, step);
      });
      throw new StepError(step, message, timedOut, { cause: err }, cancelled);
    } finally {
      if (timer) clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    }
  }

  private context(d: DeployRecord, app: KubeApp, step: StepName, signal: AbortSignal, version = d.version): StepContext {
    return {
      deployId: d.id,
      app,
      version,
      step,
      signal,
      ledger: createDeployLedger(this.store, { id: d.id, app: d.app }, this.provider.name),
      progress: (message, data) => this.event(d.id, 'progress', message, 'info', data ?? null, step),
    };
  }

  private armApprovalTimer(d: DeployRecord): void {
    if (this.approvalTimers.has(d.id) || this.closed) return;
    const wait = Math.max(0, (d.approvalDeadline ?? Date.now()) - Date.now());
    const timer = setTimeout(() => {
      this.approvalTimers.delete(d.id);
      this.decide(d.id, 'timed_out', { actor: 'kubecontrol', actorName: 'kubecontrol', surface: 'api', reason: 'approval timeout' });
    }, wait);
    timer.unref?.();
    this.approvalTimers.set(d.id, timer);
  }

  private clearApprovalTimer(id: number): void {
    const timer = this.approvalTimers.get(id);
    if (timer) clearTimeout(timer);
    this.approvalTimers.delete(id);
  }

  private release(d: DeployRecord): void {
    const next = this.queue.release(d.app, d.id);
    if (next !== undefined) this.log.info({ deployId: next, app: d.app }, 'next deploy of app starts');
  }

  /** Compare-and-set of the state, with its event, in one transaction. */
  private move(id: number, from: readonly DeployState[], to: DeployState, message: string, patch: DeployPatch = {}, level: 'info' | 'warn' | 'error' = 'info'): boolean {
    return this.store.tx(() => {
      if (!this.store.deploys.transition(id, from, to, patch)) return false;
      this.event(id, 'state', message, level, { state: to });
      return true;
    });
  }

  private event(deployId: number, kind: Parameters<Store['events']['append']>[0]['kind'], message: string, level: 'info' | 'warn' | 'error' = 'info', data: Record<string, unknown> | null = null, step: StepName | null = null): void {
    this.store.events.append({ deployId, kind, message, level, data, step });
  }
}
