/** Terminal rendering of the command core's results and of deploy progress. */
import type { AppStatus, CommandResult, DeployView, ErrorCode, ScheduleView } from '../commands/results.js';
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

/** Whether a code point takes two columns in a terminal: East Asian wide and fullwidth, and emoji. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) ||
    // The few emoji below U+1F300 that terminals draw wide: ⌛ ⏳ ✅ ❌ ✋.
    [0x231a, 0x231b, 0x23f3, 0x2705, 0x270a, 0x270b, 0x274c, 0x2753, 0x2757].includes(cp)
  );
}

/**
 * How many terminal columns `text` takes: colour codes take none, combining marks and
 * joiners none, wide characters (CJK, emoji) two, anything else — `✓`, `é`, `→` — one.
 */
export function displayWidth(text: string): number {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[\d;]*m/g, '');
  let width = 0;
  for (const ch of plain) {
    const cp = ch.codePointAt(0)!;
    if (/\p{M}/u.test(ch) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

/** Rows as columns that line up: each column as wide as its widest cell (in terminal columns), two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ''))));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i]! - displayWidth(c))).join('  ').trimEnd()).join('\n');
}

/**
 * A plan's lines, marked as every surface marks them: `+` created (and built), `~` changed in place,
 * `-` deleted.
 */
export const PLAN_MARKS = { build: '+', create: '+', change: '~', delete: '-' } as const;

function plan(p: DeployPlan): string {
  const section = (title: keyof typeof PLAN_MARKS, items: readonly string[], colour: (s: string) => string): string[] =>
    items.length ? [bold(title), ...items.map((i) => `  ${colour(PLAN_MARKS[title])} ${i}`)] : [];
  const inPlace = p.operation === 'scale' || p.operation === 'restart';
  return [
    p.operation
      ? `${bold('Plan')} for ${p.operation} of ${p.app} ${p.version}${inPlace ? ' (in place)' : ' (blue-green)'} on ${p.provider} — nothing was changed`
      : `${bold('Plan')} for ${p.app} ${p.version} (${p.strategy}) on ${p.provider} — nothing was changed`,
    ...(inPlace ? [] : [`image: ${p.image.uri} ${p.image.exists ? green('(exists, reused)') : yellow('(missing, will be built)')}`]),
    ...section('build', p.build, green),
    ...section('create', p.create, green),
    ...section('change', p.change, yellow),
    ...section('delete', p.delete, red),
    ...(p.notes ?? []).map((n) => dim(`· ${n}`)),
    ...p.warnings.map((w) => yellow(`! ${w}`)),
  ].join('\n');
}

function deployLine(d: DeployView): string[] {
  return [
    `#${d.id}`,
    d.version,
    d.strategy + (d.kind === 'deploy' ? '' : ` (${d.kind})`),
    d.requestedByName ?? d.requestedBy,
    when(d.createdAt),
    stateColour(d.state),
    formatDuration(d.durationMs),
  ];
}

/** A time of day with seconds: `09:02:00 UTC` (drains are short in the sandbox). */
function clockTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)} UTC`;
}

/**
 * What a drain means, in the words every surface uses: the new version is live (DNS points at it),
 * the old one drains until its teardown and may still take the traffic back.
 */
export function drainingLine(s: AppStatus): string | undefined {
  const d = s.draining;
  if (!d || !s.live) return undefined;
  const live = `${s.live.version} is live: ${d.dns} points at ${s.live.cluster}`;
  if (!d.rollback) return `${live}; ${d.version} on ${d.cluster} is being torn down (its drain is over)`;
  const until = d.until !== null ? ` until ${clockTime(d.until)}` : '';
  return `${live}; ${d.version} on ${d.cluster} is draining${until} (rollback possible${until ? ' until then' : ''}: \`rollback ${s.app}\`)`;
}

/** `1.34 (standard support until 2026-12-02, 3 days left)`: the live cluster's Kubernetes version and the end of its standard support. */
export function kubernetesCell(s: AppStatus): string {
  const k = s.kubernetes;
  if (!k) return '-';
  if (!k.endOfStandardSupport) return `${k.version} ${dim('(support unknown)')}`;
  const text = `${k.version} (standard support until ${k.endOfStandardSupport}${k.warning ? `, ${k.daysLeft! >= 0 ? `${k.daysLeft} days left` : 'over'}` : ''})`;
  return k.warning ? yellow(text) : text;
}

/** What a scale changed, in the words every surface uses: now, the KubeApp's, and what resets it. */
export function scaledLine(s: AppStatus): string {
  const c = s.scaled!;
  const words = (x: typeof c.now): string => `replicas=${x.replicas}${x.minNodes !== null && x.maxNodes !== null ? ` nodes=${x.minNodes}..${x.maxNodes}` : ''}`;
  return `scaled to ${words(c.now)} by ${c.by} (scale #${c.deployId}${c.reason ? `: “${c.reason}”` : ''}); the KubeApp says ${words(c.declared)}, which the next blue/green deploy brings back`;
}

