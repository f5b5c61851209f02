/**
 * The verbs by which an app's people operate its live environment — `scale`,
 * `restart`, `upgrade` — as the command core answers them at the door: the
 * checks (a live environment, the KubeApp's limits, the Kubernetes versions
 * the provider offers, the lock), the dry run, and the deploy row that holds
 * the app's place in line. Like a deploy, an accepted operation is recorded
 * with its command and first event in one transaction and joins the
 * deployer's line only after the surface answered (`afterAck`).
 *
 * Who may: `scale` and `restart` need the `operate` role (owners, and deployers
 * when the KubeApp's `operators` is 'owners-and-deployers'); `upgrade` is a
 * blue/green deploy of the live version, so it needs the `deploy` role
 * (anyone who may deploy could redeploy the live version onto a new cluster anyway).
 */
import type { Deployer } from '../deployer/driver.js';
import { compareVersions, supportOf, upgradeTarget, type VersionSupport } from '../deployer/kubernetes-versions.js';
import { appScale, envScale, scaledTo, scaleIsTemporary, scaleProblem, scaleWords, undoCommand } from '../deployer/operations.js';
import { planDeploy, planOperation } from '../deployer/plan.js';
import type { Provider } from '../deployer/ports.js';
import { placementOf } from '../deployer/specs.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { DeployRecord, EnvironmentRecord, Store } from '../store/index.js';
import type { Command } from './grammar.js';
import type { CommandResult, DeployView, ErrorCode, ResultStatus, ScaleChange, ScaledStatus } from './results.js';

/** The operation verbs' commands. */
export type OperationCommand = Extract<Command, { verb: 'scale' | 'restart' | 'upgrade' }>;

/** What the core lends an operation for one command. */
export interface OperateContext {
  readonly store: Store;
  readonly deployer: Deployer;
  readonly provider: Provider;
  readonly app: KubeApp;
  readonly actor: { readonly id: string; readonly name?: string };
  readonly surface: Parameters<Store['deploys']['create']>[0]['surface'];
  readonly channel?: string;
  readonly commandId: number;
  /** Records a refusal (or a failure) and answers it. */
  reject(status: ResultStatus, code: ErrorCode, message: string, extra?: { app?: string | null }): CommandResult;
  /** Records the command as accepted (and logs it); returns its id. */
  accepted(message: string, deployId?: number): number;
  view(id: number): DeployView;
  /** Attaches what runs once the surface answered: the deploy joins its line. */
  afterAck<T extends CommandResult>(result: T, next: () => void): T;
}

/** The door of `scale`, `restart` and `upgrade`. */
export function operate(ctx: OperateContext, command: OperationCommand): CommandResult | Promise<CommandResult> {
  const { store, app, reject } = ctx;
  const env = store.environments.live(app.name);
  if (!env) {
    return reject('conflict', 'no_live_version', `${app.name} has no live environment to ${command.verb}: deploy it first.`, { app: app.name });
  }
  switch (command.verb) {
    case 'scale':
      return scale(ctx, command, env);
    case 'restart':
      return restart(ctx, command, env);
    case 'upgrade':
      return upgrade(ctx, command, env);
  }
}

/** The lock of deploys holds operations too (a dry run only says so). */
function locked(ctx: OperateContext, dryRun: boolean): CommandResult | undefined {
  const lock = ctx.store.locks.get(ctx.app.name);
  if (!lock || dryRun) return undefined;
  return ctx.reject('conflict', 'locked', `${ctx.app.name} is locked by ${lock.lockedBy} (“${lock.reason}”). \`unlock ${ctx.app.name}\` first.`, { app: ctx.app.name });
}

/** The version an operation's deploy row carries: what the live environment serves. */
function liveVersion(store: Store, env: EnvironmentRecord): string {
  return env.version ?? store.deploys.lastSucceeded(env.app)?.version ?? '?';
}

/** ` — 2 ahead of it in search-svc's line (#4, #5)`, or nothing. */
function waiting(view: DeployView, app: string): string {
  const q = view.queue;
  return q && q.position > 0 ? ` — ${q.position} ahead of it in ${app}'s line (#${q.ahead.join(', #')})` : '';
}

