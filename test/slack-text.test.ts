/**
 * Text that goes to Slack: Block Kit limits (the approval message with a long
 * app name and zone), mentions only of real user ids, and Slack's three
 * entities escaped once whichever way the text came in — pure functions
 * first, then the round trips through the real Bolt app.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeApp } from '../kubeapps/index.js';
import { approvalMessage, BUTTON_TEXT_LIMIT, CONFIRM_LIMITS, decodeSlackEntities, esc, mentionIds, plural, resultAnswer, type Block } from '../bot/views.js';
import { ALICE, BOB, CAROL, startSlackHarness, testApps, textOf, type SlackHarness } from './fakes/slack-harness.js';

/** Every Block Kit limit the bot's messages can reach, as Slack checks them (`invalid_blocks` otherwise). */
function blockKitProblems(blocks: readonly Block[]): string[] {
  const problems: string[] = [];
  const limit = (what: string, text: string | undefined, max: number): void => {
    if (text !== undefined && text.length > max) problems.push(`${what}: ${text.length} > ${max}`);
  };
  if (blocks.length > 50) problems.push(`${blocks.length} blocks > 50`);
  for (const b of blocks as unknown as Record<string, any>[]) {
    if (b.type === 'header') limit('header', b.text.text, 150);
    if (b.type === 'section') {
      limit('section text', b.text?.text, 3000);
      if ((b.fields ?? []).length > 10) problems.push('more than 10 fields');
      for (const f of b.fields ?? []) limit('field', f.text, 2000);
    }
    if (b.type === 'context' && b.elements.length > 10) problems.push('more than 10 context elements');
    if (b.type === 'actions') {
      for (const e of b.elements) {
        limit('button text', e.text.text, BUTTON_TEXT_LIMIT);
        limit('button value', e.value, 2000);
        if (e.confirm) {
          limit('confirm title', e.confirm.title.text, CONFIRM_LIMITS.title);
          limit('confirm text', e.confirm.text.text, CONFIRM_LIMITS.text);
          limit('confirm button', e.confirm.confirm.text, CONFIRM_LIMITS.confirm);
          limit('deny button', e.confirm.deny.text, CONFIRM_LIMITS.deny);
        }
      }
    }
  }
  return problems;
}

describe("Slack's entities", () => {
  it('are escaped once: esc is idempotent, and decoding what esc made gives the text back', () => {
    expect(esc('a > b & c < d')).toBe('a &gt; b &amp; c &lt; d');
    for (const text of ['a > b & c < d', 'R&D <team>', 'x && y', 'plain']) {
      expect(esc(esc(text))).toBe(esc(text));
      expect(decodeSlackEntities(esc(text))).toBe(text);
    }
    // As Slack sends what a person typed: already encoded, and not encoded again.
    expect(esc('traffic &gt; 50% &amp; rising')).toBe('traffic &gt; 50% &amp; rising');
    expect(esc('&amp;gt;')).toBe('&amp;gt;');
  });
});

describe('mentions', () => {
  it('only real user ids become mentions', () => {
    expect(mentionIds(`cancelled by ${CAROL}`)).toBe(`cancelled by <@${CAROL}>`);
    expect(mentionIds('approved by W012A3CDE.')).toBe('approved by <@W012A3CDE>.');
    expect(mentionIds('WAREHOUSE1 is UNHEALTHYSTATE; UNAVAILABLE since WORKLOADS2 moved')).toBe('WAREHOUSE1 is UNHEALTHYSTATE; UNAVAILABLE since WORKLOADS2 moved');
    expect(mentionIds(`already <@${BOB}>, a path /x/${BOB}, a name ${BOB}-svc, a host ${BOB}.example`)).toBe(`already <@${BOB}>, a path /x/${BOB}, a name ${BOB}-svc, a host ${BOB}.example`);
    // An id of another shape is a mention when the apps name it.
    expect(mentionIds('by UALICEXYZ', ['UALICEXYZ'])).toBe('by <@UALICEXYZ>');
    expect(mentionIds('by UALICEXYZ')).toBe('by UALICEXYZ');
  });

  it('"1 app", not "1 apps"', () => {
    expect(plural(1, 'app')).toBe('1 app');
    expect(plural(2, 'app')).toBe('2 apps');
    const answer = resultAnswer({ kind: 'apps', status: 'ok', commandId: 1, apps: [], message: '1 apps on sandbox.' } as unknown as Parameters<typeof resultAnswer>[0]);
    expect(answer.text).toBe('0 apps on sandbox.');
  });
});

