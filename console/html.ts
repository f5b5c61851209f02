/**
 * The console's HTML templates: a typed tagged template that escapes every
 * interpolation by default. `html\`<td>${deploy.version}</td>\`` is safe
 * whatever the version says; a fragment that is already HTML is an `Html`
 * (what `html` returns), and a string that is trusted HTML must be said so
 * explicitly with `raw()` — so a forgotten escape is not possible, only a
 * deliberate `raw` is, and those are few and greppable.
 *
 * Why not JSX on the server: it needs a compiler step (tsx/ts-jest would
 * compile it, but the JSX runtime and its typing are one more dependency and
 * one more way to render); a tagged template is plain TypeScript, and its
 * escaping is twenty lines anyone can read.
 */

/** A piece of HTML that is safe to insert as is. Only `html` and `raw` make one. */
export class Html {
  /** @internal use `html` or `raw` */
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What may be interpolated: text (escaped), HTML, lists of them, and nothing (`null`, `undefined`, `false` render as nothing). */
export type Interpolation = Html | string | number | bigint | boolean | null | undefined | readonly Interpolation[];

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(render).join('');
  return escapeHtml(String(value));
}

/** The tagged template: every interpolation is escaped unless it is `Html`. */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted HTML, inserted as is: markup this code built itself (an SVG chart), never text a person typed. */
export function raw(trusted: string): Html {
  return new Html(trusted);
}

/** Joins fragments with a separator (itself escaped unless Html). */
export function join(parts: readonly Interpolation[], separator: Interpolation = ''): Html {
  return new Html(parts.map(render).join(render(separator)));
}

/** A URL path from segments, each percent-encoded: `path('apps', name)` → `/apps/search-svc`. */
export function path(...segments: readonly (string | number)[]): string {
  return `/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}

/** A query string from the defined, non-empty values: `?version=v1&before=20`, or '' when there are none. */
export function query(params: Readonly<Record<string, string | number | undefined | null>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A link target only if it is an http(s) URL (a Slack permalink); anything else (javascript:, data:) is no link. */
export function safeHref(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}
