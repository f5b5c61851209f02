/**
 * Whole deploys through the real HTTP API (and the real CLI, in-process through
 * its entry, runCli) against the sandbox provider, with a real SQLite file.
 * Time is a ManualClock the tests drive: nothing waits in real time.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCli } from '../cli/run.js';
import type { DeployView } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import { clusterRef, dnsRecord } from '../deployer/specs.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

/** `kubecontrol ARGS` against the harness's server (or `url`), in-process; its exit code and output. */
async function cli(h: Harness | { url: string }, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--url', h.url, ...args], { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe('blue/green and rolling deploys', () => {
  let h: Harness;
  let clock: ManualClock;
  beforeAll(async () => {
    // Time is driven by the test (waitFor fires the clock's timers): nothing here waits in real time.
    clock = new ManualClock();
    h = await startHarness({}, { clock });
  });
  afterAll(() => h.close());

  it('runs a full blue/green deploy from the CLI, approved from a second CLI, and shows it in history', async () => {
    // The follower: `kubecontrol deploy` queues the deploy and follows it to its end (it exits when the deploy does).
    const following = cli(h, ['deploy', 'search-svc', 'v100', '--as', 'carol', '--json']);

    const deploy = await h.waitFor(1, (d) => d.state === 'awaiting_approval');
    expect(deploy.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['build:succeeded', 'provision:succeeded', 'deploy:succeeded', 'approval:running']);
    // Build and provision overlapped: the build started before provisioning finished.
    const build = deploy.steps.find((s) => s.name === 'build')!;
    const provision = deploy.steps.find((s) => s.name === 'provision')!;
    expect(build.startedAt!).toBeLessThan(provision.finishedAt!);
    // The state names the longer half: the image is ready long before the cluster is.
    expect(h.k.store.events.after(1).filter((e) => e.kind === 'state').map((e) => e.message)).toEqual(['building', 'provisioning', 'deploying', 'awaiting_approval']);

    const selfApproval = await cli(h, ['approve', '1', '--as', 'carol']);
    expect(selfApproval.code).toBe(3);
    expect(selfApproval.stderr).toMatch(/carol may not approve search-svc/);

    const approval = await cli(h, ['approve', '1', '--as', 'bob']);
    expect(approval.code).toBe(0);
    expect(approval.stdout).toMatch(/Deploy #1 approved: search-svc\.example\.com moves to search-svc-1/);

    // The follower sees the deploy to its end, which the clock drives there.
    await h.waitState(1, 'succeeded');
    const followed = await following;
    expect(followed.code).toBe(0);
    const final = JSON.parse(followed.stdout.trim().split('\n').pop()!) as DeployView;
    expect(final).toMatchObject({ id: 1, app: 'search-svc', version: 'v100', strategy: 'blue-green', state: 'succeeded', toCluster: 'search-svc-1' });
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(final.endpoint);

    const history = await cli(h, ['history', 'search-svc']);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/#1\s+v100\s+blue-green\s+carol\s+.*succeeded/);
    const approvals = h.k.store.approvals.forDeploy(1);
    expect(approvals).toMatchObject({ decision: 'approved', actor: 'bob', surface: 'cli' });
  }, 30_000);

  it('a second blue/green deploy moves DNS to a new cluster and tears the old one down', async () => {
    const { body } = await h.cmd('alice', 'deploy', 'search-svc', 'v101');
    expect(body.kind).toBe('deploy_queued');
    const id = (body as { deploy: DeployView }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    const done = await h.waitState(id, 'succeeded');
    expect(done).toMatchObject({ fromVersion: 'v100', fromCluster: 'search-svc-1', toCluster: `search-svc-${id}` });
    expect(done.previousTarget).toBe('search-svc-1-external.elb.sandbox.local');
    expect(undeleted(h, 1)).toEqual([]);
    // Ownership: the first environment retired at cutover and is gone now; deploy #1 itself owed nothing.
    expect(h.k.store.environments.byName('sandbox', 'search-svc-1')!.state).toBe('retired');
    expect(h.k.store.environments.live('search-svc')!.name).toBe(`search-svc-${id}`);
    expect(await h.k.provider.clusters.describe({ cluster: clusterRef(h.k.apps.get('search-svc')!, 'search-svc-1') })).toBeUndefined();
    // search-svc runs on EKS Auto Mode: its NodePool lives in the cluster, so the cluster is its only ledger resource.
    expect(undeleted(h, id)).toEqual([`cluster search-svc-${id} (created)`]);
  }, 30_000);

  it('a rolling update only changes images on the running cluster', async () => {
    const live = h.k.store.deploys.lastSucceeded('search-svc')!;
    const { body } = await h.cmd('carol', 'deploy', 'search-svc', 'v102', '--strategy', 'rolling');
    const id = (body as { deploy: DeployView }).deploy.id;
    const done = await h.waitState(id, 'succeeded', 'failed');
    expect(done.state).toBe('succeeded');
    expect(done.steps.map((s) => s.name)).toEqual(['build', 'deploy']);
    expect(done.toCluster).toBe(live.toCluster);
    expect(h.k.store.resources.forDeploy(id)).toEqual([]);
    expect(h.k.store.sandbox.get<{ version: string }>('workload', live.toCluster!)?.version).toBe('v102');
  }, 30_000);

  it('rollback deploys the last successful version before the running one', async () => {
    const { body } = await h.cmd('carol', 'rollback', 'search-svc');
    expect(body.message).toMatch(/search-svc v101 \(blue-green, rollback\) queued/);
    const id = (body as { deploy: DeployView }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    await h.cmd('alice', 'approve', String(id));
    expect((await h.waitState(id, 'succeeded')).version).toBe('v101');
  }, 30_000);

  it('reject tears the new cluster down and leaves traffic where it was', async () => {
    const before = await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) });
    const { body } = await h.cmd('carol', 'deploy', 'search-svc', 'v103');
    const id = (body as { deploy: DeployView }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    const rejected = await h.cmd('bob', 'reject', String(id), 'p99', 'latency', 'doubled');
    expect(rejected.body.message).toMatch(/rejected/);
    const done = await h.waitState(id, 'rejected');
    expect(done.error).toBe('rejected by bob: p99 latency doubled');
    expect(done.cleanup).toBe('done');
    expect(undeleted(h, id)).toEqual([]);
    expect(await h.k.provider.dns.current({ record: dnsRecord(h.k.apps.get('search-svc')!) })).toBe(before);
    // A second decision changes nothing and says why.
    const again = await h.cmd('alice', 'approve', String(id));
    expect(again.status).toBe(409);
    expect(again.body.message).toBe(`Deploy #${id} cannot be approved: it was already rejected by bob.`);
  }, 30_000);

  it('dry run prints the plan and touches nothing', async () => {
    const deploysBefore = h.k.store.deploys.history('search-svc', 100).length;
    const clustersBefore = h.k.store.sandbox.list('cluster').length;
    // A dry run reads the provider, whose lookups take simulated time: the clock is driven until it answers.
    const answer = h.cmd('carol', 'deploy', 'search-svc', 'v999', '--dry-run');
    let answered = false;
    void answer.finally(() => (answered = true));
    await clock.runUntil(() => answered);
    const { body } = await answer;
    expect(body.kind).toBe('plan');
    const plan = (body as unknown as { plan: { create: string[]; change: string[]; delete: string[]; build: string[] } }).plan;
    expect(plan.build[0]).toMatch(/build sandbox\.registry\.local\/search-svc:v999/);
    expect(plan.create.join('\n')).toMatch(/EKS cluster search-svc-<deploy id>[\s\S]*EKS Auto Mode nodes: m6i\.large\|m6i\.xlarge on-demand amd64, at most 12 nodes/);
    expect(plan.change[0]).toMatch(/DNS search-svc\.example\.com: .*elb\.sandbox\.local → the new cluster's load balancer/);
    expect(plan.delete[0]).toMatch(/cluster search-svc-\d+ \(v101, ACTIVE\)/);
    // The sandbox describes its own plan: every line says it is simulated; when a change happens is the plan's.
    expect([...plan.build, ...plan.create, ...plan.change, ...plan.delete].every((line) => line.startsWith('[sandbox] '))).toBe(true);
    expect(plan.change[0]).toMatch(/, after approval by one of /);
    expect(plan.delete[0]).toMatch(/, after a .+ drain$/);
    expect(h.k.store.deploys.history('search-svc', 100).length).toBe(deploysBefore);
    expect(h.k.store.sandbox.list('cluster').length).toBe(clustersBefore);
    expect(h.k.store.sandbox.get('image', 'search-svc:v999')).toBeUndefined();
  });

  it('a rolling update of an app that never ran is refused with the reason', async () => {
    const { status, body } = await h.cmd('dave', 'deploy', 'web-frontend', 'v1');
    expect(status).toBe(409);
    expect(body.message).toBe('web-frontend has no running cluster for a rolling update: deploy it with `--strategy blue-green` first.');
  });
});

describe('authorisation, locks and bad input', () => {
  let h: Harness;
  beforeAll(async () => {
    // Time is driven by the test (waitState fires the clock's timers): nothing here waits in real time.
    h = await startHarness({}, { clock: new ManualClock() });
  });
  afterAll(() => h.close());

  it.each([
    [['mallory', 'deploy', 'search-svc', 'v1'], 403, /mallory may not deploy search-svc: deploys need an owner \(alice, U0ALICE01\) or a deployer \(carol, @search-team\)/],
    [['carol', 'deploy', 'serch-svc', 'v1'], 404, /There is no app `serch-svc`\. Did you mean `search-svc`\?/],
    [['carol', 'deploy', 'search-svc', 'v1;rm'], 400, /`v1;rm` is not a valid version/],
    [['carol', 'deplyo', 'search-svc', 'v1'], 400, /Did you mean `deploy`\?/],
    [['carol', 'approve', '999'], 404, /There is no deploy #999/],
  ])('refuses %j with its own message, and records it', async (words, status, message) => {
    const [who, ...args] = words as [string, ...string[]];
    const res = await h.cmd(who, ...args);
    expect(res.status).toBe(status);
    expect(res.body.message).toMatch(message);
    const recorded = h.k.store.commands.get(res.body.commandId!)!;
    expect(recorded).toMatchObject({ actor: who, surface: 'cli', text: args.join(' '), outcome: status === 403 ? 'refused' : 'invalid' });
  });

  it('four eyes: the requester cannot approve; a stranger cannot either; both are recorded', async () => {
    const { body } = await h.cmd('alice', 'deploy', 'search-svc', 'v1');
    const id = (body as { deploy: DeployView }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    const self = await h.cmd('alice', 'approve', String(id));
    expect(self.status).toBe(403);
    expect(self.body.message).toMatch(`You requested deploy #${id}, so you cannot approve it too: search-svc needs a second person (four eyes). Ask one of: bob, U0BOB0001.`);
    const stranger = await h.cmd('mallory', 'approve', String(id));
    expect(stranger.status).toBe(403);
    const refusals = h.k.store.commands.forApp('search-svc').filter((c) => c.outcome === 'refused' && c.verb === 'approve');
    expect(refusals.map((c) => c.actor).sort()).toEqual(['alice', 'mallory']);
    expect(h.k.store.deploys.get(id)!.state).toBe('awaiting_approval');
    await h.cmd('bob', 'approve', String(id));
    await h.waitState(id, 'succeeded');
  }, 30_000);

  it('an app that allows self-approval lets its owner approve their own deploy', async () => {
    const { body } = await h.cmd('erin', 'deploy', 'cache-worker', 'v7');
    const id = (body as { deploy: DeployView }).deploy.id;
    await h.waitState(id, 'awaiting_approval');
    expect((await h.cmd('erin', 'approve', String(id))).status).toBe(200);
    const done = await h.waitState(id, 'succeeded');
    // Fargate: a profile instead of a node group.
    expect(h.k.store.resources.forDeploy(id).map((r) => r.kind)).toEqual(['cluster', 'fargate-profile']);
    expect(done.state).toBe('succeeded');
  }, 30_000);

  it('a locked app takes no deploys until unlocked, and says who locked it and why', async () => {
    expect((await h.cmd('mallory', 'lock', 'search-svc', 'nope')).status).toBe(403);
    expect((await h.cmd('alice', 'lock', 'search-svc', 'incident', '123')).status).toBe(200);
    const refused = await h.cmd('carol', 'deploy', 'search-svc', 'v2');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/search-svc is locked by alice since .*: “incident 123”\. `unlock search-svc` first\./);
    // Someone else's lock: an owner removes it, a deployer only with --force (test/locks-force.test.ts).
    expect((await h.cmd('carol', 'unlock', 'search-svc')).status).toBe(409);
    expect((await h.cmd('carol', 'unlock', 'search-svc', '--force')).status).toBe(200);
    expect((await h.cmd('carol', 'unlock', 'search-svc')).body.message).toBe('search-svc is not locked.');
  });

  it('records a command the moment it arrives, before anything it does can wait', async () => {
    const pending = h.k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: 'deploy search-svc v77 --dry-run' });
    // Synchronously after the call: a surface that answers now ("working on it") answers after the record.
    const received = h.k.store.commands.recent(1)[0]!;
    expect(received).toMatchObject({ actor: 'carol', text: 'deploy search-svc v77 --dry-run', outcome: 'received' });
    // A dry run is the one answer that comes later (it reads the provider, whose lookups take simulated time).
    expect(pending).toBeInstanceOf(Promise);
    let settled = false;
    void Promise.resolve(pending).finally(() => (settled = true));
    await (h.k.clock as ManualClock).runUntil(() => settled);
    const result = await pending;
    expect(result.kind).toBe('plan');
    expect(h.k.store.commands.get(received.id)).toMatchObject({ outcome: 'accepted', verb: 'deploy', app: 'search-svc' });
  });

  it('in local mode the API says it is unauthenticated', async () => {
    const info = (await (await fetch(`${h.url}/api/info`)).json()) as { authenticated: boolean; providerLabel: string };
    expect(info).toMatchObject({ authenticated: false, providerLabel: 'sandbox (simulated infrastructure)' });
  });
});

