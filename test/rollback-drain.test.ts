/**
 * `rollback` within the drain window is an instant flip back: the previous
 * cluster still runs, so traffic goes back to it and the new cluster goes.
 * After the drain, rollback is a new deploy of the previous version.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeployView } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { dnsRecord } from '../deployer/specs.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

const idOf = (body: unknown): number => (body as { deploy: DeployView }).deploy.id;

describe('rollback during the drain', () => {
  let h: Harness;
  const clock = new ManualClock();
  beforeAll(async () => {
    // A drain long enough to roll back inside it (and, as the start requires, at least the records' 60 s TTL).
    h = await startHarness({ drainMs: 120_000 }, { clock });
  });
  /** A command whose answer waits on the clock (a rollback within the drain health-checks the old cluster first). */
  const cmdDriving = async (...args: Parameters<Harness['cmd']>): ReturnType<Harness['cmd']> => {
    let answered = false;
    const pending = h.cmd(...args).finally(() => {
      answered = true;
    });
    await clock.runUntil(() => answered);
    return pending;
  };
  afterAll(() => h.close());

  const deploy = async (version: string): Promise<number> => {
    const id = idOf((await h.cmd('carol', 'deploy', 'search-svc', version)).body);
    await h.waitState(id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    return id;
  };

  it('flips DNS straight back to the previous cluster and tears the new one down', async () => {
    // The first deploy has nothing to drain.
    const first = await deploy('v1');
    await h.waitState(first, 'succeeded');
    const oldTarget = h.k.store.deploys.get(first)!.endpoint;

    const second = await deploy('v2');
    await h.waitFor(second, (d) => d.state === 'tearing_down');
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(h.k.store.deploys.get(second)!.endpoint);

    const res = await cmdDriving('alice', 'rollback', 'search-svc');
    expect(res.status).toBe(200);
    expect(res.body.kind).toBe('flipped_back');
    expect(res.body.message).toBe(
      `Rolled back within the drain: search-svc.example.com goes back to search-svc-${first} (v1) now; deploy #${second}'s cluster search-svc-${second} is torn down.`,
    );
    const done = await h.waitState(second, 'cancelled');
    expect(done.error).toBe('rolled back by alice during the drain');
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(oldTarget);
    expect(undeleted(h, second)).toEqual([]);
    // The previous deploy is live again, with its cluster intact.
    expect(h.k.store.deploys.lastSucceeded('search-svc')!.id).toBe(first);
    expect(h.k.store.deploys.get(first)!.cleanup).toBe('none');
    // search-svc runs on EKS Auto Mode: the cluster is its only ledger resource.
    expect(undeleted(h, first)).toEqual([`cluster search-svc-${first} (created)`]);
    // And a rollback now is an ordinary deploy of the version before v1: there is none.
    const again = await h.cmd('alice', 'rollback', 'search-svc');
    expect(again.body.message).toBe('search-svc has no successful version before v1 to roll back to.');
  }, 60_000);

  it('refuses a rollback whose previous cluster fails its health check, recorded, and changes nothing', async () => {
    const id = await deploy('v3');
    await h.waitFor(id, (d) => d.state === 'tearing_down');
    const serving = h.k.store.deploys.get(id)!.endpoint;
    h.k.store.sandbox.addFault({ step: 'cutover', fault: 'unhealthy', app: 'search-svc' });
    const res = await cmdDriving('alice', 'rollback', 'search-svc');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ status: 'conflict', code: 'unhealthy_target' });
    expect(res.body.message).toMatch(/^Rollback of search-svc refused: search-svc-\d+ \(v1\) does not pass its health check \(.+\): traffic stays on search-svc-\d+ and nothing was changed\.$/);
    // Recorded as asked, with who asked; traffic and the deploy are where they were.
    expect(h.k.store.commands.recent(1)[0]).toMatchObject({ actor: 'alice', verb: 'rollback', outcome: 'refused' });
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(serving);
    expect(h.k.store.deploys.get(id)!.state).toBe('tearing_down');
    await h.waitState(id, 'succeeded');
  }, 60_000);
});
