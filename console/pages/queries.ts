/**
 * The console's query strings as zod schemas, shared by the pages and the JSON API
 * (`/api/apps/:app/history`, `/api/apps/:app/dora`, `/api/search`): one definition of
 * what a filter may say, and one sentence per field when it says something else.
 */
import { z } from 'zod';
import { shown } from '../../commands/quote.js';
import { HttpError } from '../http.js';

/** The outcomes a history may be filtered by ('active': not ended). */
export const OUTCOMES = ['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled', 'active'] as const;
/** The DORA windows the app page offers, in days. */
export const WINDOWS = [7, 30, 90] as const;
export const DEFAULT_WINDOW = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** An empty form field is no filter. */
const blank = (v: unknown): unknown => (v === '' ? undefined : v);
const text = (max: number) => z.preprocess(blank, z.string().trim().min(1).max(max).optional());
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** A day (`2026-11-30`, UTC) or an instant (ISO 8601 with a time). */
const instant = z.preprocess(
  blank,
  z
    .string()
    .max(40)
    .refine((s) => !Number.isNaN(Date.parse(s)) && (DATE.test(s) || /^\d{4}-\d{2}-\d{2}T/.test(s)))
    .optional(),
);
const positiveInt = (max: number) => z.preprocess(blank, z.coerce.number().int().min(1).max(max).optional());

export const historyQuery = z.object({
  version: text(128),
  person: text(64),
  outcome: z.preprocess(blank, z.enum(OUTCOMES).optional()),
  from: instant,
  to: instant,
  before: positiveInt(Number.MAX_SAFE_INTEGER),
  limit: positiveInt(100),
  /** The app page's DORA window (days). */
  window: z.preprocess(blank, z.coerce.number().refine((n) => (WINDOWS as readonly number[]).includes(n)).optional()),
  /** The app page's manifests: the version to render. */
  manifests: text(128),
});

export const doraQuery = z.object({
  window: z.preprocess(blank, z.coerce.number().int().min(1).max(366).optional()),
});

export const searchQuery = z.object({
  q: z.preprocess((v) => (v === undefined ? '' : v), z.string().max(200)),
  limit: positiveInt(100),
});

/** What each field takes, for the sentence of a bad query. */
const TAKES: Readonly<Record<string, string>> = {
  version: 'a version, or a prefix ending in * (at most 128 characters)',
  person: 'a person’s id or name (at most 64 characters)',
  outcome: `one of ${OUTCOMES.join(', ')}`,
  from: 'a date like 2026-11-30 or an ISO 8601 time',
  to: 'a date like 2026-11-30 (the whole day) or an ISO 8601 time',
  before: 'a deploy id (the next page’s link carries it)',
  limit: 'a whole number from 1 to 100',
  window: 'a number of days (the page offers 7, 30 or 90; the API takes 1 to 366)',
  manifests: 'a version (at most 128 characters)',
  q: 'text of at most 200 characters',
};

/** Validates a query string; a 400 naming each bad field, what it takes and what it got. */
export function parseQuery<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const q = (value ?? {}) as Record<string, unknown>;
  const fields = [...new Set(result.error.issues.map((i) => String(i.path[0] ?? '')))];
  const message = fields
    .map((f) => (f ? `${f} must be ${TAKES[f] ?? 'something else'} (got: ${shown(Array.isArray(q[f]) ? (q[f] as unknown[]).join(',') : String(q[f] ?? ''))})` : 'the query is not valid'))
    .join('; ');
  throw new HttpError(400, 'bad_query', message);
}

/** The history filters as the pages and the API use them: instants in ms, `to` exclusive. */
export interface HistoryFilters {
  readonly version?: string;
  readonly person?: string;
  readonly outcome?: (typeof OUTCOMES)[number];
  readonly from?: number;
  /** Exclusive end (ms). */
  readonly to?: number;
  /** The day the form's `to` named (its start), to show it again. */
  readonly toDay?: number;
  readonly before?: number;
  readonly limit?: number;
}

/** From the parsed query to filters: a day's `to` means the end of that day. */
export function historyFilters(q: z.infer<typeof historyQuery>): HistoryFilters {
  const from = q.from ? Date.parse(DATE.test(q.from) ? `${q.from}T00:00:00Z` : q.from) : undefined;
  const toStart = q.to ? Date.parse(DATE.test(q.to) ? `${q.to}T00:00:00Z` : q.to) : undefined;
  const to = q.to && DATE.test(q.to) ? toStart! + DAY_MS : toStart;
  return {
    ...(q.version ? { version: q.version } : {}),
    ...(q.person ? { person: q.person } : {}),
    ...(q.outcome ? { outcome: q.outcome } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(q.to && DATE.test(q.to) ? { toDay: toStart } : {}),
    ...(q.before ? { before: q.before } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
  };
}

/** The DORA window [from, to) of `days` ending at `now`. */
export function doraWindow(days: number, now: number): { from: number; to: number } {
  return { from: now - days * DAY_MS, to: now };
}
