import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineKubeApp } from '../kubeapps/index.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

// A refresh every second (node-cron's six-field form), so the test sees real ticks.
const nightly = defineKubeApp({
  name: 'nightly-svc',
  image: { repository: 'nightly-svc' },
  pods: { containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] },
  owners: ['alice'],
  approvers: ['bob'],
  channel: '#nightly',
  refresh: { schedule: '* * * * * *', channel: '#platform-announce' },
});

describe('scheduled refreshes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ approvalTimeoutMs: 60_000 }, { apps: [nightly] });
  });
  afterAll(() => h.close());

  it('skips (and records) refreshes of an app never deployed, then refreshes the live version onto a fresh cluster without waiting for a person', async () => {
    // Nothing is live yet: ticks are skipped and say why.
    await new Promise((r) => setTimeout(r, 1300));
    expect(h.k.store.commands.recent(5).some((c) => c.surface === 'schedule' && c.outcome === 'refused' && c.message === 'refresh of nightly-svc skipped: it has never been deployed')).toBe(true);

    const first = (await h.cmd('alice', 'deploy', 'nightly-svc', 'v5')).body as unknown as { deploy: { id: number } };
    await h.waitState(first.deploy.id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(first.deploy.id));
    await h.waitState(first.deploy.id, 'succeeded');

    const refresh = await new Promise<number>((resolve) => {
      const check = (): void => {
        const d = h.k.store.deploys.history('nightly-svc', 5).find((x) => x.kind === 'refresh');
        if (d) {
          h.k.store.events.feed.off('appended', check);
          resolve(d.id);
        }
      };
      h.k.store.events.feed.on('appended', check);
      check();
    });
    const done = await h.waitState(refresh, 'succeeded');
    expect(done).toMatchObject({ version: 'v5', kind: 'refresh', requestedBy: 'schedule', surface: 'schedule', threadChannel: '#platform-announce', fromCluster: `nightly-svc-${first.deploy.id}` });
    expect(done.approval).toMatchObject({ decision: 'approved', actor: 'schedule' });
    expect(undeleted(h, first.deploy.id)).toEqual([]);
    // While it ran, the next ticks were skipped rather than stacked.
    expect(h.k.store.commands.recent(50).some((c) => c.surface === 'schedule' && /skipped: deploy #\d+ \(v5\) is/.test(c.message ?? ''))).toBe(true);
    expect(h.k.schedules.list()).toEqual([expect.objectContaining({ app: 'nightly-svc', schedule: '* * * * * *', timezone: 'UTC' })]);
  }, 30_000);
});
