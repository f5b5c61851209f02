/**
 * Test harness: a real kubecontrol server (real SQLite file, real HTTP on
 * port 0, the sandbox provider at a tiny time scale) and helpers to drive it
 * as the CLI does and to wait for what a user would see.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult, DeployView } from '../../commands/results.js';
import { loadConfig, type Config } from '../../system/config.js';
import { createLogger } from '../../system/logger.js';
import { startKubecontrol, type Kubecontrol, type StartOptions } from '../../system/compose.js';
import { ManualClock } from '../../deployer/clock.js';
import type { DeployState } from '../../store/index.js';

export type ApiResult = CommandResult & { exitCode: number; authenticated: boolean };

export interface Harness {
  readonly k: Kubecontrol;
  readonly url: string;
  readonly dbPath: string;
  /** POST /api/commands as `as`. */
  cmd(as: string, ...args: string[]): Promise<{ status: number; body: ApiResult }>;
  /** Waits until deploy `id` satisfies `pred` (checked on every event), or fails after `ms`. */
  waitFor(id: number, pred: (d: DeployView) => boolean, ms?: number): Promise<DeployView>;
  /** Waits until the deploy is in one of `states` (and, for terminal states, its cleanup is finished). */
  waitState(id: number, ...states: DeployState[]): Promise<DeployView>;
  /** Runs a command that queues a deploy (as `as`) to its end, approving its cutover as `approver` if asked; its id. */
  runToEnd(as: string, approver: string, ...args: string[]): Promise<number>;
  close(): Promise<void>;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-test-'));
  return {
    // The server's own defaults (an empty environment), then what tests need.
    ...loadConfig({}),
    port: 0,
    dbPath: join(dir, 'kubecontrol.db'),
    // 1/1000 of real time: a full blue/green (~35 real minutes) takes about two seconds.
    sandboxScale: 0.001,
    logLevel: 'silent',
    ...overrides,
  };
}

const TERMINAL = ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'];

export async function startHarness(overrides: Partial<Config> = {}, options: StartOptions = {}): Promise<Harness> {
  const config = testConfig(overrides);
  const k = await startKubecontrol(config, { logger: createLogger('silent'), ...options });
  const url = k.url;
  const cmd = async (as: string, ...args: string[]): Promise<{ status: number; body: ApiResult }> => {
    const res = await fetch(`${url}/api/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kubecontrol-user': as },
      body: JSON.stringify({ args }),
    });
    return { status: res.status, body: (await res.json()) as ApiResult };
  };
  const manual = options.clock instanceof ManualClock ? options.clock : undefined;
  // On a ManualClock nothing waits: the clock's timers are fired until the deploy gets there.
  const driveTo = async (id: number, pred: (d: DeployView) => boolean): Promise<DeployView> => {
    const holds = (): boolean => !!k.store.deploys.get(id) && pred(k.core.view(id));
    try {
      await manual!.runUntil(holds);
    } catch (err) {
      const d = k.store.deploys.get(id) ?? { state: 'missing', cleanup: '-' };
      throw new Error(`deploy #${id} did not reach the expected state (it is ${d.state}, cleanup ${d.cleanup}; last events: ${k.store.events.last(id, 5).map((e) => e.message).join(' | ')}): ${(err as Error).message}`);
    }
    return k.core.view(id);
  };
  const waitFor = (id: number, pred: (d: DeployView) => boolean, ms = 20_000): Promise<DeployView> =>
    manual ? driveTo(id, pred) : new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!k.store.deploys.get(id)) return false; // not created yet
        const d = k.core.view(id);
        if (pred(d)) {
          done();
          resolve(d);
          return true;
        }
        return false;
      };
      const onEvent = (): void => void check();
      const poll = setInterval(check, 50);
      const timer = setTimeout(() => {
        done();
        const d = k.store.deploys.get(id) ?? { state: 'missing', cleanup: '-' };
        reject(new Error(`deploy #${id} did not reach the expected state within ${ms}ms (it is ${d.state}, cleanup ${d.cleanup}; last events: ${k.store.events.last(id, 5).map((e) => e.message).join(' | ')})`));
      }, ms);
      const done = (): void => {
        clearInterval(poll);
        clearTimeout(timer);
        k.store.feed.off('appended', onEvent);
      };
      k.store.feed.on('appended', onEvent);
      check();
    });
  const waitState = (id: number, ...states: DeployState[]): Promise<DeployView> =>
    waitFor(id, (d) => states.includes(d.state) && (!TERMINAL.includes(d.state) || d.cleanup !== 'pending'));
  const runToEnd = async (as: string, approver: string, ...args: string[]): Promise<number> => {
    const { body } = await cmd(as, ...args);
    if (body.kind !== 'deploy_queued') throw new Error(`\`${args.join(' ')}\` as ${as} queued no deploy: ${JSON.stringify(body)}`);
    const id = body.deploy.id;
    const reached = await waitState(id, 'awaiting_approval', 'succeeded', 'failed');
    if (reached.state !== 'awaiting_approval') return id;
    await cmd(approver, 'approve', String(id));
    await waitState(id, 'succeeded', 'failed');
    return id;
  };
  return { k, url, dbPath: config.dbPath, cmd, waitFor, waitState, runToEnd, close: () => k.close() };
}

/** Ledger rows of a deploy that are not deleted. */
export function undeleted(h: Harness, deployId: number): string[] {
  return h.k.store.resources
    .forDeploy(deployId)
    .filter((r) => r.state !== 'deleted')
    .map((r) => `${r.kind} ${r.name} (${r.state})`);
}
