/**
 * Cron arithmetic, in one place: the next run after a moment, the runs between
 * two moments (what a restarted server missed), a schedule in words, and the
 * warnings a schedule deserves. Every next-run computation in kubecontrol (the
 * scheduler's timers, `schedules`, the console, the checks at load) goes
 * through cron-parser here, so they cannot disagree — across a daylight-saving
 * change included: a time that does not exist that night (02:30 when clocks
 * jump from 02:00 to 03:00) runs at the first moment after the jump; a time
 * that happens twice (01:30 when clocks go back) runs once, the first time.
 *
 * Why cron-parser and not node-cron: node-cron 4 only says when a running task
 * fires next from the wall clock (`getNextRun`), and cannot iterate from an
 * arbitrary date, which both the injected clock and the missed-run catch-up need.
 */
import { CronExpressionParser } from 'cron-parser';
import type { KubeApp } from '../kubeapps/index.js';

/** A schedule whose next run is further away than this is flagged (`scheduleWarnings`). */
export const FAR_AWAY_MS = 366 * 24 * 3_600_000;

/** The first run of `expr` in `timezone` strictly after `after` (ms), or null when it never runs again. */
export function nextRun(expr: string, timezone: string, after: number): number | null {
  try {
    const it = CronExpressionParser.parse(expr.trim(), { currentDate: new Date(after), tz: timezone });
    return it.next().toDate().getTime();
  } catch {
    return null;
  }
}

/**
 * The runs of `expr` in `timezone` after `after` (exclusive) up to `until` (inclusive), oldest
 * first, at most `limit` of them (`more` says there were more; the newest are the ones kept).
 */
export function runsBetween(expr: string, timezone: string, after: number, until: number, limit = 1000): { runs: number[]; more: boolean } {
  if (until <= after) return { runs: [], more: false };
  const runs: number[] = [];
  let more = false;
  try {
    const it = CronExpressionParser.parse(expr.trim(), { currentDate: new Date(after), endDate: new Date(until), tz: timezone });
    while (it.hasNext()) {
      runs.push(it.next().toDate().getTime());
      if (runs.length > limit) {
        runs.shift();
        more = true;
      }
    }
  } catch {
    // An expression that never runs again has no runs to miss.
  }
  return { runs, more };
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const NUMBER = /^\d{1,2}$/;

/** A day-of-week field value (0-7 or SUN-SAT) as a day's name. */
function dayName(v: string): string | undefined {
  if (NUMBER.test(v)) return Number(v) <= 7 ? DAYS[Number(v) % 7] : undefined;
  const i = DAY_NAMES.indexOf(v.toUpperCase());
  return i >= 0 ? DAYS[i] : undefined;
}

/** "Monday, Wednesday and Friday". */
function and(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** 1st, 2nd, 3rd, 11th, 21st. */
function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * A cron expression in words, for the common shapes: "every day at 03:00 Europe/Dublin",
 * "Monday to Friday at 02:30 UTC", "every Sunday at 04:00 UTC", "on the 1st of every month at
 * 03:00 UTC", "every hour at :15", "every 15 minutes". Any other shape is given as written, with
 * its time zone: "`0 3 L * *` in Europe/Dublin".
 */
export function cronInWords(expr: string, timezone: string): string {
  const asWritten = `\`${expr.trim()}\` in ${timezone}`;
  const f = expr.trim().split(/\s+/);
  if (f.length === 6 && f[0] !== '0') return asWritten;
  if (f.length !== 5 && f.length !== 6) return asWritten;
  const [min, hour, dom, mon, dow] = (f.length === 6 ? f.slice(1) : f) as [string, string, string, string, string];
  const anyDay = (v: string): boolean => v === '*' || v === '?';
  if (!anyDay(mon)) return asWritten;
  const step = /^\*\/(\d+)$/;
  // Sub-daily shapes: the zone does not change what they mean.
  if (anyDay(dom) && anyDay(dow)) {
    if (min === '*' && hour === '*') return 'every minute';
    if (step.test(min) && hour === '*') return `every ${step.exec(min)![1]} minutes`;
    if (NUMBER.test(min) && hour === '*') return `every hour at :${min.padStart(2, '0')}`;
    if (NUMBER.test(min) && step.test(hour)) return `every ${step.exec(hour)![1]} hours at :${min.padStart(2, '0')}`;
  }
  const hours = hour.split(',');
  if (!NUMBER.test(min) || !hours.every((h) => NUMBER.test(h))) return asWritten;
  const at = `at ${and(hours.map((h) => `${h.padStart(2, '0')}:${min.padStart(2, '0')}`))} ${timezone}`;
  if (anyDay(dom) && anyDay(dow)) return `every day ${at}`;
  if (anyDay(dom)) {
    const range = /^(\w+)-(\w+)$/.exec(dow);
    if (range) {
      const [from, to] = [dayName(range[1]!), dayName(range[2]!)];
      return from && to ? `${from} to ${to} ${at}` : asWritten;
    }
    const days = dow.split(',').map(dayName);
    if (days.some((d) => !d)) return asWritten;
    return days.length === 1 ? `every ${days[0]} ${at}` : `every ${and(days as string[])} ${at}`;
  }
  if (anyDay(dow) && NUMBER.test(dom)) return `on the ${ordinal(Number(dom))} of every month ${at}`;
  return asWritten;
}

/** A moment in a schedule's own zone, as people read it: "Mon 30 Nov 2026, 03:00 Europe/Dublin". */
export function localTime(ms: number, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const p = (type: Intl.DateTimeFormatPartTypes): string => parts.find((x) => x.type === type)?.value ?? '';
  return `${p('weekday')} ${p('day')} ${p('month')} ${p('year')}, ${p('hour')}:${p('minute')} ${timezone}`;
}

/**
 * What a person should look at in the apps' schedules, one line each (`apps validate`, the start
 * banner): a schedule whose next run is more than a year away (`0 0 29 2 *` is a leap day), or one
 * that never runs again.
 */
export function scheduleWarnings(apps: Iterable<KubeApp>, now: number): string[] {
  const out: string[] = [];
  for (const a of apps) {
    const r = a.refresh;
    if (!r) continue;
    const next = nextRun(r.schedule, r.timezone, now);
    if (next === null) out.push(`${a.name}: refresh.schedule "${r.schedule}" (${r.timezone}) never runs again`);
    else if (next - now > FAR_AWAY_MS) {
      out.push(`${a.name}: refresh.schedule "${r.schedule}" next runs ${localTime(next, r.timezone)}, more than a year away (is that what you meant?)`);
    }
  }
  return out;
}
