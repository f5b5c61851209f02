/**
 * The operator's log at `info`: one line per command (who, surface, verb, app,
 * outcome — refusals too) and one per deploy state change, through the real
 * server, so `npm start`'s output says what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../deployer/clock.js';
import { createLogger } from '../system/logger.js';
import { blueGreen } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { logLines } from './helpers/log-sink.js';

describe("the operator's log", () => {
  const lines: { msg: string; component?: string; actor?: string; outcome?: string; state?: string }[] = [];
  const clock = new ManualClock();
  let h: Harness;
  beforeAll(async () => {
    const sink = logLines(lines);
    h = await startHarness({ sandboxScale: 1 }, { clock, logger: createLogger('info', sink) });
  });
  afterAll(() => h.close());

  it('has a line per command with who asked and how it ended, refusals included, and a line per state change of a deploy', async () => {
    await blueGreen(h, clock, 'search-svc', 'v1');
    await h.cmd('mallory', 'deploy', 'search-svc', 'v2');
    const commands = lines.filter((l) => l.component === 'commands').map((l) => l.msg);
    expect(commands).toEqual([
      'command #1 deploy search-svc by carol via cli: accepted — deploy #1 queued',
      'command #2 approve search-svc by bob via cli: accepted — deploy #1 approved',
      expect.stringMatching(/^command #3 deploy search-svc by mallory via cli: refused — mallory may not deploy search-svc: /),
    ]);
    const states = lines.filter((l) => l.component === 'deploys').map((l) => l.state);
    expect(states).toEqual(['building', 'provisioning', 'deploying', 'awaiting_approval', 'cutting_over', 'tearing_down', 'succeeded']);
    expect(lines.filter((l) => l.component === 'deploys').every((l) => l.msg.startsWith('deploy #1 search-svc v1: '))).toBe(true);
  });
});
