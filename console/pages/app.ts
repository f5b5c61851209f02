/** The app page (`/apps/:app`): history with filters and paging, DORA figures with charts, the resolved definition and manifests. */
import type { KubeApp } from '../../kubeapps/index.js';
import { html, path, query, type Html } from '../html.js';
import type { DoraReport, FleetRow, HistoryPage } from '../model.js';
import { actionForm } from './actions.js';
import { badge, formatDuration, person, time, words } from './format.js';
import { OUTCOMES, WINDOWS, type HistoryFilters } from './queries.js';

/** One rendered manifest: a title (kind and name) and its text. */
export interface RenderedManifest {
  readonly title: string;
  readonly text: string;
}

export interface AppView {
  readonly app: KubeApp;
  readonly row: FleetRow | undefined;
  readonly filters: HistoryFilters;
  readonly history: HistoryPage;
  readonly dora: DoraReport;
  readonly windowDays: number;
  /** The charts of the DORA window, as SVG this server drew (console/charts.ts). */
  readonly charts: Html;
  /** The version the manifests are rendered for, and them (or why not). */
  readonly manifests: { readonly version: string; readonly items: readonly RenderedManifest[] } | { readonly version: string; readonly problem: string } | null;
  readonly rollback: { readonly words: string } | undefined;
  readonly rollbackNote?: string;
  readonly csrf: string;
  readonly now: number;
}

const pct = (x: number | null): string => (x === null ? '—' : `${Math.round(x * 1000) / 10}%`);
const dur = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '—' : formatDuration(ms));
/** yyyy-mm-dd of an instant (UTC), for date inputs. */
const day = (at: number | undefined): string => (at === undefined ? '' : new Date(at).toISOString().slice(0, 10));

