/**
 * Block Kit for everything the bot shows: the deploy status card (edited in
 * place), the approval message with its buttons, the thread's detail lines,
 * the final result, and the ephemeral answers to slash commands. Pure
 * functions of store records and command results: no Slack calls here.
 */
import type { types } from '@slack/bolt';
import type { AppStatus, CommandResult, DeployView, ErrorCode, ResultStatus, ScheduleView } from '../commands/results.js';
import type { DeployPlan } from '../deployer/plan.js';
import { formatDuration } from '../deployer/time.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { DeployState, EventRecord, StepName, StepRecord } from '../store/index.js';
import { ACTION_APPROVE, ACTION_REJECT, BLOCK_APPROVAL, SLASH_COMMAND } from './constants.js';
import { principal, who, type GroupIds } from './identity.js';

export type Block = types.KnownBlock;

/** What a scale sets, as the command says it: `replicas=6 nodes=2..8`. */
function operationWords(d: Pick<DeployView, 'replicas' | 'minNodes' | 'maxNodes'>): string {
  return [d.replicas !== null ? `replicas=${d.replicas}` : '', d.maxNodes !== null ? `nodes=${d.minNodes}..${d.maxNodes}` : ''].filter(Boolean).join(' ');
}

/** A message: `text` is the notification / fallback, `blocks` the layout. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks?: Block[];
}

const STEP_ICON: Readonly<Record<string, string>> = { running: '⟳', succeeded: '✓', failed: '✗', cancelled: '⊘', skipped: '↷', pending: '·' };

const STATE_ICON: Readonly<Record<DeployState, string>> = {
  queued: '⏳',
  building: '⟳',
  provisioning: '⟳',
  deploying: '⟳',
  awaiting_approval: '✋',
  cutting_over: '⟳',
  tearing_down: '⟳',
  succeeded: '✅',
  failed: '❌',
  rejected: '🚫',
  timed_out: '⌛',
  cancelled: '⊘',
};

const STEP_ORDER: Readonly<Record<'blue-green' | 'rolling' | 'scale' | 'restart', readonly StepName[]>> = {
  'blue-green': ['build', 'provision', 'deploy', 'approval', 'cutover', 'teardown'],
  rolling: ['build', 'deploy'],
  // In-place operations of the live environment: one step each.
  scale: ['scale'],
  restart: ['restart'],
};

/** An in-place operation (scale, restart) rather than a deploy of a version. */
const inPlace = (d: { kind?: DeployView['kind'] }): d is { kind: 'scale' | 'restart' } => d.kind === 'scale' || d.kind === 'restart';

const human = (state: string): string => state.replace(/_/g, ' ');

/**
 * Escapes the three characters Slack's mrkdwn treats as control characters.
 * Idempotent for Slack's three entities: text that came from Slack already
 * encoded (`a &gt; b` in a reason typed in Slack) is not escaped a second time
 * (which would show `&amp;gt;`), so `esc(esc(x)) === esc(x)`.
 */
