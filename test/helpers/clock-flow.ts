/**
 * Driving deploys on a ManualClock through the real server: what the clock
 * tests share (a deploy's state, whether it has ended, a blue/green taken to
 * its end with an approval).
 */
import { expect } from '@jest/globals';
import type { ManualClock } from '../../deployer/clock.js';
import { TERMINAL_STATES, type DeployState } from '../../store/index.js';
import type { Harness } from './harness.js';

export const state = (h: Harness, id: number): DeployState => h.k.store.deploys.get(id)!.state;

/** Terminal, and its cleanup (if any) finished. */
export const ended = (h: Harness, id: number): boolean => {
  const d = h.k.store.deploys.get(id)!;
  return TERMINAL_STATES.includes(d.state) && d.cleanup !== 'pending';
};

/** `deploy ...args` as `as`; the new deploy's id (the command must be accepted). */
export async function deploy(h: Harness, as: string, ...args: string[]): Promise<number> {
  const { status, body } = await h.cmd(as, 'deploy', ...args);
  expect(status).toBe(200);
  return (body as { deploy: { id: number } }).deploy.id;
}

/** Deploys and approves a blue/green of `app` to the end; it must succeed. */
export async function blueGreen(h: Harness, clock: ManualClock, app: string, version: string, deployer = 'carol', approver = 'bob'): Promise<number> {
  const id = await deploy(h, deployer, app, version, '--strategy', 'blue-green');
  await clock.runUntil(() => state(h, id) === 'awaiting_approval');
  expect((await h.cmd(approver, 'approve', String(id))).status).toBe(200);
  await clock.runUntil(() => ended(h, id));
  expect(state(h, id)).toBe('succeeded');
  return id;
}
