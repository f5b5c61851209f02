/**
 * What an operator reads is true, and the same on every surface: `status`
 * during a blue/green's drain says the new version is live (DNS points at it)
 * and the old one drains until a time, rollback possible; the drain says the
 * simulated time it stands for in the sandbox; plans mark deletions `-`,
 * changes `~`, creations `+`; the CLI's tables line up by their widest cell,
 * wide and combining characters included. Through the real server on a
 * ManualClock at the sandbox's default scale (600 ms real stand for 2 minutes).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resultAnswer } from '../bot/views.js';
import { displayWidth, renderResult, table } from '../cli/render.js';
import { runCli } from '../cli/run.js';
import type { AppStatus, CommandResult } from '../commands/results.js';
import { ManualClock } from '../deployer/clock.js';
import type { DnsRecord } from '../deployer/ports.js';
import { describeDrain, drainDeadline } from '../deployer/steps/teardown.js';
import { blueGreen, deploy, ended, state } from './helpers/clock-flow.js';
import { startHarness, type Harness } from './helpers/harness.js';

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
const clockTime = (ms: number): string => `${new Date(ms).toISOString().slice(11, 19)} UTC`;
/** The text of a Slack answer, blocks included. */
const slackText = (r: CommandResult): string => JSON.stringify(resultAnswer(r));

