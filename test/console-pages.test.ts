/**
 * The console's pages through the real server (local mode): each page shows what the store holds,
 * the JSON reads answer the same data, the buttons appear only for people who may press them, and
 * every forged or stale POST (no CSRF token, a token for someone else, a foreign Origin, another
 * site, a Host that is not loopback) is refused, recorded in the commands table (surface console)
 * and logged — while a proper console approve goes through the command core and is recorded as such.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import type { CommandRecord } from '../store/index.js';
import { createLogger } from '../system/logger.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { logLines } from './helpers/log-sink.js';

interface LogLine {
  readonly msg: string;
  readonly component?: string;
}

let h: Harness;
let lines: LogLine[];
/** Deploys made in beforeAll: v1 by carol, approved by bob; v2 by alice, rejected; v3 by carol, awaiting approval. */
let v1: number;
let v2: number;
let v3: number;

const lastId = (): number => h.k.store.commands.recent(1)[0]?.id ?? 0;
const rowsAfter = (since: number): CommandRecord[] =>
  h.k.store.commands
    .recent(1000)
    .filter((c) => c.id > since)
    .reverse();
/** A history row's link to deploy `id` (the page also links the live deploy elsewhere). */
const row = (id: number): string => `data-label="Deploy"><a href="/deploys/${id}">#${id}</a>`;
const consoleLines = (): string[] => lines.filter((l) => l.component === 'console').map((l) => l.msg);

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${h.url}${path}`, { headers: { accept: 'text/html', ...headers } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** A page as `person` sees it (local mode's acting-as cookie). */
const as = (person: string): Record<string, string> => ({ cookie: `kmc_as=${person}` });

/** The CSRF token a page's forms carry for the person acting. */
async function tokenFor(person: string, path = '/'): Promise<string> {
  const page = await get(path, as(person));
  const m = /name="csrf" value="([^"]+)"/.exec(page.text);
  if (!m) throw new Error(`no CSRF token on ${path} for ${person}`);
  return m[1]!;
}

/** A form POST as a browser on this console's page sends it (same origin), unless `headers` say otherwise. */
async function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; text: string; location: string | null; headers: Headers }> {
  const origin = new URL(h.url);
  const res = await fetch(`${h.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: origin.origin, 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, text: await res.text(), location: res.headers.get('location'), headers: res.headers };
}