export function esc(text: string): string {
  return text.replace(/&(?!(?:amp|lt|gt);)/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Decodes Slack's three entities once (for text that leaves Slack: logs, the CLI, the console). */
export function decodeSlackEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Cuts `text` to `max` characters, ending with an ellipsis when it was cut. */
export const truncate = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Cuts `text` to `max` characters in the middle (keeps a name's start and end, which tell names apart). */
const middle = (text: string, max: number): string => {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
};

/** "1 app", "2 apps". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Slack's limits on a confirmation dialog (Block Kit rejects the whole message as `invalid_blocks` beyond them). */
export const CONFIRM_LIMITS = { title: 100, text: 300, confirm: 30, deny: 30 } as const;
/** Slack's limit on a button's own text. */
export const BUTTON_TEXT_LIMIT = 75;

/** A date Slack shows in each reader's own time zone (the fallback is UTC). */
export function slackDate(ms: number, format = '{date_short_pretty} {time}'): string {
  const iso = new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
  return `<!date^${Math.floor(ms / 1000)}^${format}|${iso} UTC>`;
}

/** A link to a message / thread that works without an API call. */
export function threadLink(channel: string | null, ts: string | null): string | undefined {
  if (!channel || !ts || !/^[CGD][A-Z0-9]+$/.test(channel)) return undefined;
  return `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
}

const md = (text: string): types.MrkdwnElement => ({ type: 'mrkdwn', text: truncate(text, 3000) });
const section = (text: string, fields?: string[]): Block =>
  fields?.length ? { type: 'section', text: md(text), fields: fields.slice(0, 10).map((f) => md(truncate(f, 2000))) } : { type: 'section', text: md(text) };
const context = (...texts: string[]): Block => ({ type: 'context', elements: texts.slice(0, 10).map((t) => md(t)) });

/** "✓ build 42.0s · ⟳ deploy · · approval" — every step of the strategy, in order. */
export function stepLine(d: Pick<DeployView, 'strategy' | 'steps'> & { kind?: DeployView['kind'] }, now = Date.now()): string {
  const byName = new Map<string, StepRecord>(d.steps.map((s) => [s.name, s]));
  const names: string[] = [...STEP_ORDER[inPlace(d) ? d.kind : d.strategy]];
  for (const s of d.steps) if (!names.includes(s.name)) names.push(s.name); // cleanup, when it ran
  return names
    .map((name) => {
      const s = byName.get(name);
      if (!s) return `· ${name}`;
      const took = s.startedAt ? ` ${formatDuration((s.finishedAt ?? now) - s.startedAt)}` : '';
      return `${STEP_ICON[s.state] ?? '·'} ${name}${s.state === 'pending' || s.state === 'skipped' ? '' : took}`;
    })
    .join('   ');
}

/** What the status card needs beyond the deploy view. */
export interface CardContext {
  readonly app?: KubeApp;
  readonly provider: string;
  /** The newest progress message, shown while a step runs. */
  readonly lastProgress?: string | null;
  readonly now?: number;
  /** Group ids by handle, to mention approver groups. */
  readonly groupIds?: GroupIds;
}

/** The deploy's status card: the thread's first message, edited in place as the deploy moves. */
export function statusCard(d: DeployView, c: CardContext): SlackMessage {
  const now = c.now ?? Date.now();
  const from = d.fromVersion && d.fromVersion !== d.version ? `${d.fromVersion} → ` : '';
  const title = inPlace(d) ? `${d.app}: ${d.kind}${d.kind === 'scale' ? ` ${operationWords(d)}` : ''}` : `${d.app} ${from}${d.version}${d.kind === 'upgrade' && d.kubernetesVersion ? ` → Kubernetes ${d.kubernetesVersion}` : ''}`;
  const kind = d.kind === 'deploy' ? '' : ` (${d.kind})`;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, 150), emoji: true } },
    section(`${STATE_ICON[d.state]} *${human(d.state)}* · deploy #${d.id} · ${d.strategy}${kind}`, [
      inPlace(d) ? `*${d.kind === 'scale' ? 'Scale' : 'Restart'}*\n${esc(d.kind === 'scale' ? operationWords(d) : 'every pod, one after the other')}${d.reason ? ` — “${esc(d.reason)}”` : ''}` : `*Version*\n${esc(d.fromVersion ?? 'none')} → *${esc(d.version)}*`,
      `*Cluster*\n${d.strategy === 'rolling' ? esc(d.toCluster ?? '—') : `${esc(d.fromCluster ?? 'none')} → ${esc(d.toCluster ?? '—')}`}`,
      `*Requested by*\n${who(d.requestedBy, d.requestedByName)} via ${d.surface}`,
      `*Elapsed*\n${formatDuration(d.durationMs)}`,
    ]),
    context(stepLine(d, now)),
  ];
  const note = cardNote(d, c);
  if (note) blocks.push(section(note));
  blocks.push(context(`${esc(c.provider)} · updated ${slackDate(now, '{time_secs}')}`));
  return { text: `${STATE_ICON[d.state]} ${title}: ${human(d.state)} (deploy #${d.id})`, blocks };
}

