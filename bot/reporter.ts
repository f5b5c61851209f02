/**
 * The thread reporter: one Slack thread per deploy, for deploys from every
 * surface. It only reads the store — the deploy's events (store.feed
 * wakes it; store.events.after says what is new) — and never runs inside the
 * pipeline. Per deploy it:
 *   - posts a status card in the deploy's channel (the thread's first message)
 *     and edits it in place (chat.update) as the deploy moves;
 *   - posts the new events as replies in the thread, batched;
 *   - posts the Approve / Reject buttons when a blue/green deploy starts
 *     waiting, and replaces them with who decided;
 *   - posts the final result to the thread and the channel (reply_broadcast).
 * Work for one deploy is serial and coalesced: at most one round of Slack
 * calls per deploy every `intervalMs`, and the last round always shows the
 * latest state. Where it got to (card ts, last reported event) is stored in
 * store.slack, so a restarted server continues the same thread.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { DeployView } from '../commands/results.js';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type EventRecord, type Store } from '../store/index.js';
import type { SlackThreadRecord } from '../store/slack.js';
import type { GroupIds } from './identity.js';
import { approvalMessage, detailLine, detailMessages, finalMessage, isDetail, statusCard, type SlackMessage } from './views.js';

type WebClient = webApi.WebClient;

export interface ReporterOptions {
  readonly store: Store;
  readonly core: CommandCore;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly client: WebClient;
  readonly logger: Logger;
  /** Shown on every card ("sandbox", "aws eu-west-1"). */
  readonly providerLabel: string;
  /** At most one round of Slack calls per deploy per interval. @default 1000 */
  readonly intervalMs?: number;
  /** Rounds (of any deploys) in flight at once: bounds the background work a burst of deploys causes. @default 4 */
  readonly concurrency?: number;
  /** While a step runs with no news, the card's elapsed time is refreshed this often. @default 30_000 */
  readonly heartbeatMs?: number;
  /** Group ids by handle (cached), so approver groups are mentioned and notified. */
  readonly groupIds?: GroupIds;
}

/** Slack errors that retrying will not fix: the deploy is not reported on again until the next start. */
const PERMANENT_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'account_inactive', 'token_revoked', 'missing_scope', 'restricted_action']);
const MAX_ATTEMPTS = 5;

interface Tracker {
  readonly deployId: number;
  dirty: boolean;
  running: Promise<void> | undefined;
  lastRoundAt: number;
  /** The card as last sent, without its "updated" line, to skip edits that change nothing. */
  lastCard: string | undefined;
  lastProgress: string | null;
  approvalClosed: boolean;
  failures: number;
  disabled: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  /** Refreshes the card's clocks during long quiet steps (an EKS cluster takes ~12 minutes). */
  heartbeat: NodeJS.Timeout | undefined;
  forceCard: boolean;
}

const slackError = (err: unknown): string | undefined => (err as { data?: { error?: unknown } })?.data?.error as string | undefined;

export class ThreadReporter {
  private readonly trackers = new Map<number, Tracker>();
  private readonly intervalMs: number;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private readonly onAppended = (e: EventRecord): void => this.touch(e.deployId);
  private readonly slots: { free: number; waiting: (() => void)[] };

  constructor(private readonly options: ReporterOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.slots = { free: options.concurrency ?? 4, waiting: [] };
    this.log = options.logger.child({ component: 'slack-reporter' });
  }

  /** Follows every deploy's events from now on, and continues the threads a previous process left. */
  start(): void {
    const { store } = this.options;
    store.feed.on('appended', this.onAppended);
    const ids = new Set<number>([
      ...store.slack.open().map((t) => t.deployId),
      ...store.deploys.active().map((d) => d.id),
      ...store.deploys.pendingCleanup().map((d) => d.id),
    ]);
    for (const id of [...ids].sort((a, b) => a - b)) this.touch(id);
  }

