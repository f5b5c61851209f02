/**
 * The fault matrix's report: each suite (sandbox, aws) records its cells, and
 * the table (step × fault × provider → outcome) is written to
 * test-artifacts/fault-matrix.md, where the bench copies it into
 * BENCHMARKS.md. Each provider's cells are kept in their own JSON file so the
 * two suites can run in parallel workers and the table still holds both.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAULTS = ['throttle', 'timeout', 'error'] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_TITLES: Readonly<Record<Fault, string>> = {
  throttle: 'throttled, then succeeds',
  timeout: 'times out',
  error: 'hard error',
};

/** One cell: what was injected where, what was expected, what happened. */
export interface Cell {
  readonly provider: 'sandbox' | 'aws';
  /** The pipeline step (build, provision, deploy, cutover, teardown, cleanup). */
  readonly step: string;
  /** The call the fault was injected into (a sub-step of the aws provider). */
  readonly sub: string;
  readonly fault: Fault;
  /** The outcome, in a few words. */
  outcome: string;
  /** Whether every assertion of the cell held. */
  ok: boolean;
  /** Why not, when not. */
  problem?: string;
}

const ROOT = new URL('../../', import.meta.url).pathname;
export const ARTIFACTS = join(ROOT, 'test-artifacts');
const PARTS = join(ARTIFACTS, 'fault-matrix');

/** Writes `cells` as `provider`'s part and renders the whole table from every part present. */
export function writeMatrix(provider: Cell['provider'], cells: readonly Cell[], notes: readonly string[] = []): string {
  mkdirSync(PARTS, { recursive: true });
  writeFileSync(join(PARTS, `${provider}.json`), JSON.stringify({ provider, notes, cells, at: new Date().toISOString() }, null, 2));
  const parts = readdirSync(PARTS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .reverse() // sandbox first, then aws
    .map((f) => JSON.parse(readFileSync(join(PARTS, f), 'utf8')) as { provider: string; notes: string[]; cells: Cell[]; at: string });
  const lines: string[] = [
    '# Fault matrix',
    '',
    'Written by `npm run test:reliability` (`test/reliability/fault-matrix-*.test.ts`). One blue/green deploy per cell, the fault injected into',
    'one call of one step, time driven by a ManualClock. A cell is ✓ when the deploy ended as it should (throttled → succeeded;',
    'timed out or hard error → failed and undone, or for the teardown of the old cluster, which runs after traffic moved: succeeded,',
    'with what could not be deleted left to `gc`), the events named the step and why, and nothing was left undeleted: no ledger row,',
    'no sandbox object, no cluster, load balancer or record in the fake AWS account but the live ones.',
    '',
    `| provider | step | call | ${FAULTS.map((f) => FAULT_TITLES[f]).join(' | ')} |`,
    `|---|---|---|${FAULTS.map(() => '---').join('|')}|`,
  ];
  for (const part of parts) {
    const rows = new Map<string, Cell[]>();
    for (const c of part.cells) rows.set(`${c.step}\u0000${c.sub}`, [...(rows.get(`${c.step}\u0000${c.sub}`) ?? []), c]);
    for (const [key, row] of rows) {
      const [step, sub] = key.split('\u0000') as [string, string];
      const cellText = (f: Fault): string => {
        const c = row.find((x) => x.fault === f);
        if (!c) return '—';
        return `${c.ok ? '✓' : '✗'} ${c.outcome}${c.ok ? '' : ` — ${c.problem ?? 'see the test output'}`}`.replace(/\|/g, '\\|').replace(/\n/g, ' ');
      };
      lines.push(`| ${part.provider} | ${step} | ${sub} | ${FAULTS.map(cellText).join(' | ')} |`);
    }
  }
  const all = parts.flatMap((p) => p.cells);
  lines.push('', `${all.filter((c) => c.ok).length} of ${all.length} cells as expected.`);
  for (const part of parts) for (const n of part.notes) lines.push('', `${part.provider}: ${n}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(ARTIFACTS, 'fault-matrix.md'), text);
  return text;
}

/** `text` cut at a word before `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max / 2))}…`;
}

/** Runs `assertions`, recording the first failure on `cell` (and rethrowing it, so the test fails too). */
export async function judged(cell: Cell, assertions: () => void | Promise<void>): Promise<void> {
  try {
    await assertions();
    cell.ok = true;
  } catch (err) {
    cell.ok = false;
    cell.problem = (err instanceof Error ? err.message : String(err)).split('\n').filter((l) => l.trim()).slice(0, 3).join(' ').slice(0, 300);
    throw err;
  }
}
