/**
 * A lock names who holds it and is taken over only with `--force`: through the
 * real server (the API, the CLI in-process), with the command rows that record
 * every refusal and every takeover (who held it, since when, why).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { runCli } from '../cli/run.js';
import { helpText, parse, USAGE } from '../commands/grammar.js';
import { ManualClock } from '../deployer/clock.js';
import { startHarness, type Harness } from './helpers/harness.js';

/** A time as lock messages say it: `2026-11-30 09:00 UTC`. */
const utc = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

describe('lock: who holds it, and --force to take it over', () => {
  let h: Harness;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock();
    h = await startHarness({}, { clock });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.k.store.locks.unlock('search-svc');
  });

  const lastCommand = () => h.k.store.commands.recent(1)[0]!;

  it('refuses to replace someone else’s lock, naming holder, reason and since when, and how to take it over', async () => {
    const T0 = utc(clock.now());
    expect((await h.cmd('alice', 'lock', 'search-svc', 'incident', '123')).status).toBe(200);
    await clock.advance(60_000);
    const refused = await h.cmd('carol', 'lock', 'search-svc', 'game', 'day');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ kind: 'error', status: 'conflict', code: 'locked', exitCode: 5 });
    expect(refused.body.message).toBe(
      `search-svc is already locked by alice since ${T0}: “incident 123”. To take it over: \`lock search-svc game day --force\` (whose lock it was and why is recorded).`,
    );
    // Nothing changed, and the refusal is recorded with who and why.
    expect(h.k.store.locks.get('search-svc')).toMatchObject({ lockedBy: 'alice', lockedById: 'alice', reason: 'incident 123' });
    expect(lastCommand()).toMatchObject({ actor: 'carol', verb: 'lock', app: 'search-svc', outcome: 'refused', message: refused.body.message });
  });

  it('--force takes it over; the command says whose lock it was and why', async () => {
    const T0 = utc(clock.now());
    expect((await h.cmd('alice', 'lock', 'search-svc', 'incident', '123')).status).toBe(200);
    await clock.advance(60_000);
    const forced = await h.cmd('carol', 'lock', 'search-svc', 'game', 'day', '--force');
    expect(forced.status).toBe(200);
    expect(forced.body.message).toBe(`search-svc is locked: “game day”, taken over from alice since ${T0}: “incident 123”. No deploys until \`unlock search-svc\`.`);
    expect(h.k.store.locks.get('search-svc')).toMatchObject({ lockedBy: 'carol', lockedById: 'carol', reason: 'game day', at: clock.now() });
    expect(lastCommand()).toMatchObject({
      actor: 'carol',
      verb: 'lock',
      outcome: 'accepted',
      text: 'lock search-svc game day --force',
      message: `locked: game day (taken over from alice since ${T0}: “incident 123”)`,
    });
    // Deploys are refused in the new holder's name.
    const deploy = await h.cmd('alice', 'deploy', 'search-svc', 'v2');
    expect(deploy.status).toBe(409);
    expect(deploy.body.message).toBe(`search-svc is locked by carol since ${utc(clock.now())}: “game day”. \`unlock search-svc\` first.`);
  });

  it('--force is an option wherever it is typed; other --words stay part of the reason', () => {
    expect(parse('lock search-svc --force freeze for --black-friday')).toEqual({
      ok: true,
      command: { verb: 'lock', app: 'search-svc', reason: 'freeze for --black-friday', force: true },
    });
    expect(parse('lock search-svc --force')).toMatchObject({ ok: false, error: { code: 'missing_argument', message: expect.stringMatching(/^`lock` needs a reason \(say why, so others know\)/) } });
    expect(USAGE.lock).toBe('lock APP reason [--force]');
    expect(USAGE.unlock).toBe('unlock APP [--force]');
    expect(helpText('lock')).toMatch(/someone else holds is taken over only with --force/);
  });

  it('the same person locking again changes the reason and keeps since when', async () => {
    expect((await h.cmd('carol', 'lock', 'search-svc', 'load', 'test')).status).toBe(200);
    const at = h.k.store.locks.get('search-svc')!.at;
    await clock.advance(60_000);
    const again = await h.cmd('carol', 'lock', 'search-svc', 'load test until 3pm');
    expect(again.status).toBe(200);
    expect(again.body.message).toBe(
      `search-svc is locked: “load test until 3pm” (your lock since ${utc(at)}; the reason was “load test”). No deploys until \`unlock search-svc\`.`,
    );
    expect(h.k.store.locks.get('search-svc')).toMatchObject({ lockedById: 'carol', reason: 'load test until 3pm', at });
    expect(lastCommand()).toMatchObject({ actor: 'carol', outcome: 'accepted', message: 'lock reason updated: load test until 3pm (was: load test)' });
  });

  it('someone with no role on the app is refused before any lock is looked at, --force or not', async () => {
    expect((await h.cmd('alice', 'lock', 'search-svc', 'incident')).status).toBe(200);
    const refused = await h.cmd('mallory', 'lock', 'search-svc', 'mine', '--force');
    expect(refused.status).toBe(403);
    expect(h.k.store.locks.get('search-svc')).toMatchObject({ lockedBy: 'alice' });
    expect(lastCommand()).toMatchObject({ actor: 'mallory', outcome: 'refused' });
  });

  it('a lock taken before holders were kept by id is still its holder’s (by the name it shows)', async () => {
    h.k.store.locks.lock('search-svc', 'old lock', 'carol', clock.now(), null);
    expect((await h.cmd('carol', 'lock', 'search-svc', 'newer', 'reason')).body.message).toMatch(/^search-svc is locked: “newer reason” \(your lock since/);
    expect(h.k.store.locks.get('search-svc')).toMatchObject({ lockedById: 'carol' });
  });
});