/** The one line under the steps that says what is going on now. */
function cardNote(d: DeployView, c: CardContext): string | undefined {
  const a = d.approval;
  const decided = a
    ? a.decision === 'timed_out'
      ? `⌛ No decision before the approval deadline.`
      : `${a.decision === 'approved' ? '✓ Cutover approved' : '✗ Cutover rejected'} by ${who(a.actor, a.actorName)} ${slackDate(a.at)}${a.reason && a.decision === 'rejected' ? `: “${esc(a.reason)}”` : ''}`
    : undefined;
  switch (d.state) {
    case 'queued': {
      const q = d.queue;
      if (q && q.position > 0) {
        return `⏳ In line: ${q.position} deploy${q.position > 1 ? 's' : ''} of ${d.app} ahead (${q.ahead.map((id) => `#${id}`).join(', ')}). This card says when it is your turn.`;
      }
      return '⏳ Waiting for a free deploy slot.';
    }
    case 'awaiting_approval': {
      const approvers = c.app ? c.app.approvers.map((p) => principal(p, c.groupIds)).join(', ') : 'an approver';
      const until = d.approvalDeadline ? ` until ${slackDate(d.approvalDeadline)}` : '';
      return `✋ *Waiting for approval* by ${approvers}${until}. The buttons are in this thread.`;
    }
    case 'succeeded': {
      if (inPlace(d)) return `✅ *${d.kind === 'scale' ? 'Scaled' : 'Restarted'}* in ${formatDuration(d.durationMs)} on \`${esc(d.toCluster ?? '')}\``;
      const dns = c.app ? `\`${c.app.dns.name}\` → \`${esc(d.toCluster ?? '')}\`` : `live on \`${esc(d.toCluster ?? '')}\``;
      return [decided, `✅ *Live* in ${formatDuration(d.durationMs)}: ${dns}`].filter(Boolean).join('\n');
    }
    case 'failed':
    case 'rejected':
    case 'timed_out':
    case 'cancelled': {
      const why = d.state === 'failed' ? `❌ ${esc(truncate(d.error ?? 'failed', 500))}` : d.state === 'cancelled' ? `⊘ ${mentionIds(esc(d.error ?? 'cancelled'))}` : decided;
      const cleanup =
        d.cleanup === 'pending'
          ? '⟳ Tearing down what this deploy created…'
          : d.cleanup === 'done'
            ? '✓ Cleanup finished: nothing left behind.'
            : d.cleanup === 'failed'
              ? '✗ Cleanup incomplete: run `kubecontrol gc`.'
              : undefined;
      const traffic = inPlace(d) ? undefined : d.fromCluster ? `Traffic stays on \`${esc(d.fromCluster)}\`.` : undefined;
      return [why, inPlace(d) && d.cleanup === 'done' ? `✓ Put back as it was on \`${esc(d.toCluster ?? '')}\`.` : cleanup, traffic].filter(Boolean).join('\n');
    }
    default: {
      // Only right after the wait in line ended: once a step has finished it is old news.
      const justStarted = d.startedAt && !d.steps.some((s) => s.finishedAt);
      const started = justStarted ? `▶ Your turn: started ${slackDate(d.startedAt!, '{time_secs}')}.` : undefined;
      const progress = c.lastProgress ? `_${esc(truncate(c.lastProgress, 300))}_` : undefined;
      return [decided, started, progress].filter(Boolean).join('\n') || undefined;
    }
  }
}

/**
 * What the cutover does, in the words the confirmation dialogs and the approval message use.
 * With `max`, each sentence fits in `max` characters: long names are cut in the middle first
 * (the sentence keeps its meaning), and only then the sentence's end.
 */
export function cutoverSummary(d: Pick<DeployView, 'fromCluster' | 'toCluster'>, dns: string, max?: number): { approve: string; reject: string } {
  const full = summary(d.fromCluster, d.toCluster, dns);
  if (max === undefined) return full;
  const fit = (pick: (s: { approve: string; reject: string }) => string): string => {
    for (const n of [64, 48, 32, 24, 16]) {
      const s = pick(summary(d.fromCluster && middle(d.fromCluster, n), d.toCluster && middle(d.toCluster, n), middle(dns, n)));
      if (s.length <= max) return s;
    }
    return truncate(pick(full), max);
  };
  return { approve: full.approve.length <= max ? full.approve : fit((s) => s.approve), reject: full.reject.length <= max ? full.reject : fit((s) => s.reject) };
}