describe('token mode', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'token' });
  });
  afterAll(() => h.close());

  it('requires a per-person bearer token, stores only its hash, and refuses --as', async () => {
    const token = h.k.store.tokens.create('carol');
    const raw = h.k.store.db.prepare('SELECT hash FROM tokens').get() as { hash: string };
    expect(raw.hash).not.toContain(token);
    const none = await cli(h, ['status']);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/a bearer token is required/);
    const ok = await cli(h, ['--token', token, 'status', 'search-svc', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ kind: 'status', authenticated: true });
    expect(h.k.store.commands.recent(1)[0]).toMatchObject({ actor: 'carol', verb: 'status', outcome: 'accepted' });
    const as = await cli(h, ['status', '--as', 'alice', '--token', token]);
    expect(as.code).toBe(3);
    expect(as.stderr).toMatch(/--as is only available in local mode/);
  }, 30_000);
});

describe('the CLI without a server', () => {
  it('says how to start one and exits 6', async () => {
    const res = await cli({ url: 'http://127.0.0.1:9' }, ['status']);
    expect(res.code).toBe(6);
    expect(res.stderr).toMatch(/cannot reach the kubecontrol server at http:\/\/127\.0\.0\.1:9( \(\w+\))?: start it with `npm start` or set KUBECONTROL_URL/);
  });
});
