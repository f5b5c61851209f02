import { describe, expect, it } from '@jest/globals';
import { canDo, GroupLookupError, type GroupResolver } from '../commands/authorize.js';
import { nearest, parse, tokenize } from '../commands/grammar.js';
import type { KubeApp } from '../kubeapps/index.js';

describe('the command grammar', () => {
  it.each([
    ['deploy search-svc v123', { verb: 'deploy', app: 'search-svc', version: 'v123', strategy: undefined, dryRun: false }],
    ['deploy search-svc v123 --strategy rolling', { verb: 'deploy', app: 'search-svc', version: 'v123', strategy: 'rolling', dryRun: false }],
    ['deploy search-svc 1.4.2-rc.1 --strategy=blue-green --dry-run', { verb: 'deploy', app: 'search-svc', version: '1.4.2-rc.1', strategy: 'blue-green', dryRun: true }],
    ['  DEPLOY   Search-Svc   v9  ', { verb: 'deploy', app: 'search-svc', version: 'v9', strategy: undefined, dryRun: false }],
    ['rollback web-frontend', { verb: 'rollback', app: 'web-frontend', dryRun: false }],
    ['rollback web-frontend --dry-run', { verb: 'rollback', app: 'web-frontend', dryRun: true }],
    ['approve 42', { verb: 'approve', deployId: 42 }],
    ['approve #42', { verb: 'approve', deployId: 42 }],
    ['reject 42 error rate too high', { verb: 'reject', deployId: 42, reason: 'error rate too high' }],
    ['reject 42', { verb: 'reject', deployId: 42, reason: undefined }],
    ['cancel 7', { verb: 'cancel', deployId: 7 }],
    ['status', { verb: 'status', app: undefined }],
    ['status search-svc', { verb: 'status', app: 'search-svc' }],
    ['history search-svc', { verb: 'history', app: 'search-svc', limit: 10 }],
    ['history search-svc --limit 25', { verb: 'history', app: 'search-svc', limit: 25 }],
    ['lock search-svc "incident 123: bad index"', { verb: 'lock', app: 'search-svc', reason: 'incident 123: bad index', force: false }],
    ['lock search-svc freeze for --black-friday', { verb: 'lock', app: 'search-svc', reason: 'freeze for --black-friday', force: false }],
    ['lock search-svc game day --force', { verb: 'lock', app: 'search-svc', reason: 'game day', force: true }],
    ['unlock search-svc', { verb: 'unlock', app: 'search-svc', force: false }],
    ['unlock search-svc --force', { verb: 'unlock', app: 'search-svc', force: true }],
    ['apps', { verb: 'apps' }],
    ['help', { verb: 'help', topic: undefined }],
    ['help deploy', { verb: 'help', topic: 'deploy' }],
  ])('parses %j', (text, command) => {
    expect(parse(text)).toEqual({ ok: true, command });
  });

  it.each([
    ['', 'empty', /No command given/],
    ['deplyo search-svc v1', 'unknown_command', /Did you mean `deploy`\?/],
    ['aprove 3', 'unknown_command', /Did you mean `approve`\?/],
    ['histroy search-svc', 'unknown_command', /Did you mean `history`\?/],
    ['frobnicate', 'unknown_command', /Commands: deploy, rollback/],
    ['deploy', 'missing_argument', /needs an app and a version/],
    ['deploy search-svc', 'missing_argument', /needs a version/],
    ['deploy search-svc v1 extra', 'extra_argument', /Unexpected `extra`/],
    ['deploy search-svc -v1', 'bad_argument', /not a valid version/],
    ['deploy search-svc v1/2', 'bad_argument', /not a valid version/],
    ['deploy search-svc v1 --strategy canary', 'bad_argument', /not a strategy: use `blue-green` or `rolling`/],
    ['deploy search-svc v1 --strategy rollin', 'bad_argument', /did you mean `rolling`\?/],
    ['deploy search-svc v1 --strategy', 'missing_argument', /needs a value/],
    ['deploy search-svc v1 --dryrun', 'unknown_flag', /Did you mean `--dry-run`\?/],
    ['deploy search-svc v1 --dry-run=yes', 'bad_argument', /takes no value/],
    ['approve', 'missing_argument', /needs a deploy id/],
    ['approve abc', 'bad_argument', /not a deploy id/],
    ['cancel 1 2', 'extra_argument', /Unexpected `2`/],
    ['history', 'missing_argument', /needs an app/],
    ['history search-svc --limit 0', 'bad_argument', /from 1 to 100/],
    ['history search-svc --limit lots', 'bad_argument', /from 1 to 100/],
    ['lock search-svc', 'missing_argument', /needs a reason/],
    ['help deplo', 'unknown_command', /Did you mean `deploy`\?/],
    ['apps now', 'extra_argument', /Unexpected `now`/],
  ])('rejects %j with a specific message', (text, code, message) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.message).toMatch(message);
  });

  it.each([
    ['128 characters', `v${'1'.repeat(127)}`],
    ['64 characters (too long for a label, fine as a tag)', `v${'a'.repeat(63)}`],
    ['an ending -', 'v1-'],
    ['an ending .', 'v1.'],
    ['an ending _', 'v1_'],
    ['a leading _', '_build42'],
    ['upper case', 'RC1'],
  ])('accepts any image tag as a version, e.g. one with %s (it goes in an annotation, not a label)', (_what, version) => {
    expect(parse(['deploy', 'search-svc', version])).toEqual({ ok: true, command: { verb: 'deploy', app: 'search-svc', version, strategy: undefined, dryRun: false } });
  });

  it.each([
    ['129 characters', `v${'1'.repeat(128)}`],
    ['a leading .', '.v1'],
    ['a leading -', '-v1'],
    ['a slash', 'v1/2'],
    ['a colon', 'v1:2'],
    ['a plus', '1.0.0+build'],
  ])('refuses a version with %s, naming the value and the rule', (_what, version) => {
    const result = parse(['deploy', 'search-svc', version]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('bad_argument');
    const shown = version.length > 60 ? `${version.slice(0, 40)}… (${version.length} characters)` : version;
    expect(result.error.message).toContain(`\`${shown}\` is not a valid version`);
    expect(result.error.message).toContain('use an image tag (letters, digits, `_`, `.`, `-`; at most 128 characters, not starting with `.` or `-`)');
  });

  it('accepts argv words as well as text, keeping quoted words whole', () => {
    expect(parse(['reject', '5', 'p99 latency doubled'])).toEqual({ ok: true, command: { verb: 'reject', deployId: 5, reason: 'p99 latency doubled' } });
    expect(tokenize(`lock a "two words" 'and more'`)).toEqual(['lock', 'a', 'two words', 'and more']);
  });

  it('suggests only near misses', () => {
    expect(nearest('serch-svc', ['search-svc', 'web-frontend'])).toBe('search-svc');
    expect(nearest('web', ['search-svc', 'web-frontend'])).toBe('web-frontend');
    expect(nearest('payments', ['search-svc', 'web-frontend'])).toBeUndefined();
  });
});