function header(v: AppView): Html {
  const { app, row } = v;
  const live = row?.live;
  return html`<header class="page-head">
  <h1 id="app-title">${app.name}</h1>
  <p class="muted">${app.description}</p>
  <dl class="facts">
    <div><dt>Live</dt><dd>${live ? html`<strong class="version">${live.version}</strong> on <code>${live.cluster ?? '?'}</code> (<a href="${path('deploys', live.deployId)}">#${live.deployId}</a>, since ${time(live.since)})` : html`<span class="muted">not deployed</span>`}</dd></div>
    <div><dt>Strategy</dt><dd>${words(app.strategy)}</dd></div>
    <div><dt>DNS</dt><dd><code>${app.dns.name}</code> (TTL ${app.dns.ttlSeconds}s)</dd></div>
    <div><dt>Hardware</dt><dd>${row?.hardware ?? ''}</dd></div>
    <div><dt>Lock</dt><dd>${row?.lock ? html`locked by ${row.lock.lockedBy} since ${time(row.lock.at)}: “${row.lock.reason}”` : html`<span class="muted">unlocked</span>`}</dd></div>
    <div><dt>People</dt><dd>owners ${app.owners.join(', ')}; deployers ${app.deployers.join(', ') || '—'}; approvers ${app.approvers.join(', ')}</dd></div>
  </dl>
  <div id="app-actions" class="actions">
    <div id="answer" role="status" aria-live="polite"></div>
    ${v.rollback ? actionForm('rollback', { app: app.name }, v.rollback.words, v.csrf) : v.rollbackNote ? html`<p class="muted small">${v.rollbackNote}.</p>` : ''}
  </div>
</header>`;
}

function historySection(v: AppView): Html {
  const f = v.filters;
  const base = path('apps', v.app.name);
  const keep = { version: f.version, person: f.person, outcome: f.outcome, from: day(f.from), to: day(f.toDay), window: v.windowDays === 30 ? undefined : v.windowDays };
  const rows = v.history.rows;
  return html`<section aria-labelledby="history-title" class="card">
  <h2 id="history-title">History</h2>
  <form class="filters" method="get" action="${base}" aria-label="Filter the history">
    <p><label for="f-version">Version</label><input id="f-version" name="version" value="${f.version ?? ''}" placeholder="v123 or v12*" maxlength="128"></p>
    <p><label for="f-person">Person</label><input id="f-person" name="person" value="${f.person ?? ''}" placeholder="carol" maxlength="64"></p>
    <p><label for="f-outcome">Outcome</label><select id="f-outcome" name="outcome">
      <option value="">any</option>
      ${OUTCOMES.map((o) => html`<option value="${o}"${f.outcome === o ? ' selected' : ''}>${words(o)}</option>`)}
    </select></p>
    <p><label for="f-from">From</label><input id="f-from" name="from" type="date" value="${day(f.from)}"></p>
    <p><label for="f-to">To (inclusive)</label><input id="f-to" name="to" type="date" value="${day(f.toDay)}"></p>
    ${v.windowDays !== 30 ? html`<input type="hidden" name="window" value="${v.windowDays}">` : ''}
    <p class="filter-buttons"><button type="submit">Filter</button> <a href="${base}${query({ window: keep.window })}">Clear</a></p>
  </form>
  ${
    rows.length
      ? html`<div class="table-wrap"><table class="history stack">
    <caption class="visually-hidden">Deploys of ${v.app.name}, newest first</caption>
    <thead><tr><th scope="col">Deploy</th><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Requested by</th><th scope="col">Requested</th><th scope="col">Ended</th><th scope="col">Kind</th></tr></thead>
    <tbody>${rows.map(
      (d) => html`<tr>
      <th scope="row" data-label="Deploy"><a href="${path('deploys', d.id)}">#${d.id}</a></th>
      <td data-label="Version"><span class="version">${d.version}</span></td>
      <td data-label="Outcome">${badge(d.state)}</td>
      <td data-label="Requested by">${person(d.requestedBy, d.requestedByName)} <span class="muted small">via ${d.surface}</span></td>
      <td data-label="Requested">${time(d.createdAt)}</td>
      <td data-label="Ended">${time(d.finishedAt)}</td>
      <td data-label="Kind">${d.kind} · ${words(d.strategy)}</td>
    </tr>`,
    )}</tbody>
  </table></div>`
      : html`<p class="muted">No deploys match.</p>`
  }
  <nav class="pager" aria-label="History pages">
    ${f.before ? html`<a href="${base}${query(keep)}">← Newest</a>` : ''}
    ${v.history.nextBefore ? html`<a href="${base}${query({ ...keep, before: v.history.nextBefore })}" rel="next">Older →</a>` : ''}
  </nav>
</section>`;
}

function doraSection(v: AppView): Html {
  const r = v.dora;
  const base = path('apps', v.app.name);
  return html`<section aria-labelledby="dora-title" class="card">
  <h2 id="dora-title">DORA figures, last ${v.windowDays} days</h2>
  <nav class="windows" aria-label="Window">${WINDOWS.map(
    (w) => html`<a href="${base}${query({ window: w === 30 ? undefined : w })}#dora-title"${w === v.windowDays ? html` aria-current="true"` : ''}>${w} days</a>`,
  )}</nav>
  <dl class="figures">
    <div><dt>Deploy frequency</dt><dd><strong>${r.deploys}</strong> went live <span class="muted">(${r.deploysPerDay.toFixed(2)} a day)</span></dd></div>
    <div><dt>Lead time, request → live</dt><dd><strong>${dur(r.leadTimeMs?.median)}</strong> median <span class="muted">(p90 ${dur(r.leadTimeMs?.p90)})</span></dd></div>
    <div><dt>Change failure rate</dt><dd><strong>${pct(r.changeFailureRate)}</strong> <span class="muted">(${r.failedChanges} of ${r.changes} changes)</span></dd></div>
    <div><dt>Time to restore</dt><dd><strong>${dur(r.timeToRestoreMs?.median)}</strong> median <span class="muted">(${r.timeToRestoreMs?.count ?? 0} restore${r.timeToRestoreMs?.count === 1 ? '' : 's'})</span></dd></div>
  </dl>
  <div class="charts">${v.charts}</div>
  <p class="small muted">From ${time(r.from, false)} to ${time(r.to, false)}. A change failed when its deploy failed, or when it went live and was rolled back or replaced within its drain; rejected, cancelled and timed-out deploys never reached production.</p>
</section>`;
}

function definitionSection(v: AppView): Html {
  const m = v.manifests;
  const base = path('apps', v.app.name);
  return html`<section aria-labelledby="definition-title" class="card">
  <h2 id="definition-title">Definition and manifests</h2>
  <details>
    <summary>The resolved KubeApp (after the company defaults)</summary>
    <pre class="code">${JSON.stringify(v.app, null, 2)}</pre>
  </details>
  <form class="inline" method="get" action="${base}#manifests" aria-label="Render the manifests of a version">
    <label for="m-version">Manifests for version</label>
    <input id="m-version" name="manifests" value="${m?.version ?? ''}" maxlength="128" placeholder="v123">
    <button type="submit">Render</button>
  </form>
  <div id="manifests">
  ${
    !m
      ? html`<p class="muted">Name a version to see exactly what a deploy of it applies.</p>`
      : 'problem' in m
        ? html`<p class="error-text">${m.problem}</p>`
        : html`<p class="small muted">What a deploy of ${m.version} applies, as the provider renders it.</p>${m.items.map(
            (i) => html`<details><summary>${i.title}</summary><pre class="code">${i.text}</pre></details>`,
          )}`
  }
  </div>
</section>`;
}

export function appBody(v: AppView): Html {
  return html`<article aria-labelledby="app-title">
${header(v)}
${historySection(v)}
${doraSection(v)}
${definitionSection(v)}
</article>`;
}
