/**
 * Who the console believes, by mode: proxy mode refuses to start without its settings (one line per
 * problem), trusts X-Forwarded-Email/User only from the proxy's addresses and only for mapped people
 * (a header from anywhere else is refused, recorded and logged); token mode closes the pages with a
 * page that says how to set up the proxy; API bearer tokens keep working for the CLI in both.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { addressMatcher, createIdentify, isLoopbackHost } from '../console/identity.js';
import { ConfigError, loadConfig, type Config } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { logLines } from './helpers/log-sink.js';

const problemsOf = (env: NodeJS.ProcessEnv): readonly string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('proxy mode configuration', () => {
  it('refuses to start without the mapping and the proxy’s addresses, one line each', () => {
    expect(problemsOf({ KUBECONTROL_AUTH: 'proxy' })).toEqual([
      'KUBECONTROL_PROXY_PEOPLE: proxy mode needs the mapping from the identities the auth proxy sends to the people the KubeApps name, e.g. alice@corp.example=alice,bob@corp.example=U0BOB0001',
      'KUBECONTROL_PROXY_ADDRESSES: proxy mode needs the auth proxy\'s addresses (IPs or CIDRs, comma-separated, e.g. 10.0.3.7,10.0.4.0/24): identity headers are trusted from them only',
    ]);
  });

  it('says which entry is malformed', () => {
    expect(
      problemsOf({ KUBECONTROL_AUTH: 'proxy', KUBECONTROL_PROXY_PEOPLE: 'alice@corp.example=alice,bob,carol@x=@team', KUBECONTROL_PROXY_ADDRESSES: '10.0.0.1,10.0.0.0/33,proxy.corp' }),
    ).toEqual([
      'KUBECONTROL_PROXY_PEOPLE: "bob" is not IDENTITY=PERSON (e.g. alice@corp.example=alice)',
      'KUBECONTROL_PROXY_PEOPLE: "@team" (for carol@x) is not a person\'s name or id (letters, digits, _ . @ -; not a @group)',
      'KUBECONTROL_PROXY_ADDRESSES: "10.0.0.0/33" is not an IP address or a CIDR (e.g. 10.0.3.7 or 10.0.4.0/24)',
      'KUBECONTROL_PROXY_ADDRESSES: "proxy.corp" is not an IP address or a CIDR (e.g. 10.0.3.7 or 10.0.4.0/24)',
    ]);
  });

  it('reads the mapping (identities lower-cased) and may listen beyond loopback', () => {
    const config = loadConfig({
      KUBECONTROL_AUTH: 'proxy',
      KUBECONTROL_HOST: '0.0.0.0',
      KUBECONTROL_PROXY_PEOPLE: 'Alice@Corp.example=alice, bob@corp.example=U0BOB0001',
      KUBECONTROL_PROXY_ADDRESSES: '10.0.3.7, 10.0.4.0/24, fd00::/8',
    });
    expect(config.auth).toBe('proxy');
    expect([...config.proxy!.people]).toEqual([
      ['alice@corp.example', 'alice'],
      ['bob@corp.example', 'U0BOB0001'],
    ]);
    expect(config.proxy!.addresses).toEqual(['10.0.3.7', '10.0.4.0/24', 'fd00::/8']);
  });
});

describe('identity, without a server', () => {
  it('matches the proxy’s addresses, IPv4 on an IPv6 socket included', () => {
    const from = addressMatcher(['10.0.3.7', '10.0.4.0/24', 'fd00::/8']);
    expect(['10.0.3.7', '::ffff:10.0.3.7', '10.0.4.200', 'fd00::1'].map(from)).toEqual([true, true, true, true]);
    expect(['10.0.3.8', '10.0.5.1', '127.0.0.1', 'fe80::1', undefined, 'nonsense'].map(from)).toEqual([false, false, false, false, false, false]);
  });

  it('knows loopback names', () => {
    expect(['127.0.0.1:3000', 'localhost', 'LOCALHOST:80', '[::1]:3000', '127.1.2.3'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['attacker.example', '127.0.0.1.nip.io', '10.0.0.1:3000', undefined].map(isLoopbackHost)).toEqual([false, false, false, false]);
  });

  it('in local mode, acts as the cookie’s person only if the KubeApps name them', () => {
    const identify = createIdentify({ mode: 'local', people: ['alice', 'bob'] });
    const as = (cookie: string) => identify({ remoteAddress: '127.0.0.1', headers: { host: '127.0.0.1:3000', cookie } });
    expect(as('kmc_as=bob')).toMatchObject({ ok: true, identity: { person: 'bob', authenticated: false } });
    expect(as('other=1; kmc_as=mallory')).toMatchObject({ ok: true, identity: { person: null } });
    expect(identify.people).toEqual(['alice', 'bob']);
  });
});

describe('the console behind an auth proxy', () => {
  let h: Harness | undefined;
  let lines: { msg: string; component?: string }[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const start = async (overrides: Partial<Config>): Promise<Harness> => {
    lines = [];
    const sink = logLines(lines);
    h = await startHarness(overrides, { logger: createLogger('info', sink) });
    return h;
  };
  const proxy = (addresses: string[]): Partial<Config> => ({
    auth: 'proxy',
    proxy: { people: new Map([['alice@corp.example', 'alice'], ['bob@corp.example', 'bob']]), addresses },
  });
  const page = async (h: Harness, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${h.url}${path}`, { headers: { accept: 'text/html', ...headers } });
    return { status: res.status, text: await res.text() };
  };
  const lastRow = (h: Harness) => h.k.store.commands.recent(1)[0];

  it('trusts the proxy’s header from the proxy: the person, no local banner, no acting-as, a console approve recorded as the proxy’s person', async () => {
    const h = await start(proxy(['127.0.0.0/8', '::1']));
    const alice = await page(h, '/', { 'x-forwarded-email': 'Alice@corp.example' });
    expect(alice.status).toBe(200);
    expect(alice.text).toMatch(/Signed in as <strong>alice<\/strong> <span class="muted">\(Alice@corp\.example\)<\/span>/);
    expect(alice.text).not.toContain('unauthenticated');
    expect(alice.text).not.toContain('Acting as');
    // X-Forwarded-User when the proxy sends no email.
    expect((await page(h, '/', { 'x-forwarded-user': 'bob@corp.example' })).text).toContain('Signed in as <strong>bob</strong>');
    // Signed in, but nobody kubecontrol knows: refused and recorded.
    const stranger = await page(h, '/', { 'x-forwarded-email': 'zed@corp.example' });
    expect(stranger.status).toBe(403);
    expect(stranger.text).toContain('KUBECONTROL_PROXY_PEOPLE');
    expect(lastRow(h)).toMatchObject({ surface: 'console', actor: 'zed@corp.example', outcome: 'refused' });
    // No identity at all: sign in through the proxy.
    expect((await page(h, '/')).status).toBe(401);

    // carol deploys from the CLI (the API, with her token); bob approves through the proxy, with the page's CSRF token.
    const queued = await fetch(`${h.url}/api/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.k.store.tokens.create('carol')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ args: ['deploy', 'search-svc', 'v7'] }),
    });
    const id = ((await queued.json()) as { deploy: { id: number } }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    const deployPage = await page(h, `/deploys/${id}`, { 'x-forwarded-email': 'bob@corp.example' });
    expect(deployPage.text).toContain(`data-stream="/deploys/${id}/stream"`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(deployPage.text)![1]!;
    const res = await fetch(`${h.url}/deploys/${id}/approve`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'x-forwarded-email': 'bob@corp.example', 'x-forwarded-host': 'kmc.corp.example', origin: 'https://kmc.corp.example', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, confirm: 'yes' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(h.k.store.approvals.forDeploy(id)).toMatchObject({ actor: 'bob', surface: 'console', decision: 'approved' });
    // The console's own stream, for a browser that cannot send the API a token.
    const stream = await fetch(`${h.url}/deploys/${id}/stream`, { headers: { 'x-forwarded-email': 'bob@corp.example' } });
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await stream.body?.cancel();
  });

  it('refuses, records and logs an identity header that does not come from the proxy', async () => {
    const h = await start(proxy(['10.9.9.9']));
    const res = await page(h, '/deploys/1', { 'x-forwarded-email': 'alice@corp.example' });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/an identity header \(x-forwarded-email: alice@corp\.example\) came from (::ffff:)?127\.0\.0\.1, which is not the auth proxy/);
    const row = lastRow(h)!;
    expect(row).toMatchObject({ surface: 'console', actor: 'alice@corp.example', outcome: 'refused', text: 'GET /deploys/1' });
    expect(lines.filter((l) => l.component === 'console').map((l) => l.msg)).toContain(`command #${row.id} GET /deploys/1 by alice@corp.example via console: refused — ${row.message}`);
    // Without the header: not signed in (not recorded: nobody claimed anything).
    const before = lastRow(h)!.id;
    expect((await page(h, '/')).status).toBe(401);
    expect(lastRow(h)!.id).toBe(before);
  });

  it('keeps API bearer tokens working for the CLI, in proxy and token modes; token mode closes the pages with how to set up the proxy', async () => {
    for (const overrides of [proxy(['10.9.9.9']), { auth: 'token' as const }]) {
      const server = await start(overrides);
      const token = server.k.store.tokens.create('carol');
      const api = await fetch(`${server.url}/api/fleet`, { headers: { authorization: `Bearer ${token}` } });
      expect(api.status).toBe(200);
      expect((await api.json()) as unknown[]).toHaveLength(3);
      expect((await fetch(`${server.url}/api/fleet`)).status).toBe(401);
      if (overrides.auth === 'token') {
        const closed = await page(server, '/');
        expect(closed.status).toBe(401);
        expect(closed.text).toContain('Put the console behind an auth proxy');
        expect(closed.text).toContain('KUBECONTROL_PROXY_PEOPLE');
        expect(closed.text).not.toContain('unauthenticated');
        // JSON for a client that did not ask for a page.
        expect(await (await fetch(`${server.url}/`)).json()).toMatchObject({ status: 'error', code: 'console_needs_proxy' });
      }
      await server.close();
      h = undefined;
    }
  });
});