describe('authorisation through user groups (canDo)', () => {
  // canDo reads only an app's people; the rest of a KubeApp does not matter here.
  const app = {
    name: 'search-svc',
    owners: ['alice'],
    deployers: ['carol', '@platform-oncall', '@search-team'],
    approvers: ['bob'],
  } as unknown as KubeApp;
  const slackDown = new Error('usergroups.users.list failed: ratelimited');
  /** Groups as a table; a group mapped to an Error is not known (its last lookup failed). */
  const groups = (table: Record<string, readonly string[] | Error>): GroupResolver & { asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      membersNow: (handle) => {
        asked.push(handle);
        const entry = table[handle];
        return entry instanceof Error ? { known: false, reason: entry.message } : { known: true, members: entry ?? [] };
      },
    };
  };

  it('grants someone named directly, whatever the groups do', () => {
    const g = groups({ 'platform-oncall': slackDown, 'search-team': slackDown });
    expect(canDo({ id: 'carol' }, app, 'deploy', g)).toBe(true);
    expect(g.asked).toEqual([]);
  });

  it('grants through a later group when an earlier one cannot be resolved', () => {
    const g = groups({ 'platform-oncall': slackDown, 'search-team': ['U0DAVE001'] });
    expect(canDo({ id: 'U0DAVE001' }, app, 'deploy', g)).toBe(true);
    expect(g.asked).toEqual(['platform-oncall', 'search-team']);
  });

  it('throws a GroupLookupError, not a silent "no", when nothing grants and a lookup failed', () => {
    const g = groups({ 'platform-oncall': slackDown, 'search-team': ['U0DAVE001'] });
    let err: unknown;
    try {
      canDo({ id: 'U0MALLORY' }, app, 'deploy', g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GroupLookupError);
    expect(err).toMatchObject({ code: 'group_lookup_failed', group: '@platform-oncall', reason: 'usergroups.users.list failed: ratelimited' });
    expect((err as Error).message).toBe('cannot resolve @platform-oncall: usergroups.users.list failed: ratelimited');
  });

  it('says no when nothing grants and every group resolved', () => {
    const g = groups({ 'platform-oncall': ['U0ERIN001'], 'search-team': ['U0DAVE001'] });
    expect(canDo({ id: 'U0MALLORY' }, app, 'deploy', g)).toBe(false);
    // Without a resolver, groups match nobody: still a plain no.
    expect(canDo({ id: 'U0MALLORY' }, app, 'deploy')).toBe(false);
  });
});