function summary(fromCluster: string | null, toCluster: string | null, dns: string): { approve: string; reject: string } {
  const d = { fromCluster, toCluster };
  const to = d.toCluster ?? 'the new cluster';
  return {
    approve: d.fromCluster
      ? `DNS \`${dns}\` moves from cluster \`${d.fromCluster}\` to \`${to}\`; \`${d.fromCluster}\` is torn down after the drain.`
      : `DNS \`${dns}\` is pointed at cluster \`${to}\` (nothing serves it yet).`,
    reject: `Cluster \`${to}\` is torn down${d.fromCluster ? `; traffic stays on \`${d.fromCluster}\`` : ''}. Nothing changes for users.`,
  };
}

/** The thread reply with Approve / Reject (each behind a confirmation dialog), or, once decided, who decided. */
export function approvalMessage(d: DeployView, app: KubeApp | undefined, groupIds?: GroupIds): SlackMessage {
  const dns = app?.dns.name ?? d.app;
  const what = cutoverSummary(d, dns);
  const approvers = app ? app.approvers.map((p) => principal(p, groupIds)).join(', ') : 'an approver';
  const head = `✋ *Cutover of ${d.app} ${esc(d.version)} needs approval* (deploy #${d.id})\n${what.approve}`;
  const meta = `Requested by ${who(d.requestedBy, d.requestedByName)} · approvers: ${approvers}${
    app && !app.allowSelfApproval ? ' · the requester cannot approve (four eyes)' : ''
  }${d.approvalDeadline ? ` · times out ${slackDate(d.approvalDeadline)}` : ''}`;
  const a = d.approval;
  if (a || d.state !== 'awaiting_approval') {
    const outcome = !a
      ? `This approval is closed: the deploy is ${human(d.state)}.`
      : a.decision === 'approved'
        ? `✓ *Approved* by ${who(a.actor, a.actorName)} ${slackDate(a.at)}`
        : a.decision === 'rejected'
          ? `✗ *Rejected* by ${who(a.actor, a.actorName)} ${slackDate(a.at)}${a.reason ? `: “${esc(a.reason)}”` : ''}`
          : `⌛ *Timed out* ${slackDate(a.at)}: nobody decided in time, so the cutover was rejected.`;
    return { text: `Cutover of ${d.app} ${d.version}: ${a ? human(a.decision) : 'closed'}`, blocks: [section(head), context(meta), section(outcome)] };
  }
  const short = cutoverSummary(d, dns, CONFIRM_LIMITS.text);
  const confirm = (title: string, text: string, ok: string, style?: 'danger'): types.ConfirmationDialog => ({
    title: { type: 'plain_text', text: truncate(title, CONFIRM_LIMITS.title) },
    text: { type: 'mrkdwn', text: truncate(text, CONFIRM_LIMITS.text) },
    confirm: { type: 'plain_text', text: truncate(ok, CONFIRM_LIMITS.confirm) },
    deny: { type: 'plain_text', text: truncate('Back', CONFIRM_LIMITS.deny) },
    ...(style ? { style } : {}),
  });
  return {
    text: `Cutover of ${d.app} ${d.version} needs approval (deploy #${d.id})`,
    blocks: [
      section(head),
      context(meta),
      {
        type: 'actions',
        block_id: BLOCK_APPROVAL,
        elements: [
          {
            type: 'button',
            action_id: ACTION_APPROVE,
            text: { type: 'plain_text', text: truncate('Approve cutover', BUTTON_TEXT_LIMIT) },
            style: 'primary',
            value: String(d.id),
            confirm: confirm(`Approve deploy #${d.id}?`, short.approve, 'Approve'),
          },
          {
            type: 'button',
            action_id: ACTION_REJECT,
            text: { type: 'plain_text', text: truncate('Reject', BUTTON_TEXT_LIMIT) },
            style: 'danger',
            value: String(d.id),
            confirm: confirm(`Reject deploy #${d.id}?`, short.reject, 'Reject', 'danger'),
          },
        ],
      },
    ],
  };
}

/**
 * Whether an event becomes a line in the thread: what a person needs. Each
 * step starting and ending (with its duration; cleanup included, so its
 * outcome), every warning and error, and a restart. The card shows the state,
 * the approval message the ask and the decision, the final message the
 * result; ledger lines (intent/created), the request and fine-grained
 * progress stay in the console and the CLI.
 */
export function isDetail(e: EventRecord): boolean {
  if (e.level === 'warn' || e.level === 'error' || e.kind === 'error') return true;
  if (e.kind === 'step') return true;
  if (e.kind === 'queue') return /^resumed after a restart/.test(e.message);
  return false;
}

/** One line of the thread: time, icon, message. */
export function detailLine(e: EventRecord): string {
  const state = typeof e.data?.state === 'string' ? e.data.state : undefined;
  const icon = e.level === 'error' ? '✗' : e.level === 'warn' ? '⚠' : state ? (STEP_ICON[state] ?? '•') : e.kind === 'queue' ? '⏳' : '•';
  return `${slackDate(e.at, '{time_secs}')} ${icon} ${esc(truncate(e.message, 600))}`;
}

/** Detail lines packed into messages of at most ~3,500 characters each. */
export function detailMessages(lines: readonly string[], max = 3500): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > max) {
      out.push(current);
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(current);
  return out;
}