beforeAll(async () => {
  lines = [];
  const sink = logLines(lines);
  h = await startHarness({}, { logger: createLogger('info', sink) });
  const id = (r: Awaited<ReturnType<Harness['cmd']>>): number => (r.body.kind === 'deploy_queued' ? r.body.deploy.id : 0);
  v1 = id(await h.cmd('carol', 'deploy', 'search-svc', 'v1'));
  await h.waitState(v1, 'awaiting_approval');
  await h.cmd('bob', 'approve', String(v1));
  await h.waitState(v1, 'succeeded');
  v2 = id(await h.cmd('alice', 'deploy', 'search-svc', 'v2'));
  await h.waitState(v2, 'awaiting_approval');
  await h.cmd('bob', 'reject', String(v2), 'not today');
  await h.waitState(v2, 'rejected');
  v3 = id(await h.cmd('carol', 'deploy', 'search-svc', 'v3'));
  await h.waitState(v3, 'awaiting_approval');
  await h.cmd('dave', 'lock', 'web-frontend', 'freeze for the launch');
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('pages show what the store holds', () => {
  it('the fleet: every app, what is live, the last deploy, the lock, what runs now; and says it is unauthenticated', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).toContain('Local mode — unauthenticated.');
    for (const app of ['search-svc', 'web-frontend', 'cache-worker']) expect(page.text).toContain(`href="/apps/${app}"`);
    const row = (app: string): string => page.text.split(`id="app-${app}"`)[1]!.split('</tr>')[0]!;
    expect(row('search-svc')).toMatch(/<strong class="version">v1<\/strong>/);
    expect(row('search-svc')).toContain(`href="/deploys/${v1}"`);
    // Which Kubernetes the live cluster runs and until when it is supported, as status says it.
    expect(row('search-svc')).toMatch(/Kubernetes 1\.\d+, standard support until \d{4}-\d{2}-\d{2}/);
    // The newest ended deploy is the rejected v2, by alice; v3 is running now.
    expect(row('search-svc')).toMatch(new RegExp(`#${v2} v2</a>[\\s\\S]*rejected[\\s\\S]*by alice`));
    expect(row('search-svc')).toMatch(new RegExp(`#${v3} v3</a>[\\s\\S]*awaiting approval`));
    expect(row('web-frontend')).toMatch(/locked[\s\S]*by dave[\s\S]*freeze for the launch/);
    expect(row('cache-worker')).toContain('Fargate');
    // The live part is the same markup, alone.
    const fragment = await get('/fragment/fleet');
    expect(fragment.text).toContain('id="fleet-table"');
    expect(fragment.text).not.toContain('<html');
  });

  it('the app page: history with filters and keyset paging, each row a link; DORA; definition; manifests', async () => {
    const all = await get('/apps/search-svc');
    for (const id of [v1, v2, v3]) expect(all.text).toContain(`href="/deploys/${id}"`);
    expect(all.text).toContain('<label for="f-version">Version</label>');
    expect(all.text).toMatch(/Deploy frequency[\s\S]*<strong>1<\/strong> went live/);
    expect(all.text).toMatch(/Change failure rate/);
    expect(all.text).toContain('<svg');
    expect(all.text).toContain('The resolved KubeApp (after the company defaults)');
    expect(all.text).toContain('&quot;approvers&quot;');
    // The live version's manifests by default; any version on request.
    expect(all.text).toContain('Deployment search-svc');
    const manifests = await get('/apps/search-svc?manifests=v9');
    expect(manifests.text).toContain('sandbox.registry.local/search-svc:v9');

    const rejected = await get('/apps/search-svc?outcome=rejected');
    expect(rejected.text).toContain(`href="/deploys/${v2}"`);
    expect(rejected.text).not.toContain(row(v1));
    const carol = await get('/apps/search-svc?person=carol');
    expect(carol.text).toContain(row(v1));
    expect(carol.text).toContain(row(v3));
    expect(carol.text).not.toContain(row(v2));
    const version = await get('/apps/search-svc?version=v2');
    expect(version.text).toContain(row(v2));
    expect(version.text).not.toContain(row(v3));
    const today = new Date(Date.now()).toISOString().slice(0, 10);
    const dated = await get(`/apps/search-svc?from=${today}&to=${today}`);
    expect(dated.text).toContain(row(v1));
    const future = await get('/apps/search-svc?from=2099-01-01');
    expect(future.text).toContain('No deploys match.');

    // Paging: one a page, newest first; the next page's link carries `before` and the filters.
    const first = await get('/apps/search-svc?limit=1');
    expect(first.text).toContain(row(v3));
    const older = /href="([^"]*before=\d+[^"]*)" rel="next"/.exec(first.text)?.[1]?.replace(/&amp;/g, '&');
    expect(older).toContain(`before=${v3}`);
    const second = await get(older!);
    expect(second.text).toContain(row(v2));
    expect(second.text).not.toContain(row(v3));

    const bad = await get('/apps/search-svc?outcome=great');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('outcome must be one of succeeded, failed, rejected, timed_out, cancelled, active');
    expect((await get('/apps/nope')).status).toBe(404);
  });

  it('the deploy page: steps, approval, resources, events, and the live stream it listens to', async () => {
    const page = await get(`/deploys/${v1}`);
    expect(page.text).toContain(`Deploy #${v1}: search-svc v1`);
    expect(page.text).toMatch(/build and provision ran in parallel/);
    for (const step of ['build', 'provision', 'deploy', 'approval', 'cutover']) expect(page.text).toContain(`<th scope="row" data-label="Step">${step}</th>`);
    expect(page.text).toMatch(/Approved<\/strong><\/span> by bob via cli/);
    expect(page.text).toContain('<code>search-svc-');
    expect(page.text).toContain('role="log"');
    expect(page.text).toContain(`data-stream="/api/deploys/${v1}/stream"`);
    const rejected = await get(`/deploys/${v2}`);
    expect(rejected.text).toContain('“not today”');
    const fragment = await get(`/deploys/${v3}/fragment`, as('bob'));
    expect(fragment.text).toContain('id="deploy-actions"');
    expect(fragment.text).toContain('Approve cutover');
    expect((await get('/deploys/99999')).status).toBe(404);
  });

  it('search: one box on every page, answers by version and person', async () => {
    const page = await get('/search?q=v2');
    expect(page.text).toContain('role="search"');
    expect(page.text).toContain(`href="/deploys/${v2}"`);
    const carol = await get('/search?q=carol');
    expect(carol.text).toContain(`href="/deploys/${v1}"`);
    expect(carol.text).not.toContain(`href="/deploys/${v2}"`);
  });

  it('the JSON API answers the same data, with validated queries', async () => {
    const json = async (path: string): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${h.url}${path}`, { headers: { 'x-kubecontrol-user': 'carol' } });
      return { status: res.status, body: await res.json() };
    };
    const fleet = await json('/api/fleet');
    expect(fleet.body.find((r: { app: string }) => r.app === 'search-svc')).toMatchObject({ live: { version: 'v1' }, lastDeploy: { id: v2, state: 'rejected' } });
    const history = await json('/api/apps/search-svc/history?outcome=rejected');
    expect(history.body.rows.map((r: { id: number }) => r.id)).toEqual([v2]);
    const paged = await json('/api/apps/search-svc/history?limit=2');
    expect(paged.body).toMatchObject({ nextBefore: v2 });
    const dora = await json('/api/apps/search-svc/dora?window=7');
    expect(dora.body).toMatchObject({ app: 'search-svc', deploys: 1 });
    const search = await json('/api/search?q=v3');
    expect(search.body.hits.map((x: { deploy: { id: number } }) => x.deploy.id)).toEqual([v3]);
    expect(await json('/api/apps/search-svc/history?limit=500')).toMatchObject({ status: 400, body: { code: 'bad_query', message: 'limit must be a whole number from 1 to 100 (got: "500")' } });
    expect(await json('/api/apps/nope/dora')).toMatchObject({ status: 404, body: { code: 'unknown_app' } });
    expect(await json('/api/search')).toMatchObject({ status: 400, body: { code: 'bad_query' } });
  });

  it('errors are pages for a browser and JSON for everyone else; assets are cached by content', async () => {
    const page = await get('/nowhere');
    expect(page.status).toBe(404);
    expect(page.text).toContain('<h1 id="error-title">Not found</h1>');
    const json = await fetch(`${h.url}/nowhere`);
    expect(await json.json()).toMatchObject({ status: 'error', code: 'not_found' });
    const css = /href="(\/assets\/console\.[0-9a-f]{12}\.css)"/.exec(page.text)![1]!;
    const asset = await fetch(`${h.url}${css}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });
});

