/**
 * The console in a real browser (Debian's Chromium driven by playwright-core; no browser is
 * downloaded): the fleet page, a sandbox deploy started by the real CLI process and watched live on
 * its page (build ∥ provision → deploy → awaiting approval, without a reload), "acting as" bob
 * approving it in the page, the result on the deploy page, the app's history and the fleet; someone
 * who may not approve sees no Approve button, and a form posted from another site is refused and
 * recorded. Screenshots of the three pages (laptop and phone) go to test-artifacts/screenshots/.
 *
 * Nothing waits for a timer: every wait is for what the page shows (playwright's locators wait).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { CommandRecord } from '../../store/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
const run = promisify(execFile);

let h: Harness;
let browser: Browser;
let evil: Server;
let evilUrl: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A little slower than the other tests' sandbox (a cluster takes ~3 s instead of 0.7 s): the page must catch
  // build and provision while they run, and a busy CI machine needs that much room.
  h = await startHarness({ sandboxScale: 0.004 });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  // Another site (localhost is another origin and another site than 127.0.0.1): it posts a form to the console.
  evil = createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '';
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('csrf') ?? '';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>cats</title><form id="f" method="post" action="${target}"><input name="csrf" value="${token}"><input name="confirm" value="yes"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (evil ? evil.close(resolve) : resolve(undefined)));
  await h?.close();
});

async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, page };
}

/** Chooses who the browser acts as, through the page's own form. */
async function actAs(page: Page, person: string): Promise<void> {
  await page.getByLabel('Acting as').selectOption(person);
  await Promise.all([page.waitForURL(/.*/), page.getByRole('button', { name: 'Switch' }).click()]);
  await page.getByLabel('Acting as').locator('option[selected]').filter({ hasText: person }).waitFor({ state: 'attached' });
}

function consoleCommands(): CommandRecord[] {
  return (h.k.store.db.prepare("SELECT * FROM commands WHERE surface = 'console' ORDER BY id").all() as Record<string, unknown>[]).map((r) => ({
    id: r.id,
    actor: r.actor,
    verb: r.verb,
    app: r.app,
    deployId: r.deploy_id,
    outcome: r.outcome,
    message: r.message,
    text: r.text,
  })) as unknown as CommandRecord[];
}