/** The final result, posted to the thread and broadcast to the channel. */
export function finalMessage(d: DeployView, app: KubeApp | undefined): SlackMessage {
  const asked = `requested by ${who(d.requestedBy, d.requestedByName)}`;
  const a = d.approval;
  const decidedBy = a && a.decision !== 'timed_out' ? `, ${a.decision} by ${who(a.actor, a.actorName)}` : '';
  const took = formatDuration(d.durationMs);
  let text: string;
  if (inPlace(d)) {
    const what = d.kind === 'scale' ? `scale of ${d.app} (${operationWords(d)})` : `restart of ${d.app}`;
    text =
      d.state === 'succeeded'
        ? `✅ *${d.kind === 'scale' ? `${d.app} is scaled` : `Every pod of ${d.app} was restarted`}* on \`${esc(d.toCluster ?? '')}\` — ${d.kind} #${d.id}, ${took}, ${asked}${d.reason ? `: “${esc(d.reason)}”` : ''}.`
        : `${STATE_ICON[d.state]} *The ${what} ${d.state === 'failed' ? 'failed' : `was ${human(d.state)}`}* (#${d.id}, ${took})${d.error ? `: ${mentionIds(esc(truncate(d.error, 500)))}` : ''}. ${d.cleanup === 'done' ? `It was put back as it was on \`${esc(d.toCluster ?? '')}\`.` : d.cleanup === 'failed' ? 'It could not be put back entirely: see the thread.' : ''}`.trim();
    return { text, blocks: [section(text)] };
  }
  switch (d.state) {
    case 'succeeded':
      text = `✅ *${d.app} ${esc(d.version)} is live* on \`${esc(d.toCluster ?? '')}\`${app && d.strategy === 'blue-green' ? ` (\`${app.dns.name}\`)` : ''} — deploy #${d.id}, ${took}, ${asked}${decidedBy}.`;
      break;
    case 'failed':
      text = `❌ *Deploy #${d.id} of ${d.app} ${esc(d.version)} failed* after ${took}: ${esc(truncate(d.error ?? 'unknown error', 500))}. What it created is torn down${d.fromCluster ? `; traffic stays on \`${esc(d.fromCluster)}\`` : ''}.`;
      break;
    case 'rejected':
      text = `🚫 *Deploy #${d.id} of ${d.app} ${esc(d.version)} was rejected*${decidedBy.replace(', rejected', '')}: \`${esc(d.toCluster ?? '')}\` is torn down${d.fromCluster ? `; traffic stays on \`${esc(d.fromCluster)}\`` : ''}.`;
      break;
    case 'timed_out':
      text = `⌛ *Deploy #${d.id} of ${d.app} ${esc(d.version)} timed out* waiting for approval: \`${esc(d.toCluster ?? '')}\` is torn down${d.fromCluster ? `; traffic stays on \`${esc(d.fromCluster)}\`` : ''}.`;
      break;
    case 'cancelled':
      text = `⊘ *Deploy #${d.id} of ${d.app} ${esc(d.version)} was cancelled* (${mentionIds(esc(d.error ?? 'cancelled'))}); anything it created is torn down.`;
      break;
    default:
      text = `${STATE_ICON[d.state]} Deploy #${d.id} of ${d.app} ${esc(d.version)}: ${human(d.state)}.`;
  }
  return { text, blocks: [section(text)] };
}

