/** How the console writes times, durations, states and people. */
import { formatDuration } from '../../deployer/time.js';
import type { DeployState, StepState } from '../../store/index.js';
import { html, type Html } from '../html.js';

export { formatDuration };

/** `2026-11-30 14:05:09 UTC` (the store's clock; UTC, as the CLI and Slack's fallbacks say it). */
export function utc(at: number, seconds = true): string {
  return `${new Date(at).toISOString().replace('T', ' ').slice(0, seconds ? 19 : 16)} UTC`;
}

/** A `<time>` element: UTC text, the exact instant in `datetime` (so the browser's script may localise it). */
export function time(at: number | null | undefined, seconds = true): Html {
  if (at === null || at === undefined) return html`<span class="muted">—</span>`;
  return html`<time datetime="${new Date(at).toISOString()}">${utc(at, seconds)}</time>`;
}

/** `3m 05s ago`, `in 2h 10m`, at `now`. */
export function relative(at: number, now: number): string {
  const d = now - at;
  if (Math.abs(d) < 1000) return 'just now';
  return d > 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
}

/** A state in words: `awaiting_approval` → `awaiting approval`. */
export function words(state: string): string {
  return state.replace(/_/g, ' ');
}

/** How a state looks: its tone (colour and icon) and its words; colour is never the only cue. */
const TONE: Readonly<Record<DeployState | StepState, 'ok' | 'bad' | 'warn' | 'run' | 'idle'>> = {
  succeeded: 'ok',
  failed: 'bad',
  rejected: 'warn',
  timed_out: 'warn',
  cancelled: 'idle',
  skipped: 'idle',
  pending: 'idle',
  queued: 'idle',
  running: 'run',
  building: 'run',
  provisioning: 'run',
  deploying: 'run',
  awaiting_approval: 'warn',
  cutting_over: 'run',
  tearing_down: 'run',
};
const ICON = { ok: '✓', bad: '✗', warn: '!', run: '▶', idle: '·' } as const;

export function toneOf(state: DeployState | StepState): 'ok' | 'bad' | 'warn' | 'run' | 'idle' {
  return TONE[state] ?? 'idle';
}

/** A state badge: icon and words, coloured by tone. */
export function badge(state: DeployState | StepState): Html {
  const tone = toneOf(state);
  return html`<span class="badge tone-${tone}"><span aria-hidden="true">${ICON[tone]}</span> ${words(state)}</span>`;
}

/** A person as shown: their name, with their id when it differs. */
export function person(id: string, name?: string | null): string {
  return name && name !== id ? `${name} (${id})` : id;
}
