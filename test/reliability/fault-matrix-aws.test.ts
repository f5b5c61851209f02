/**
 * The fault matrix on the aws provider, at the wire: each call of each step
 * that touches infrastructure — ECR and CodeBuild (build), EKS CreateCluster
 * and capacity (provision), the Kubernetes apply, the rollout's watch and the
 * load balancer's targets (deploy), the Route 53 change and its INSYNC wait
 * (cutover), and the deletes of the teardown and of a cleanup — ×
 * {throttled then succeeds, times out, hard error}.
 *
 * AWS calls go through the SDK's own middleware (serialisation, signing,
 * retry, error deserialisation) to the fake account (test/fakes/aws-wire.ts):
 * a fault is an HTTP answer in the service's protocol, as AWS sends it. The
 * Kubernetes API is a local HTTP server per cluster (a 429 with Retry-After,
 * as API Priority and Fairness rejects; a 403; a request never answered).
 *
 * Time: the deployer's clock is a ManualClock. Short waits (the drain, the
 * pauses between delete attempts) are fired as soon as they are due; a step's
 * time limit only once a call hangs and nothing else moves — so a timeout is
 * the step's own, at its real length (e.g. "provision timed out after 40m").
 *
 * One hard error is one refusal: a call that creates something fails its
 * step; a poll (a waiter, a watch) is polled again; a delete is retried.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ManualClock, type Timer } from '../../deployer/clock.js';
import type { DeployView } from '../../commands/results.js';
import type { KubeApp } from '../../kubeapps/index.js';
import searchSvc from '../../kubeapps/examples/search-svc.js';
import webFrontend from '../../kubeapps/examples/web-frontend.js';
import { TERMINAL_STATES } from '../../store/index.js';
import { fastAwsProvider, TODAY, withAws } from '../fakes/aws-apps.js';
import { FakeAwsAccount, ZONE_ID } from '../fakes/aws-account.js';
import { AwsWire, type WireError } from '../fakes/aws-wire.js';
import type { InterceptedAnswer } from '../fakes/kube-apiserver.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { clip, FAULTS, judged, writeMatrix, type Cell, type Fault } from './matrix.js';

/** A ManualClock that says when its next timer is due. */
class PacedClock extends ManualClock {
  private readonly due = new Set<{ at: number }>();
  override setTimer(fn: () => void, ms: number): Timer {
    const entry = { at: this.now() + Math.max(0, ms) };
    this.due.add(entry);
    const t = super.setTimer(() => {
      this.due.delete(entry);
      fn();
    }, ms);
    return {
      cancel: () => {
        this.due.delete(entry);
        t.cancel();
      },
    };
  }
  nextAt(): number | undefined {
    let min: number | undefined;
    for (const e of this.due) if (min === undefined || e.at < min) min = e.at;
    return min;
  }
}

const CREDENTIALS = { accessKeyId: 'AKIAFAKEMATRIX000001', secretAccessKey: 'matrix-secret-access-key-not-real' };
const built = (app: KubeApp): KubeApp => withAws(app, { builder: 'codebuild', codeBuildProject: `${app.image.repository}-image` });
const APPS = [built(searchSvc), built(webFrontend)];
const PEOPLE: Readonly<Record<string, { deployer: string; approver: string }>> = {
  'search-svc': { deployer: 'carol', approver: 'bob' },
  'web-frontend': { deployer: 'carol', approver: 'bob' },
};
const ARN = 'arn:aws:sts::123456789012:assumed-role/kubecontrol/i-0fa1c3b5d7e9';

type Step = 'build' | 'provision' | 'deploy' | 'cutover' | 'teardown' | 'cleanup';
/** How a call behaves after one refusal: a call that makes something fails its step; a poll polls again; a delete is retried. */
type CallKind = 'call' | 'poll' | 'delete';

interface KubeMatch {
  readonly method: string;
  readonly path: RegExp;
  readonly watch?: boolean;
}
interface Row {
  readonly step: Step;
  readonly sub: string;
  readonly app: string;
  readonly kind: CallKind;
  /** An AWS call (service, operation), or a Kubernetes request. */
  readonly aws?: { readonly service: string; readonly operation: string };
  readonly kube?: KubeMatch;
  /** The hard error it meets. */
  readonly error: WireError;
  /** How the deploy's error names it. */
  readonly why: RegExp;
}