// --- ephemeral answers to /kubeapp -----------------------------------------

/** An answer only the person who typed the command sees. */
export interface Ephemeral extends SlackMessage {
  readonly response_type: 'ephemeral';
}

const ephemeral = (text: string, blocks?: Block[]): Ephemeral => ({ response_type: 'ephemeral', text, ...(blocks ? { blocks } : {}) });

/** One row of a deploy table: #, version, strategy, who, when, outcome, duration, thread. */
export function deployRow(d: DeployView): string {
  const link = threadLink(d.threadChannel, d.threadTs);
  const q = d.queue && d.queue.position > 0 ? ` (${d.queue.position} ahead)` : '';
  return [
    `*#${d.id}*`,
    `\`${esc(d.version)}\``,
    d.strategy + (d.kind === 'deploy' ? '' : ` (${d.kind})`),
    who(d.requestedBy, d.requestedByName),
    slackDate(d.createdAt),
    `${STATE_ICON[d.state]} ${human(d.state)}${q}`,
    formatDuration(d.durationMs),
    link ? `<${link}|thread>` : '—',
  ].join(' · ');
}

/** Rows packed into sections (Block Kit allows 50 blocks, 3,000 characters per section). */
function rowSections(rows: readonly string[]): Block[] {
  return detailMessages(rows, 2900).map((text) => section(text));
}

/**
 * What a drain means, in the words every surface uses (cli/render.ts `drainingLine`): the new
 * version is live (DNS points at it), the old one drains until its teardown and may still take
 * the traffic back.
 */
export function drainingText(s: AppStatus): string | undefined {
  const d = s.draining;
  if (!d || !s.live) return undefined;
  const live = `\`${esc(s.live.version)}\` is live: \`${esc(d.dns)}\` points at \`${esc(s.live.cluster ?? '—')}\``;
  if (!d.rollback) return `${live}; \`${esc(d.version)}\` on \`${esc(d.cluster)}\` is being torn down (its drain is over)`;
  const until = d.until !== null ? ` until ${slackDate(d.until, '{time_secs}')}` : '';
  return `${live}; \`${esc(d.version)}\` on \`${esc(d.cluster)}\` is draining${until} (rollback possible${until ? ' until then' : ''}: \`${SLASH_COMMAND} rollback ${s.app}\`)`;
}

function statusBlocks(apps: readonly AppStatus[], provider: string): Block[] {
  const blocks: Block[] = [context(`*Status* · ${esc(provider)} · ${plural(apps.length, 'app')}`)];
  for (const s of apps) {
    const live = s.live ? `\`${esc(s.live.version)}\` on \`${esc(s.live.cluster ?? '—')}\` since ${slackDate(s.live.since)} (deploy #${s.live.deployId})` : '_not deployed yet_';
    const drain = drainingText(s);
    const draining = drain ? `\n⏳ ${drain}` : '';
    const lock = s.lock ? `\n🔒 locked by ${esc(s.lock.lockedBy)} since ${slackDate(s.lock.at)}: “${esc(s.lock.reason)}”` : '';
    const k = s.kubernetes;
    const kubernetes = k ? `\n☸ Kubernetes ${esc(k.version)}${k.endOfStandardSupport ? ` · standard support until ${k.endOfStandardSupport}` : ''}${k.warning ? `\n⚠ ${esc(k.warning)}` : ''}` : '';
    const c = s.scaled;
    const words = (x: NonNullable<AppStatus['scaled']>['now']): string => `replicas=${x.replicas}${x.minNodes !== null && x.maxNodes !== null ? ` nodes=${x.minNodes}..${x.maxNodes}` : ''}`;
    const scaled = c ? `\n↕ scaled to \`${words(c.now)}\` by ${who(c.by, null)} (scale #${c.deployId}${c.reason ? `: “${esc(c.reason)}”` : ''}); the KubeApp says \`${words(c.declared)}\`, which the next blue/green deploy brings back` : '';
    blocks.push(section(`*${s.app}* · ${live}${draining}${kubernetes}${scaled}${lock}`));
    if (s.active.length) blocks.push(...rowSections(s.active.map(deployRow)));
  }
  return blocks.slice(0, 50);
}

