/**
 * Approve / Reject / Cancel / Rollback in the console: who sees which button
 * (commands/authorize.ts `canDo` and the deploy's state, as the core checks
 * them), what each will do in words, and the forms. The buttons are a
 * courtesy: the command core checks everything again when one is pressed,
 * so what is recorded is identical to Slack and the CLI.
 */
import { canDo, GroupLookupError, type GroupResolver } from '../../commands/authorize.js';
import type { AppStatus } from '../../commands/results.js';
import type { KubeApp } from '../../kubeapps/index.js';
import { CANCELLABLE, type DeployRecord } from '../../store/index.js';
import { CSRF_FIELD } from '../csrf.js';
import { html, path, type Html } from '../html.js';
import { words } from './format.js';

export type DeployAction = 'approve' | 'reject' | 'cancel';
export type Action = DeployAction | 'rollback';

/** What the page offers someone, and why not when nothing is offered. */
export interface Offer<A extends Action> {
  readonly actions: readonly A[];
  /** A sentence when a group could not be checked (the person may be allowed: try again). */
  readonly note?: string;
}

/** Whether `person` holds `role` on `app`; undefined when a group could not be checked. */
function holds(person: string, app: KubeApp, role: 'deploy' | 'approve', groups?: GroupResolver): boolean | undefined {
  try {
    return canDo({ id: person }, app, role, groups);
  } catch (err) {
    if (err instanceof GroupLookupError) return undefined;
    throw err;
  }
}

/** The buttons a deploy's page shows `person`, by the core's rules: role, four eyes, a requester withdrawing, the state. */
export function deployActions(person: string | null, d: DeployRecord, app: KubeApp | undefined, groups?: GroupResolver): Offer<DeployAction> {
  if (!person || !app) return { actions: [] };
  const requester = d.requestedBy === person;
  const actions: DeployAction[] = [];
  let unknown = false;
  if (d.state === 'awaiting_approval') {
    const approver = holds(person, app, 'approve', groups);
    if (approver === undefined) unknown = true;
    if (approver && !(requester && !app.allowSelfApproval)) actions.push('approve');
    // A requester may always withdraw their own deploy.
    if (approver || requester) actions.push('reject');
  }
  if (CANCELLABLE.includes(d.state)) {
    const deployer = holds(person, app, 'deploy', groups);
    if (deployer === undefined && !requester) unknown = true;
    if (deployer || requester) actions.push('cancel');
  }
  return { actions, ...(unknown && !actions.length ? { note: `couldn't check your group membership for ${app.name}; reload to try again` } : {}) };
}

/** Whether the app page (and its live deploy's page) shows `person` a Rollback button. */
export function rollbackOffer(person: string | null, app: KubeApp, status: Pick<AppStatus, 'live'>, groups?: GroupResolver): Offer<'rollback'> {
  if (!person || !status.live) return { actions: [] };
  const deployer = holds(person, app, 'deploy', groups);
  if (deployer === undefined) return { actions: [], note: `couldn't check your group membership for ${app.name}; reload to try again` };
  return { actions: deployer ? ['rollback'] : [] };
}

/** What the cutover does (the words Slack's confirmation uses). */
export function cutoverWords(d: Pick<DeployRecord, 'fromCluster' | 'toCluster'>, dns: string): { approve: string; reject: string } {
  const to = d.toCluster ?? 'the new cluster';
  return {
    approve: d.fromCluster
      ? `DNS ${dns} moves from cluster ${d.fromCluster} to ${to}; ${d.fromCluster} is torn down after the drain.`
      : `DNS ${dns} is pointed at cluster ${to} (nothing serves it yet).`,
    reject: `Cluster ${to} is torn down${d.fromCluster ? `; traffic stays on ${d.fromCluster}` : ''}. Nothing changes for users.`,
  };
}

/** What pressing a deploy's button will do, in one or two sentences. */
export function deployActionWords(action: DeployAction, d: DeployRecord, app: KubeApp | undefined): string {
  const dns = app?.dns.name ?? d.app;
  switch (action) {
    case 'approve':
      return `Approve the cutover of ${d.app} ${d.version} (deploy #${d.id}): ${cutoverWords(d, dns).approve}`;
    case 'reject':
      return `Reject the cutover of ${d.app} ${d.version} (deploy #${d.id}): ${cutoverWords(d, dns).reject}`;
    case 'cancel':
      return `Cancel deploy #${d.id} of ${d.app} ${d.version} (now ${words(d.state)}): it stops, and anything it created is torn down.${
        d.fromCluster ? ` Traffic stays on ${d.fromCluster}.` : ''
      }`;
  }
}

