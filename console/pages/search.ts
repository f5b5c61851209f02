/** The search page (`/search?q=`): deploys by version, person, outcome and time, from the store's indexes. */
import { html, path, type Html } from '../html.js';
import type { SearchResult } from '../model.js';
import { badge, person, time } from './format.js';

export function searchBody(q: string, result: SearchResult | null): Html {
  if (!result) {
    return html`<section aria-labelledby="search-title"><h1 id="search-title">Search</h1>
<p>Ask for a version (<code>v123</code>, <code>v12*</code>), a person and a time (<code>carol this week</code>), an outcome (<code>failed yesterday</code>), or an app.</p></section>`;
  }
  return html`<section aria-labelledby="search-title">
<h1 id="search-title">Search: “${q}”</h1>
<p role="status">${result.problem ? html`<span class="error-text">${result.problem}</span>` : html`${result.understood} — ${result.hits.length} deploy${result.hits.length === 1 ? '' : 's'}.`}</p>
${
  result.hits.length
    ? html`<div class="table-wrap"><table class="stack">
  <caption class="visually-hidden">Deploys that match</caption>
  <thead><tr><th scope="col">Deploy</th><th scope="col">App</th><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Requested by</th><th scope="col">Requested</th><th scope="col">Why</th></tr></thead>
  <tbody>${result.hits.map(
    ({ deploy: d, why }) => html`<tr>
    <th scope="row" data-label="Deploy"><a href="${path('deploys', d.id)}">#${d.id}</a></th>
    <td data-label="App"><a href="${path('apps', d.app)}">${d.app}</a></td>
    <td data-label="Version"><span class="version">${d.version}</span></td>
    <td data-label="Outcome">${badge(d.state)}</td>
    <td data-label="Requested by">${person(d.requestedBy, d.requestedByName)}</td>
    <td data-label="Requested">${time(d.createdAt)}</td>
    <td data-label="Why">${why}</td>
  </tr>`,
  )}</tbody>
</table></div>`
    : ''
}
</section>`;
}
