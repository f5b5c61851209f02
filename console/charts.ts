/**
 * Small server-side SVG charts for the DORA page, without a dependency: deploys per day (failed
 * stacked in another colour) and the median lead time per day (a line with a dot per day).
 *
 * Accessible: each chart is `role="img"`, labelled by its `<title>` and described by a `<desc>` that
 * says every number in words, so a screen reader gets the data and not a picture of it; each bar and
 * dot has its own `<title>` too (a tooltip). Sized by its viewBox (width 100%), so it scales on a phone.
 * Colours meet WCAG's 3:1 for graphics on white (blue #0969da 5.2:1, red #cf222e 5.4:1, grey text
 * #57606a 6.4:1); red and blue are close in lightness, so failed is also hatched, stacked on top, and
 * said by the legend's words and the titles.
 * Every text and attribute value is escaped.
 */
import type { DoraReport } from './model.js';

/** One day's bar: deploys that held, and deploys that failed (stacked on top). */
export interface DayBar {
  readonly day: string;
  readonly ok: number;
  readonly failed: number;
}

/** One day's value in ms, or null when the day has none (the line breaks there). */
export interface DayValue {
  readonly day: string;
  readonly ms: number | null;
}

export interface ChartOptions {
  /** Prefix of the element ids (title, desc): unique on the page. */
  readonly id: string;
  readonly title: string;
}