describe('buttons only for people who may press them', () => {
  const buttons = async (person: string | null, id: number): Promise<string[]> => {
    const page = await get(`/deploys/${id}`, person ? as(person) : {});
    return [...page.text.matchAll(/<button type="submit" class="button [a-z]+">([^<]+)<\/button>\s*<\/form>/g)].map((m) => m[1]!);
  };

  it('an approver sees Approve and Reject; the requester may withdraw but not approve; others see nothing', async () => {
    expect(await buttons('bob', v3)).toEqual(['Approve cutover', 'Reject']);
    // carol asked for v3: four eyes — she may reject or cancel her own deploy, never approve it.
    expect(await buttons('carol', v3)).toEqual(['Reject', 'Cancel deploy']);
    expect(await buttons('erin', v3)).toEqual([]);
    expect(await buttons(null, v3)).toEqual([]);
    // A deploy that has ended offers no decision.
    expect(await buttons('bob', v2)).toEqual([]);
    // Rollback: for the app's deployers, on the app page and the live deploy's page.
    expect((await get('/apps/search-svc', as('carol'))).text).toContain('>Roll back</button>');
    expect((await get('/apps/search-svc', as('bob'))).text).not.toContain('>Roll back</button>');
    expect(await buttons('alice', v1)).toEqual(['Roll back']);
  });
});

