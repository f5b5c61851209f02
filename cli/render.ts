/** Terminal rendering of the command core's results and of deploy progress. */
import type { AppStatus, CommandResult, DeployView, ErrorCode } from '../commands/results.js';
import type { GcEntry, GcReport } from '../deployer/gc.js';
import type { DeployPlan } from '../deployer/plan.js';
import { formatDuration } from '../deployer/time.js';
import type { EventRecord } from '../store/index.js';

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string): string => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const cyan = paint(36);

const STEP_ICON: Record<string, string> = { running: '⟳', succeeded: '✓', failed: '✗', cancelled: '⊘', skipped: '–', pending: '·' };

export function stateColour(state: string): string {
  if (state === 'succeeded') return green(state);
  if (['failed', 'rejected', 'timed_out', 'cancelled'].includes(state)) return red(state);
  if (state === 'awaiting_approval') return yellow(state);
  return cyan(state);
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const width = (s: string): number => s.replace(/\x1b\[\d+m/g, '').length;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i] ?? ''))));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join('  ').trimEnd()).join('\n');
}

function plan(p: DeployPlan): string {
  const section = (title: string, items: readonly string[]): string[] => (items.length ? [bold(title), ...items.map((i) => `  + ${i}`)] : []);
  return [
    `${bold('Plan')} for ${p.app} ${p.version} (${p.strategy}) on ${p.provider} — nothing was changed`,
    `image: ${p.image.uri} ${p.image.exists ? green('(exists, reused)') : yellow('(missing, will be built)')}`,
    ...section('build', p.build),
    ...section('create', p.create),
    ...section('change', p.change),
    ...section('delete', p.delete),
    ...p.warnings.map((w) => yellow(`! ${w}`)),
  ].join('\n');
}

function deployLine(d: DeployView): string[] {
  return [
    `#${d.id}`,
    d.version,
    d.strategy + (d.kind === 'rollback' ? ' (rollback)' : ''),
    d.requestedByName ?? d.requestedBy,
    when(d.createdAt),
    stateColour(d.state),
    formatDuration(d.durationMs),
  ];
}

function status(apps: readonly AppStatus[], provider: string): string {
  const lines = [dim(`provider: ${provider}`)];
  for (const s of apps) {
    const live = s.live ? `${green(s.live.version)} on ${s.live.cluster} (deploy #${s.live.deployId})` : dim('not deployed');
    lines.push(`${bold(s.app)}  ${live}${s.lock ? red(`  LOCKED by ${s.lock.lockedBy}: ${s.lock.reason}`) : ''}`);
    for (const d of s.active) {
      const queue = d.queue && d.queue.position > 0 ? yellow(` (#${d.queue.position} in line)`) : '';
      lines.push(`  #${d.id} ${d.version} ${d.strategy} ${stateColour(d.state)}${queue} by ${d.requestedByName ?? d.requestedBy}, ${formatDuration(d.durationMs)}`);
    }
  }
  return lines.join('\n');
}

/**
 * The mark before an error message, per code (every code: a new one must be
 * placed here). `✗` for an answer that stands; `!` for one that may change on
 * a second try because nothing was decided.
 */
export function errorMark(code: ErrorCode): string {
  switch (code) {
    case 'group_lookup_failed':
      // Whether the person may act is unknown until the group resolves: not a refusal.
      return yellow('!');
    case 'empty':
    case 'unknown_command':
    case 'missing_argument':
    case 'bad_argument':
    case 'unknown_flag':
    case 'extra_argument':
    case 'unknown_app':
    case 'unknown_deploy':
    case 'forbidden':
    case 'self_approval':
    case 'locked':
    case 'not_locked':
    case 'wrong_state':
    case 'no_live_version':
    case 'no_previous_version':
    case 'unhealthy_target':
    case 'infrastructure':
      return red('✗');
    default: {
      // The compiler sees every code above; at run time a newer server may still send one this CLI does not know.
      const unknown: never = code;
      void unknown;
      return red('✗');
    }
  }
}

