/**
 * Approval buttons: who may press them, what a second click, a stale button
 * or a click after the timeout get, and what a rejection leaves behind.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION_APPROVE, ACTION_REJECT } from '../bot/constants.js';
import type { DeployState } from '../store/index.js';
import { ALICE, BOB, CAROL, MALLORY, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';

/** Deploys `app version` as `who` from Slack and waits for its approval message; returns the deploy id and the message ts. */
async function toApproval(h: SlackHarness, text: string, who: string, channel?: { channelId: string; channelName: string }): Promise<{ id: number; ts: string; approvalTs: string }> {
  const reply = await h.slash(text, who, channel);
  const m = /Deploy #(\d+)/.exec(String(reply.json?.text));
  if (!m) throw new Error(`not queued: ${reply.text}`);
  const id = Number(m[1]);
  const ts = await h.fake.waitFor(`thread of #${id}`, () => h.k.store.deploys.get(id)!.threadTs ?? undefined);
  const approval = await h.approvalMessage(ts);
  return { id, ts, approvalTs: String(approval.response.ts) };
}

async function answer(h: SlackHarness, responseId: string): Promise<string> {
  const r = await h.fake.waitFor(`response ${responseId}`, () => h.fake.responses.find((x) => x.id === responseId));
  expect(r.body.response_type).toBe('ephemeral');
  return String(r.body.text);
}

async function waitState(h: SlackHarness, id: number, state: DeployState): Promise<void> {
  await h.fake.waitFor(`deploy #${id} ${state}`, () => {
    const d = h.k.store.deploys.get(id)!;
    return d.state === state && d.cleanup !== 'pending';
  });
}

