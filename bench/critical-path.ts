/**
 * The critical path of a blue/green deploy, with calibrated delays (build 4 min,
 * EKS create 12 min, capacity 4 min, rollout 2 min, load balancer 2 min, DNS
 * sync 1 min; all scaled by one factor), on the sandbox and on the aws provider
 * against the local fakes (bench/timed-aws.ts). The app is web-frontend (a
 * managed node group: the capacity that takes 4 minutes), deployed blue/green.
 *
 * The ideal: max(build, EKS create + capacity) + rollout + DNS sync — the load
 * balancer is provisioned from the moment its Service is applied, while the pods
 * roll out, so it is on the critical path only if it is the slower of the two.
 * The wall: accepted → awaiting approval, plus approved → cutover done (DNS in
 * sync: the deploy is `tearing_down`); the approval wait is a person's and is
 * excluded, so are the drain and teardown after it.
 *
 * Also used by bench/cloud-calls.ts: `runOnAws` returns the fake account, so the
 * calls of one deploy can be counted by operation.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAwsProvider } from '../deployer/aws/index.js';
import { WAIT_POLLING, type WaitPolling } from '../deployer/aws/clients.js';
import { createSandboxProvider } from '../deployer/sandbox/index.js';
import type { KubeApp } from '../kubeapps/index.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { loadConfig } from '../system/config.js';
import { createLogger } from '../system/logger.js';
import { startKubecontrol, type Kubecontrol } from '../system/compose.js';
import type { DeployState } from '../store/index.js';
import { SETTINGS, TODAY, withAws } from '../test/fakes/aws-apps.js';
import { FakeAwsAccount } from '../test/fakes/aws-account.js';
import { CALIBRATED, TimedAws, type TimedWait } from './timed-aws.js';

const C = CALIBRATED;
/** The ideal critical path, in real-world seconds. */
export const IDEAL_SECONDS = Math.max(C.build, C.clusterCreate + C.capacity) + Math.max(C.rollout, C.loadBalancer) + C.dnsSync;

export interface PathResult {
  readonly provider: string;
  readonly deploy: string;
  readonly factor: number;
  /** ms: accepted → awaiting approval; approved → cutover done; their sum. */
  readonly toApproval: number;
  readonly toCutover: number;
  readonly wall: number;
  readonly ideal: number;
  readonly ratio: number;
  /** Each phase's wall (ms) beside its ideal (ms). */
  readonly phases: { name: string; wall: number; ideal: number }[];
  readonly state: DeployState;
  readonly waits?: TimedWait[];
  readonly error?: string;
}

const TERMINAL: readonly DeployState[] = ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'];