const forbidden = (verb: string, resource: string, group: string, ns?: string): WireError => ({
  status: 403,
  code: 'Forbidden',
  message: `${resource} is forbidden: User "${ARN}" cannot ${verb} resource "${resource.split(' ')[0]}" in API group "${group}"${ns ? ` in the namespace "${ns}"` : ' at the cluster scope'}`,
});

const ROWS: readonly Row[] = [
  {
    step: 'build',
    sub: 'ECR DescribeImages (is the image there?)',
    app: 'search-svc',
    kind: 'call',
    aws: { service: 'ECR', operation: 'DescribeImages' },
    error: { status: 400, code: 'AccessDeniedException', message: `User: ${ARN} is not authorized to perform: ecr:DescribeImages on resource: arn:aws:ecr:eu-west-1:123456789012:repository/search-svc` },
    why: /ECR DescribeImages failed: AccessDeniedException/,
  },
  {
    step: 'build',
    sub: 'CodeBuild StartBuild',
    app: 'search-svc',
    kind: 'call',
    aws: { service: 'CodeBuild', operation: 'StartBuild' },
    error: { status: 400, code: 'AccountLimitExceededException', message: 'Cannot have more than 60 active builds for the account' },
    why: /StartBuild failed: AccountLimitExceededException/,
  },
  {
    step: 'provision',
    sub: 'EKS CreateCluster',
    app: 'search-svc',
    kind: 'call',
    aws: { service: 'EKS', operation: 'CreateCluster' },
    error: { status: 400, code: 'ResourceLimitExceededException', message: 'Cluster limit exceeded for account.' },
    why: /EKS CreateCluster failed: ResourceLimitExceededException: Cluster limit exceeded for account/,
  },
  {
    step: 'provision',
    sub: 'capacity: the Auto Mode NodePool (Kubernetes apply)',
    app: 'search-svc',
    kind: 'call',
    kube: { method: 'PATCH', path: /^\/apis\/karpenter\.sh\/v1\/nodepools\/kubecontrol-search-svc$/ },
    error: forbidden('patch', 'nodepools.karpenter.sh "kubecontrol-search-svc"', 'karpenter.sh'),
    why: /HTTP 403: Forbidden: nodepools\.karpenter\.sh "kubecontrol-search-svc" is forbidden/,
  },
  {
    step: 'provision',
    sub: 'capacity: EKS CreateNodegroup (web-frontend)',
    app: 'web-frontend',
    kind: 'call',
    aws: { service: 'EKS', operation: 'CreateNodegroup' },
    error: { status: 400, code: 'ResourceLimitExceededException', message: 'Nodegroups limit exceeded for the cluster' },
    why: /CreateNodegroup failed: ResourceLimitExceededException/,
  },
  {
    step: 'deploy',
    sub: 'Kubernetes apply (the Deployment)',
    app: 'search-svc',
    kind: 'call',
    kube: { method: 'PATCH', path: /^\/apis\/apps\/v1\/namespaces\/search-svc\/deployments\/search-svc$/ },
    error: forbidden('patch', 'deployments.apps "search-svc"', 'apps', 'search-svc'),
    why: /Kubernetes apply Deployment failed: HTTP 403: Forbidden/,
  },
  {
    step: 'deploy',
    sub: 'Kubernetes rollout (the watch of the Deployment)',
    app: 'search-svc',
    kind: 'poll',
    kube: { method: 'GET', path: /^\/apis\/apps\/v1\/namespaces\/search-svc\/deployments$/, watch: true },
    error: forbidden('watch', 'deployments.apps', 'apps', 'search-svc'),
    why: /rollout/,
  },
  {
    step: 'deploy',
    sub: 'load balancer: ELBv2 DescribeTargetHealth (targets healthy)',
    app: 'search-svc',
    kind: 'poll',
    aws: { service: 'ELBv2', operation: 'DescribeTargetHealth' },
    error: { status: 403, code: 'AccessDenied', message: `User: ${ARN} is not authorized to perform: elasticloadbalancing:DescribeTargetHealth` },
    why: /targets/,
  },
  {
    step: 'cutover',
    sub: 'Route 53 ChangeResourceRecordSets',
    app: 'search-svc',
    kind: 'call',
    aws: { service: 'Route53', operation: 'ChangeResourceRecordSets' },
    error: {
      status: 400,
      code: 'InvalidChangeBatch',
      message: '[Tried to create an alias that targets a load balancer that is being deleted]',
    },
    why: /ChangeResourceRecordSets failed: InvalidChangeBatch/,
  },
  {
    step: 'cutover',
    sub: 'Route 53 GetChange (waiting for INSYNC)',
    app: 'search-svc',
    kind: 'poll',
    aws: { service: 'Route53', operation: 'GetChange' },
    error: { status: 403, code: 'AccessDenied', message: `User: ${ARN} is not authorized to perform: route53:GetChange` },
    why: /INSYNC|GetChange/,
  },
  {
    step: 'teardown',
    sub: "Kubernetes delete of the old cluster's Service",
    app: 'search-svc',
    kind: 'delete',
    kube: { method: 'DELETE', path: /^\/api\/v1\/namespaces\/search-svc\/services\/search-svc$/ },
    error: forbidden('delete', 'services "search-svc"', '', 'search-svc'),
    why: /HTTP 403/,
  },
  {
    step: 'teardown',
    sub: 'EKS DeleteCluster of the old cluster',
    app: 'search-svc',
    kind: 'delete',
    aws: { service: 'EKS', operation: 'DeleteCluster' },
    error: { status: 403, code: 'AccessDeniedException', message: `User: ${ARN} is not authorized to perform: eks:DeleteCluster` },
    why: /DeleteCluster failed: AccessDeniedException/,
  },
  {
    step: 'cleanup',
    sub: 'EKS DeleteCluster while undoing a failed deploy',
    app: 'search-svc',
    kind: 'delete',
    aws: { service: 'EKS', operation: 'DeleteCluster' },
    error: { status: 403, code: 'AccessDeniedException', message: `User: ${ARN} is not authorized to perform: eks:DeleteCluster` },
    why: /DeleteCluster failed: AccessDeniedException/,
  },
];

