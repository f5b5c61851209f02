/** The deploy page (`/deploys/:id`): summary, step timeline, decision, actions, resources, plan and event log. */
import type { StepRecord } from '../../store/index.js';
import { html, path, safeHref, type Html } from '../html.js';
import type { DeployPage } from '../model.js';
import { actionForm, type DeployAction, type Offer } from './actions.js';
import { badge, formatDuration, person, time, toneOf, utc, words } from './format.js';

/** What the page's parts need besides the store's data. */
export interface DeployContext {
  readonly now: number;
  /** The buttons for the person acting, with what each does. */
  readonly offer: Offer<DeployAction>;
  readonly actionWords: (a: DeployAction) => string;
  /** A rollback of the app from this page (the live deploy's), if offered. */
  readonly rollback?: { readonly words: string } | undefined;
  readonly csrf: string;
  readonly person: string | null;
  /** The app's DNS name and approvers, for the approval's words. */
  readonly app?: { readonly dns: string; readonly approvers: readonly string[]; readonly allowSelfApproval: boolean };
}

function summary(p: DeployPage, c: DeployContext): Html {
  const d = p.deploy;
  const queue =
    d.queue && d.state === 'queued'
      ? html`<div><dt>In line</dt><dd>${d.queue.position === 0 ? 'next for its app (waiting for a free slot)' : html`behind ${d.queue.ahead.map((a, i) => html`${i ? ', ' : ''}<a href="${path('deploys', a)}">#${a}</a>`)}`}</dd></div>`
      : '';
  return html`<div id="deploy-summary" data-part>
<p class="state-line" role="status" aria-live="polite">${badge(d.state)} <span>${stateSentence(p, c.now)}</span></p>
<dl class="facts">
  <div><dt>App</dt><dd><a href="${path('apps', d.app)}">${d.app}</a></dd></div>
  <div><dt>Version</dt><dd><strong class="version">${d.version}</strong>${d.fromVersion ? html` <span class="muted">(from ${d.fromVersion})</span>` : ''}</dd></div>
  <div><dt>Strategy</dt><dd>${words(d.strategy)}${d.kind !== 'deploy' ? html` · ${d.kind}` : ''}</dd></div>
  <div><dt>Requested</dt><dd>by ${person(d.requestedBy, d.requestedByName)} via ${d.surface}, ${time(d.createdAt)}</dd></div>
  <div><dt>Duration</dt><dd>${formatDuration(d.durationMs)}${d.finishedAt ? html` (ended ${time(d.finishedAt)})` : ' so far'}</dd></div>
  <div><dt>Clusters</dt><dd>${d.fromCluster ? html`<code>${d.fromCluster}</code> → ` : ''}${d.toCluster ? html`<code>${d.toCluster}</code>` : html`<span class="muted">not yet</span>`}</dd></div>
  ${d.endpoint ? html`<div><dt>Endpoint</dt><dd><code>${d.endpoint}</code></dd></div>` : ''}
  ${queue}
  <div><dt>Slack thread</dt><dd>${slackLink(p.slackUrl)}</dd></div>
  ${d.cleanup !== 'none' ? html`<div><dt>Cleanup</dt><dd>${d.cleanup}</dd></div>` : ''}
</dl>
${d.error ? html`<p class="error-box" role="alert"><strong>Error:</strong> ${d.error}</p>` : ''}
</div>`;
}

function slackLink(url: string | null): Html {
  const href = safeHref(url);
  return href ? html`<a href="${href}" rel="noopener noreferrer">open the thread in Slack</a>` : html`<span class="muted">none (Slack is off, or the thread is not posted yet)</span>`;
}

function stateSentence(p: DeployPage, now: number): string {
  const d = p.deploy;
  switch (d.state) {
    case 'queued':
      return 'Waiting for its turn.';
    case 'building':
    case 'provisioning':
      return 'Building the image and provisioning the cluster, in parallel.';
    case 'deploying':
      return 'Rolling the new version out.';
    case 'awaiting_approval':
      return `Waiting for an approver to move traffic${d.approvalDeadline ? ` (times out ${d.approvalDeadline > now ? `in ${formatDuration(d.approvalDeadline - now)}` : 'now'})` : ''}.`;
    case 'cutting_over':
      return 'Moving traffic to the new cluster.';
    case 'tearing_down':
      return 'Live; the previous cluster drains, then is torn down.';
    case 'succeeded':
      return 'Done: the new version is live.';
    case 'failed':
      return d.cleanup === 'pending' ? 'Failed; undoing what it changed.' : 'Failed; what it changed was undone.';
    case 'rejected':
      return 'The cutover was rejected; traffic stayed where it was.';
    case 'timed_out':
      return 'Nobody approved in time; the cutover was rejected.';
    case 'cancelled':
      return 'Cancelled; what it created is torn down.';
  }
}

