/**
 * Block Kit for the scheduled refreshes (bot/schedule-announcer.ts): the
 * notice in the refresh channel (the announcement before a refresh starts,
 * edited with its result; or why a tick was skipped) and the nightly summary
 * in the platform channel. Pure functions of store records and deploy views,
 * like bot/views.ts: no Slack calls here.
 */
import type { DeployView } from '../commands/results.js';
import { formatDuration } from '../deployer/time.js';
import type { KubeApp } from '../kubeapps/index.js';
import { cronInWords, localTime, nextRun } from '../schedules/cron.js';
import { isTerminal, type ScheduleRunRecord } from '../store/index.js';
import { principal, type GroupIds } from './identity.js';
import { esc, mentionIds, slackDate, threadLink, truncate, type Block, type SlackMessage } from './views.js';

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, 3000) }] });

/** "Nightly" for a schedule that runs once a day at a fixed time, "Scheduled" otherwise. */
function kindOf(app: KubeApp | undefined): string {
  return app?.refresh && /^(0 )?\d{1,2} \d{1,2} [*?] [*?] [*?]$/.test(app.refresh.schedule.trim().replace(/\s+/g, ' ')) ? 'Nightly' : 'Scheduled';
}

/** The schedule in words, for context lines. */
function scheduleWords(app: KubeApp | undefined): string {
  return app?.refresh ? cronInWords(app.refresh.schedule, app.refresh.timezone) : 'schedule removed';
}

/** What the refresh does about its cutover, as the announcement states it. */
export function cutoverPolicy(app: KubeApp | undefined, groupIds?: GroupIds): string {
  const approvers = app ? app.approvers.map((p) => principal(p, groupIds)).join(', ') : 'an approver';
  return app?.refresh?.autoCutover === 'never'
    ? `new cluster, cutover waits for an approver (${approvers}) like any deploy`
    : `new cluster, cutover without a person when every health check passes (otherwise it waits for an approver: ${approvers})`;
}

/** How a refresh ended, in one line (the announcement's last line, the summary's row). */
export function outcomeLine(d: DeployView): string {
  const took = formatDuration(d.durationMs);
  const stays = d.fromCluster ? `; traffic stays on \`${esc(d.fromCluster)}\`` : '';
  switch (d.state) {
    case 'succeeded':
      return `✅ refreshed: \`${esc(d.version)}\` is live on \`${esc(d.toCluster ?? '')}\` (${took})`;
    case 'failed':
      return `❌ failed after ${took}: ${esc(truncate(d.error ?? 'unknown error', 300))}${stays}`;
    case 'rejected':
      return `🚫 cutover rejected${d.approval ? ` by ${mentionIds(esc(d.approval.actorName ?? d.approval.actor))}` : ''}${stays}`;
    case 'timed_out':
      return `⌛ nobody approved the cutover in time${stays}`;
    case 'cancelled':
      return `⊘ cancelled (${mentionIds(esc(d.error ?? 'cancelled'))})${stays}`;
    case 'awaiting_approval': {
      const withheld = d.steps.find((s) => s.name === 'approval')?.detail;
      return `✋ waiting for an approver${withheld?.startsWith('no cutover without a person') ? `: ${esc(truncate(withheld.replace(/^no cutover without a person: /, '').replace(/; waiting for an approver.*$/, ''), 300))}` : ''}`;
    }
    default:
      return `⟳ ${d.state.replace(/_/g, ' ')}`;
  }
}

/** The key of a notice as shown: an announcement shows its result once the refresh ended. */
export function noticeKey(run: ScheduleRunRecord, d: DeployView | undefined): string {
  if (run.outcome === 'skipped') return 'skipped';
  return d && isTerminal(d.state) && d.cleanup !== 'pending' ? `final:${d.state}` : 'announced';
}

/**
 * The notice of one tick in the refresh channel. A refresh: "Nightly refresh of search-svc v123
 * starting: new cluster, cutover without a person when every health check passes — thread below",
 * with its result once it ended. A skipped tick: why.
 */