/** How a schedule's newest tick ended, with a link to its thread when it started a refresh. */
export function lastRunLine(s: ScheduleView): string {
  const l = s.last;
  if (!l) return '_not run yet_';
  const planned = `planned ${slackDate(l.plannedAt)}${l.missed ? ', missed while kubecontrol was down' : ''}`;
  if (l.outcome === 'skipped') return `⏭ skipped: ${mentionIds(esc(l.reason?.replace(/^refresh of \S+ skipped(?: \(.*?\))?: /, '') ?? ''))} (${planned})`;
  const link = l.thread ? threadLink(l.thread.channel, l.thread.ts) : undefined;
  const state = l.state ? `${STATE_ICON[l.state]} ${human(l.state)}` : '';
  return `refresh #${l.deployId} ${state}${link ? ` · <${link}|thread>` : ''} (${planned})`;
}

function scheduleBlocks(list: readonly ScheduleView[]): Block[] {
  const blocks: Block[] = [context(`*Scheduled refreshes* · ${plural(list.length, 'schedule')}`)];
  for (const s of list) {
    const next = s.next ? `next ${slackDate(Date.parse(s.next))}` : '*never runs again*';
    const paused = s.paused
      ? `\n⏸ *paused* by ${who(s.paused.by, s.paused.byName)} since ${slackDate(s.paused.since)}${s.paused.reason ? `: “${esc(s.paused.reason)}”` : ''}`
      : '';
    const warning = s.warning ? `\n⚠ ${esc(s.warning)}` : '';
    blocks.push(section(`*${s.app}* · ${esc(s.words)} · ${next}\nlast: ${lastRunLine(s)}${paused}${warning}`));
    blocks.push(
      context(
        `${esc(s.channel)} · cutover ${s.autoCutover === 'never' ? 'waits for an approver' : 'without a person when every health check passes'} · a run missed while kubecontrol is down is ${s.catchUpMinutes ? `caught up within ${s.catchUpMinutes} min` : 'skipped'}`,
      ),
    );
  }
  return blocks.slice(0, 50);
}

/** A plan's lines, marked as every surface marks them (cli/render.ts `PLAN_MARKS`): `+` created, `~` changed, `-` deleted. */
const PLAN_MARKS = { build: '+', create: '+', change: '~', delete: '-' } as const;

function planText(p: DeployPlan): string {
  const list = (title: keyof typeof PLAN_MARKS, items: readonly string[]): string[] =>
    items.length ? [`*${title}*`, ...items.map((i) => `\`${PLAN_MARKS[title]}\` ${esc(i)}`)] : [];
  const inPlaceOp = p.operation === 'scale' || p.operation === 'restart';
  return [
    p.operation
      ? `*Dry run* of the ${p.operation} of ${p.app} \`${esc(p.version)}\` (${inPlaceOp ? 'in place' : 'blue-green'}) on ${esc(p.provider)} — nothing was changed`
      : `*Dry run* of ${p.app} \`${esc(p.version)}\` (${p.strategy}) on ${esc(p.provider)} — nothing was changed`,
    ...(inPlaceOp ? [] : [`image \`${esc(p.image.uri)}\` ${p.image.exists ? '(exists, reused)' : '(missing, will be built)'}`]),
    ...list('build', p.build),
    ...list('create', p.create),
    ...list('change', p.change),
    ...list('delete', p.delete),
    ...(p.notes ?? []).map((n) => `· ${esc(n)}`),
    ...p.warnings.map((w) => `⚠ ${esc(w)}`),
  ].join('\n');
}

/**
 * The core names people by id; in Slack a mention shows each reader the person's display name.
 * Only what is surely a Slack user id becomes a mention: a whole word (not inside a
 * name, a path or an existing mention) that is one of `known` (the apps' principals),
 * or that has Slack's shape — U or W, a digit, then 7 to 10 capitals or digits
 * (`U0ALICE01`, `W012A3CDE`). `WAREHOUSE1` or `UNHEALTHYSTATE` never do.
 */
export function mentionIds(text: string, known: Iterable<string> = []): string {
  const ids = new Set(known);
  return text.replace(/(?<![<@\w./:-])([UW][A-Z0-9]{8,10})(?![\w/:-]|\.\w|>)/g, (id: string) => (ids.has(id) || SLACK_ID_SHAPE.test(id) ? `<@${id}>` : id));
}