function waitFor(k: Kubecontrol, id: number, states: readonly DeployState[], timeoutMs: number): Promise<{ state: DeployState; at: number }> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const d = k.store.deploys.get(id);
      if (d && states.includes(d.state)) {
        const at = performance.now();
        done();
        resolve({ state: d.state, at });
        return true;
      }
      return false;
    };
    const onEvent = (): void => void check();
    const timer = setTimeout(() => {
      done();
      const d = k.store.deploys.get(id);
      reject(new Error(`deploy #${id} is ${d?.state} after ${timeoutMs} ms: ${k.store.events.last(id, 4).map((e) => e.message).join(' | ')}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      k.store.feed.off('appended', onEvent);
    };
    k.store.feed.on('appended', onEvent);
    check();
  });
}

/** Deploys `version` blue/green as carol, approves it as bob the moment it asks, follows it to its end. */
export async function blueGreen(k: Kubecontrol, app: string, version: string, factor: number, timeoutMs: number, strategy: 'blue-green' | 'rolling' = 'blue-green'): Promise<Omit<PathResult, 'provider' | 'deploy' | 'factor' | 'waits'>> {
  const t0 = performance.now();
  const r = k.core.execute({ actor: { id: 'carol' }, surface: 'cli', input: ['deploy', app, version, '--strategy', strategy] });
  if (r instanceof Promise || r.kind !== 'deploy_queued') throw new Error(`not accepted: ${JSON.stringify(r)}`);
  const { runAfterAck } = await import('../commands/core.js');
  runAfterAck(r);
  const id = r.deploy.id;
  const ideal = IDEAL_SECONDS * 1000 * factor;
  let toApproval: number;
  let toCutover: number;
  if (strategy === 'rolling') {
    const end = await waitFor(k, id, TERMINAL, timeoutMs);
    toApproval = end.at - t0;
    toCutover = 0;
  } else {
    const asked = await waitFor(k, id, ['awaiting_approval', ...TERMINAL], timeoutMs);
    toApproval = asked.at - t0;
    if (asked.state !== 'awaiting_approval') {
      return { toApproval, toCutover: NaN, wall: NaN, ideal, ratio: NaN, phases: [], state: asked.state, error: k.store.deploys.get(id)?.error ?? undefined };
    }
    const t1 = performance.now();
    const ok = k.core.execute({ actor: { id: 'bob' }, surface: 'cli', input: ['approve', String(id)] });
    if (!(ok instanceof Promise)) runAfterAck(ok);
    const cut = await waitFor(k, id, ['tearing_down', ...TERMINAL], timeoutMs);
    toCutover = cut.at - t1;
  }
  const end = await waitFor(k, id, TERMINAL, timeoutMs);
  const steps = k.store.deploys.steps(id);
  const span = (...names: string[]): number => {
    const s = steps.filter((x) => names.includes(x.name) && x.startedAt && x.finishedAt);
    return s.length ? Math.max(...s.map((x) => x.finishedAt!)) - Math.min(...s.map((x) => x.startedAt!)) : NaN;
  };
  const f = 1000 * factor;
  const phases =
    strategy === 'rolling'
      ? []
      : [
          { name: 'build ∥ provision', wall: span('build', 'provision'), ideal: Math.max(C.build, C.clusterCreate + C.capacity) * f },
          { name: 'deploy (rollout ∥ load balancer)', wall: span('deploy'), ideal: Math.max(C.rollout, C.loadBalancer) * f },
          { name: 'cutover (health check, DNS sync)', wall: span('cutover'), ideal: C.dnsSync * f },
        ];
  const wall = toApproval + toCutover;
  return { toApproval, toCutover, wall, ideal, ratio: wall / ideal, phases, state: end.state, error: k.store.deploys.get(id)?.error ?? undefined };
}

const app = (): KubeApp => ({ ...webFrontend, strategy: 'blue-green' });

/** Two blue/green deploys in a row on the sandbox with the calibrated delays × factor (the second also drains and tears the first down). */
export async function sandboxPath(factor: number): Promise<PathResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-path-'));
  const k = await startKubecontrol(
    { ...loadConfig({}), port: 0, host: '127.0.0.1', dbPath: join(dir, 'k.db'), sandboxScale: factor, logLevel: 'silent' },
    {
      logger: createLogger('silent'),
      apps: [app()],
      provider: ({ store, clock, installation }) =>
        createSandboxProvider(store, {
          scale: factor,
          clock,
          installation,
          seconds: { build: C.build, clusterCreate: C.clusterCreate, nodegroupCreate: C.capacity, rollout: C.rollout, loadBalancer: C.loadBalancer, dnsSync: C.dnsSync },
        }),
    },
  );
  const out: PathResult[] = [];
  try {
    for (const v of ['p1', 'p2']) out.push({ provider: 'sandbox', deploy: v, factor, ...(await blueGreen(k, app().name, v, factor, 120_000 + IDEAL_SECONDS * 3000 * factor)) });
  } finally {
    await k.close();
  }
  return out;
}

/** The aws provider on the timed fake account; `polling` is each wait's polling (already scaled), `{}` for the SDK's defaults. */
export async function startOnAws(factor: number, polling: WaitPolling | 'sdk-defaults', opts: { timed?: boolean } = {}): Promise<{ k: Kubecontrol; aws: FakeAwsAccount; timed: TimedAws; close(): Promise<void> }> {
  const aws = new FakeAwsAccount();
  const timed = new TimedAws(aws, opts.timed === false ? 0 : factor);
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-path-aws-'));
  const k = await startKubecontrol(
    { ...loadConfig({}), port: 0, host: '127.0.0.1', dbPath: join(dir, 'k.db'), provider: 'aws', logLevel: 'silent' },
    {
      logger: createLogger('silent'),
      apps: [withAws(app(), { builder: 'codebuild', codeBuildProject: 'web-frontend-image' })],
      provider: ({ installation }) => ({
        ...createAwsProvider({
          installation: { id: installation },
          settings: SETTINGS,
          buildEnv: {},
          clients: timed.clients,
          credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
          ...(polling === 'sdk-defaults' ? { waitPolling: () => ({}) } : { waitPolling: polling, codeBuildPoll: { minMs: 5000 * factor, maxMs: 20_000 * factor } }),
          healthRetry: { attempts: 3, minMs: 1000 * factor, maxMs: 5000 * factor },
          fetch: async () => ({ status: 200, statusText: 'OK' }),
          now: () => TODAY,
        }),
        // The drain (2 × TTL) is after cutover, off the critical path: kept short.
        drainMs: () => 10,
      }),
    },
  );
  return {
    k,
    aws,
    timed,
    async close() {
      await k.close();
      await aws.close();
    },
  };
}

/** WAIT_POLLING with every delay multiplied by `factor`. */
export function scaledPolling(factor: number): WaitPolling {
  return (what) => ({ minDelay: WAIT_POLLING[what].minDelay * factor, maxDelay: WAIT_POLLING[what].maxDelay * factor });
}

/** Two blue/green deploys in a row on the aws provider against the timed fakes. */
export async function awsPath(factor: number, polling: 'scaled' | 'sdk-defaults', deploys = 2): Promise<PathResult[]> {
  const env = await startOnAws(factor, polling === 'scaled' ? scaledPolling(factor) : 'sdk-defaults');
  const out: PathResult[] = [];
  try {
    for (let i = 1; i <= deploys; i++) {
      const from = env.timed.waits.length;
      const timeout = polling === 'scaled' ? 120_000 + IDEAL_SECONDS * 3000 * factor : 600_000;
      const r = await blueGreen(env.k, app().name, `2.${i}.0`, factor, timeout);
      out.push({ provider: polling === 'scaled' ? 'aws (fakes), polling scaled' : 'aws (fakes), SDK default polling', deploy: `a${i}`, factor, ...r, waits: env.timed.waits.slice(from) });
    }
  } finally {
    await env.close();
  }
  return out;
}