describe('through the Bolt app', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness();
  });
  afterAll(() => h.close());

  it('a long app name and zone still give an approval message within Slack’s limits, saying what the buttons do', async () => {
    await h.slash('deploy search-svc v1', CAROL);
    const ts = await h.fake.waitFor('thread', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
    const posted = await h.approvalMessage(ts);
    expect(blockKitProblems(posted.body.blocks as Block[])).toEqual([]);

    const view = h.k.core.view(1);
    const base = testApps()[0]!;
    const long = 'search-and-recommendations-for-the-european-storefront-with-a-very-long-name';
    const app = { ...base, name: long, dns: { ...base.dns, name: `${long}.internal.platform.eu-west-1.example-company-with-a-long-zone.com` } } as KubeApp;
    const msg = approvalMessage({ ...view, app: long, fromCluster: `${long}-41-abcdef012345`, toCluster: `${long}-42-abcdef012345` }, app);
    expect(blockKitProblems(msg.blocks!)).toEqual([]);
    const buttons = (msg.blocks as unknown as { type: string; elements: { confirm: { text: { text: string } } }[] }[]).find((b) => b.type === 'actions')!.elements;
    const [approveText, rejectText] = buttons.map((b) => b.confirm.text.text);
    // Names are cut in the middle; the sentence keeps its meaning.
    expect(approveText).toMatch(/^DNS `search-and-rec.*….*` moves from cluster `.*….*` to `.*….*`; `.*` is torn down after the drain\.$/);
    expect(rejectText).toMatch(/is torn down; traffic stays on `.*`\. Nothing changes for users\.$/);
  });

  it('a reason typed in Slack (sent entity-encoded) is shown as typed, not escaped twice; a CLI reason is escaped once', async () => {
    const reject = await h.slash('reject 1 traffic &gt; 50% &amp; rising', BOB);
    expect(String(reject.json!.text)).toMatch(/rejected/);
    const ts = h.k.store.deploys.get(1)!.threadTs!;
    const approvalTs = await h.fake.waitFor('approval ts', () => h.k.store.slack.get(1)?.approvalTs ?? undefined);
    const closed = await h.fake.waitFor('the approval closed', () => h.fake.ok('chat.update', (c) => c.body.ts === approvalTs && /Rejected/.test(textOf(c))).pop());
    expect(textOf(closed)).toContain('“traffic &gt; 50% &amp; rising”');
    expect(textOf(closed)).not.toContain('&amp;gt;');
    const card = await h.fake.waitFor('the card', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /rejected/.test(textOf(c))).pop());
    expect(textOf(card)).not.toContain('&amp;gt;');

    // The same reason typed in the CLI arrives unencoded and is escaped once.
    await h.slash('deploy search-svc v2', CAROL);
    await h.fake.waitFor('#2 waiting', () => h.k.store.deploys.get(2)?.state === 'awaiting_approval');
    await h.k.core.execute({ actor: { id: ALICE }, surface: 'cli', input: ['reject', '2', 'traffic > 50% & rising'] });
    const approval2 = await h.fake.waitFor('#2 approval ts', () => h.k.store.slack.get(2)?.approvalTs ?? undefined);
    const closed2 = await h.fake.waitFor('#2 closed', () =>
      [...h.fake.ok('chat.update', (c) => c.body.ts === approval2), ...h.fake.ok('chat.postMessage', (c) => c.response.ts === approval2)].find((c) => /Rejected/.test(textOf(c))),
    );
    expect(textOf(closed2)).toContain('“traffic &gt; 50% &amp; rising”');
  });

  it('a lock reason with capitalised words mentions nobody', async () => {
    const reply = await h.slash('lock search-svc WAREHOUSE1 migration, UNHEALTHYSTATE on WORKLOADS', ALICE);
    expect(String(reply.json!.text)).toContain('“WAREHOUSE1 migration, UNHEALTHYSTATE on WORKLOADS”');
    expect(String(reply.json!.text)).not.toContain('<@');
    await h.slash('unlock search-svc', ALICE);
  });
});