/** The step timeline: a table (start, end, duration, outcome) with a bar per step on one time axis, so parallel steps overlap visibly. */
function timeline(p: DeployPage, now: number): Html {
  const steps = p.deploy.steps.filter((s) => s.state !== 'pending' || s.startedAt !== null);
  if (!steps.length) return html`<div id="deploy-timeline" data-part><p class="muted">No step has started yet.</p></div>`;
  const t0 = Math.min(...steps.map((s) => s.startedAt ?? Infinity), p.deploy.startedAt ?? Infinity);
  const t1 = Math.max(...steps.map((s) => s.finishedAt ?? (s.startedAt !== null && s.state === 'running' ? now : (s.startedAt ?? 0))), t0 + 1);
  const span = t1 - t0;
  const bar = (s: StepRecord): Html => {
    if (s.startedAt === null) return html``;
    const end = s.finishedAt ?? (s.state === 'running' ? now : s.startedAt);
    const x = ((s.startedAt - t0) / span) * 100;
    const w = Math.max(((end - s.startedAt) / span) * 100, 0.6);
    return html`<svg class="gantt" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="track" x="0" y="0" width="100" height="10"></rect><rect class="bar tone-${toneOf(s.state)}" x="${x.toFixed(3)}" y="1" width="${Math.min(w, 100 - x).toFixed(3)}" height="8"></rect></svg>`;
  };
  const parallel = findParallel(steps);
  return html`<div id="deploy-timeline" data-part>
${parallel ? html`<p class="small">${parallel} ran in parallel.</p>` : ''}
<div class="table-wrap">
<table class="timeline stack">
  <caption class="visually-hidden">Steps, with when each started and ended</caption>
  <thead><tr><th scope="col">Step</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Duration</th><th scope="col">Outcome</th><th scope="col" class="gantt-head">Timeline <span class="muted small">(0 → ${formatDuration(span)})</span></th></tr></thead>
  <tbody>
  ${steps.map(
    (s) => html`<tr>
    <th scope="row" data-label="Step">${s.name}</th>
    <td data-label="Started">${s.startedAt !== null ? html`<span title="${utc(s.startedAt)}">+${formatDuration(s.startedAt - t0)}</span>` : '—'}</td>
    <td data-label="Ended">${s.finishedAt !== null ? html`<span title="${utc(s.finishedAt)}">+${formatDuration(s.finishedAt - t0)}</span>` : '—'}</td>
    <td data-label="Duration">${s.startedAt !== null ? formatDuration((s.finishedAt ?? now) - s.startedAt) : '—'}</td>
    <td data-label="Outcome">${badge(s.state)}${s.detail ? html`<div class="small">${s.detail}</div>` : ''}</td>
    <td data-label="Timeline" class="gantt-cell">${bar(s)}</td>
  </tr>`,
  )}
  </tbody>
</table>
</div>
</div>`;
}

/** "build and provision" when two steps' spans overlap. */
function findParallel(steps: readonly StepRecord[]): string | undefined {
  for (let i = 0; i < steps.length; i++) {
    for (let j = i + 1; j < steps.length; j++) {
      const a = steps[i]!;
      const b = steps[j]!;
      if (a.startedAt === null || b.startedAt === null) continue;
      const aEnd = a.finishedAt ?? Infinity;
      const bEnd = b.finishedAt ?? Infinity;
      if (a.startedAt < bEnd && b.startedAt < aEnd) return `${a.name} and ${b.name}`;
    }
  }
  return undefined;
}

function approval(p: DeployPage, c: DeployContext): Html {
  const d = p.deploy;
  const a = p.approval ?? d.approval;
  let body: Html;
  if (a) {
    const verb = a.decision === 'approved' ? 'Approved' : a.decision === 'rejected' ? 'Rejected' : 'Timed out';
    const tone = a.decision === 'approved' ? 'ok' : 'warn';
    body = html`<p><span class="badge tone-${tone}"><span aria-hidden="true">${a.decision === 'approved' ? '✓' : '✗'}</span> <strong>${verb}</strong></span>${
      a.decision === 'timed_out' ? '' : html` by ${person(a.actor, a.actorName)} via ${a.surface}`
    }, ${time(a.at)}${a.reason ? html`: “${a.reason}”` : ''}.</p>`;
  } else if (d.strategy !== 'blue-green') {
    body = html`<p class="muted">A rolling update is not approved: it replaces the images in place.</p>`;
  } else if (d.state === 'awaiting_approval') {
    body = html`<p>Waiting for approval${d.approvalDeadline ? html` until ${time(d.approvalDeadline)}` : ''}. Approvers: ${c.app?.approvers.join(', ') ?? 'the app’s approvers'}${
      c.app && !c.app.allowSelfApproval ? html`; ${d.requestedBy} requested it and cannot approve it too (four eyes)` : ''
    }.</p>`;
  } else {
    body = html`<p class="muted">${d.state === 'queued' || ['building', 'provisioning', 'deploying'].includes(d.state) ? 'Not asked yet: approval comes after the rollout.' : 'No decision was recorded.'}</p>`;
  }
  return html`<div id="deploy-approval" data-part>${body}</div>`;
}