describe('status during a blue/green’s drain, on every surface', () => {
  let h: Harness;
  const clock = new ManualClock();
  beforeAll(async () => {
    h = await startHarness({ sandboxScale: 0.005 }, { clock });
  });
  afterAll(() => h.close());

  /** Runs the CLI in-process, driving the clock until it has answered. */
  async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    let code: number | undefined;
    const running = runCli(['--url', h.url, ...argv], { out: (t) => void (stdout += t), err: (t) => void (stderr += t) }).then((c) => (code = c));
    await clock.runUntil(() => code !== undefined);
    await running;
    return { code: code!, stdout, stderr };
  }

  let second = 0;
  let first = 0;

  it('says v2 is live (DNS points at it) and v1 drains until its teardown, rollback possible', async () => {
    first = await blueGreen(h, clock, 'search-svc', 'v1');
    second = await deploy(h, 'carol', 'search-svc', 'v2', '--strategy', 'blue-green');
    await clock.runUntil(() => state(h, second) === 'awaiting_approval');
    expect((await h.cmd('bob', 'approve', String(second))).status).toBe(200);
    await clock.runUntil(() => drainDeadline(h.k.store, second) !== undefined);
    const until = drainDeadline(h.k.store, second)!;
    const cutover = h.k.store.environments.live('search-svc')!.liveSince!;

    // The API: the status the core built.
    const { body } = await h.cmd('alice', 'status', 'search-svc');
    expect(body.kind).toBe('status');
    const app = (body as Extract<CommandResult, { kind: 'status' }>).apps[0]!;
    expect(app.live).toEqual({ version: 'v2', cluster: `search-svc-${second}`, deployId: second, since: cutover });
    expect(app.draining).toEqual({ version: 'v1', cluster: `search-svc-${first}`, deployId: second, dns: 'search-svc.example.com', until, rollback: true });

    // The CLI.
    const run = await cli('status', 'search-svc');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'provider: sandbox (simulated infrastructure)',
        'APP         LIVE (DNS)  CLUSTER       DEPLOY  SINCE (UTC)       KUBERNETES',
        `search-svc  v2          search-svc-${second}  #${second}      ${when(cutover)}  1.35 (standard support until 2027-03-27)`,
        '',
        `search-svc: v2 is live: search-svc.example.com points at search-svc-${second}; v1 on search-svc-${first} is draining until ${clockTime(until)} (rollback possible until then: \`rollback search-svc\`)`,
        '',
        'DEPLOY  APP         VERSION  STRATEGY    STATE         WHO    ELAPSED',
        `#${second}      search-svc  v2       blue-green  tearing_down  carol  ${run.stdout.match(/carol {2}(\S+)\n$/)![1]}`,
        '',
      ].join('\n'),
    );

    // Slack: the same facts.
    const slack = slackText(body);
    expect(slack).toContain(`\`v2\` on \`search-svc-${second}\``);
    expect(slack).toContain(`(deploy #${second})`);
    expect(slack).toContain(
      `\`v2\` is live: \`search-svc.example.com\` points at \`search-svc-${second}\`; \`v1\` on \`search-svc-${first}\` is draining until <!date^${Math.floor(until / 1000)}^{time_secs}|${when(until)} UTC> (rollback possible until then: \`/kubeapp rollback search-svc\`)`,
    );
  });

  it('the drain’s own words: the sandbox time it stands for, the real time, and the TTL in the same (simulated) time', () => {
    const messages = h.k.store.events.after(second, 0, 1000).map((e) => e.message);
    expect(messages).toContain(`draining search-svc-${first} for 2m 00s (sandbox time; 600ms real) before teardown — at least the DNS TTL of 60s`);
  });

  it('once the old cluster is being deleted, no rollback is offered; after the teardown, nothing drains', async () => {
    const oldEnv = h.k.store.deploys.get(second)!.fromEnvId!;
    await clock.runUntil(() => h.k.store.resources.forEnv(oldEnv).some((r) => r.state !== 'created'));
    const deleting = (await h.cmd('alice', 'status', 'search-svc')).body;
    expect((deleting as Extract<CommandResult, { kind: 'status' }>).apps[0]!.draining).toMatchObject({ rollback: false });
    expect(renderResult(deleting)).toContain(`search-svc: v2 is live: search-svc.example.com points at search-svc-${second}; v1 on search-svc-${first} is being torn down (its drain is over)`);
    expect(slackText(deleting)).toContain(`\`v1\` on \`search-svc-${first}\` is being torn down (its drain is over)`);

    await clock.runUntil(() => ended(h, second));
    const after = (await h.cmd('alice', 'status', 'search-svc')).body as Extract<CommandResult, { kind: 'status' }>;
    expect(after.apps[0]).toMatchObject({ live: { version: 'v2', deployId: second }, draining: null, active: [] });
    expect(renderResult(after)).not.toMatch(/draining|torn down/);
  });

  it('a dry run marks creations +, changes ~ and deletions -, the same in the CLI and in Slack', async () => {
    const run = await cli('--as', 'carol', 'deploy', 'search-svc', 'v3', '--dry-run');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    const marked = (title: string): string[] => {
      const start = lines.indexOf(title);
      if (start < 0) return [];
      const items: string[] = [];
      for (const l of lines.slice(start + 1)) if (l.startsWith('  ')) items.push(l.slice(2, 3)); else break;
      return items;
    };
    expect(marked('build')).toEqual(['+']);
    expect(marked('create')).toEqual(['+', '+', '+']);
    expect(marked('change')).toEqual(['~']);
    expect(marked('delete')).toEqual(['-']);
    expect(lines).toContain(`  - [sandbox] cluster search-svc-${second} (v2, ACTIVE) and its capacity, after a 2m 00s (sandbox time; 600ms real) drain`);

    const { body } = await (async () => {
      let answered = false;
      const pending = h.cmd('carol', 'deploy', 'search-svc', 'v3', '--dry-run').finally(() => (answered = true));
      await clock.runUntil(() => answered);
      return pending;
    })();
    const slack = slackText(body);
    expect(slack).toContain(`*delete*\\n\`-\` [sandbox] cluster search-svc-${second} (v2, ACTIVE)`);
    expect(slack).toMatch(/\*change\*\\n`~` \[sandbox\] DNS search-svc\.example\.com/);
    expect(slack).toMatch(/\*create\*\\n`\+` \[sandbox\] EKS cluster/);
  });

  it('history lines up by the widest cell', async () => {
    const run = await cli('history', 'search-svc');
    const [header, ...rows] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^DEPLOY +VERSION +STRATEGY +WHO +WHEN \(UTC\) +OUTCOME +DURATION$/);
    expect(rows).toHaveLength(2);
    // Every cell starts where its column's header does, and the widest cell of a column is two spaces from the next.
    const starts = [...header!.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
    for (const row of rows) {
      const cells = [...row.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
      expect(cells).toEqual(starts);
    }
    for (let i = 1; i < starts.length; i++) {
      const widest = Math.max(...[header!, ...rows].map((l) => l.slice(starts[i - 1], starts[i]).trimEnd().length));
      expect(starts[i]! - starts[i - 1]!).toBe(widest + 2);
    }
  });
});

