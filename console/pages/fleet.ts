/** The fleet page (`/`): every KubeApp, what serves it, what happened last, what is happening now. */
import { html, path, type Html } from '../html.js';
import type { FleetRow } from '../model.js';
import { badge, formatDuration, person, relative, time } from './format.js';

function hardware(r: FleetRow): Html {
  const facts =
    r.capacity === 'fargate'
      ? [html`<span class="chip">Fargate</span>`]
      : [
          html`<span class="chip">${r.minNodes === r.maxNodes ? `${r.minNodes} nodes` : `${r.minNodes}–${r.maxNodes} nodes`}</span>`,
          html`<span class="chip">${r.spot ? 'spot' : 'on-demand'}</span>`,
          html`<span class="chip">${r.arch}</span>`,
          r.capacity === 'auto' ? html`<span class="chip">Auto Mode</span>` : '',
        ];
  // The words add what the chips do not say (instance types); Fargate's are the chip itself.
  return html`<div class="chips">${facts}</div>${r.capacity === 'fargate' ? '' : html`<div class="muted small">${r.hardware}</div>`}`;
}

function live(r: FleetRow, now: number): Html {
  if (!r.live) return html`<span class="muted">not deployed</span>`;
  const l = r.live;
  const drain = r.draining
    ? html`<div class="small">draining ${r.draining.version} on ${r.draining.cluster}${r.draining.until ? html` until ${time(r.draining.until)}` : ''}${r.draining.rollback ? ' (rollback flips back)' : ''}</div>`
    : '';
  const k = r.kubernetes;
  const kube = k
    ? html`<div class="small">Kubernetes ${k.version}${k.endOfStandardSupport ? html`, standard support until ${k.endOfStandardSupport}` : ''}</div>${k.warning ? html`<div class="small warn" role="note">⚠ ${k.warning}</div>` : ''}`
    : '';
  const sc = r.scaled;
  const scaleWords = (x: { replicas: number | null; minNodes: number | null; maxNodes: number | null }): string =>
    [x.replicas !== null ? `replicas=${x.replicas}` : '', x.maxNodes !== null ? `nodes=${x.minNodes ?? 0}..${x.maxNodes}` : ''].filter(Boolean).join(' ');
  const scaled = sc
    ? html`<div class="small">scaled to ${scaleWords(sc.now)} by ${sc.by} (<a href="${path('deploys', sc.deployId)}">#${sc.deployId}</a>); the KubeApp says ${scaleWords(sc.declared)}</div>`
    : '';
  return html`<strong class="version">${l.version}</strong>
<div class="small">${l.cluster ? html`on <code>${l.cluster}</code>` : ''} · <a href="${path('deploys', l.deployId)}">#${l.deployId}</a> · since <span title="${new Date(l.since).toISOString()}">${relative(l.since, now)}</span></div>${kube}${scaled}${drain}`;
}

function lastDeploy(r: FleetRow, now: number): Html {
  const d = r.lastDeploy;
  if (!d) return html`<span class="muted">none yet</span>`;
  return html`<a href="${path('deploys', d.id)}">#${d.id} ${d.version}</a>${d.kind !== 'deploy' ? html` <span class="chip">${d.kind}</span>` : ''} ${badge(d.state)}
<div class="small">by ${person(d.requestedBy, d.requestedByName)}${d.finishedAt ? html`, <span title="${new Date(d.finishedAt).toISOString()}">${relative(d.finishedAt, now)}</span>` : ''}</div>`;
}

function lock(r: FleetRow, now: number): Html {
  const l = r.lock;
  if (!l) return html`<span class="muted">unlocked</span>`;
  return html`<span class="badge tone-warn"><span aria-hidden="true">🔒</span> locked</span>
<div class="small">by ${l.lockedBy}, ${relative(l.at, now)}: “${l.reason}”</div>`;
}

function active(r: FleetRow): Html {
  if (!r.active.length) return html`<span class="muted">idle</span>`;
  return html`<ul class="plain">${r.active.map(
    (a) => html`<li><a href="${path('deploys', a.id)}">#${a.id} ${a.version}</a> ${badge(a.state)}
<div class="small">${a.step ? html`step ${a.step}, ` : ''}${formatDuration(a.elapsedMs)} · by ${a.requestedBy}</div></li>`,
  )}</ul>`;
}

function refresh(r: FleetRow, now: number): Html {
  const n = r.nextRefresh;
  if (!n) return html`<span class="muted">none</span>`;
  return html`${n.at ? html`<span title="${new Date(n.at).toISOString()}">${relative(n.at, now)}</span>` : html`<span class="muted">not armed</span>`}
<div class="small">${n.schedule}${/\bUTC\b/.test(n.schedule) ? '' : ` ${n.timezone}`}</div>`;
}

/** The fleet table and its status line: the live parts of the page (re-rendered by `/fragment/fleet`). */
export function fleetParts(rows: readonly FleetRow[], now: number): Html {
  const running = rows.reduce((n, r) => n + r.active.length, 0);
  const status = `${rows.length} app${rows.length === 1 ? '' : 's'}; ${running ? `${running} deploy${running === 1 ? '' : 's'} queued or running` : 'nothing deploying'}.`;
  return html`<p id="fleet-status" class="live-status" role="status" aria-live="polite" data-part>${status} <span class="muted small">As of ${time(now)}.</span></p>
<div id="fleet-table" class="table-wrap" data-part>
<table class="fleet stack">
  <caption class="visually-hidden">KubeApps</caption>
  <thead><tr><th scope="col">App</th><th scope="col">Live</th><th scope="col">Strategy</th><th scope="col">Hardware</th><th scope="col">Last deploy</th><th scope="col">Lock</th><th scope="col">Now</th><th scope="col">Next refresh</th></tr></thead>
  <tbody>
  ${rows.map(
    (r) => html`<tr id="app-${r.app}">
    <th scope="row" data-label="App"><a href="${path('apps', r.app)}">${r.app}</a><div class="small muted">${r.description}</div></th>
    <td data-label="Live">${live(r, now)}</td>
    <td data-label="Strategy" class="nowrap">${r.strategy}</td>
    <td data-label="Hardware">${hardware(r)}</td>
    <td data-label="Last deploy">${lastDeploy(r, now)}</td>
    <td data-label="Lock">${lock(r, now)}</td>
    <td data-label="Now">${active(r)}</td>
    <td data-label="Next refresh">${refresh(r, now)}</td>
  </tr>`,
  )}
  </tbody>
</table>
</div>`;
}

export function fleetBody(rows: readonly FleetRow[], now: number): Html {
  return html`<section aria-labelledby="fleet-title" data-live="fleet" data-fragment="/fragment/fleet" data-stream="/fleet/stream">
<h1 id="fleet-title">Fleet</h1>
${fleetParts(rows, now)}
</section>`;
}