  /** Stops following; waits (briefly) for the rounds in flight. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.options.store.feed.off('appended', this.onAppended);
    this.stopping.abort();
    for (const t of this.trackers.values()) {
      clearTimeout(t.retryTimer);
      clearTimeout(t.heartbeat);
    }
    for (const wake of this.slots.waiting.splice(0)) wake();
    const running = [...this.trackers.values()].map((t) => t.running).filter((p): p is Promise<void> => !!p);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(running), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resolves once nothing is waiting to be reported (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.trackers.values()].find((t) => t.running || (t.dirty && !t.disabled));
      if (!busy) return;
      await (busy.running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  /** Marks a deploy as having news; starts its round loop if it is not running. */
  private touch(deployId: number): void {
    if (this.stopping.signal.aborted) return;
    let t = this.trackers.get(deployId);
    if (!t) {
      t = { deployId, dirty: false, running: undefined, lastRoundAt: 0, lastCard: undefined, lastProgress: null, approvalClosed: false, failures: 0, disabled: false, retryTimer: undefined, heartbeat: undefined, forceCard: false };
      this.trackers.set(deployId, t);
    }
    if (t.disabled) return;
    t.dirty = true;
    if (!t.running) {
      const tracker = t;
      tracker.running = this.loop(tracker).finally(() => {
        tracker.running = undefined;
        // News that arrived while the last round was finishing.
        if (tracker.dirty && !tracker.disabled) this.touch(tracker.deployId);
      });
    }
  }

  private async loop(t: Tracker): Promise<void> {
    const signal = this.stopping.signal;
    while (t.dirty && !signal.aborted && !t.disabled) {
      const wait = t.lastRoundAt + this.intervalMs - Date.now();
      if (wait > 0) {
        // Coalescing: everything that happens meanwhile goes into the next round.
        const ok = await new Promise<boolean>((resolve) => {
          const onAbort = (): void => {
            clearTimeout(timer);
            resolve(false);
          };
          const timer = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve(true);
          }, wait);
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (!ok) return;
      }
      await this.acquire();
      if (signal.aborted) return this.release();
      t.dirty = false;
      t.lastRoundAt = Date.now();
      try {
        const finished = await this.round(t).finally(() => this.release());
        t.failures = 0;
        if (finished) {
          clearTimeout(t.heartbeat);
          this.trackers.delete(t.deployId);
          return;
        }
        this.beat(t);
      } catch (err) {
        if (signal.aborted) return;
        const code = slackError(err);
        t.failures++;
        if ((code && PERMANENT_ERRORS.has(code)) || t.failures >= MAX_ATTEMPTS) {
          t.disabled = true;
          this.log.error({ err, deployId: t.deployId, code }, 'cannot report this deploy to Slack; giving up until the next start');
          return;
        }
        const backoff = Math.min(30_000, 1000 * 2 ** (t.failures - 1));
        this.log.warn({ err, deployId: t.deployId, code, retryInMs: backoff }, 'Slack reporting failed; retrying');
        t.retryTimer = setTimeout(() => {
          t.retryTimer = undefined;
          this.touch(t.deployId);
        }, backoff);
        t.retryTimer.unref();
        return;
      }
    }
  }

  /** (Re)arms the heartbeat of a deploy that is running (not queued, not waiting for people, not over). */
  private beat(t: Tracker): void {
    clearTimeout(t.heartbeat);
    const state = this.options.store.deploys.get(t.deployId)?.state;
    if (!state || state === 'queued' || state === 'awaiting_approval' || isTerminal(state)) return;
    t.heartbeat = setTimeout(() => {
      t.forceCard = true;
      this.touch(t.deployId);
    }, this.options.heartbeatMs ?? 30_000);
    t.heartbeat.unref();
  }

  private acquire(): Promise<void> {
    if (this.slots.free > 0) {
      this.slots.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slots.waiting.push(resolve));
  }

  private release(): void {
    const next = this.slots.waiting.shift();
    if (next) next();
    else this.slots.free++;
  }