/** The Kubernetes faults of the running cell, and activity on every cluster's API server. */
const kubeFaults: { match: KubeMatch; answer: InterceptedAnswer | 'hang'; left: number }[] = [];
let kubeHangs = 0;
const THROTTLED: InterceptedAnswer = { code: 429, reason: 'TooManyRequests', message: 'Too many requests, please try again later.', headers: { 'retry-after': '1' } };

let aws: FakeAwsAccount;
let wire: AwsWire;
let clock: PacedClock;
let h: Harness;
let lastKube = Date.now();
const cells: Cell[] = [];

beforeAll(async () => {
  aws = new FakeAwsAccount();
  wire = new AwsWire();
  clock = new PacedClock(TODAY);
  // Every cluster's API server: activity is noted, and the cell's faults answer instead of it.
  aws.nextBehaviour = {
    intercept: (req) => {
      lastKube = Date.now();
      const f = kubeFaults.find((x) => x.left > 0 && x.match.method === req.method && x.match.path.test(req.path) && (!x.match.watch || req.query.get('watch') === 'true'));
      if (!f) return undefined;
      f.left -= 1;
      if (f.answer === 'hang') kubeHangs += 1;
      return f.answer;
    },
  };
  // A drain of 10 ms on the clock (fired when due), instead of twice the TTL.
  const provider = fastAwsProvider({ clients: wire.clientsFor(CREDENTIALS), credentials: CREDENTIALS });
  h = await startHarness({ provider: 'aws', approvalTimeoutMs: 24 * 3_600_000 }, { provider, apps: APPS, clock });
  // What serves before the matrix: a teardown cell has an old cluster to delete.
  const first = await run('search-svc', 'baseline');
  expect(first.state).toBe('succeeded');
}, 60_000);

afterAll(async () => {
  writeMatrix('aws', cells);
  process.stdout.write(`fault matrix (aws): ${cells.filter((c) => c.ok).length} of ${cells.length} cells as expected; the table is in test-artifacts/fault-matrix.md\n`);
  wire?.release();
  await h?.close();
  await aws?.close();
});

