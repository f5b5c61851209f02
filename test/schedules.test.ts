import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineKubeApp } from '../kubeapps/index.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

// A nightly refresh; the test fires its ticks itself (schedules.tick) instead of waiting for the clock.
const nightly = defineKubeApp({
  name: 'nightly-svc',
  image: { repository: 'nightly-svc' },
  pods: { containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] },
  owners: ['alice'],
  approvers: ['bob'],
  channel: '#nightly',
  refresh: { schedule: '0 3 * * *', channel: '#platform-announce' },
});

describe('scheduled refreshes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ approvalTimeoutMs: 60_000 }, { apps: [nightly] });
  });
  afterAll(() => h.close());

  it('skips (and records) refreshes of an app never deployed, then refreshes the live version onto a fresh cluster without waiting for a person', async () => {
    // Nothing is live yet: ticks are skipped and say why.
    h.k.schedules.tick('nightly-svc');
    expect(h.k.store.commands.recent(5).some((c) => c.surface === 'schedule' && c.outcome === 'refused' && c.message === 'refresh of nightly-svc skipped: it has never been deployed')).toBe(true);

    const first = (await h.cmd('alice', 'deploy', 'nightly-svc', 'v5')).body as unknown as { deploy: { id: number } };
    await h.waitState(first.deploy.id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(first.deploy.id));
    await h.waitState(first.deploy.id, 'succeeded');

    h.k.schedules.tick('nightly-svc');
    const refresh = h.k.store.deploys.history('nightly-svc', 5).find((x) => x.kind === 'refresh')!.id;
    // A tick while it runs is skipped rather than stacked.
    h.k.schedules.tick('nightly-svc');
    const done = await h.waitState(refresh, 'succeeded');
    expect(done).toMatchObject({ version: 'v5', kind: 'refresh', requestedBy: 'schedule', surface: 'schedule', threadChannel: '#platform-announce', fromCluster: `nightly-svc-${first.deploy.id}` });
    expect(done.approval).toMatchObject({ decision: 'approved', actor: 'schedule' });
    expect(undeleted(h, first.deploy.id)).toEqual([]);
    // While it ran, the next ticks were skipped rather than stacked.
    expect(h.k.store.commands.recent(50).some((c) => c.surface === 'schedule' && /skipped: deploy #\d+ \(v5\) is/.test(c.message ?? ''))).toBe(true);
    expect(h.k.schedules.list()).toEqual([expect.objectContaining({ app: 'nightly-svc', schedule: '0 3 * * *', timezone: 'UTC' })]);
  }, 30_000);
});