/** Human rendering of any result. */
export function renderResult(r: CommandResult): string {
  switch (r.kind) {
    case 'error':
      return `${errorMark(r.code)} ${r.message}`;
    case 'plan':
      return plan(r.plan);
    case 'status':
      return status(r.apps, r.provider);
    case 'history':
      if (!r.deploys.length) return r.message;
      return table([['DEPLOY', 'VERSION', 'STRATEGY', 'WHO', 'WHEN (UTC)', 'OUTCOME', 'DURATION'].map(dim), ...r.deploys.map(deployLine)]);
    case 'apps':
      return table([
        ['APP', 'STRATEGY', 'LIVE', 'DNS', 'HARDWARE', 'DEPLOYERS', 'APPROVERS'].map(dim),
        ...r.apps.map((a) => [
          bold(a.name) + (a.locked ? red(' (locked)') : ''),
          a.strategy,
          a.liveVersion ?? '-',
          a.dns,
          a.hardware,
          [...a.owners, ...a.deployers].join(','),
          a.approvers.join(','),
        ]),
      ]);
    case 'help':
      return r.text.replace(/`/g, '');
    default:
      return `${green('✓')} ${r.message}`;
  }
}

/** One progress line for a deploy event. */
export function renderEvent(e: EventRecord, startedAt: number): string {
  const t = dim(formatDuration(Math.max(0, e.at - startedAt)).padStart(7));
  const step = e.step ? cyan(e.step.padEnd(9)) : ' '.repeat(9);
  const icon =
    e.kind === 'step' && e.data && typeof e.data.state === 'string'
      ? (STEP_ICON[e.data.state] ?? '•')
      : e.kind === 'state'
        ? '▸'
        : e.level === 'error'
          ? red('✗')
          : e.level === 'warn'
            ? yellow('!')
            : '·';
  const text = e.kind === 'state' ? bold(e.message) : e.level === 'error' ? red(e.message) : e.message;
  return `${t} ${step} ${icon} ${text}`;
}

/** The end of a followed deploy. */
export function renderSummary(d: DeployView): string {
  const steps = d.steps.map((s) => `${STEP_ICON[s.state] ?? '·'} ${s.name}`).join('  ');
  const head = d.state === 'succeeded' ? green(`✓ deploy #${d.id} succeeded`) : red(`✗ deploy #${d.id} ${d.state.replace('_', ' ')}`);
  const detail = d.state === 'succeeded' ? `${d.app} ${d.version} is live on ${d.toCluster}` : (d.error ?? '');
  const cleanup = d.cleanup === 'done' ? ' — everything it created was torn down' : d.cleanup === 'failed' ? red(' — cleanup incomplete: run `kubecontrol gc`') : '';
  return `${head} in ${formatDuration(d.durationMs)}: ${detail}${cleanup}\n${dim(steps)}`;
}

/** `kubecontrol gc`'s answer: what it would delete (or did), and another installation's resources apart, untouched. */
export function renderGc(report: Pick<GcReport, 'provider' | 'orphans' | 'deleted'> & { readonly others?: GcReport['others'] }): string {
  const line = (r: GcEntry): string => `${r.outcome ? (r.outcome === 'deleted' ? '✓ deleted' : red(`✗ ${r.outcome}`)) : '·'} ${r.kind} ${r.name} — ${r.reason}`;
  const lines = [dim(`provider: ${report.provider}`)];
  if (!report.orphans.length) lines.push('Nothing to collect: every tagged resource belongs to a live or running deploy.');
  lines.push(...report.orphans.map(line));
  if (report.orphans.length && !report.deleted) lines.push(dim('Run `kubecontrol gc --yes` to delete them.'));
  // Grouped by installation, each under its own heading; never deleted, so never an outcome.
  const byInstallation = new Map<string, GcEntry[]>();
  for (const r of report.others ?? []) byInstallation.set(r.installation ?? '?', [...(byInstallation.get(r.installation ?? '?') ?? []), r]);
  for (const [id, rs] of byInstallation) {
    lines.push('', bold(`belongs to another kubecontrol installation (${id}): not touched`));
    lines.push(...rs.map((r) => `  ${dim('·')} ${r.kind} ${r.name}${r.cluster && r.kind !== 'cluster' ? dim(` (cluster ${r.cluster})`) : ''}`));
  }
  return lines.join('\n');
}