const ended = (id: number): boolean => {
  const d = h.k.store.deploys.get(id)!;
  return TERMINAL_STATES.includes(d.state) && d.cleanup !== 'pending';
};

/**
 * Drives the clock until `done`: a timer due within a minute fires at once; a later one (a step's time
 * limit) only while a call hangs and nothing has moved for a while. Real I/O runs in between.
 */
async function drive(done: () => boolean, what: string): Promise<void> {
  const giveUp = Date.now() + 45_000;
  for (;;) {
    if (done()) return;
    const next = clock.nextAt();
    const quiet = Date.now() - Math.max(wire.lastActivity, lastKube) > 250;
    const stuck = (wire.hanging > 0 || kubeHangs > 0) && quiet;
    if (next !== undefined && (next - clock.now() <= 60_000 || stuck)) {
      await clock.advance(Math.max(0, next - clock.now()));
      continue;
    }
    if (Date.now() > giveUp) {
      throw new Error(`${what} did not happen within 45 s of real time (${wire.hanging} AWS calls and ${kubeHangs} Kubernetes requests held)`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deploys `version` of `app` as a blue/green, approves it when it waits, and drives it to its end. */
async function run(app: string, version: string, started?: (id: number) => void): Promise<DeployView> {
  const { deployer, approver } = PEOPLE[app]!;
  const res = await h.cmd(deployer, 'deploy', app, version, '--strategy', 'blue-green');
  expect(res.status).toBe(200);
  const id = (res.body as unknown as { deploy: { id: number } }).deploy.id;
  started?.(id);
  await drive(() => ended(id) || h.k.store.deploys.get(id)!.state === 'awaiting_approval', `deploy #${id} waiting for approval or ending`);
  if (!ended(id)) {
    expect((await h.cmd(approver, 'approve', String(id))).status).toBe(200);
    await drive(() => ended(id), `deploy #${id} ending`);
  }
  return h.k.core.view(id);
}

/** gc through the API, driving the clock while it deletes. */
async function gc(): Promise<{ orphans: { kind: string; name: string; outcome?: string }[] }> {
  let answered = false;
  const request = fetch(`${h.url}/api/gc`, { method: 'POST', headers: { 'x-kubecontrol-user': 'alice' } }).finally(() => (answered = true));
  await drive(() => answered, 'gc');
  return (await (await request).json()) as { orphans: { kind: string; name: string; outcome?: string }[] };
}

/** What is left that should not be: ledger rows outside live environments, tagged AWS resources and clusters of clusters that do not serve, records not pointing at what serves. */
function leftovers(): string[] {
  const live = h.k.store.environments.allLive();
  const liveIds = new Set(live.map((e) => e.id));
  const liveNames = new Set(live.map((e) => e.name));
  const out = [
    ...h.k.store.resources.live().filter((r) => r.envId === null || !liveIds.has(r.envId)).map((r) => `ledger: ${r.kind} ${r.name} (${r.state})`),
    ...aws.tagged().filter((t) => ![...liveNames].some((n) => t === `cluster ${n}` || t.endsWith(`of ${n}`) || t.includes(` ${n}/`))).map((t) => `account: ${t}`),
    ...[...aws.eks.clusters.keys()].filter((n) => !liveNames.has(n)).map((n) => `account: EKS cluster ${n}`),
  ];
  for (const app of ['search-svc', 'web-frontend']) {
    const env = h.k.store.environments.live(app);
    const record = aws.route53.at(ZONE_ID, `${app}.example.com`)[0];
    if (!env) continue;
    const lb = [...aws.lbs.loadBalancers.values()].find((x) => x.cluster === env.name);
    if (record?.AliasTarget?.DNSName !== `dualstack.${lb?.dnsName}.`) out.push(`account: ${app}.example.com → ${record?.AliasTarget?.DNSName ?? '(none)'}, not ${env.name}'s load balancer`);
  }
  return out;
}

/** Arms `fault` for `row`'s call. */
function arm(row: Row, fault: Fault): void {
  if (row.aws) {
    const { service, operation } = row.aws;
    if (fault === 'throttle' && service === 'Route53' && operation === 'ChangeResourceRecordSets') {
      // A change is refused as Throttling, then as PriorRequestNotComplete (another change of the zone in flight).
      wire.arm({ service, operation, kind: 'throttle' });
      wire.arm({
        service,
        operation,
        kind: 'throttle',
        answer: { status: 400, code: 'PriorRequestNotComplete', message: 'The request was rejected because Route 53 was still processing a prior request.' },
      });
    } else {
      wire.arm({ service, operation, kind: fault, times: fault === 'throttle' ? 2 : 1, ...(fault === 'error' ? { answer: row.error } : {}) });
    }
  } else {
    const answer: InterceptedAnswer | 'hang' =
      fault === 'throttle' ? THROTTLED : fault === 'timeout' ? 'hang' : { code: row.error.status, reason: row.error.code, message: row.error.message };
    kubeFaults.push({ match: row.kube!, answer, left: fault === 'throttle' ? 2 : 1 });
  }
}

function disarm(): void {
  wire.release();
  wire.disarm();
  kubeFaults.length = 0;
  kubeHangs = 0;
  // The mocks keep every call (every waiter poll): forgotten between cells, or the worker outgrows its memory limit.
  for (const m of Object.values(aws.mocks)) m.resetHistory();
  wire.attempts.length = 0;
}

const short = (s: string | null | undefined): string => clip((s ?? '').replace(/User: \S+ is not authorized/, 'not authorized').replace(/^\S+ failed: /, ''), 90);
const grid = ROWS.flatMap((r) => FAULTS.map((f) => [r.step, r.sub, f, r] as const));

describe('the fault matrix on the aws provider, at the wire', () => {
  it.each(grid)('%s: %s × %s', async (step, sub, fault, row) => {
    const cell: Cell = { provider: 'aws', step, sub, fault, outcome: 'did not end', ok: false };
    cells.push(cell);
    const before = h.k.store.environments.live(row.app);
    const wireBefore = wire.attempts.length;
    let id: number | undefined;
    if (step === 'cleanup') {
      // The deploy fails at its apply, then its cleanup meets the fault.
      kubeFaults.push({ match: { method: 'PATCH', path: /^\/apis\/apps\/v1\/namespaces\/search-svc\/deployments\/search-svc$/ }, answer: { code: 403, reason: 'Forbidden', message: row.error.message }, left: 1 });
    }
    arm(row, fault);
    try {
      await judged(cell, async () => {
        const d = await run(row.app, `${step}-${row.aws?.operation ?? row.kube!.method.toLowerCase()}-${fault}`, (x) => (id = x));
        const events = h.k.store.events.after(d.id);
        const attempts = wire.attempts.slice(wireBefore);
        cell.outcome = `${d.state}${d.error ? ` (${short(d.error)})` : ''}${d.cleanup === 'done' ? ', undone' : d.cleanup !== 'none' ? `, cleanup ${d.cleanup}` : ''}`;
        const refused = row.aws ? attempts.filter((a) => a.operation === row.aws!.operation && a.outcome === fault).length : undefined;

        // Throttling: the SDK (or the watch) retries; the deploy succeeds as if nothing happened.
        if (fault === 'throttle') {
          expect(d.state).toBe(step === 'cleanup' ? 'failed' : 'succeeded');
          if (row.aws) {
            expect(refused).toBe(2);
            expect(attempts.some((a) => a.operation === row.aws!.operation && a.outcome === 'ok')).toBe(true);
          }
          cell.outcome = step === 'cleanup' ? 'failed (the apply), undone: the delete went through after 2 throttled attempts' : `succeeded after 2 throttled attempts${row.aws ? ` (${attempts.find((a) => a.outcome === 'throttle')?.status} ${attempts.find((a) => a.outcome === 'throttle')?.code})` : ' (429 TooManyRequests)'}`;
        }
        if (step === 'teardown') {
          expect(d.state).toBe('succeeded');
          expect(h.k.store.environments.live(row.app)!.name).toBe(d.toCluster);
          if (fault === 'timeout') {
            expect(d.steps.find((s) => s.name === 'teardown')).toMatchObject({ state: 'failed', detail: expect.stringMatching(/^teardown timed out after 40m 00s/) });
            expect(events.some((e) => e.level === 'error' && e.message.startsWith(`the old cluster ${before!.name} was not fully torn down (teardown timed out after 40m 00s)`))).toBe(true);
            disarm();
            const collected = await gc();
            expect(collected.orphans.length).toBeGreaterThan(0);
            expect(collected.orphans.map((o) => o.outcome)).toEqual(collected.orphans.map(() => 'deleted'));
            cell.outcome = `succeeded; teardown timed out after 40m, gc deleted the ${collected.orphans.length} resources left`;
          } else if (fault === 'error') {
            expect(d.steps.find((s) => s.name === 'teardown')?.state).toBe('succeeded');
            expect(events.some((e) => /failed \(attempt 1\/3\)/.test(e.message) && row.why.test(e.message))).toBe(true);
            cell.outcome = `succeeded; the delete refused once (${row.error.status} ${row.error.code}), retried`;
          }
        } else if (step === 'cleanup') {
          expect(d.state).toBe('failed');
          expect(d.error).toMatch(/Kubernetes apply Deployment failed: HTTP 403/);
          expect(d.cleanup).toBe('done');
          if (fault === 'timeout') {
            expect(events.some((e) => e.step === 'cleanup' && /deleting cluster \S+ failed \(attempt 1\/3\): deleting cluster \S+ timed out after 40m 00s/.test(e.message))).toBe(true);
            cell.outcome = 'failed (the apply), undone: a DeleteCluster never answered, was given up after 40m and retried';
          }
          if (fault === 'error') {
            expect(events.some((e) => e.step === 'cleanup' && /failed \(attempt 1\/3\)/.test(e.message) && row.why.test(e.message))).toBe(true);
            cell.outcome = `failed (the apply), undone: DeleteCluster refused once (${row.error.status} ${row.error.code}), retried`;
          }
        } else if (fault === 'timeout') {
          expect(d.state).toBe('failed');
          expect(d.cleanup).toBe('done');
          const why = new RegExp(`^${step} timed out after`);
          expect(d.error).toMatch(why);
          expect(events.some((e) => e.kind === 'step' && e.step === step && e.level === 'error' && why.test(e.message))).toBe(true);
          expect(h.k.store.environments.live(row.app)?.id).toBe(before?.id);
          cell.outcome = `failed (${d.error}), undone`;
          if (step === 'cutover' && row.aws?.operation === 'GetChange') {
            expect(events.map((e) => e.message)).toContain(`search-svc.example.com points at this deploy's cluster; moving it back to ${before!.endpoint} first`);
            cell.outcome += '; DNS had moved and was put back';
          }
        } else if (fault === 'error') {
          if (row.kind === 'call') {
            expect(d.state).toBe('failed');
            expect(d.cleanup).toBe('done');
            expect(d.error).toMatch(row.why);
            expect(events.some((e) => e.kind === 'step' && e.step === step && e.level === 'error' && row.why.test(e.message))).toBe(true);
            expect(h.k.store.environments.live(row.app)?.id).toBe(before?.id);
            cell.outcome = `failed (${short(d.error)}), undone`;
          } else {
            // A poll met one refusal: it polls (or watches) again.
            expect(d.state).toBe('succeeded');
            cell.outcome = `succeeded: refused once (${row.error.status} ${row.error.code}), ${row.kube ? 'watched' : 'polled'} again`;
          }
        }
        if (row.aws) expect(wire.unused()).toEqual([]);
        else expect(kubeFaults.filter((f) => f.left > 0).map((f) => `${f.match.method} ${f.match.path}`)).toEqual([]);
        const left = leftovers();
        if (left.length && process.env.MATRIX_DEBUG) process.stdout.write(`${cell.step} ${cell.sub} ${fault}:\n${h.k.store.events.after(d.id).map((e) => `  [${e.step ?? '-'}] ${e.message}`).join('\n')}\n`);
        expect(left).toEqual([]);
      });
    } finally {
      disarm();
      // A cell that left something behind must not fail the cells after it: gc deletes what no deploy owns.
      if (leftovers().length) await gc().catch(() => undefined);
      void id;
    }
  }, 90_000);
});