describe('every console POST is checked and recorded', () => {
  it('refuses a POST without a token, with someone else’s token, from a foreign Origin or another site: recorded and logged', async () => {
    const bobs = await tokenFor('bob', `/deploys/${v3}`);
    const carols = await tokenFor('carol', `/deploys/${v3}`);
    const since = lastId();
    const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
      [{ confirm: 'yes' }, as('bob'), /carries no CSRF token/],
      [{ csrf: carols, confirm: 'yes' }, as('bob'), /not valid for the person acting/],
      [{ csrf: 'garbage', confirm: 'yes' }, as('bob'), /malformed/],
      [{ csrf: bobs, confirm: 'yes' }, { ...as('bob'), origin: 'http://evil.example' }, /another origin \(http:\/\/evil\.example\)/],
      [{ csrf: bobs, confirm: 'yes' }, { ...as('bob'), 'sec-fetch-site': 'cross-site' }, /another site \(Sec-Fetch-Site: cross-site\)/],
    ];
    for (const [form, headers, why] of cases) {
      const res = await post(`/deploys/${v3}/approve`, form, headers);
      expect(res.status).toBe(403);
      expect(res.text).toMatch(why);
      expect(res.text).toContain('Forms sent from other pages or sites are refused');
    }
    const rows = rowsAfter(since);
    expect(rows).toHaveLength(cases.length);
    rows.forEach((row, i) => {
      expect(row).toMatchObject({ surface: 'console', verb: 'approve', app: 'search-svc', deployId: v3, outcome: 'refused', actor: 'bob', text: `POST /deploys/${v3}/approve` });
      expect(row.message).toMatch(/^forged or stale form refused: /);
      expect(row.message).toMatch(cases[i]![2]);
      expect(consoleLines()).toContain(`command #${row.id} POST /deploys/${v3}/approve by bob via console: refused — ${row.message}`);
    });
    // Nothing reached the core: v3 still waits.
    expect(h.k.store.deploys.get(v3)!.state).toBe('awaiting_approval');
    expect(h.k.store.approvals.forDeploy(v3)).toBeUndefined();
  });

  it('refuses a request addressed to a name that is not loopback (DNS rebinding), recorded', async () => {
    const since = lastId();
    // fetch() will not send another Host: a raw request does, as a browser on a rebound name would.
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const u = new URL(h.url);
      request({ host: u.hostname, port: u.port, path: '/', headers: { host: 'attacker.example:3000', accept: 'text/html' } }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
      })
        .on('error', reject)
        .end();
    });
    expect(res.status).toBe(403);
    expect(res.text).toContain('answers only at a loopback address');
    expect(rowsAfter(since)).toEqual([expect.objectContaining({ surface: 'console', outcome: 'refused', actor: 'anonymous', text: 'GET /' })]);
  });

  it('the core refuses what the person may not do, recorded by the core with surface console', async () => {
    const token = await tokenFor('carol', `/deploys/${v3}`);
    const since = lastId();
    const res = await post(`/deploys/${v3}/approve`, { csrf: token, confirm: 'yes' }, as('carol'));
    expect(res.status).toBe(303);
    const rows = rowsAfter(since);
    expect(rows).toEqual([expect.objectContaining({ surface: 'console', actor: 'carol', verb: 'approve', outcome: 'refused' })]);
    expect(rows[0]!.message).toBe('carol may not approve search-svc: cutovers need an approver (alice, U0ALICE01, bob, U0BOB0001).');
    // Without the script the answer is shown after the redirect, as recorded.
    const shown = await get(res.location!, as('carol'));
    expect(shown.text).toContain(`class="answer tone-warn">${rows[0]!.message}`);
  });

  it('an approve from the console: a confirmation that says what happens, then the core records it with surface console', async () => {
    const token = await tokenFor('bob', `/deploys/${v3}`);
    // Without confirm=yes (no script): the confirmation page, nothing done.
    const ask = await post(`/deploys/${v3}/approve`, { csrf: token }, as('bob'));
    expect(ask.status).toBe(200);
    expect(ask.text).toMatch(/Approve cutover\?[\s\S]*DNS search-svc\.example\.com moves from cluster search-svc-\d+ to search-svc-\d+; search-svc-\d+ is torn down after the drain\./);
    expect(ask.text).toContain('name="confirm" value="yes"');
    expect(h.k.store.deploys.get(v3)!.state).toBe('awaiting_approval');
    const since = lastId();
    const done = await post(`/deploys/${v3}/approve`, { csrf: token, confirm: 'yes' }, as('bob'));
    expect(done.status).toBe(303);
    const row = rowsAfter(since).find((c) => c.verb === 'approve');
    expect(row).toMatchObject({ surface: 'console', actor: 'bob', outcome: 'accepted', deployId: v3 });
    expect(done.location).toBe(`/deploys/${v3}?answer=${row!.id}`);
    expect(h.k.store.approvals.forDeploy(v3)).toMatchObject({ decision: 'approved', actor: 'bob', surface: 'console' });
    // The answer is shown to bob on the deploy page, not to someone else who opens the same link.
    expect((await get(done.location!, as('bob'))).text).toContain(`class="answer tone-ok">deploy #${v3} approved`);
    expect((await get(done.location!, as('alice'))).text).not.toContain('class="answer');
    // From the script: the answer comes back as a fragment.
    await h.waitState(v3, 'succeeded');
    const again = await post(`/deploys/${v3}/approve`, { csrf: token, confirm: 'yes' }, { ...as('bob'), 'x-kmc': 'fragment' });
    expect(again.status).toBe(409);
    expect(again.text).toMatch(/^<p class="answer tone-warn">Deploy #\d+ cannot be approved: it was already approved by bob/);
  });

  it('acting as: an HttpOnly, SameSite=Strict cookie, only for people the KubeApps name, and only by this console’s form', async () => {
    const token = await tokenFor('bob');
    const res = await post('/acting-as', { csrf: token, person: 'dave', return: '/apps/web-frontend' }, as('bob'));
    expect(res.status).toBe(303);
    expect(res.location).toBe('/apps/web-frontend');
    expect(res.headers.get('set-cookie')).toBe('kmc_as=dave; Path=/; HttpOnly; SameSite=Strict');
    // Never back to another site.
    expect((await post('/acting-as', { csrf: token, person: 'dave', return: '//evil.example/' }, as('bob'))).location).toBe('/');
    expect((await post('/acting-as', { csrf: token, person: 'mallory' }, as('bob'))).status).toBe(400);
    const since = lastId();
    expect((await post('/acting-as', { person: 'dave' }, as('bob'))).status).toBe(403);
    expect(rowsAfter(since)).toEqual([expect.objectContaining({ surface: 'console', verb: 'acting-as', outcome: 'refused' })]);
    // Nobody chosen: a POST that needs a person is refused (and recorded) before the core.
    const anonymous = /name="csrf" value="([^"]+)"/.exec((await get('/')).text)![1]!;
    const before = lastId();
    const refused = await post(`/deploys/${v2}/cancel`, { csrf: anonymous, confirm: 'yes' });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('choose who you are acting as first');
    expect(rowsAfter(before)).toEqual([expect.objectContaining({ surface: 'console', actor: 'anonymous', verb: 'cancel', outcome: 'refused' })]);
  });
});
