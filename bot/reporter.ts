/**
 * The thread reporter: one Slack thread per deploy, for deploys from every
 * surface. It only reads the store — the deploy's events (store.feed
 * wakes it; store.events.after says what is new) — and never runs inside the
 * pipeline. Per deploy it makes four independent deliveries:
 *   - `card`: posts a status card in the deploy's channel (the thread's first
 *     message) and edits it in place (chat.update) as the deploy moves; a card
 *     Slack will not edit any more is replaced by a new one in the thread;
 *   - `replies`: the person-level events as replies in the thread, batched;
 *   - `approval`: the Approve / Reject buttons when a blue/green deploy starts
 *     waiting, replaced with who decided;
 *   - `final`: the result, to the thread and the channel (reply_broadcast).
 * Each delivery is serial and coalesced (at most one attempt per deploy and
 * kind every `intervalMs`, and the last one always shows the latest state),
 * and retried on its own with exponential backoff (Retry-After honoured) for
 * as long as Slack fails — so a failing card edit never holds back the
 * buttons or the result, and once Slack answers again everything converges
 * on what the store says. New events only mark a delivery dirty: a failing
 * one waits for its retry timer. Only errors retrying cannot fix
 * (channel_not_found, invalid_auth, …) stop a delivery, logged at error and
 * listed by `backlog()`. Where it got to (card ts, last reported event,
 * approval and result ts) is stored in store.slack after each message, so a
 * retry or a restarted server continues the same thread without repeating it.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { DeployView } from '../commands/results.js';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type EventRecord, type Store } from '../store/index.js';
import type { SlackThreadRecord } from '../store/slack.js';
import type { GroupIds } from './identity.js';
import { approvalMessage, detailLine, finalMessage, isDetail, statusCard, type Block, type SlackMessage } from './views.js';

type WebClient = webApi.WebClient;

export interface ReporterOptions {
  readonly store: Store;
  readonly core: CommandCore;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly client: WebClient;
  readonly logger: Logger;
  /** Shown on every card ("sandbox", "aws eu-west-1"). */
  readonly providerLabel: string;
  /** At most one attempt per deploy and delivery kind per interval. @default 1000 */
  readonly intervalMs?: number;
  /** Deliveries (of any deploys) in flight at once: bounds the background work a burst of deploys causes. @default 4 */
  readonly concurrency?: number;
  /** While a step runs with no news, the card's elapsed time is refreshed this often. @default 30_000 */
  readonly heartbeatMs?: number;
  /** Group ids by handle (cached), so approver groups are mentioned and notified. */
  readonly groupIds?: GroupIds;
  /** The first retry of a failed delivery waits this long, doubling each time (plus up to 25% jitter). @default 1000 */
  readonly retryBaseMs?: number;
  /** The longest wait between two attempts of a failing delivery (it is retried for as long as Slack fails). @default 60_000 */
  readonly retryMaxMs?: number;
  /**
   * A delivery whose Slack call has not answered after this long counts as failed (the outcome is unknown)
   * and is retried; its slot is freed for other deliveries. @default 30_000
   */
  readonly callTimeoutMs?: number;
  /**
   * Runs before a deploy's card opens its thread; a failure fails the card's attempt (retried like it).
   * The schedule announcer announces a scheduled refresh here, so its "thread below" comes first.
   */
  readonly beforeCard?: (deployId: number) => Promise<void>;
}

/** The four things the reporter delivers per deploy, each retried on its own. */
export type DeliveryKind = 'card' | 'replies' | 'approval' | 'final';
export const DELIVERY_KINDS: readonly DeliveryKind[] = ['card', 'replies', 'approval', 'final'];