describe('the console in a browser', () => {
  it('shows a CLI deploy live, lets bob approve it in the page, and shows the result everywhere', async () => {
    const { context, page } = await newPage();
    await page.goto(`${h.url}/`);
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    expect(await page.locator('#mode-banner').textContent()).toContain('unauthenticated');
    expect(await page.locator('#app-search-svc').textContent()).toContain('not deployed');
    await page.screenshot({ path: join(SHOTS, 'fleet-empty.png'), fullPage: true });

    // A deploy ahead of it holds the app's line, so that the page is open before the CLI's deploy moves at all.
    const ahead = await h.cmd('carol', 'deploy', 'search-svc', 'v100');
    const aheadId = ahead.body.kind === 'deploy_queued' ? ahead.body.deploy.id : 0;
    await h.waitState(aheadId, 'awaiting_approval');

    // The real CLI, as a separate process, starts the deploy.
    const cli = await run('node', [join(ROOT, 'cli', 'bin.js'), 'deploy', 'search-svc', 'v123', '--as', 'carol', '--detach'], {
      cwd: ROOT,
      env: { ...process.env, KUBECONTROL_URL: h.url, NO_COLOR: '1' },
    });
    const id = Number(/#(\d+)/.exec(cli.stdout)?.[1]);
    expect(id).toBeGreaterThan(aheadId);

    // The fleet page shows it without a reload, and links to it.
    const link = page.locator('#app-search-svc').getByRole('link', { name: new RegExp(`#${id} v123`) });
    await link.first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'fleet-live.png'), fullPage: true });
    await link.first().click();
    await page.waitForURL(`${h.url}/deploys/${id}`);
    // Everything the state line says from now on, as the page shows it (no reload in between).
    // (A script as text: the test's TypeScript has no DOM types.)
    await page.evaluate(`(() => {
      window.seen = [];
      window.loadedOnce = true;
      const record = () => {
        const t = document.querySelector('.state-line .badge')?.textContent?.trim() ?? '';
        if (t && window.seen[window.seen.length - 1] !== t) window.seen.push(t);
      };
      record();
      new MutationObserver(record).observe(document.getElementById('main'), { subtree: true, childList: true, characterData: true });
    })()`);
    const state = page.locator('#deploy-summary .state-line .badge');
    await state.filter({ hasText: 'queued' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'deploy-queued.png'), fullPage: true });
    // The deploy ahead is withdrawn: ours starts, and the page follows it.
    expect((await h.cmd('carol', 'cancel', String(aheadId))).status).toBe(200);
    await state.filter({ hasText: 'awaiting approval' }).waitFor({ timeout: 30_000 });
    const seen = (await page.evaluate('window.seen')) as string[];
    // Still the same document: it moved without a reload.
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    expect(seen[0]).toContain('queued');
    expect(seen.some((s) => /building|provisioning/.test(s))).toBe(true);
    expect(seen[seen.length - 1]).toContain('awaiting approval');
    // build ∥ provision: their bars overlap, and the page says so.
    await page.getByText('build and provision ran in parallel').waitFor();
    await page.locator('#deploy-events li').filter({ hasText: /./ }).first().waitFor();
    // Nobody is acting yet: no buttons.
    expect(await page.getByRole('button', { name: 'Approve cutover' }).count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'deploy-awaiting.png'), fullPage: true });

    // Bob approves in the page: the dialog says what will happen, the answer comes back inline.
    await actAs(page, 'bob');
    await page.getByRole('button', { name: 'Approve cutover' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/DNS search-svc\.example\.com is pointed at cluster|moves from cluster/);
    await page.screenshot({ path: join(SHOTS, 'deploy-confirm.png') });
    await dialog.getByRole('button', { name: 'Approve cutover' }).click();
    await page.locator('#answer .answer').filter({ hasText: `Deploy #${id} approved` }).waitFor();
    await state.filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    await page.getByText(/Approved.*by bob via console/).waitFor();
    await page.screenshot({ path: join(SHOTS, 'deploy-succeeded.png'), fullPage: true });
    const approve = consoleCommands().find((c) => c.verb === 'approve' && c.deployId === id);
    expect(approve).toMatchObject({ actor: 'bob', outcome: 'accepted' });
    expect(h.k.store.approvals.forDeploy(id)).toMatchObject({ decision: 'approved', actor: 'bob', surface: 'console' });

    // In the app's history, and on the fleet.
    await page.getByRole('link', { name: 'search-svc' }).first().click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    const row = page.locator('table.history tbody tr').filter({ hasText: `#${id}` });
    expect(await row.textContent()).toMatch(/v123[\s\S]*succeeded[\s\S]*carol/);
    await page.screenshot({ path: join(SHOTS, 'app.png'), fullPage: true });
    await page.goto(`${h.url}/`);
    await page.locator('#app-search-svc').getByText('v123').first().waitFor();
    expect(await page.locator('#app-search-svc').textContent()).toMatch(/succeeded[\s\S]*carol/);
    await page.screenshot({ path: join(SHOTS, 'fleet.png'), fullPage: true });

    // The same pages on a phone.
    const phone = await newPage({ width: 390, height: 844 });
    for (const [name, at] of [
      ['fleet-phone', '/'],
      ['app-phone', '/apps/search-svc'],
      ['deploy-phone', `/deploys/${id}`],
    ] as const) {
      await phone.page.goto(`${h.url}${at}`);
      await phone.page.locator('main h1').first().waitFor();
      await phone.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    }
    await phone.page.goto(`${h.url}/apps/search-svc`);
    await phone.page.locator('section', { has: phone.page.locator('#dora-title') }).screenshot({ path: join(SHOTS, 'app-phone-dora.png') });
    await phone.context.close();
    await context.close();
  }, 90_000);

  it('shows no Approve button to who may not approve, and refuses a form posted from another site', async () => {
    const second = await h.cmd('carol', 'deploy', 'search-svc', 'v124');
    const id = second.body.kind === 'deploy_queued' ? second.body.deploy.id : 0;
    await h.waitState(id, 'awaiting_approval');

    const { context, page } = await newPage();
    await page.goto(`${h.url}/deploys/${id}`);
    // carol requested it: she may withdraw it (Reject, Cancel), never approve it (four eyes).
    await actAs(page, 'carol');
    await page.getByRole('button', { name: 'Cancel deploy' }).waitFor();
    expect(await page.getByRole('button', { name: 'Approve cutover' }).count()).toBe(0);
    // erin has no role on search-svc: no buttons at all.
    await actAs(page, 'erin');
    await page.getByText('Nothing for erin to do here').waitFor();
    expect(await page.locator('#deploy-actions button').count()).toBe(0);

    // bob may approve; a page on another site tries to make his browser do it, even with his token in hand.
    await actAs(page, 'bob');
    const token = await page.locator('#deploy-actions input[name="csrf"]').first().inputValue();
    const before = consoleCommands().length;
    await page.goto(`${evilUrl}/?target=${encodeURIComponent(`${h.url}/deploys/${id}/approve`)}&csrf=${encodeURIComponent(token)}`);
    await page.waitForURL(`${h.url}/deploys/${id}/approve`);
    await page.getByRole('heading', { name: 'Refused' }).waitFor();
    expect(await page.locator('.error-message').textContent()).toMatch(/another site|another origin/);
    await page.screenshot({ path: join(SHOTS, 'forged-refused.png') });
    const refused = consoleCommands().slice(before);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ verb: 'approve', deployId: id, app: 'search-svc', outcome: 'refused' });
    expect(refused[0]!.message).toMatch(/forged or stale form refused/);
    expect(h.k.store.deploys.get(id)!.state).toBe('awaiting_approval');
    await context.close();
  }, 60_000);
});
