/** The frame of every console page: landmarks, the mode banner, who is acting, the search box. */
import { CSRF_FIELD } from '../csrf.js';
import { html, type Html } from '../html.js';
import type { ConsoleIdentity, ConsoleMode } from '../identity.js';

/** What the frame needs besides the page's own content. */
export interface Frame {
  readonly title: string;
  /** Where the assets are (their URLs carry the content's hash). */
  readonly assets: { readonly css: string; readonly js: string };
  readonly provider: { readonly name: string; readonly label: string };
  /** How the console knows who is acting (KUBECONTROL_AUTH). */
  readonly mode: ConsoleMode;
  /** Null on an error page that could not establish who is asking. */
  readonly identity: ConsoleIdentity | null;
  /** The people "acting as" offers (local mode). */
  readonly people: readonly string[];
  /** The CSRF token for the person acting ('' for nobody), for the "acting as" form. */
  readonly csrf: string;
  /** The path and query of this page (where "acting as" comes back to). */
  readonly here: string;
  /** The search box's current text. */
  readonly q?: string;
  /** Marks the nav link of the current page. */
  readonly section?: 'fleet' | 'search' | 'app' | 'deploy';
}

function modeBanner(f: Frame): Html {
  const sandbox =
    f.provider.name === 'sandbox'
      ? html`<p class="banner banner-sandbox"><strong>Sandbox</strong>: simulated infrastructure; nothing real is created.</p>`
      : '';
  if (f.mode === 'local') {
    return html`${sandbox}<p class="banner banner-local" id="mode-banner"><strong>Local mode — unauthenticated.</strong> This console trusts whoever uses this computer: you choose who you act as below, like the CLI's <code>--as</code>. It listens on loopback only.</p>`;
  }
  return html`${sandbox}`;
}

function who(f: Frame): Html {
  const id = f.identity;
  if (!id) return html``;
  if (id.mode === 'proxy') {
    return html`<p class="who">Signed in as <strong>${id.person}</strong>${id.proxyIdentity && id.proxyIdentity !== id.person ? html` <span class="muted">(${id.proxyIdentity})</span>` : ''}</p>`;
  }
  return html`<form class="who acting-as" method="post" action="/acting-as">
    <input type="hidden" name="${CSRF_FIELD}" value="${f.csrf}">
    <input type="hidden" name="return" value="${f.here}">
    <label for="acting-as">Acting as</label>
    <select id="acting-as" name="person">
      <option value=""${id.person ? '' : ' selected'}>nobody (read only)</option>
      ${f.people.map((p) => html`<option value="${p}"${p === id.person ? ' selected' : ''}>${p}</option>`)}
    </select>
    <button type="submit">Switch</button>
  </form>`;
}

/** A whole page. */
export function page(f: Frame, content: Html): Html {
  const nav = (href: string, label: string, section: Frame['section']): Html =>
    html`<a href="${href}"${f.section === section ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.title} · kubecontrol</title>
<link rel="stylesheet" href="${f.assets.css}">
<script src="${f.assets.js}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  ${modeBanner(f)}
  <div class="bar">
    <a class="brand" href="/">kubecontrol</a>
    <nav aria-label="Console">${nav('/', 'Fleet', 'fleet')}</nav>
    <form class="search" role="search" method="get" action="/search">
      <label for="q" class="visually-hidden">Search deploys</label>
      <input id="q" name="q" type="search" value="${f.q ?? ''}" placeholder="v123 · carol this week · failed yesterday" maxlength="200">
      <button type="submit">Search</button>
    </form>
    ${who(f)}
  </div>
</header>
<main id="main" tabindex="-1">
${content}
</main>
<footer class="foot"><p>kubecontrol · ${f.provider.label}</p></footer>
</body>
</html>`;
}

/** The sentence and the way forward of an error page, by the error's code. */
function errorHelp(code: string): Html {
  switch (code) {
    case 'console_needs_proxy':
      return html`<h2>Put the console behind an auth proxy</h2>
<ol>
  <li>Run an auth proxy such as <a href="https://oauth2-proxy.github.io/oauth2-proxy/">oauth2-proxy</a> in front of kubecontrol, passing the signed-in identity (<code>X-Forwarded-Email</code> / <code>X-Forwarded-User</code>; oauth2-proxy: <code>--pass-user-headers</code>).</li>
  <li>Start kubecontrol with <code>KUBECONTROL_AUTH=proxy</code>, <code>KUBECONTROL_PROXY_ADDRESSES</code> (the proxy's IPs or CIDRs: identity headers are trusted from them only) and <code>KUBECONTROL_PROXY_PEOPLE</code> (e.g. <code>alice@corp.example=alice,bob@corp.example=U0BOB0001</code>: who each identity is in the KubeApps).</li>
  <li>Open the console through the proxy's address. API tokens keep working for the CLI.</li>
</ol>`;
    case 'sign_in_through_proxy':
    case 'proxy_sent_no_identity':
      return html`<p>Open the console through your company's sign-in address (the auth proxy), not the server's own address.</p>`;
    case 'unmapped_identity':
      return html`<p>Ask an operator to add you to <code>KUBECONTROL_PROXY_PEOPLE</code> as the person the KubeApps name.</p>`;
    case 'csrf':
      return html`<p>Go back, reload the page and try again from this console. Forms sent from other pages or sites are refused.</p>`;
    default:
      return html``;
  }
}

/** An error page: the status, the sentence, and what to do. */
export function errorPage(f: Frame, answer: { readonly status: number; readonly code: string; readonly message: string }): Html {
  const headline = answer.status === 404 ? 'Not found' : answer.status === 401 ? 'Not signed in' : answer.status === 403 ? 'Refused' : answer.status >= 500 ? 'Something went wrong' : 'That did not work';
  return page(
    f,
    html`<section class="error-page" aria-labelledby="error-title">
  <h1 id="error-title">${headline}</h1>
  <p class="error-message">${answer.message.replace(/\.$/, "")}.</p>
  ${errorHelp(answer.code)}
  <p><a href="/">Back to the fleet</a></p>
</section>`,
  );
}