/** One delivery that Slack has not taken yet (`ThreadReporter.backlog`). */
export interface PendingDelivery {
  readonly kind: DeliveryKind;
  /** Failed attempts in a row. */
  readonly attempts: number;
  /** The last Slack error ('service_unavailable', 'ratelimited', 'http_503', 'timeout', …). */
  readonly lastError: string;
  /** When the first of these failures happened (ms since the epoch). */
  readonly failingSince: number;
  /** When the next attempt is due (ms since the epoch); null when `permanent`. */
  readonly retryAt: number | null;
  /** An error retrying will not fix (channel_not_found, not_in_channel, invalid_auth, …): not retried until the next start. */
  readonly permanent: boolean;
}

/** A deploy with deliveries Slack has not taken yet, and why (`ThreadReporter.backlog`). */
export interface DeliveryBacklog {
  readonly deployId: number;
  readonly app: string | undefined;
  readonly pending: readonly PendingDelivery[];
}

/** Slack errors that retrying will not fix: that delivery stops until the next start (logged at error, in `backlog()`). */
const PERMANENT_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'missing_scope', 'restricted_action']);
/** chat.update errors that mean the message will never take an edit again: a new card replaces it. */
const UNEDITABLE = new Set(['message_not_found', 'edit_window_closed', 'cant_update_message']);
/** Marks the reporter's messages, so a post whose answer was lost can be found instead of posted twice. */
const EVENT_TYPE = 'kubecontrol_deploy_message';

interface Delivery {
  /** Something may be left to deliver. */
  dirty: boolean;
  running: boolean;
  /** The next attempt (interval or backoff), if one is scheduled. */
  timer: NodeJS.Timeout | undefined;
  lastAt: number;
  attempts: number;
  notBefore: number;
  lastError: string | undefined;
  failingSince: number;
  /** The last attempt's outcome is unknown (timeout, 5xx, dropped): a post may have landed. */
  uncertain: boolean;
  /** A permanent error: not retried until the next start. */
  blocked: string | undefined;
}

interface Tracker {
  readonly deployId: number;
  readonly kinds: Record<DeliveryKind, Delivery>;
  /** The card as last sent, without its clocks, to skip edits that change nothing. */
  lastCard: string | undefined;
  /** The newest progress message (read from the events for the card) and the event it was read up to. */
  lastProgress: string | null;
  progressCursor: number;
  approvalClosed: boolean;
  /** Refreshes the card's clocks during long quiet steps (an EKS cluster takes ~12 minutes). */
  heartbeat: NodeJS.Timeout | undefined;
  forceCard: boolean;
}

/** A Slack call that did not answer within the reporter's bound. */
class CallTimeout extends Error {
  readonly code = 'timeout';
}

/** What went wrong, in Slack's words where it said any. */
function describeError(err: unknown): { code: string; retryAfterMs: number | undefined; uncertain: boolean } {
  const e = err as { data?: { error?: unknown }; code?: unknown; statusCode?: unknown; retryAfter?: unknown; message?: unknown } | undefined;
  const platform = typeof e?.data?.error === 'string' ? e.data.error : undefined;
  // WebAPIRateLimitedError (rejectRateLimitedCalls) says it; a client that waited itself and ran out of retries says it in its message.
  const said = /retry-after: (\d+)/.exec(typeof e?.message === 'string' ? e.message : '')?.[1];
  const retryAfterMs = typeof e?.retryAfter === 'number' ? e.retryAfter * 1000 : said !== undefined ? Number(said) * 1000 : undefined;
  if (retryAfterMs !== undefined) return { code: 'ratelimited', retryAfterMs, uncertain: false };
  // ok:false: Slack read the request and refused it, so nothing landed.
  if (platform && e?.code === 'slack_webapi_platform_error') return { code: platform, retryAfterMs: undefined, uncertain: false };
  const code = err instanceof CallTimeout ? 'timeout' : platform ?? (typeof e?.statusCode === 'number' ? `http_${e.statusCode}` : typeof e?.code === 'string' ? e.code : String(e?.message ?? err));
  return { code, retryAfterMs: undefined, uncertain: true };
}