describe('the drain’s words per provider', () => {
  const record: DnsRecord = { name: 'x.example.com', ttlSeconds: 60, app: 'x', port: 443 };
  it('a real provider compares its real drain with the real TTL', () => {
    expect(describeDrain({ name: 'aws' }, 120_000, record)).toEqual({ duration: '2m 00s', ttl: 'at least the DNS TTL of 60s' });
    expect(describeDrain({ name: 'aws' }, 30_000, record)).toEqual({ duration: '30.0s', ttl: 'shorter than the DNS TTL of 60s' });
  });
  it('the sandbox says the simulated time its drain stands for, and compares that with the TTL', () => {
    expect(describeDrain({ name: 'sandbox', timeScale: 0.005 }, 600, record)).toEqual({ duration: '2m 00s (sandbox time; 600ms real)', ttl: 'at least the DNS TTL of 60s' });
    expect(describeDrain({ name: 'sandbox', timeScale: 0.005 }, 100, record)).toEqual({ duration: '20.0s (sandbox time; 100ms real)', ttl: 'shorter than the DNS TTL of 60s' });
    // At scale 1 the sandbox runs in real time: nothing to translate.
    expect(describeDrain({ name: 'sandbox', timeScale: 1 }, 120_000, record)).toEqual({ duration: '2m 00s', ttl: 'at least the DNS TTL of 60s' });
  });
  it('the local provider switches an ExternalName Service, not the record: no TTL is claimed', () => {
    expect(describeDrain({ name: 'local' }, 10_000, record)).toEqual({ duration: '10.0s' });
  });
});

describe('CLI tables', () => {
  it('measure cells in terminal columns: colour codes none, ✓ and é one, CJK and emoji two, combining marks none', () => {
    expect(displayWidth('\x1b[32mok\x1b[0m')).toBe(2);
    expect(displayWidth('✓ built')).toBe(7);
    expect(displayWidth('José')).toBe(4);
    expect(displayWidth('Jose\u0301')).toBe(4);
    expect(displayWidth('田中')).toBe(4);
    expect(displayWidth('🔒 locked')).toBe(9);
    expect(displayWidth('✅')).toBe(2);
  });

  it('pad every column to its widest cell, so the next column starts at the same column on every row', () => {
    const rows = [
      ['WHO', 'STATE', 'WHEN'],
      ['田中', '✓ succeeded', '09:00'],
      ['Jose\u0301', '\x1b[31m✗ failed\x1b[0m', '09:01'],
      ['🔒 carol', '⟳ running', '09:02'],
    ];
    const out = table(rows).split('\n');
    const startOf = (line: string, cell: string): number => displayWidth(line.slice(0, line.indexOf(cell)));
    const expected = [startOf(out[0]!, 'STATE'), startOf(out[0]!, 'WHEN')];
    expect(expected).toEqual([10, 23]);
    rows.slice(1).forEach((r, i) => {
      expect([startOf(out[i + 1]!, r[1]!), startOf(out[i + 1]!, r[2]!)]).toEqual(expected);
    });
  });

  it('line up status rows of apps whose names differ in length', () => {
    const apps: AppStatus[] = [
      { app: 'a', live: { version: 'v10', cluster: 'a-1', deployId: 1, since: 0 }, draining: null, active: [], lock: null },
      { app: 'a-much-longer-name', live: null, draining: null, active: [], lock: null },
    ];
    const out = renderResult({ kind: 'status', status: 'ok', commandId: 1, apps, provider: 'p', message: '' }).split('\n');
    expect(out).toEqual([
      'provider: p',
      'APP                 LIVE (DNS)    CLUSTER  DEPLOY  SINCE (UTC)',
      'a                   v10           a-1      #1      1970-01-01 00:00',
      'a-much-longer-name  not deployed  -        -       -',
    ]);
  });
});