describe('approval buttons', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness();
  });
  afterAll(() => h.close());

  it('refuses the requester (four eyes) and a stranger, records both, and changes nothing', async () => {
    const { id, approvalTs } = await toApproval(h, 'deploy search-svc v10', ALICE);

    await h.click(ACTION_APPROVE, id, ALICE, approvalTs, { responseId: 'self' });
    expect(await answer(h, 'self')).toMatch(new RegExp(`You requested deploy #${id}, so you cannot approve it too`));

    await h.click(ACTION_APPROVE, id, MALLORY, approvalTs, { responseId: 'stranger' });
    expect(await answer(h, 'stranger')).toMatch(/may not approve search-svc: cutovers need an approver \(<@U0ALICE01>, <@U0BOB0001>\)/);

    const refusals = h.k.store.commands.recent(10).filter((c) => c.deployId === id && c.outcome === 'refused');
    expect(refusals.map((c) => [c.actor, c.surface, c.verb])).toEqual([
      [MALLORY, 'slack', 'approve'],
      [ALICE, 'slack', 'approve'],
    ]);
    expect(h.k.store.deploys.get(id)!.state).toBe('awaiting_approval');
    expect(h.k.store.approvals.forDeploy(id)).toBeUndefined();

    // Tidy up for the next test: the owner withdraws it.
    await h.click(ACTION_REJECT, id, ALICE, approvalTs, { responseId: 'withdraw' });
    expect(await answer(h, 'withdraw')).toMatch(new RegExp(`Deploy #${id} rejected`));
    await waitState(h, id, 'rejected');
  });

  it('lets the requester approve when the app opts out of four eyes', async () => {
    const { id, ts, approvalTs } = await toApproval(h, 'deploy web-frontend v1', CAROL, { channelId: 'C0WEB0001', channelName: 'web' });
    // An approver group is mentioned (so its members are notified), by its id from the cache.
    expect(textOf(await h.approvalMessage(ts))).toMatch(/approvers: <@U0CAROL01>, <@U0BOB0001>, <!subteam\^S0GROUP0>/);
    await h.click(ACTION_APPROVE, id, CAROL, approvalTs, { responseId: 'self-ok' });
    expect(await answer(h, 'self-ok')).toMatch(new RegExp(`Deploy #${id} approved`));
    await waitState(h, id, 'succeeded');
  });

  it('a second click (and a stale button) get a clear answer and change nothing', async () => {
    const { id, ts, approvalTs } = await toApproval(h, 'deploy search-svc v11', CAROL);
    await h.click(ACTION_APPROVE, id, BOB, approvalTs, { responseId: 'first' });
    expect(await answer(h, 'first')).toMatch(new RegExp(`Deploy #${id} approved`));
    await h.click(ACTION_APPROVE, id, ALICE, approvalTs, { responseId: 'second' });
    expect(await answer(h, 'second')).toMatch(new RegExp(`Deploy #${id} cannot be approved: it was already approved by Bob`));
    await h.click(ACTION_REJECT, id, BOB, approvalTs, { responseId: 'stale' });
    expect(await answer(h, 'stale')).toMatch(new RegExp(`Deploy #${id} cannot be rejected: it was already approved`));
    // The same delivery again (Slack retrying a click) is recognised.
    await h.click(ACTION_APPROVE, id, ALICE, approvalTs, { responseId: 'retry', triggerId: 'click-twice' });
    await answer(h, 'retry');
    await h.click(ACTION_APPROVE, id, ALICE, approvalTs, { responseId: 'retry-2', triggerId: 'click-twice' });
    expect(await answer(h, 'retry-2')).toMatch(/Already received that click; nothing changed/);

    expect(h.k.store.approvals.forDeploy(id)).toMatchObject({ decision: 'approved', actor: BOB, surface: 'slack' });
    await waitState(h, id, 'succeeded');
    // The buttons are gone and the approval message says who decided.
    const closed = await h.fake.waitFor('approval message update', () => h.fake.ok('chat.update', (c) => c.body.ts === approvalTs).pop());
    expect(JSON.stringify(closed.body.blocks)).not.toContain(ACTION_APPROVE);
    expect(textOf(closed)).toContain(`*Approved* by <@${BOB}>`);
    const card = await h.fake.waitFor('final card', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /Live\*/.test(textOf(c))).pop());
    expect(textOf(card)).toContain(`Cutover approved by <@${BOB}>`);
  });

  it('a rejection tears the new cluster down: nothing is left undeleted', async () => {
    const { id, ts, approvalTs } = await toApproval(h, 'deploy search-svc v12', CAROL);
    const live = h.k.store.deploys.lastSucceeded('search-svc')!;
    await h.click(ACTION_REJECT, id, BOB, approvalTs, { responseId: 'reject' });
    expect(await answer(h, 'reject')).toMatch(new RegExp(`Deploy #${id} rejected: search-svc-${id} is torn down; traffic stays on ${live.toCluster}`));
    await waitState(h, id, 'rejected');
    const resources = h.k.store.resources.forDeploy(id);
    expect(resources.length).toBeGreaterThan(0);
    expect(resources.filter((r) => r.state !== 'deleted')).toEqual([]);
    const final = await h.fake.waitFor('final broadcast', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(new RegExp(`Deploy #${id} of search-svc v12 was rejected\\* by <@${BOB}>: \`search-svc-${id}\` is torn down; traffic stays on \`${live.toCluster}\``));
    const card = await h.fake.waitFor('card: cleanup finished', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /Cleanup finished/.test(textOf(c))).pop());
    expect(textOf(card)).toContain('🚫 *rejected*');
    await h.fake.waitFor('thread marked done', () => h.k.store.slack.get(id)?.done === 1);
  });
});

describe('a click after the approval timeout', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness({ approvalTimeoutMs: 400 });
  });
  afterAll(() => h.close());

  it('says it timed out, changes nothing, and the message shows the timeout', async () => {
    const { id, ts, approvalTs } = await toApproval(h, 'deploy search-svc v20', CAROL);
    await waitState(h, id, 'timed_out');
    await h.click(ACTION_APPROVE, id, BOB, approvalTs, { responseId: 'late' });
    expect(await answer(h, 'late')).toMatch(new RegExp(`Deploy #${id} cannot be approved: it was already timed out`));
    expect(h.k.store.approvals.forDeploy(id)).toMatchObject({ decision: 'timed_out' });
    expect(h.k.store.resources.forDeploy(id).filter((r) => r.state !== 'deleted')).toEqual([]);
    const closed = await h.fake.waitFor('approval message update', () => h.fake.ok('chat.update', (c) => c.body.ts === approvalTs).pop());
    expect(textOf(closed)).toMatch(/Timed out/);
    expect(JSON.stringify(closed.body.blocks)).not.toContain(ACTION_APPROVE);
    const final = await h.fake.waitFor('final broadcast', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(/timed out\* waiting for approval/);
  });
});