function status(apps: readonly AppStatus[], provider: string): string {
  // The Kubernetes column when any live cluster's version is known (a laptop cluster's is not kubecontrol's).
  const versions = apps.some((s) => s.kubernetes);
  const rows = apps.map((s) => [
    bold(s.app),
    s.live ? green(s.live.version) : dim('not deployed'),
    s.live?.cluster ?? '-',
    s.live ? `#${s.live.deployId}` : '-',
    s.live ? when(s.live.since) : '-',
    ...(versions ? [kubernetesCell(s)] : []),
    s.lock ? red(`LOCKED by ${s.lock.lockedBy}: ${s.lock.reason}`) : '',
  ]);
  const lines = [dim(`provider: ${provider}`), table([['APP', 'LIVE (DNS)', 'CLUSTER', 'DEPLOY', 'SINCE (UTC)', ...(versions ? ['KUBERNETES'] : []), ''].map(dim), ...rows])];
  const notes = apps.flatMap((s) => {
    const line = drainingLine(s);
    return [
      ...(line ? [`${bold(s.app)}: ${yellow(line)}`] : []),
      ...(s.kubernetes?.warning ? [`${bold(s.app)}: ${yellow(`! ${s.kubernetes.warning.replace(/`/g, '')}`)}`] : []),
      ...(s.scaled ? [`${bold(s.app)}: ${yellow(scaledLine(s))}`] : []),
    ];
  });
  if (notes.length) lines.push('', ...notes);
  const active = apps.flatMap((s) => s.active);
  if (active.length) {
    lines.push(
      '',
      table([
        ['DEPLOY', 'APP', 'VERSION', 'STRATEGY', 'STATE', 'WHO', 'ELAPSED'].map(dim),
        ...active.map((d) => [
          `#${d.id}`,
          d.app,
          d.version,
          d.strategy + (d.kind === 'deploy' ? '' : ` (${d.kind})`),
          stateColour(d.state) + (d.queue && d.queue.position > 0 ? yellow(` (#${d.queue.position} in line)`) : ''),
          d.requestedByName ?? d.requestedBy,
          formatDuration(d.durationMs),
        ]),
      ]),
    );
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
    case 'beyond_limits':
    case 'not_supported':
    case 'unsupported_version':
    case 'paused':
    case 'not_paused':
    case 'no_schedule':
    case 'missed_run':
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

/** How a schedule's newest tick ended, in a few words: `✓ #12 succeeded`, `– skipped: locked by …`. */
export function lastRunText(s: ScheduleView): string {
  const l = s.last;
  if (!l) return dim('not run yet');
  const planned = dim(` (${when(l.plannedAt)} UTC${l.missed ? ', missed while down' : ''})`);
  if (l.outcome === 'skipped') return `${yellow('– skipped')}: ${l.reason?.replace(/^refresh of \S+ skipped(?: \(.*?\))?: /, '') ?? ''}${planned}`;
  return `#${l.deployId} ${l.state ? stateColour(l.state) : '?'}${planned}`;
}

function schedules(list: readonly ScheduleView[], message: string): string {
  if (!list.length) return message;
  const rows = list.map((s) => [
    bold(s.app),
    s.words,
    s.next ? `${when(Date.parse(s.next))} UTC` : red('never'),
    lastRunText(s),
    s.paused ? red(`PAUSED by ${s.paused.byName ?? s.paused.by} since ${when(s.paused.since)}${s.paused.reason ? `: ${s.paused.reason}` : ''}`) : '',
  ]);
  const lines = [table([['APP', 'SCHEDULE', 'NEXT (UTC)', 'LAST RUN', ''].map(dim), ...rows])];
  const notes = list.flatMap((s) => [
    dim(`${s.app}: announced in ${s.channel} · cutover ${s.autoCutover === 'never' ? 'waits for an approver' : 'without a person when every health check passes'} · a run missed while down is ${s.catchUpMinutes ? `caught up within ${s.catchUpMinutes} min` : 'skipped'}`),
    ...(s.warning ? [yellow(`! ${s.app}: ${s.warning}`)] : []),
  ]);
  return [...lines, '', ...notes].join('\n');
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
    case 'schedules':
      return schedules(r.schedules, r.message);
    case 'pause':
      return `${green('✓')} ${r.message}`;
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
  const what = d.kind === 'scale' || d.kind === 'restart' || d.kind === 'upgrade' ? d.kind : 'deploy';
  const head = d.state === 'succeeded' ? green(`✓ ${what} #${d.id} succeeded`) : red(`✗ ${what} #${d.id} ${d.state.replace('_', ' ')}`);
  const done =
    d.kind === 'scale'
      ? `${d.app} is scaled on ${d.toCluster}`
      : d.kind === 'restart'
        ? `every pod of ${d.app} on ${d.toCluster} was restarted`
        : `${d.app} ${d.version} is live on ${d.toCluster}${d.kind === 'upgrade' && d.kubernetesVersion ? ` (Kubernetes ${d.kubernetesVersion})` : ''}`;
  const detail = d.state === 'succeeded' ? done : (d.error ?? '');
  const undone = d.kind === 'scale' || d.kind === 'restart' ? ' — put back as it was' : ' — everything it created was torn down';
  const cleanup = d.cleanup === 'done' ? undone : d.cleanup === 'failed' ? red(' — cleanup incomplete: run `kubecontrol gc`') : '';
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