describe('unlock: whose lock was removed', () => {
  let h: Harness;
  let clock: ManualClock;
  // Time does not move in these tests.
  const T0 = utc(new ManualClock().now());
  beforeAll(async () => {
    clock = new ManualClock();
    h = await startHarness({}, { clock });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.k.store.locks.unlock('search-svc');
  });

  const lastCommand = () => h.k.store.commands.recent(1)[0]!;

  it('the holder unlocks their own lock', async () => {
    await h.cmd('carol', 'lock', 'search-svc', 'load', 'test');
    const done = await h.cmd('carol', 'unlock', 'search-svc');
    expect(done.status).toBe(200);
    expect(done.body.message).toBe(`search-svc is unlocked (your lock since ${T0}: “load test”).`);
    expect(h.k.store.locks.get('search-svc')).toBeUndefined();
  });

  it('an owner removes anyone’s lock, and is told whose', async () => {
    await h.cmd('carol', 'lock', 'search-svc', 'load', 'test');
    const done = await h.cmd('alice', 'unlock', 'search-svc');
    expect(done.status).toBe(200);
    expect(done.body.message).toBe(`search-svc is unlocked: removed carol's lock (since ${T0}: “load test”).`);
    expect(lastCommand()).toMatchObject({ actor: 'alice', verb: 'unlock', outcome: 'accepted', message: `unlocked: removed the lock of carol since ${T0}: “load test”` });
  });

  it('a deployer who does not hold it is refused unless --force, which is recorded', async () => {
    await h.cmd('alice', 'lock', 'search-svc', 'incident', '123');
    const refused = await h.cmd('carol', 'unlock', 'search-svc');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe(
      `search-svc is locked by alice since ${T0}: “incident 123”; only alice or an owner (alice, U0ALICE01) unlocks it. \`unlock search-svc --force\` removes it anyway (recorded).`,
    );
    expect(lastCommand()).toMatchObject({ actor: 'carol', verb: 'unlock', outcome: 'refused', message: refused.body.message });
    expect(h.k.store.locks.get('search-svc')).toBeDefined();

    const forced = await h.cmd('carol', 'unlock', 'search-svc', '--force');
    expect(forced.status).toBe(200);
    expect(forced.body.message).toBe(`search-svc is unlocked: removed alice's lock (since ${T0}: “incident 123”).`);
    expect(lastCommand()).toMatchObject({ actor: 'carol', text: 'unlock search-svc --force', message: `unlocked: removed the lock of alice since ${T0}: “incident 123”` });
  });

  it('an app that is not locked says so', async () => {
    const answer = await h.cmd('carol', 'unlock', 'search-svc', '--force');
    expect(answer).toMatchObject({ status: 409, body: { code: 'not_locked', message: 'search-svc is not locked.' } });
  });

  it('the CLI: a refusal is exit 5 with the holder named; --force as a CLI option takes over', async () => {
    await h.cmd('alice', 'lock', 'search-svc', 'incident', '123');
    let stdout = '';
    let stderr = '';
    const io = { out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t) };
    const refused = await runCli(['--url', h.url, '--as', 'carol', 'lock', 'search-svc', 'game', 'day'], io);
    expect(refused).toBe(5);
    expect(stderr).toBe(
      `✗ search-svc is already locked by alice since ${T0}: “incident 123”. To take it over: \`lock search-svc game day --force\` (whose lock it was and why is recorded).\n`,
    );
    stdout = '';
    const forced = await runCli(['--url', h.url, '--as', 'carol', 'lock', 'search-svc', 'game', 'day', '--force'], io);
    expect(forced).toBe(0);
    expect(stdout).toBe(`✓ search-svc is locked: “game day”, taken over from alice since ${T0}: “incident 123”. No deploys until \`unlock search-svc\`.\n`);
  });
});
