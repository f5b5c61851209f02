/**
 * The Slack surface end to end: real signed requests into the real Bolt app
 * mounted on a real kubecontrol server (sandbox provider), with a local
 * server playing Slack's Web API. Assertions are on what Slack received.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION_APPROVE } from '../bot/constants.js';
import { isTerminal } from '../store/index.js';
import { runAfterAck } from '../commands/core.js';
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
    expect(textOf(lastCard)).not.toMatch(/Your turn/);
    void ALICE;
  });
});

describe('deploys from other surfaces, and the queue', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness();
  });
  afterAll(() => h.close());

  it('gives a CLI deploy a thread too, shows the line while queued, and says when it is your turn', async () => {
    const cli = await h.k.core.execute({ actor: { id: 'carol', name: 'carol' }, surface: 'cli', input: ['deploy', 'search-svc', 'v2'] });
    runAfterAck(cli); // as every surface does once it has answered
    expect(cli.kind).toBe('deploy_queued');
    const card2 = await h.card(1);
    expect(card2.body.channel).toBe('#search-team');
    expect(textOf(card2)).toMatch(/\*Requested by\*\ncarol via cli/);
    await h.fake.waitFor('#1 waiting', () => h.k.store.deploys.get(1)!.state === 'awaiting_approval');

    // A second deploy of the same app waits in line behind the first.
    const reply = await h.slash('deploy search-svc v3', CAROL);
    expect(String(reply.json!.text)).toMatch(/Deploy #2: search-svc v3 \(blue-green\) queued on sandbox \(simulated infrastructure\) — 1 ahead of it in search-svc's line \(#1\)/);
    const queued = await h.card(2);
    expect(textOf(queued)).toMatch(/In line: 1 deploy of search-svc ahead \(#1\)/);
    const ts2 = await h.fake.waitFor('thread of #2', () => h.k.store.deploys.get(2)!.threadTs ?? undefined);

    const decision = await h.k.core.execute({ actor: { id: BOB }, surface: 'cli', input: ['approve', '1'] });
    expect(decision.kind).toBe('decision');
    // Its turn: the card leaves the line (it says "Your turn" only until a first step has finished).
    const turn = await h.fake.waitFor('#2: its turn', () => h.fake.ok('chat.update', (c) => c.body.ts === ts2 && !/\*queued\*/.test(textOf(c))).pop());
    expect(textOf(turn)).not.toMatch(/In line/);
    expect(textOf(turn)).toMatch(/Version\*\nv2 → \*v3\*/);
    expect(textOf(turn)).toMatch(/Cluster\*\nsearch-svc-1 → search-svc-2/);
    if (/Your turn/.test(textOf(turn))) expect(textOf(turn)).not.toMatch(/✓ (build|provision)/);
    const line = await h.fake.waitFor('the first line of #2', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts2 && /build started/.test(String(c.body.text)))[0]);
    expect(line.body.channel).toBe(SEARCH_CHANNEL);

    // Cancelled from Slack while it waits for approval: the thread ends with the result.
    await h.fake.waitFor('#2 waiting', () => h.k.store.deploys.get(2)!.state === 'awaiting_approval');
    const cancel = await h.slash('cancel 2', CAROL);
    expect(String(cancel.json!.text)).toMatch(/✓ Deploy #2 cancelled/);
    const final = await h.fake.waitFor('final of #2', () => h.fake.ok('chat.postMessage', (c) => c.body.thread_ts === ts2 && c.body.reply_broadcast === 'true')[0]);
    expect(textOf(final)).toMatch(/Deploy #2 of search-svc v3 was cancelled/);
    // The approval message (posted already closed if the cancel came first, else edited) has no buttons left.
    const approvalTs = await h.fake.waitFor('#2 approval message', () => h.k.store.slack.get(2)?.approvalTs ?? undefined);
    const closed = await h.fake.waitFor('#2 approval closed', () =>
      [...h.fake.ok('chat.postMessage', (c) => c.response.ts === approvalTs), ...h.fake.ok('chat.update', (c) => c.body.ts === approvalTs)].pop(),
    );
    expect(textOf(closed)).toMatch(/This approval is closed: the deploy is cancelled/);
    expect(textOf(final)).toContain(`cancelled by <@${CAROL}>`);
    expect(JSON.stringify(closed.body.blocks)).not.toContain(ACTION_APPROVE);
  });
});