/** Records the operation's command, deploy row and first event in one transaction; the queued answer, with its continuation. */
function queue(
  ctx: OperateContext,
  row: Omit<Parameters<Store['deploys']['create']>[0], 'app' | 'requestedBy' | 'requestedByName' | 'surface' | 'commandId' | 'provider' | 'threadChannel'>,
  requested: string,
  message: (d: DeployView) => string,
  extra: { scale?: ScaleChange } = {},
): CommandResult {
  const { store, app, actor } = ctx;
  const d = store.tx(() => {
    const created = store.deploys.create({
      ...row,
      app: app.name,
      requestedBy: actor.id,
      requestedByName: actor.name ?? null,
      surface: ctx.surface,
      commandId: ctx.commandId,
      provider: ctx.provider.name,
      threadChannel: ctx.channel ?? app.channel,
    });
    ctx.accepted(`${row.kind} #${created.id} queued`, created.id);
    store.events.append({
      deployId: created.id,
      kind: 'command',
      message: `${requested}, requested by ${actor.name ?? actor.id} via ${ctx.surface}${row.reason ? `: “${row.reason}”` : ''}`,
      data: { actor: actor.id, surface: ctx.surface, commandId: ctx.commandId, ...(row.reason ? { reason: row.reason } : {}), ...(extra.scale ? { scale: extra.scale } : {}) },
    });
    return created;
  });
  const view = ctx.view(d.id);
  const position = view.queue ?? { position: 0, ahead: [] };
  return ctx.afterAck(
    { kind: 'deploy_queued', status: 'ok', commandId: ctx.commandId, deploy: view, position, message: message(view), ...extra },
    () => void ctx.deployer.submit(d),
  );
}

function scale(ctx: OperateContext, command: Extract<OperationCommand, { verb: 'scale' }>, env: EnvironmentRecord): CommandResult {
  const { store, provider, app, reject } = ctx;
  const request = {
    ...(command.replicas !== undefined ? { replicas: command.replicas } : {}),
    ...(command.maxNodes !== undefined ? { minNodes: command.minNodes!, maxNodes: command.maxNodes } : {}),
  };
  const problem = scaleProblem(app, request, !!provider.clusters.resize);
  if (problem) {
    return reject(problem.code === 'beyond_limits' ? 'refused' : 'invalid', problem.code, `Scale of ${app.name} refused — ${problem.message}.`, { app: app.name });
  }
  const from = envScale(env, app);
  const to = scaledTo(from, request);
  if (command.dryRun) {
    const plan = planOperation({ store, provider, app, operation: { kind: 'scale', to } });
    const commandId = ctx.accepted(`dry run of scale ${app.name} ${scaleWords(to)}`);
    return { kind: 'plan', status: 'ok', commandId, plan, message: `Dry run: scale ${app.name} ${scaleWords(from)} → ${scaleWords(to)} on ${provider.label}; nothing was changed.` };
  }
  const refused = locked(ctx, false);
  if (refused) return refused;
  if (scaleWords(from) === scaleWords(to)) {
    return reject('conflict', 'wrong_state', `${app.name} already runs ${scaleWords(to)} on ${env.name}: nothing to scale.`, { app: app.name });
  }
  const change: ScaleChange = { from, to, undo: undoCommand(app.name, from, to) };
  const auto = app.hardware.capacity === 'auto' && request.maxNodes !== undefined ? ' (Auto Mode keeps no minimum: only the maximum applies)' : '';
  return queue(
    ctx,
    {
      version: liveVersion(store, env),
      strategy: 'rolling',
      kind: 'scale',
      replicas: request.replicas ?? null,
      minNodes: request.minNodes ?? null,
      maxNodes: request.maxNodes ?? null,
      reason: command.reason ?? null,
    },
    `scale of ${app.name} on ${env.name}: ${scaleWords(from)} → ${scaleWords(to)}${auto}`,
    (view) =>
      `Scale #${view.id} of ${app.name} on ${env.name} queued on ${provider.label}${waiting(view, app.name)}: ${scaleWords(from)} → ${scaleWords(to)}${auto}. ` +
      `Was ${scaleWords(from)}; to undo: \`${change.undo}\`. ${scaleIsTemporary(app)}`,
    { scale: change },
  );
}

function restart(ctx: OperateContext, command: Extract<OperationCommand, { verb: 'restart' }>, env: EnvironmentRecord): CommandResult {
  const { store, provider, app } = ctx;
  const pods = envScale(env, app).replicas;
  if (command.dryRun) {
    const plan = planOperation({ store, provider, app, operation: { kind: 'restart' } });
    const commandId = ctx.accepted(`dry run of restart ${app.name}`);
    return { kind: 'plan', status: 'ok', commandId, plan, message: `Dry run: restart ${app.name} on ${provider.label}; nothing was changed.` };
  }
  const refused = locked(ctx, false);
  if (refused) return refused;
  return queue(
    ctx,
    { version: liveVersion(store, env), strategy: 'rolling', kind: 'restart', reason: command.reason ?? null },
    `rolling restart of the ${pods ?? '?'} pods of ${app.name} on ${env.name}`,
    (view) =>
      `Restart #${view.id} of ${app.name} queued on ${provider.label}${waiting(view, app.name)}: a rolling restart of its ${pods ?? '?'} pods on ${env.name}, one after the other as in a rolling update. ` +
      `If the rollout fails, the pod template is put back as it was and its pods roll back to it.`,
  );
}