function actions(p: DeployPage, c: DeployContext): Html {
  const d = p.deploy;
  const forms = c.offer.actions.map((a) => actionForm(a, { deployId: d.id }, c.actionWords(a), c.csrf));
  const rollback = c.rollback ? actionForm('rollback', { app: d.app }, c.rollback.words, c.csrf) : '';
  let note: Html | string = '';
  if (!forms.length && !rollback) {
    note = !c.person
      ? html`<p class="muted">Choose who you are acting as (top right) to see what you may do.</p>`
      : c.offer.note
        ? html`<p class="muted">${c.offer.note}.</p>`
        : html`<p class="muted">Nothing for ${c.person} to do here${d.state === 'awaiting_approval' ? ' (only the app’s approvers, not the requester, decide the cutover)' : ''}.</p>`;
  }
  return html`<div id="deploy-actions" data-part class="actions">${forms}${rollback}${note}</div>`;
}

function resources(p: DeployPage): Html {
  if (!p.resources.length) return html`<div id="deploy-resources" data-part><p class="muted">This deploy has created no resources${p.deploy.strategy === 'rolling' ? ' (a rolling update changes images in place)' : ' yet'}.</p></div>`;
  return html`<div id="deploy-resources" data-part class="table-wrap">
<table class="stack">
  <caption class="visually-hidden">Resources this deploy created</caption>
  <thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">State</th><th scope="col">Created</th><th scope="col">Changed</th></tr></thead>
  <tbody>${p.resources.map(
    (r) => html`<tr><td data-label="Kind">${r.kind}</td><td data-label="Name"><code>${r.name}</code></td><td data-label="State">${r.state}${r.error ? html`<div class="small error-text">${r.error}</div>` : ''}</td><td data-label="Created">${time(r.createdAt)}</td><td data-label="Changed">${time(r.updatedAt)}</td></tr>`,
  )}</tbody>
</table>
</div>`;
}

function plan(p: DeployPage): Html {
  return html`<div id="deploy-plan" data-part>${p.plan?.length ? html`<pre class="plan">${p.plan.join('\n')}</pre>` : html`<p class="muted">No plan was stored with this deploy.</p>`}</div>`;
}

function events(p: DeployPage): Html {
  const last = p.events.length ? p.events[p.events.length - 1]!.id : 0;
  return html`<ol id="deploy-events" data-part class="events" role="log" aria-live="polite" aria-relevant="additions" data-last-event="${last}">
${p.events.map(
  (e) => html`<li class="level-${e.level}"><time datetime="${new Date(e.at).toISOString()}">${utc(e.at).slice(11, 19)}</time> ${e.step ? html`<span class="chip">${e.step}</span> ` : ''}${e.level !== 'info' ? html`<strong>${e.level}:</strong> ` : ''}${e.message}</li>`,
)}
</ol>`;
}

/** The live parts of the page, in the order the fragment sends them. */
export function deployParts(p: DeployPage, c: DeployContext): Html {
  return html`${summary(p, c)}${timeline(p, c.now)}${approval(p, c)}${actions(p, c)}${resources(p)}${plan(p)}${events(p)}`;
}

export function deployBody(p: DeployPage, c: DeployContext, stream: string, answer?: Html): Html {
  const d = p.deploy;
  const id = d.id;
  const parts = { summary: summary(p, c), timeline: timeline(p, c.now), approval: approval(p, c), actions: actions(p, c), resources: resources(p), plan: plan(p), events: events(p) };
  return html`<article aria-labelledby="deploy-title" data-live="deploy" data-fragment="${path('deploys', id)}/fragment" data-stream="${stream}">
<h1 id="deploy-title">Deploy #${id}: ${d.app} ${d.version}</h1>
${parts.summary}
<section aria-labelledby="actions-title" class="card">
  <h2 id="actions-title">Decide</h2>
  <div id="answer" role="status" aria-live="polite">${answer ?? ''}</div>
  ${parts.approval}
  ${parts.actions}
</section>
<section aria-labelledby="timeline-title" class="card">
  <h2 id="timeline-title">Steps</h2>
  ${parts.timeline}
</section>
<section aria-labelledby="resources-title" class="card">
  <h2 id="resources-title">Resources</h2>
  ${parts.resources}
</section>
<section aria-labelledby="plan-title" class="card">
  <h2 id="plan-title">Plan</h2>
  ${parts.plan}
</section>
<section aria-labelledby="events-title" class="card">
  <h2 id="events-title">Event log</h2>
  ${parts.events}
</section>
</article>`;
}