const SLACK_ID_SHAPE = /^[UW][0-9][A-Z0-9]{7,9}$/;

/**
 * The icon and the hint of an error answer, per code (every code: a new one
 * must be placed here). The icon follows the status, except where the code
 * says more: a failed group lookup decided nothing, so it is not shown as a
 * failure or a refusal.
 */
export function errorDecoration(code: ErrorCode, status: ResultStatus): { readonly icon: string; readonly hint: string } {
  const icon = status === 'refused' || status === 'conflict' ? '⛔' : status === 'error' ? '❌' : '⚠️';
  switch (code) {
    case 'empty':
    case 'unknown_command':
      return { icon, hint: `\nType \`${SLASH_COMMAND} help\` for every command.` };
    case 'unknown_app':
      return { icon, hint: `\n\`${SLASH_COMMAND} apps\` lists them.` };
    case 'group_lookup_failed':
      // The message already says which group and to try again.
      return { icon: '🔁', hint: '' };
    case 'missing_argument':
    case 'bad_argument':
    case 'unknown_flag':
    case 'extra_argument':
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
    case 'missed_run':
    case 'infrastructure':
      return { icon, hint: '' };
    case 'no_schedule':
      return { icon, hint: `\n\`${SLASH_COMMAND} schedules\` lists the apps that have one.` };
    default: {
      const unknown: never = code;
      void unknown;
      return { icon, hint: '' };
    }
  }
}

/** The ephemeral answer to a command's result. `channelApp` is the channel's default app, if one was filled in. */
export function resultAnswer(r: CommandResult, extra: { defaultApp?: string; appChannel?: string } = {}): Ephemeral {
  const note = extra.defaultApp ? `\n_(${extra.defaultApp} is this channel's app)_` : '';
  switch (r.kind) {
    case 'error': {
      const { icon, hint } = errorDecoration(r.code, r.status);
      return ephemeral(`${icon} ${mentionIds(r.message)}${hint}${note}`);
    }
    case 'deploy_queued': {
      const where = extra.appChannel ? ` Its status card and thread are in ${extra.appChannel}.` : '';
      return ephemeral(`🚀 ${esc(r.message)}${where}${note}`);
    }
    case 'plan':
      return ephemeral(r.message, [section(planText(r.plan))]);
    case 'status':
      return ephemeral(r.message, statusBlocks(r.apps, r.provider));
    case 'history': {
      if (!r.deploys.length) return ephemeral(`${r.message}${note}`);
      return ephemeral(r.message, [
        context(`*History of ${r.app}* · # · version · strategy · who · when · outcome · duration · thread${note}`),
        ...rowSections(r.deploys.map(deployRow)),
      ].slice(0, 50));
    }
    case 'apps': {
      const rows = r.apps.map(
        (a) =>
          `*${a.name}* — ${esc(a.description)}\n   live: ${a.liveVersion ? `\`${esc(a.liveVersion)}\`` : '—'} · ${a.strategy} · \`${a.dns}\` · ${a.channel}${a.locked ? ' · 🔒 locked' : ''}\n   deployers: ${[...a.owners, ...a.deployers].map((p) => principal(p)).join(', ')} · approvers: ${a.approvers.map((p) => principal(p)).join(', ')}`,
      );
      // The core says "1 apps"; the count is said again here, in words that fit the number.
      return ephemeral(r.message.replace(/^\d+ apps?\b/, plural(r.apps.length, 'app')), rowSections(rows));
    }
    case 'schedules':
      return r.schedules.length ? ephemeral(r.message, scheduleBlocks(r.schedules)) : ephemeral(`${r.message}${note}`);
    case 'help':
      return ephemeral(r.text, [section(`*${SLASH_COMMAND}* commands:\n${r.text.split('\n').map((l) => `• ${l}`).join('\n')}`)]);
    case 'duplicate':
      return ephemeral(`↩ ${r.message}`);
    case 'decision':
    case 'cancelled':
    case 'flipped_back':
    case 'lock':
    case 'pause':
      return ephemeral(`${r.status === 'ok' ? '✓' : '⚠️'} ${mentionIds(r.message)}${note}`);
  }
}