function upgrade(ctx: OperateContext, command: Extract<OperationCommand, { verb: 'upgrade' }>, env: EnvironmentRecord): CommandResult | Promise<CommandResult> {
  const { store, provider, app, reject } = ctx;
  const versions = provider.kubernetesVersions?.({ placement: placementOf(app) });
  if (!versions) {
    return reject(
      'invalid',
      'not_supported',
      `Upgrade of ${app.name} refused — the ${provider.name} provider does not choose Kubernetes versions (its cluster is the laptop's own: upgrade that cluster itself); a deploy gives ${app.name} fresh pods.`,
      { app: app.name },
    );
  }
  const target = upgradeTarget({ app: app.name, target: command.kubernetes, live: env.kubernetesVersion, versions });
  if (!target.ok) return reject('invalid', 'unsupported_version', `Upgrade of ${app.name} refused — ${target.problem}.`, { app: app.name });
  const kubernetesVersion = target.version.version;
  const version = liveVersion(store, env);
  const now = env.kubernetesVersion ? `now ${env.kubernetesVersion} on ${env.name}` : `the version of ${env.name} is not recorded`;
  const same = env.kubernetesVersion === kubernetesVersion ? ' (the same version: fresh nodes only)' : '';
  const notes = [
    `Kubernetes ${kubernetesVersion}${same}, in standard support until ${target.version.endOfStandardSupport}; ${now}`,
    ...pinNote(app, kubernetesVersion),
    ...(env.scaledBy ? [`it resets the scale of ${app.name} (${scaleWords(envScale(env, app))}, scale #${env.scaledBy}) to the KubeApp's ${scaleWords(appScale(app))}`] : []),
  ];
  if (command.dryRun) {
    return planDeploy({ store, provider, app, version, strategy: 'blue-green', upgrade: { kubernetesVersion, notes } }).then((plan): CommandResult => {
      const commandId = ctx.accepted(`dry run of upgrade ${app.name} to Kubernetes ${kubernetesVersion}`);
      return { kind: 'plan', status: 'ok', commandId, plan, message: `Dry run: upgrade ${app.name} ${version} onto Kubernetes ${kubernetesVersion} on ${provider.label}; nothing was changed.` };
    });
  }
  const refused = locked(ctx, false);
  if (refused) return refused;
  return queue(
    ctx,
    { version, strategy: 'blue-green', kind: 'upgrade', kubernetesVersion, reason: command.reason ?? null },
    `upgrade of ${app.name} ${version} onto a new cluster with Kubernetes ${kubernetesVersion}${same} (${now})`,
    (view) =>
      `Upgrade #${view.id} of ${app.name} queued on ${provider.label}${waiting(view, app.name)}: ${version} onto a new cluster with Kubernetes ${kubernetesVersion}${same} and fresh nodes (${now}). ` +
      `Like any blue/green deploy it waits for approval by one of ${app.approvers.join(', ')} before ${app.dns.name} moves, then ${env.name} is torn down after the drain.` +
      notes
        .slice(1)
        .map((n) => ` Note: ${n}.`)
        .join(''),
  );
}

/** An app that pins an older version: the next deploy would create that version again. */
function pinNote(app: KubeApp, target: string): string[] {
  const pinned = app.aws.kubernetesVersion;
  if (!pinned || compareVersions(pinned, target) >= 0) return [];
  return [`${app.name}'s KubeApp pins aws.kubernetesVersion ${pinned}: the next deploy creates ${pinned} again unless you set it to ${target}`];
}

/**
 * What `status` adds for an app from its live environment: its Kubernetes version and support
 * (with the warning 60 days before its standard support ends), and a scale that changed it.
 */
export function liveOperationsStatus(store: Store, provider: Provider, app: KubeApp | undefined, env: EnvironmentRecord | undefined): { kubernetes: VersionSupport | null; scaled: ScaledStatus | null } {
  if (!env || !app) return { kubernetes: null, scaled: null };
  const versions = provider.kubernetesVersions?.({ placement: placementOf(app) });
  const kubernetes = env.kubernetesVersion ? supportOf(app.name, env.kubernetesVersion, versions ?? [], store.now()) : null;
  let scaled: ScaledStatus | null = null;
  if (env.scaledBy) {
    const by: DeployRecord | undefined = store.deploys.get(env.scaledBy);
    scaled = { now: envScale(env, app), declared: appScale(app), deployId: env.scaledBy, by: by?.requestedByName ?? by?.requestedBy ?? '?', reason: by?.reason ?? null };
  }
  return { kubernetes, scaled };
}

/**
 * What the answer to a deploy says of a scale of the live environment: a blue/green deploy
 * builds its cluster from the KubeApp (it resets the scale), a rolling update keeps it.
 */
export function scaleNote(store: Store, app: KubeApp, strategy: 'blue-green' | 'rolling'): string {
  const env = store.environments.live(app.name);
  if (!env?.scaledBy) return '';
  const now = scaleWords(envScale(env, app));
  return strategy === 'blue-green'
    ? ` It resets the scale of ${app.name}: ${env.name} runs ${now} (scale #${env.scaledBy}); the new cluster gets the KubeApp's ${scaleWords(appScale(app))}.`
    : ` The rolling update keeps the scale of ${env.name} (${now}, scale #${env.scaledBy}).`;
}