/** What a rollback of `app` will do, from its status and the version before the live one. */
export function rollbackWords(app: KubeApp, status: Pick<AppStatus, 'live' | 'draining'>, previousVersion: string | undefined): string {
  const d = status.draining;
  if (d?.rollback) {
    return `Roll back ${app.name}: ${d.dns} flips straight back to cluster ${d.cluster} (${d.version}), still draining, once it passes its health check; deploy #${d.deployId}'s cluster is torn down.`;
  }
  if (!status.live) return `Roll back ${app.name}: it has no live version, so there is nothing to roll back.`;
  if (!previousVersion) return `Roll back ${app.name}: there is no successful version before ${status.live.version}, so the rollback will be refused.`;
  return `Roll back ${app.name} from ${status.live.version} to ${previousVersion}: a new ${app.strategy} deploy of ${previousVersion} is queued${
    app.strategy === 'blue-green' ? ' onto a new cluster, and its cutover needs approval' : ''
  }.`;
}

const LABEL: Readonly<Record<Action, string>> = { approve: 'Approve cutover', reject: 'Reject', cancel: 'Cancel deploy', rollback: 'Roll back' };
const STYLE: Readonly<Record<Action, string>> = { approve: 'primary', reject: 'danger', cancel: 'danger', rollback: 'danger' };

/** Where a button posts. */
export function actionPath(action: Action, target: { deployId?: number; app?: string }): string {
  return action === 'rollback' ? `${path('apps', target.app!)}/rollback` : `${path('deploys', target.deployId!)}/${action}`;
}

/**
 * One button: a POST form with the CSRF token. Without JS the server answers the first POST with a
 * confirmation page (the words below) and a second form that says `confirm=yes`; with JS the form's
 * `<dialog>` asks first and the answer comes back into the page.
 */
export function actionForm(action: Action, target: { deployId?: number; app?: string }, what: string, csrf: string): Html {
  const id = `${action}-${target.deployId ?? target.app}`;
  const reason =
    action === 'reject'
      ? html`<p><label for="${id}-reason">Reason (optional)</label><input id="${id}-reason" name="reason" form="${id}" maxlength="500" autocomplete="off"></p>`
      : '';
  return html`<form class="action" id="${id}" method="post" action="${actionPath(action, target)}" data-confirm="${id}-dialog">
  <input type="hidden" name="${CSRF_FIELD}" value="${csrf}">
  <button type="submit" class="button ${STYLE[action]}">${LABEL[action]}</button>
</form>
<dialog id="${id}-dialog" class="confirm" aria-labelledby="${id}-title">
  <form method="dialog">
    <h2 id="${id}-title">${LABEL[action]}?</h2>
    <p>${what}</p>
    ${reason}
    <div class="buttons">
      <button type="submit" value="confirm" class="button ${STYLE[action]}">${LABEL[action]}</button>
      <button type="submit" value="back" class="button" autofocus>Back</button>
    </div>
  </form>
</dialog>`;
}

/** The confirmation page of a POST without `confirm=yes` (no JS): what will happen, and the form that does it. */
export function confirmBody(action: Action, target: { deployId?: number; app?: string }, what: string, csrf: string, back: string): Html {
  return html`<section class="confirm-page" aria-labelledby="confirm-title">
  <h1 id="confirm-title">${LABEL[action]}?</h1>
  <p>${what}</p>
  <form method="post" action="${actionPath(action, target)}">
    <input type="hidden" name="${CSRF_FIELD}" value="${csrf}">
    <input type="hidden" name="confirm" value="yes">
    ${action === 'reject' ? html`<p><label for="reason">Reason (optional)</label><input id="reason" name="reason" maxlength="500" autocomplete="off"></p>` : ''}
    <div class="buttons">
      <button type="submit" class="button ${STYLE[action]}">${LABEL[action]}</button>
      <a class="button" href="${back}">Back</a>
    </div>
  </form>
</section>`;
}

export { LABEL as ACTION_LABEL };
