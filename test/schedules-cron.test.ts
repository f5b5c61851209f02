/**
 * Cron arithmetic (schedules/cron.ts): next runs across daylight-saving
 * changes, the runs a stopped server missed, schedules in words, the warning
 * for a schedule more than a year away; and a KubeApp's schedule, time zone
 * and refresh policy checked when it is defined (loaded).
 */
import { describe, expect, it } from '@jest/globals';
import { defineKubeApp, type KubeAppProps } from '../kubeapps/index.js';
import { cronInWords, localTime, nextRun, runsBetween, scheduleWarnings } from '../schedules/cron.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The next `n` runs after `from`, each computed from the one before (as the scheduler re-arms). */
function nextRuns(expr: string, tz: string, from: string, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < n; i++) {
    const next = nextRun(expr, tz, at);
    out.push(iso(next));
    if (next === null) break;
    at = next;
  }
  return out;
}

describe('next run times across a daylight-saving change', () => {
  it('Europe/Dublin, end of October: 03:00 local is 02:00 UTC in summer time and 03:00 UTC after the clocks go back', () => {
    // Irish Standard Time (UTC+1) ends on Sunday 25 October 2026 at 02:00 local.
    expect(nextRuns('0 3 * * *', 'Europe/Dublin', '2026-10-23T12:00:00Z', 4)).toEqual([
      '2026-10-24T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
      '2026-10-26T03:00:00.000Z',
      '2026-10-27T03:00:00.000Z',
    ]);
    // 01:30 happens twice that night (once in IST, once in GMT): it runs once, the first time.
    expect(nextRuns('30 1 * * *', 'Europe/Dublin', '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('America/New_York, in March: 03:00 local is 08:00 UTC before the clocks spring forward and 07:00 UTC after; 02:30 that night runs at 03:30', () => {
    // Eastern Daylight Time starts on Sunday 8 March 2026 at 02:00 local (clocks jump to 03:00).
    expect(nextRuns('0 3 * * *', 'America/New_York', '2026-03-06T12:00:00Z', 3)).toEqual(['2026-03-07T08:00:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T07:00:00.000Z']);
    // 02:30 does not exist on 8 March: it runs at the first moment after the jump (03:30 EDT), once.
    expect(nextRuns('30 2 * * *', 'America/New_York', '2026-03-06T12:00:00Z', 4)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('the runs between two moments (what a stopped server missed) go across the change too, oldest first', () => {
    const { runs, more } = runsBetween('0 3 * * *', 'Europe/Dublin', Date.parse('2026-10-23T12:00:00Z'), Date.parse('2026-10-26T03:00:00Z'));
    expect(runs.map(iso)).toEqual(['2026-10-24T02:00:00.000Z', '2026-10-25T03:00:00.000Z', '2026-10-26T03:00:00.000Z']);
    expect(more).toBe(false);
    // A limit keeps the newest and says there were more.
    const many = runsBetween('*/5 * * * *', 'UTC', Date.parse('2026-11-30T00:00:00Z'), Date.parse('2026-11-30T10:00:00Z'), 3);
    expect(many).toEqual({ runs: [Date.parse('2026-11-30T09:50:00Z'), Date.parse('2026-11-30T09:55:00Z'), Date.parse('2026-11-30T10:00:00Z')], more: true });
    expect(runsBetween('0 3 * * *', 'UTC', 10, 10)).toEqual({ runs: [], more: false });
  });

  it('a time in a schedule’s own zone, as announcements say it', () => {
    expect(localTime(Date.parse('2026-10-24T02:00:00Z'), 'Europe/Dublin')).toBe('Sat 24 Oct 2026, 03:00 Europe/Dublin');
    expect(localTime(Date.parse('2026-03-08T07:30:00Z'), 'America/New_York')).toBe('Sun 8 Mar 2026, 03:30 America/New_York');
  });
});

describe('a schedule in words', () => {
  it.each([
    ['0 3 * * *', 'Europe/Dublin', 'every day at 03:00 Europe/Dublin'],
    ['0 0 3 * * *', 'UTC', 'every day at 03:00 UTC'],
    ['30 2 * * 1-5', 'America/New_York', 'Monday to Friday at 02:30 America/New_York'],
    ['0 4 * * SUN', 'UTC', 'every Sunday at 04:00 UTC'],
    ['0 4 * * 7', 'UTC', 'every Sunday at 04:00 UTC'],
    ['15 1 * * 1,3,5', 'UTC', 'every Monday, Wednesday and Friday at 01:15 UTC'],
    ['0 3,15 * * *', 'UTC', 'every day at 03:00 and 15:00 UTC'],
    ['0 3 1 * *', 'UTC', 'on the 1st of every month at 03:00 UTC'],
    ['0 3 22 * *', 'UTC', 'on the 22nd of every month at 03:00 UTC'],
    ['15 * * * *', 'UTC', 'every hour at :15'],
    ['0 */6 * * *', 'UTC', 'every 6 hours at :00'],
    ['*/10 * * * *', 'UTC', 'every 10 minutes'],
    // Other shapes are said as written, with their zone.
    ['0 3 L * *', 'Europe/Dublin', '`0 3 L * *` in Europe/Dublin'],
    ['0 0 29 2 *', 'UTC', '`0 0 29 2 *` in UTC'],
    ['30 0 3 * * *', 'UTC', '`30 0 3 * * *` in UTC'],
  ])('%s (%s) → %s', (expr, tz, words) => {
    expect(cronInWords(expr, tz)).toBe(words);
  });
});

const base: KubeAppProps = {
  name: 'nightly-svc',
  image: { repository: 'nightly-svc' },
  pods: { containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] },
  owners: ['alice'],
};

describe('refresh settings are checked when the KubeApp is defined, naming the app, the field and the value', () => {
  it.each([
    ['every night', /KubeApp nightly-svc is invalid:\n {2}- refresh\.schedule must be a cron expression with 5 or 6 fields \(got: "every night"\)/],
    ['61 3 * * *', /refresh\.schedule is not a cron expression the scheduler can run: Constraint error, got value 61 expected range 0-59 \(got: "61 3 \* \* \*"\)/],
    ['0 3 31 2 *', /refresh\.schedule is not a cron expression the scheduler can run: Invalid explicit day of month definition \(got: "0 3 31 2 \*"\)/],
    ['H 3 * * *', /refresh\.schedule uses H \(a random value\), which kubecontrol does not support: name the minute and hour \(got: "H 3 \* \* \*"\)/],
  ])('refuses the schedule %p', (schedule, message) => {
    expect(() => defineKubeApp({ ...base, refresh: { schedule } })).toThrow(message);
  });

  it('refuses a time zone Intl does not know, and a refresh policy it does not have', () => {
    expect(() => defineKubeApp({ ...base, refresh: { schedule: '0 3 * * *', timezone: 'Europe/Dublinn' } })).toThrow(
      /KubeApp nightly-svc is invalid:\n {2}- refresh\.timezone must be an IANA time zone like Europe\/Dublin or UTC \(got: "Europe\/Dublinn"\)/,
    );
    expect(() => defineKubeApp({ ...base, refresh: { schedule: '0 3 * * *', autoCutover: 'always' as 'never' } })).toThrow(/refresh\.autoCutover/);
    expect(() => defineKubeApp({ ...base, refresh: { schedule: '0 3 * * *', catchUpMinutes: -5 } })).toThrow(/refresh\.catchUpMinutes/);
  });

  it('resolves the policy field by field: cut over when healthy, no catch-up, unless the app says otherwise', () => {
    expect(defineKubeApp({ ...base, refresh: { schedule: '0 3 * * *' } }).refresh).toEqual({ schedule: '0 3 * * *', channel: '#deploys', timezone: 'UTC', autoCutover: 'when-healthy', catchUpMinutes: 0 });
    expect(defineKubeApp({ ...base, refresh: { schedule: '0 3 * * MON-FRI', timezone: 'Europe/Dublin', autoCutover: 'never', catchUpMinutes: 90 } }).refresh).toMatchObject({
      autoCutover: 'never',
      catchUpMinutes: 90,
    });
  });
});

describe('a schedule whose next run is more than a year away is flagged', () => {
  it('says which app, the schedule and when it would run', () => {
    const now = Date.parse('2026-11-30T09:00:00Z');
    const leap = defineKubeApp({ ...base, name: 'leap-svc', refresh: { schedule: '0 0 29 2 *' } });
    const nightly = defineKubeApp({ ...base, refresh: { schedule: '0 3 * * *' } });
    expect(scheduleWarnings([leap, nightly, defineKubeApp(base)], now)).toEqual([
      'leap-svc: refresh.schedule "0 0 29 2 *" next runs Tue 29 Feb 2028, 00:00 UTC, more than a year away (is that what you meant?)',
    ]);
    // Within the year, it is not flagged.
    expect(scheduleWarnings([leap], Date.parse('2027-06-01T00:00:00Z'))).toEqual([]);
  });
});