const W = 640;
const H = 240;
const M = { left: 56, right: 16, top: 36, bottom: 36 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const BLUE = '#0969da';
const RED = '#cf222e';
const INK = '#57606a';
const GRID = '#d0d7de';
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

/** Escapes text and attribute values for XML. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number for an SVG attribute (two decimals at most). */
const n = (v: number): string => String(Math.round(v * 100) / 100);

/** An id made only of safe characters. */
const safeId = (id: string): string => id.replace(/[^A-Za-z0-9_-]/g, '-') || 'chart';

/** A duration in words: "45 s", "12 min", "2 h 5 min", "1 d 3 h". */
export function durationWords(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(ms / 60_000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** The day label under a bar: "11-30" (the year is in the title and desc). */
const short = (day: string): string => day.slice(5);

function frame(o: ChartOptions, desc: string, body: string): string {
  const id = safeId(o.id);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-labelledby="${id}-title ${id}-desc" ${FONT} font-size="12">` +
    `<title id="${id}-title">${esc(o.title)}</title>` +
    `<desc id="${id}-desc">${esc(desc)}</desc>` +
    `<text x="${M.left}" y="20" fill="${INK}" font-size="14" font-weight="600">${esc(o.title)}</text>` +
    body +
    `</svg>`
  );
}

/** Day labels along the bottom: every day up to 14, else about 10 of them. */
function xLabels(days: readonly string[], centre: (i: number) => number): string {
  const every = days.length <= 14 ? 1 : Math.ceil(days.length / 10);
  return days
    .map((d, i) => (i % every ? '' : `<text x="${n(centre(i))}" y="${H - M.bottom + 16}" text-anchor="middle" fill="${INK}">${esc(short(d))}</text>`))
    .join('');
}

/** Horizontal grid lines and their labels at `ticks` (values), scaled by `y`. */
function yAxis(ticks: readonly number[], y: (v: number) => number, label: (v: number) => string): string {
  return ticks
    .map(
      (t) =>
        `<line x1="${M.left}" x2="${W - M.right}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="${GRID}" stroke-width="1"/>` +
        `<text x="${M.left - 6}" y="${n(y(t) + 4)}" text-anchor="end" fill="${INK}">${esc(label(t))}</text>`,
    )
    .join('');
}

function legend(items: readonly { colour: string; label: string; pattern?: string }[]): string {
  let x = W - M.right;
  const parts: string[] = [];
  for (const item of [...items].reverse()) {
    const width = 18 + item.label.length * 7;
    x -= width;
    const swatch = `<rect x="${n(x)}" y="10" width="10" height="10" fill="${item.colour}"/>` + (item.pattern ? `<rect x="${n(x)}" y="10" width="10" height="10" fill="url(#${item.pattern})"/>` : '');
    parts.push(`${swatch}<text x="${n(x + 14)}" y="19" fill="${INK}">${esc(item.label)}</text>`);
    x -= 12;
  }
  return parts.join('');
}

const plural = (k: number, one: string, many = `${one}s`): string => `${k} ${k === 1 ? one : many}`;

/**
 * Deploys per day as stacked bars: `ok` (blue) below, `failed` (red) on top. The desc says, in
 * words, the range, the totals and every day's numbers.
 */
export function deploysPerDayChart(bars: readonly DayBar[], o: ChartOptions, labels = { ok: 'went live', failed: 'failed' }): string {
  if (!bars.length) return frame(o, `${o.title}: no days to show.`, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="${INK}">No days to show</text>`);
  const totals = bars.map((b) => b.ok + b.failed);
  const top = Math.max(1, ...totals);
  const step = Math.max(1, Math.ceil(top / 4));
  const max = step * Math.ceil(top / step);
  const ticks = Array.from({ length: max / step + 1 }, (_, i) => i * step);
  const y = (v: number): number => M.top + PLOT_H - (v / max) * PLOT_H;
  const slot = PLOT_W / bars.length;
  const barW = Math.max(1, slot * 0.7);
  const centre = (i: number): number => M.left + slot * i + slot / 2;
  // Red and blue are close in lightness: failed is hatched too, so it reads without colour.
  const hatch = `${safeId(o.id)}-hatch`;
  const defs =
    `<defs><pattern id="${hatch}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2" stroke-opacity="0.6"/></pattern></defs>`;
  const body = bars
    .map((b, i) => {
      const x = centre(i) - barW / 2;
      const words = b.ok + b.failed ? [b.ok ? `${b.ok} ${labels.ok}` : '', b.failed ? `${b.failed} ${labels.failed}` : ''].filter(Boolean).join(', ') : 'none';
      const okH = y(0) - y(b.ok);
      const failH = y(0) - y(b.failed);
      return (
        `<g><title>${esc(`${b.day}: ${words}`)}</title>` +
        (b.ok ? `<rect x="${n(x)}" y="${n(y(b.ok))}" width="${n(barW)}" height="${n(okH)}" fill="${BLUE}"/>` : '') +
        (b.failed
          ? `<rect x="${n(x)}" y="${n(y(b.ok + b.failed))}" width="${n(barW)}" height="${n(failH)}" fill="${RED}" stroke="#ffffff" stroke-width="1"/>` +
            `<rect x="${n(x)}" y="${n(y(b.ok + b.failed))}" width="${n(barW)}" height="${n(failH)}" fill="url(#${hatch})"/>`
          : '') +
        `</g>`
      );
    })
    .join('');
  const ok = bars.reduce((s, b) => s + b.ok, 0);
  const failed = bars.reduce((s, b) => s + b.failed, 0);
  const days = bars
    .map((b) => {
      if (!b.ok && !b.failed) return `${b.day}: none`;
      return `${b.day}: ${[b.ok ? `${b.ok} ${labels.ok}` : '', b.failed ? `${b.failed} ${labels.failed}` : ''].filter(Boolean).join(', ')}`;
    })
    .join('; ');
  const desc = `${o.title}, ${bars[0]!.day} to ${bars[bars.length - 1]!.day} (UTC): ${plural(ok + failed, 'deploy')} in all, ${ok} ${labels.ok} and ${failed} ${labels.failed}. ${days}.`;
  return frame(
    o,
    desc,
    defs +
      yAxis(ticks, y, String) +
      `<line x1="${M.left}" x2="${W - M.right}" y1="${n(y(0))}" y2="${n(y(0))}" stroke="${INK}" stroke-width="1"/>` +
      body +
      xLabels(bars.map((b) => b.day), centre) +
      legend([
        { colour: BLUE, label: labels.ok },
        { colour: RED, label: labels.failed, pattern: hatch },
      ]),
  );
}

/** Nice upper bounds for a duration axis. */
const NICE_MS = [1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 4320, 10080, 20160, 43200].map((m) => m * 60_000);

/**
 * A value per day as a line (broken on days without a value) with a dot on each value. The desc
 * says every day's value in words, and which days have none.
 */
export function leadTimeChart(points: readonly DayValue[], o: ChartOptions): string {
  const values = points.filter((p): p is DayValue & { ms: number } => p.ms !== null);
  if (!points.length || !values.length) {
    const range = points.length ? `, ${points[0]!.day} to ${points[points.length - 1]!.day} (UTC)` : '';
    return frame(o, `${o.title}${range}: no deploys went live, so there is no lead time to show.`, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="${INK}">No deploys went live</text>`);
  }
  const top = Math.max(...values.map((p) => p.ms));
  const max = NICE_MS.find((m) => m >= top) ?? Math.ceil(top / 86_400_000) * 86_400_000;
  const ticks = [0, max / 2, max];
  const y = (v: number): number => M.top + PLOT_H - (v / max) * PLOT_H;
  const slot = PLOT_W / points.length;
  const centre = (i: number): number => M.left + slot * i + slot / 2;
  // One polyline per run of consecutive days with a value.
  const runs: string[][] = [];
  let run: string[] = [];
  points.forEach((p, i) => {
    if (p.ms === null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push(`${n(centre(i))},${n(y(p.ms))}`);
  });
  if (run.length) runs.push(run);
  const lines = runs
    .filter((r) => r.length > 1)
    .map((r) => `<polyline points="${r.join(' ')}" fill="none" stroke="${BLUE}" stroke-width="2" stroke-linejoin="round"/>`)
    .join('');
  const dots = points
    .map((p, i) =>
      p.ms === null
        ? ''
        : `<circle cx="${n(centre(i))}" cy="${n(y(p.ms))}" r="4" fill="${BLUE}" stroke="#ffffff" stroke-width="1"><title>${esc(`${p.day}: ${durationWords(p.ms)}`)}</title></circle>`,
    )
    .join('');
  const days = points.map((p) => `${p.day}: ${p.ms === null ? 'no deploys' : durationWords(p.ms)}`).join('; ');
  const desc = `${o.title}, ${points[0]!.day} to ${points[points.length - 1]!.day} (UTC), from ${durationWords(Math.min(...values.map((p) => p.ms)))} to ${durationWords(top)}. ${days}.`;
  return frame(
    o,
    desc,
    yAxis(ticks, y, (v) => (v === 0 ? '0' : durationWords(v))) +
      `<line x1="${M.left}" x2="${W - M.right}" y1="${n(y(0))}" y2="${n(y(0))}" stroke="${INK}" stroke-width="1"/>` +
      lines +
      dots +
      xLabels(points.map((p) => p.day), centre),
  );
}

/** The DORA page's two charts from a report: deploys per day (held / failed) and median lead time per day. */
export function doraCharts(report: DoraReport, idPrefix = 'dora'): { readonly deploys: string; readonly leadTime: string } {
  return {
    deploys: deploysPerDayChart(
      report.daily.map((d) => ({ day: d.day, ok: d.changes - d.failed, failed: d.failed })),
      { id: `${idPrefix}-deploys`, title: `Deploys of ${report.app} per day` },
    ),
    leadTime: leadTimeChart(
      report.daily.map((d) => ({ day: d.day, ms: d.leadTimeMedianMs })),
      { id: `${idPrefix}-lead-time`, title: `Median lead time of ${report.app} per day (request to live)` },
    ),
  };
}