const newDelivery = (): Delivery => ({ dirty: false, running: false, timer: undefined, lastAt: 0, attempts: 0, notBefore: 0, lastError: undefined, failingSince: 0, uncertain: false, blocked: undefined });

export class ThreadReporter {
  private readonly trackers = new Map<number, Tracker>();
  private readonly intervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly callTimeoutMs: number;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  /**
   * New events only mark their deploys; the marks are taken up in the event loop's check phase
   * (setImmediate), after the I/O that is waiting: a burst of commands is answered first, and its
   * deploys' Slack work follows between the answers instead of inside them.
   */
  private readonly onAppended = (e: EventRecord): void => {
    this.touched.add(e.deployId);
    if (!this.touching) this.touching = setImmediate(this.takeTouched);
  };
  private readonly takeTouched = (): void => {
    this.touching = undefined;
    const ids = [...this.touched];
    this.touched.clear();
    for (const id of ids) this.touch(id);
  };
  private readonly touched = new Set<number>();
  private touching: NodeJS.Immediate | undefined;
  private readonly slots: { free: number; waiting: (() => void)[] };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: ReporterOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
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

  /** Stops following and cancels every timer; waits (at most `timeoutMs`) for the deliveries in flight. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.options.store.feed.off('appended', this.onAppended);
    this.stopping.abort();
    if (this.touching) clearImmediate(this.touching);
    this.touching = undefined;
    this.touched.clear();
    for (const t of this.trackers.values()) {
      clearTimeout(t.heartbeat);
      for (const d of Object.values(t.kinds)) {
        clearTimeout(d.timer);
        d.timer = undefined;
      }
    }
    for (const wake of this.slots.waiting.splice(0)) wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resolves once nothing is waiting to be reported (tests, shutdown). A delivery that keeps failing keeps it waiting. */
  async idle(): Promise<void> {
    for (;;) {
      const busy = this.touched.size > 0 || [...this.trackers.values()].some((t) => Object.values(t.kinds).some((d) => d.running || (d.dirty && !d.blocked)));
      if (!busy || this.stopping.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Deploys with deliveries Slack has not taken (failing, being retried, or stopped by a permanent
   * error), with the last error of each: what `status` shows the operator. Empty when Slack is up to date.
   */
  backlog(): DeliveryBacklog[] {
    const out: DeliveryBacklog[] = [];
    for (const t of this.trackers.values()) {
      const pending: PendingDelivery[] = [];
      for (const kind of DELIVERY_KINDS) {
        const d = t.kinds[kind];
        if (!d.blocked && d.attempts === 0) continue;
        pending.push({
          kind,
          attempts: d.attempts,
          lastError: d.blocked ?? d.lastError ?? 'unknown',
          failingSince: d.failingSince,
          retryAt: d.blocked ? null : Math.max(d.notBefore, d.lastAt + this.intervalMs),
          permanent: !!d.blocked,
        });
      }
      if (pending.length) out.push({ deployId: t.deployId, app: this.options.store.deploys.get(t.deployId)?.app, pending });
    }
    return out.sort((a, b) => a.deployId - b.deployId);
  }

  /** Marks a deploy as having news: every delivery of it may have something new. */
  private touch(deployId: number, kinds: readonly DeliveryKind[] = DELIVERY_KINDS): void {
    if (this.stopping.signal.aborted) return;
    let t = this.trackers.get(deployId);
    if (!t) {
      t = {
        deployId,
        kinds: { card: newDelivery(), replies: newDelivery(), approval: newDelivery(), final: newDelivery() },
        lastCard: undefined,
        lastProgress: null,
        progressCursor: 0,
        approvalClosed: false,
        heartbeat: undefined,
        forceCard: false,
      };
      this.trackers.set(deployId, t);
    }
    for (const kind of kinds) {
      t.kinds[kind].dirty = true;
      this.schedule(t, kind);
    }
  }

  /**
   * Runs a dirty delivery now, or arms its timer for when it is due (the interval since its last
   * attempt, or its backoff). A delivery already running or already waiting is left alone: its
   * timer decides, so news never bypasses a backoff.
   */
  private schedule(t: Tracker, kind: DeliveryKind): void {
    const d = t.kinds[kind];
    if (this.stopping.signal.aborted || d.running || d.timer || !d.dirty || d.blocked || this.trackers.get(t.deployId) !== t) return;
    const wait = Math.max(d.notBefore, d.lastAt + this.intervalMs) - Date.now();
    if (wait > 0) {
      d.timer = setTimeout(() => {
        d.timer = undefined;
        this.schedule(t, kind);
      }, wait);
      d.timer.unref();
      return;
    }
    d.running = true;
    const run = this.attempt(t, kind).finally(() => {
      d.running = false;
      this.inFlight.delete(run);
      this.settle(t);
    });
    this.inFlight.add(run);
  }

  /** One attempt of one delivery; failures are recorded on the delivery and retried later. */
  private async attempt(t: Tracker, kind: DeliveryKind): Promise<void> {
    const d = t.kinds[kind];
    await this.acquire();
    try {
      if (this.stopping.signal.aborted) return;
      d.dirty = false;
      d.lastAt = Date.now();
      const uncertain = d.uncertain;
      await this.deliver(t, kind, uncertain);
      if (d.attempts > 0) this.log.info({ deployId: t.deployId, kind, attempts: d.attempts }, `Slack took the ${kind} of deploy #${t.deployId} again`);
      d.attempts = 0;
      d.lastError = undefined;
      d.uncertain = false;
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      const { code, retryAfterMs, uncertain } = describeError(err);
      d.dirty = true;
      d.lastError = code;
      if (d.attempts === 0) d.failingSince = Date.now();
      d.uncertain = d.uncertain || uncertain;
      if (PERMANENT_ERRORS.has(code)) {
        d.blocked = code;
        this.log.error({ err, deployId: t.deployId, kind, code }, `cannot deliver the ${kind} of deploy #${t.deployId} to Slack (${code}); not retried until the next start`);
        return;
      }
      d.attempts++;
      const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(d.attempts - 1, 30)) * (1 + Math.random() / 4);
      const wait = Math.max(backoff, retryAfterMs ?? 0);
      d.notBefore = Date.now() + wait;
      this.log.warn({ err, deployId: t.deployId, kind, code, attempts: d.attempts, retryInMs: Math.round(wait) }, `Slack did not take the ${kind} of deploy #${t.deployId} (${code}); retrying`);
    } finally {
      this.release();
    }
  }

  /** After an attempt: either the deploy is fully reported (forget it), or schedule what is still dirty. */
  private settle(t: Tracker): void {
    if (this.stopping.signal.aborted || this.trackers.get(t.deployId) !== t) return;
    if (this.finished(t)) {
      clearTimeout(t.heartbeat);
      this.options.store.slack.patch(t.deployId, { done: true });
      this.trackers.delete(t.deployId);
      return;
    }
    for (const kind of DELIVERY_KINDS) this.schedule(t, kind);
  }

  /** Everything about an ended deploy is in Slack: card, replies, approval outcome, result. */
  private finished(t: Tracker): boolean {
    const { store } = this.options;
    if (Object.values(t.kinds).some((d) => d.running || d.dirty)) return false;
    const deploy = store.deploys.get(t.deployId);
    if (!deploy) return true;
    if (!isTerminal(deploy.state) || deploy.cleanup === 'pending') return false;
    const th = store.slack.get(t.deployId);
    if (!th) return false;
    if (!th.finalTs) return false;
    if (th.approvalTs && !t.approvalClosed) return false;
    const last = store.events.after(t.deployId, th.lastEventId, 1);
    if (last.length) return false;
    return t.lastCard === this.cardKey(this.options.core.view(t.deployId), this.options.apps.get(deploy.app), t);
  }

  /** A Slack call bounded by `callTimeoutMs` (the client's own retries happen inside it). */
  private call<T>(send: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const request = send();
    request.catch(() => undefined); // answered after the timeout: nobody is waiting for it any more
    return Promise.race([
      request,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CallTimeout(`no answer from Slack within ${this.callTimeoutMs} ms`)), this.callTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Posts a thread reply once: after an attempt whose outcome is unknown, first looks in the
   * thread for the reply (found by its metadata) and returns its ts instead of posting it again.
   */
  private async postOnce(
    th: SlackThreadRecord,
    key: string,
    uncertain: boolean,
    message: { text: string; blocks?: Block[]; mrkdwn?: boolean; reply_broadcast?: boolean },
    payload: Record<string, string | number> = {},
  ): Promise<string> {
    const { client } = this.options;
    const metadata = { event_type: EVENT_TYPE, event_payload: { ...payload, deploy: th.deployId, key } };
    if (uncertain) {
      const found = await this.findReply(th, key);
      if (found) return found.ts;
    }
    const res = await this.call(() => client.chat.postMessage({ channel: th.channel, thread_ts: th.ts, unfurl_links: false, unfurl_media: false, metadata, ...message } as webApi.ChatPostMessageArguments));
    return res.ts ?? '';
  }

  /** The ts of the thread reply marked with `key`, if Slack has it. A failed lookup counts as not found. */
  private async findReply(th: SlackThreadRecord, key: string): Promise<{ ts: string; payload: Record<string, unknown> } | undefined> {
    try {
      const res = await this.call(() => this.options.client.conversations.replies({ channel: th.channel, ts: th.ts, include_all_metadata: true, limit: 200 }));
      for (const m of res.messages ?? []) {
        const meta = (m as { metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }).metadata;
        if (meta?.event_type === EVENT_TYPE && meta.event_payload?.deploy === th.deployId && meta.event_payload?.key === key && m.ts) return { ts: m.ts, payload: meta.event_payload };
      }
      return undefined;
    } catch (err) {
      this.log.debug({ err, deployId: th.deployId }, 'could not look for a reply whose post had no answer; posting it');
      return undefined;
    }
  }

  private deliver(t: Tracker, kind: DeliveryKind, uncertain: boolean): Promise<void> {
    switch (kind) {
      case 'card':
        return this.deliverCard(t, uncertain);
      case 'replies':
        return this.deliverReplies(t, uncertain);
      case 'approval':
        return this.deliverApproval(t, uncertain);
      case 'final':
        return this.deliverFinal(t, uncertain);
    }
  }

  /** The thread of a deploy, if its card was posted (the other deliveries wait for it). */
  private thread(deployId: number): SlackThreadRecord | undefined {
    const { store } = this.options;
    const th = store.slack.get(deployId);
    if (th) return th;
    const deploy = store.deploys.get(deployId);
    // A thread made elsewhere (or before the slack_threads table): continue it.
    if (deploy?.threadChannel && deploy.threadTs) return store.slack.create(deploy.id, deploy.threadChannel, deploy.threadTs);
    return undefined;
  }

  /** Posts the card (opening the thread), or edits it to match the store; replaces a card Slack will not edit. */
  private async deliverCard(t: Tracker, uncertain: boolean): Promise<void> {
    const { store, core, client, apps } = this.options;
    const deploy = store.deploys.get(t.deployId);
    if (!deploy) return;
    const app = apps.get(deploy.app);
    this.readProgress(t);
    const th = this.thread(deploy.id);
    // Rendered from the store on every attempt: what is sent is what the key says was sent.
    const view = core.view(deploy.id);
    const key = this.cardKey(view, app, t);
    if (!th) {
      const channel = deploy.threadChannel ?? app?.channel;
      if (!channel) {
        t.kinds.card.blocked = 'no_channel';
        this.log.warn({ deployId: deploy.id }, 'deploy has no channel to report to');
        return;
      }
      void uncertain; // a lost top-level post cannot be looked up without a thread; at worst a second card appears
      await this.options.beforeCard?.(deploy.id);
      const card = this.card(view, app, t);
      const res = await this.call(() => client.chat.postMessage({ channel, text: card.text, blocks: card.blocks, unfurl_links: false, unfurl_media: false }));
      const channelId = res.channel ?? channel;
      const ts = res.ts!;
      store.tx(() => {
        store.slack.create(deploy.id, channelId, ts);
        store.deploys.patch(deploy.id, { threadChannel: channelId, threadTs: ts });
      });
      t.lastCard = key;
      // The thread exists: the other deliveries can start.
      this.touch(deploy.id, ['replies', 'approval', 'final']);
      this.beat(t);
      return;
    }
    if (key !== t.lastCard || t.forceCard) {
      const card = this.card(view, app, t);
      const cardTs = th.cardTs ?? th.ts;
      try {
        await this.call(() => client.chat.update({ channel: th.channel, ts: cardTs, text: card.text, blocks: card.blocks }));
      } catch (err) {
        const code = describeError(err).code;
        if (!UNEDITABLE.has(code)) throw err;
        const note: Block = { type: 'context', elements: [{ type: 'mrkdwn', text: `↻ The card above could not be edited any more (${code}); this one replaces it.` }] };
        const ts = await this.postOnce(th, `card:${cardTs}`, uncertain, { text: card.text, blocks: [...(card.blocks ?? []), note] });
        store.slack.patch(deploy.id, { cardTs: ts });
        this.log.warn({ deployId: deploy.id, code, oldTs: cardTs, ts }, `the card of deploy #${deploy.id} could not be edited (${code}); replaced by a new one in its thread`);
      }
      t.forceCard = false;
      t.lastCard = key;
    }
    this.beat(t);
  }

  /** The newest progress message since the last look (for the card's note); a finished step clears it. */
  private readProgress(t: Tracker): void {
    for (;;) {
      const events = this.options.store.events.after(t.deployId, t.progressCursor, 500);
      if (!events.length) return;
      for (const e of events) {
        if (e.kind === 'progress') t.lastProgress = e.message;
        if (e.kind === 'step' && e.data?.state !== 'running') t.lastProgress = null;
        t.progressCursor = e.id;
      }
    }
  }

  /** New person-level events as thread replies; the cursor moves after each message Slack took. */
  private async deliverReplies(t: Tracker, uncertain: boolean): Promise<void> {
    const { store } = this.options;
    const th = this.thread(t.deployId);
    if (!th) return;
    let cursor = th.lastEventId;
    batches: for (;;) {
      const events = store.events.after(t.deployId, cursor, 500);
      if (!events.length) return;
      const batchEnd = events.at(-1)!.id;
      // Messages of ~3,500 characters; each one covers the events from its first line up to its last.
      const messages: { text: string; from: number; upTo: number }[] = [];
      for (const e of events) {
        if (!isDetail(e)) continue;
        const line = detailLine(e);
        const last = messages.at(-1);
        if (last && last.text.length + line.length + 1 <= 3500) {
          last.text = `${last.text}\n${line}`;
          last.upTo = e.id;
        } else messages.push({ text: line, from: e.id, upTo: e.id });
      }
      for (const m of messages) {
        // Keyed by its first event: after a post whose answer was lost, more events may have come, and the
        // message rebuilt now covers more than the one that landed; the one that landed says how far it got.
        const key = `events:${m.from}`;
        if (uncertain) {
          uncertain = false;
          const found = await this.findReply(th, key);
          const upTo = found?.payload.upTo;
          if (found && typeof upTo === 'number') {
            store.slack.patch(t.deployId, { lastEventId: upTo });
            cursor = upTo;
            continue batches;
          }
        }
        await this.postOnce(th, key, false, { text: m.text, mrkdwn: true }, { upTo: m.upTo });
        store.slack.patch(t.deployId, { lastEventId: m.upTo });
        cursor = m.upTo;
      }
      if (cursor !== batchEnd) {
        store.slack.patch(t.deployId, { lastEventId: batchEnd });
        cursor = batchEnd;
      }
    }
  }

  /** Posts the approval buttons when the deploy starts waiting; replaces them with the outcome once decided. */
  private async deliverApproval(t: Tracker, uncertain: boolean): Promise<void> {
    const { store, client, apps } = this.options;
    const th = this.thread(t.deployId);
    if (!th) return;
    // A deploy still in line has not been asked (one row read, not its whole view: a burst queues thousands).
    if (store.deploys.get(t.deployId)?.state === 'queued') return;
    const view = this.options.core.view(t.deployId);
    const asked = view.state === 'awaiting_approval' || !!view.approval || view.steps.some((s) => s.name === 'approval' && s.state !== 'pending');
    if (!asked) return;
    const app = apps.get(view.app);
    const msg = approvalMessage(view, app, this.options.groupIds);
    if (!th.approvalTs) {
      const ts = await this.postOnce(th, 'approval', uncertain, { text: msg.text, blocks: msg.blocks });
      store.slack.patch(view.id, { approvalTs: ts });
      t.approvalClosed = view.state !== 'awaiting_approval';
      return;
    }
    if (view.state === 'awaiting_approval' || t.approvalClosed) return;
    // Decided, timed out, or cancelled while waiting: the buttons go, the outcome stays.
    try {
      await this.call(() => client.chat.update({ channel: th.channel, ts: th.approvalTs!, text: msg.text, blocks: msg.blocks }));
    } catch (err) {
      const code = describeError(err).code;
      if (!UNEDITABLE.has(code)) throw err;
      // The buttons cannot be taken away; the outcome is said below them (clicking them is refused anyway).
      await this.postOnce(th, 'approval-outcome', uncertain, { text: msg.text, blocks: msg.blocks });
    }
    t.approvalClosed = true;
  }

  /** The result, once the deploy ended: to the thread and the channel. */
  private async deliverFinal(t: Tracker, uncertain: boolean): Promise<void> {
    const { store, apps } = this.options;
    const th = this.thread(t.deployId);
    if (!th || th.finalTs) return;
    const deploy = store.deploys.get(t.deployId);
    if (!deploy || !isTerminal(deploy.state)) return;
    const view = this.options.core.view(t.deployId);
    // The result comes last in the thread — unless the replies are the ones failing.
    const replies = t.kinds.replies;
    if (replies.attempts === 0 && (replies.running || (replies.dirty && !replies.blocked))) {
      t.kinds.final.dirty = true;
      return;
    }
    const final = finalMessage(view, apps.get(view.app));
    const ts = await this.postOnce(th, 'final', uncertain, { text: final.text, blocks: final.blocks, reply_broadcast: true });
    store.slack.patch(t.deployId, { finalTs: ts });
  }

  /** (Re)arms the heartbeat of a deploy that is running (not queued, not waiting for people, not over). */
  private beat(t: Tracker): void {
    clearTimeout(t.heartbeat);
    t.heartbeat = undefined;
    if (this.stopping.signal.aborted) return;
    const state = this.options.store.deploys.get(t.deployId)?.state;
    if (!state || state === 'queued' || state === 'awaiting_approval' || isTerminal(state)) return;
    t.heartbeat = setTimeout(() => {
      t.forceCard = true;
      this.touch(t.deployId, ['card']);
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
    // Handed over in the check phase, like new events: answers waiting on I/O go first.
    if (next) setImmediate(next);
    else this.slots.free++;
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
