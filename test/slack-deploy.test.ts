/**
 * The Slack surface end to end: real signed requests into the real Bolt app
 * mounted on a real kubecontrol server (sandbox provider), with a local
 * server playing Slack's Web API. Assertions are on what Slack received.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION_APPROVE } from '../bot/constants.js';
import { isTerminal } from '../store/index.js';
import { ALICE, BOB, CAROL, SEARCH_CHANNEL, startSlackHarness, textOf, type SlackHarness } from './fakes/slack-harness.js';

describe('a blue/green deploy from /kubeapp', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness();
  });
  afterAll(() => h.close());

  it('acks with an ephemeral answer, after recording the command and the deploy', async () => {
    const reply = await h.slash('deploy search-svc v1', CAROL, { triggerId: 'trigger-deploy-1' });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ response_type: 'ephemeral' });
    expect(String(reply.json!.text)).toMatch(/Deploy #1: search-svc v1 \(blue-green\) queued/);
    // Recorded before the ack: the rows exist the moment the answer arrives.
    const command = h.k.store.commands.byIdempotencyKey('slack:command:trigger-deploy-1');
    expect(command).toMatchObject({ actor: CAROL, surface: 'slack', verb: 'deploy', outcome: 'accepted', deployId: 1 });
    expect(h.k.store.deploys.get(1)).toMatchObject({ app: 'search-svc', version: 'v1', requestedBy: CAROL });
  });

  it('posts a status card in the app channel, updates it in place, and replies in its thread', async () => {
    const card = await h.card(1);
    expect(card.body.channel).toBe('#search-team');
    expect(textOf(card)).toMatch(/search-svc v1/);
    const ts = await h.fake.waitFor('the thread ts stored', () => h.k.store.deploys.get(1)!.threadTs ?? undefined);
    expect(h.k.store.deploys.get(1)!.threadChannel).toBe(SEARCH_CHANNEL);

    const approval = await h.approvalMessage(ts);
    const text = textOf(approval);
    expect(text).toMatch(/Cutover of search-svc v1 needs approval/);
    const actions = (approval.body.blocks as { type: string; elements?: { action_id: string; confirm?: { text: { text: string } } }[] }[]).find((b) => b.type === 'actions')!;
    expect(actions.elements!.map((e) => e.action_id)).toEqual(['kubecontrol.approve', 'kubecontrol.reject']);
    expect(actions.elements![0]!.confirm!.text.text).toMatch(/DNS `search-svc\.example\.com` is pointed at cluster `search-svc-1`/);

    // Edited in place: chat.update on the card's ts, showing the steps.
    const updated = await h.fake.waitFor('a card update showing the approval wait', () =>
      h.fake.ok('chat.update', (c) => c.body.ts === ts && /awaiting approval/.test(textOf(c))).pop(),
    );
    expect(updated.body.channel).toBe(SEARCH_CHANNEL);
    expect(textOf(updated)).toMatch(/✓ build .*✓ provision .*✓ deploy .*⟳ approval/s);
    // Details as thread replies.
    const replies = h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && !c.body.blocks);
    expect(replies.map((r) => String(r.body.text)).join('\n')).toMatch(/build started[\s\S]*provision succeeded/);
  });

  it('an approver approves with the button; the buttons go, the card and the channel get the result', async () => {
    const ts = h.k.store.deploys.get(1)!.threadTs!;
    const approval = await h.approvalMessage(ts);
    const click = await h.click(ACTION_APPROVE, 1, BOB, String(approval.response.ts), { responseId: 'bob-approves' });
    expect(click.status).toBe(200);
    const answer = await h.fake.waitFor('the ephemeral answer', () => h.fake.responses.find((r) => r.id === 'bob-approves'));
    expect(answer.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(answer.body.text)).toMatch(/Deploy #1 approved/);

    await h.fake.waitFor('success', () => isTerminal(h.k.store.deploys.get(1)!.state) && h.k.store.deploys.get(1)!.state === 'succeeded');
    const final = await h.fake.waitFor('the final broadcast', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(/search-svc v1 is live/);
    expect(textOf(final)).toContain(`approved by <@${BOB}>`);
    const closed = await h.fake.waitFor('the approval message without buttons', () =>
      h.fake.ok('chat.update', (c) => /Approved\* by/.test(textOf(c)))[0],
    );
    expect(JSON.stringify(closed.body.blocks)).not.toContain('kubecontrol.approve');
    const lastCard = await h.fake.waitFor('the card showing success', () => h.fake.ok('chat.update', (c) => c.body.ts === ts && /Live\*/.test(textOf(c))).pop());
    expect(textOf(lastCard)).toMatch(/✓ cutover/);
    void ALICE;
  });
});