  /** One round of Slack calls for a deploy. Returns true when there is nothing more to report, ever. */
  private async round(t: Tracker): Promise<boolean> {
    const { store, core, client, apps } = this.options;
    const deploy = store.deploys.get(t.deployId);
    if (!deploy) return true;
    const app = apps.get(deploy.app);
    let thread = store.slack.get(deploy.id);

    if (!thread) {
      if (deploy.threadChannel && deploy.threadTs) {
        // A thread made elsewhere (or before the slack_threads table): continue it.
        thread = store.slack.create(deploy.id, deploy.threadChannel, deploy.threadTs);
      } else {
        const channel = deploy.threadChannel ?? app?.channel;
        if (!channel) {
          t.disabled = true;
          this.log.warn({ deployId: deploy.id }, 'deploy has no channel to report to');
          return true;
        }
        const card = this.card(core.view(deploy.id), app, t);
        const res = await client.chat.postMessage({ channel, text: card.text, blocks: card.blocks, unfurl_links: false, unfurl_media: false });
        const channelId = res.channel ?? channel;
        const ts = res.ts!;
        store.tx(() => {
          thread = store.slack.create(deploy.id, channelId, ts);
          store.deploys.patch(deploy.id, { threadChannel: channelId, threadTs: ts });
        });
        t.lastCard = this.cardKey(core.view(deploy.id), app, t);
      }
    }
    const th = thread!;

    // New events → thread replies (and what the card and the approval message need to know).
    let lastId = th.lastEventId;
    const lines: string[] = [];
    let approvalOpened = false;
    for (;;) {
      const events = store.events.after(deploy.id, lastId, 500);
      if (!events.length) break;
      for (const e of events) {
        if (e.kind === 'progress') t.lastProgress = e.message;
        if (e.kind === 'step' && e.data?.state !== 'running') t.lastProgress = null;
        if (e.kind === 'approval' && e.data && 'deadline' in e.data) approvalOpened = true;
        if (isDetail(e)) lines.push(detailLine(e));
        lastId = e.id;
      }
    }
    for (const text of detailMessages(lines)) {
      await client.chat.postMessage({ channel: th.channel, thread_ts: th.ts, text, mrkdwn: true, unfurl_links: false, unfurl_media: false });
    }
    if (lastId !== th.lastEventId) store.slack.patch(deploy.id, { lastEventId: lastId });

    const view = core.view(deploy.id);
    await this.approval(th, view, app, t, approvalOpened);

    // The card, unless nothing it shows has changed.
    const card = this.card(view, app, t);
    const key = this.cardKey(view, app, t);
    if (key !== t.lastCard || t.forceCard) {
      t.forceCard = false;
      await client.chat.update({ channel: th.channel, ts: th.ts, text: card.text, blocks: card.blocks });
      t.lastCard = key;
    }

    if (!isTerminal(view.state)) return false;
    let finalTs = th.finalTs ?? store.slack.get(deploy.id)?.finalTs ?? null;
    if (!finalTs) {
      const final = finalMessage(view, app);
      const res = await client.chat.postMessage({ channel: th.channel, thread_ts: th.ts, reply_broadcast: true, text: final.text, blocks: final.blocks, unfurl_links: false });
      finalTs = res.ts ?? '';
      store.slack.patch(deploy.id, { finalTs });
    }
    // Cleanup goes on after the outcome is known: keep following until it settles.
    if (view.cleanup === 'pending') return false;
    store.slack.patch(deploy.id, { done: true });
    return true;
  }

  /** Posts the approval buttons when the deploy starts waiting; replaces them with the outcome once decided. */
  private async approval(th: SlackThreadRecord, view: DeployView, app: KubeApp | undefined, t: Tracker, opened: boolean): Promise<void> {
    const { store, client } = this.options;
    const approvalTs = store.slack.get(view.id)?.approvalTs ?? th.approvalTs;
    if (!approvalTs) {
      if (!opened && view.state !== 'awaiting_approval') return;
      const msg = approvalMessage(view, app, this.options.groupIds);
      const res = await client.chat.postMessage({ channel: th.channel, thread_ts: th.ts, text: msg.text, blocks: msg.blocks, unfurl_links: false });
      store.slack.patch(view.id, { approvalTs: res.ts ?? '' });
      t.approvalClosed = view.state !== 'awaiting_approval';
      return;
    }
    if (view.state === 'awaiting_approval' || t.approvalClosed) return;
    // Decided, timed out, or cancelled while waiting: the buttons go, the outcome stays.
    const msg = approvalMessage(view, app, this.options.groupIds);
    await client.chat.update({ channel: th.channel, ts: approvalTs, text: msg.text, blocks: msg.blocks });
    t.approvalClosed = true;
  }

  /** The card without its clocks (elapsed, "updated"): equal keys mean an edit would show nothing new. */
  private cardKey(view: DeployView, app: KubeApp | undefined, t: Tracker): string {
    const card = statusCard({ ...view, durationMs: 0, steps: view.steps.map((s) => (s.finishedAt ? s : { ...s, startedAt: null })) }, { app, provider: '', lastProgress: t.lastProgress, now: 0 });
    return JSON.stringify(card.blocks);
  }

  private card(view: DeployView, app: KubeApp | undefined, t: Tracker): SlackMessage {
    return statusCard(view, { app, provider: this.options.providerLabel, lastProgress: t.lastProgress, groupIds: this.options.groupIds });
  }
}