export function scheduleNotice(run: ScheduleRunRecord, d: DeployView | undefined, app: KubeApp | undefined, o: { provider: string; now: number; groupIds?: GroupIds }): SlackMessage {
  const kind = kindOf(app);
  const words = scheduleWords(app);
  if (run.outcome === 'skipped' || !d) {
    const next = app?.refresh ? nextRun(app.refresh.schedule, app.refresh.timezone, o.now) : null;
    const why = (run.reason ?? 'skipped').replace(/^refresh of \S+ skipped(?: \((.*?)\))?: /, '');
    const text = `⏭ *${kind} refresh of ${run.app} skipped*: ${mentionIds(esc(why))}`;
    const late = run.missed ? ' (missed while kubecontrol was down)' : '';
    const planned = `planned ${app?.refresh ? localTime(run.plannedAt, app.refresh.timezone) : slackDate(run.plannedAt)}${late}`;
    return {
      text: `${kind} refresh of ${run.app} skipped: ${why}`,
      blocks: [section(text), context(`${esc(words)} · ${planned}${next !== null ? ` · next run ${slackDate(next)}` : ''}`)],
    };
  }
  const head = `🌙 *${kind} refresh of ${d.app} \`${esc(d.version)}\` starting*: ${cutoverPolicy(app, o.groupIds)} — thread below`;
  const catchUp = run.missed
    ? `↻ Catching up the run planned for ${app?.refresh ? localTime(run.plannedAt, app.refresh.timezone) : slackDate(run.plannedAt)}, missed while kubecontrol was down (within its ${app?.refresh?.catchUpMinutes ?? 0} min catch-up window).`
    : undefined;
  const ended = isTerminal(d.state) && d.cleanup !== 'pending';
  const blocks: Block[] = [section(head)];
  if (catchUp) blocks.push(section(catchUp));
  if (ended) blocks.push(section(outcomeLine(d)));
  blocks.push(context(`${esc(words)} · refresh #${d.id} · ${esc(o.provider)}`));
  return { text: `${kind} refresh of ${d.app} ${d.version} starting (refresh #${d.id})${ended ? `: ${d.state.replace(/_/g, ' ')}` : ''}`, blocks };
}

/** "night of Mon 30 Nov 2026" for a night key (`2026-11-30`). */
export function nightName(night: string): string {
  const [y, m, d] = night.split('-').map(Number) as [number, number, number];
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).formatToParts(new Date(Date.UTC(y, m - 1, d, 12)));
  const p = (type: Intl.DateTimeFormatPartTypes): string => parts.find((x) => x.type === type)?.value ?? '';
  return `night of ${p('weekday')} ${p('day')} ${p('month')} ${p('year')}`;
}

/** One row of the summary: a tick and, when it started a refresh, where that refresh is. */
export interface SummaryRow {
  readonly run: ScheduleRunRecord;
  readonly deploy: DeployView | undefined;
}

/** Whether everything a summary row shows is final. */
export function rowEnded(r: SummaryRow): boolean {
  return r.run.outcome === 'skipped' || !r.deploy || (isTerminal(r.deploy.state) && r.deploy.cleanup !== 'pending');
}

/**
 * The nightly summary in the platform channel, edited in place as the night goes on: each tick of
 * the night (which refreshes succeeded, failed, wait, run, or were skipped, and why) and the counts.
 * `now` only dates the "updated" line (the key to compare edits by leaves it out).
 */
export function nightlySummary(night: string, rows: readonly SummaryRow[], o: { now: number }): { message: SlackMessage; key: string } {
  const lines = rows.map(({ run, deploy: d }) => {
    if (run.outcome === 'skipped' || !d) {
      const why = (run.reason ?? 'skipped').replace(/^refresh of \S+ skipped(?: \((.*?)\))?: /, '');
      return `⏭ *${run.app}* skipped${run.missed ? ' (missed while kubecontrol was down)' : ''}: ${mentionIds(esc(truncate(why, 300)))}`;
    }
    const link = threadLink(d.threadChannel, d.threadTs);
    const ref = `refresh #${d.id}${link ? ` · <${link}|thread>` : ''}`;
    return `*${run.app}* \`${esc(d.version)}\` ${outcomeLine(d)} (${ref})${run.missed ? ' — caught up after a restart' : ''}`;
  });
  const count = (pred: (r: SummaryRow) => boolean): number => rows.filter(pred).length;
  const state = (r: SummaryRow): string | undefined => (r.run.outcome === 'started' ? r.deploy?.state : undefined);
  const tally = [
    [count((r) => state(r) === 'succeeded'), 'succeeded'],
    [count((r) => ['failed', 'rejected', 'timed_out', 'cancelled'].includes(state(r) ?? '')), 'did not cut over'],
    [count((r) => state(r) === 'awaiting_approval'), 'waiting for an approver'],
    [count((r) => r.run.outcome === 'started' && !!r.deploy && !isTerminal(r.deploy.state) && r.deploy.state !== 'awaiting_approval'), 'running'],
    [count((r) => r.run.outcome === 'skipped'), 'skipped'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`)
    .join(', ');
  const title = `🌙 Scheduled refreshes — ${nightName(night)}`;
  const body: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, 150), emoji: true } },
    ...chunk(lines).map((t) => section(t)),
    context(`${rows.length} refresh${rows.length === 1 ? '' : 'es'}${tally ? `: ${tally}` : ''}`),
  ];
  const key = JSON.stringify(body);
  const blocks = [...body, context(`updated ${slackDate(o.now, '{time}')}`)];
  return { message: { text: `${title}: ${tally || 'nothing yet'}`, blocks: blocks.slice(0, 50) }, key };
}

/** Lines packed into sections of at most ~2,900 characters. */
function chunk(lines: readonly string[]): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > 2900) {
      out.push(current);
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(current);
  return out;
}
