/**
 * The scheduled refreshes in Slack. It only reads the store — the ticks the
 * schedules recorded (store.schedules, which wakes it) and the refresh deploys
 * (store.feed wakes it on their state changes) — and makes two deliveries:
 *   - `notice`: per tick, in the refresh channel. A refresh is announced
 *     before its thread starts ("Nightly refresh of search-svc v123 starting:
 *     new cluster, cutover without a person when every health check passes —
 *     thread below"; the thread reporter asks for it before posting the
 *     deploy's card, `beforeCard`), and the announcement is edited with the
 *     result once the refresh ended. A skipped tick (locked, paused, deploying,
 *     the previous refresh unfinished, missed while kubecontrol was down) says
 *     why. The progress and the result in the thread are the thread reporter's,
 *     like any deploy's.
 *   - `summary`: one message per night in the platform channel, listing every
 *     tick of the night (which refreshes succeeded, failed, wait or were
 *     skipped, and why), edited in place (chat.update) as the night goes on.
 * Where each got to (the notice's ts and what it shows, the summary's ts and
 * what it shows) is stored after each message, so a retry or a restarted
 * server edits the same messages instead of posting new ones; a post whose
 * answer was lost is looked for by its metadata before it is sent again.
 * A round that fails is retried with exponential backoff (Retry-After
 * honoured); errors retrying cannot fix (channel_not_found, …) stop that
 * message until the next start, logged at error.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandCore } from '../commands/core.js';
import type { DeployView } from '../commands/results.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { EventRecord, ScheduleRunRecord, Store } from '../store/index.js';
import type { GroupIds } from './identity.js';
import { nightlySummary, noticeKey, rowEnded, scheduleNotice, type SummaryRow } from './schedule-views.js';
import type { SlackMessage } from './views.js';

type WebClient = webApi.WebClient;

export interface ScheduleAnnouncerOptions {
  readonly store: Store;
  /** Deploys as every surface shows them (`core.view`). */
  readonly core: Pick<CommandCore, 'view'>;
  readonly apps: ReadonlyMap<string, KubeApp>;
  /** A client without retries of its own (the reporter's): the announcer retries and looks lost posts up itself. */
  readonly client: WebClient;
  readonly logger: Logger;
  /** Where the nightly summary goes (KUBECONTROL_PLATFORM_CHANNEL). */
  readonly platformChannel: string;
  /** Shown in each announcement ("sandbox", "aws eu-west-1"). */
  readonly providerLabel: string;
  readonly groupIds?: GroupIds;
  /** At most one round of Slack calls per interval (summary edits stay within Slack's rate). @default 1000 */
  readonly intervalMs?: number;
  /** The first retry of a failed round waits this long, doubling each time. @default 1000 */
  readonly retryBaseMs?: number;
  /** The longest wait between two attempts. @default 60_000 */
  readonly retryMaxMs?: number;
  /** A Slack call without an answer after this long counts as failed (its outcome unknown). @default 30_000 */
  readonly callTimeoutMs?: number;
}

/** Slack errors that retrying will not fix: that message stops until the next start. */
const PERMANENT_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'missing_scope', 'restricted_action']);
/** chat.update errors that mean the message will never take an edit again: a new one replaces it. */
const UNEDITABLE = new Set(['message_not_found', 'edit_window_closed', 'cant_update_message']);
/** Marks the announcer's messages, so a post whose answer was lost can be found instead of posted twice. */
const EVENT_TYPE = 'kubecontrol_schedule_message';

class CallTimeout extends Error {
  readonly code = 'timeout';
}

/** What went wrong, in Slack's words where it said any; `uncertain` when a post may have landed. */
function describeError(err: unknown): { code: string; retryAfterMs: number | undefined; uncertain: boolean } {
  const e = err as { data?: { error?: unknown }; code?: unknown; statusCode?: unknown; retryAfter?: unknown; message?: unknown } | undefined;
  const platform = typeof e?.data?.error === 'string' ? e.data.error : undefined;
  if (typeof e?.retryAfter === 'number') return { code: 'ratelimited', retryAfterMs: e.retryAfter * 1000, uncertain: false };
  if (platform && e?.code === 'slack_webapi_platform_error') return { code: platform, retryAfterMs: undefined, uncertain: false };
  const code = err instanceof CallTimeout ? 'timeout' : (platform ?? (typeof e?.statusCode === 'number' ? `http_${e.statusCode}` : typeof e?.code === 'string' ? e.code : String(e?.message ?? err)));
  return { code, retryAfterMs: undefined, uncertain: true };
}

export class ScheduleAnnouncer {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly callTimeoutMs: number;
  private stopped = false;
  private started = false;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRoundAt = 0;
  private notBefore = 0;
  private attempts = 0;
  /** Messages stopped by a permanent error (until the next start): `run:ID`, `summary:NIGHT`. */
  private readonly blocked = new Map<string, string>();
  /** Messages whose last post may have landed although Slack's answer was lost. */
  private readonly uncertain = new Set<string>();
  /** Notices being posted, so the round and the reporter's `beforeCard` never post one twice. */
  private readonly posting = new Map<number, Promise<void>>();
  private readonly onChange = (): void => this.wake();
  private readonly onAppended = (e: EventRecord): void => {
    if ((e.kind === 'state' || e.kind === 'approval') && this.options.store.schedules.runForDeploy(e.deployId)) this.wake();
  };

  constructor(private readonly options: ScheduleAnnouncerOptions) {
    this.log = options.logger.child({ component: 'slack-schedules' });
    this.intervalMs = options.intervalMs ?? 1000;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
  }

  /** Follows the schedules and the refresh deploys from now on, and delivers what a previous process left. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.store.schedules.onChange(this.onChange);
    this.options.store.feed.on('appended', this.onAppended);
    this.wake();
  }

  /** Stops following; waits (at most `timeoutMs`) for the round in flight. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    this.options.store.schedules.offChange(this.onChange);
    this.options.store.feed.off('appended', this.onAppended);
    clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running ?? Promise.resolve(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resolves once nothing is left to deliver that can be delivered (tests). A failing round keeps it waiting. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      if (!this.running && !this.dirty && !this.timer && !this.pending()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** What Slack has not taken yet and cannot take (a permanent error), for the operator. */
  backlog(): string[] {
    return [...this.blocked].map(([what, code]) => `${what} (${code})`);
  }

  /**
   * Called by the thread reporter before it posts a deploy's card: a scheduled refresh is announced in
   * its channel first, so the announcement's "thread below" is true. Throws when Slack did not take it
   * (the reporter retries its card, and so this, with its own backoff).
   */
  async beforeCard(deployId: number): Promise<void> {
    if (this.stopped) return;
    const run = this.options.store.schedules.runForDeploy(deployId);
    if (!run || run.noticeTs || this.blocked.has(`run:${run.id}`)) return;
    await this.postNotice(run.id);
  }

  private wake(): void {
    if (this.stopped || !this.started) return;
    this.dirty = true;
    this.kick();
  }

  /** Runs a round now, or arms the timer for when one is due (the interval, or the backoff). */
  private kick(): void {
    if (this.stopped || this.running || this.timer || !this.dirty) return;
    const wait = Math.max(this.notBefore, this.lastRoundAt + this.intervalMs) - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, wait);
      this.timer.unref();
      return;
    }
    this.dirty = false;
    this.lastRoundAt = Date.now();
    this.running = this.round()
      .then(
        () => {
          if (this.attempts > 0) this.log.info({ attempts: this.attempts }, 'Slack took the scheduled refreshes’ messages again');
          this.attempts = 0;
        },
        (err: unknown) => {
          if (this.stopped) return;
          const { code, retryAfterMs } = describeError(err);
          this.attempts++;
          const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(this.attempts - 1, 30)) * (1 + Math.random() / 4);
          const wait = Math.max(backoff, retryAfterMs ?? 0);
          this.notBefore = Date.now() + wait;
          this.dirty = true;
          this.log.warn({ err, code, attempts: this.attempts, retryInMs: Math.round(wait) }, `Slack did not take a scheduled refresh's message (${code}); retrying`);
        },
      )
      .finally(() => {
        this.running = undefined;
        this.kick();
      });
  }

  /** Something in the store is not in Slack yet (and is not blocked). */
  private pending(): boolean {
    const { schedules } = this.options.store;
    return (
      schedules.openRuns().some((r) => !this.blocked.has(`run:${r.id}`) && this.noticeDue(r)) ||
      schedules.openSummaries().some((s) => !this.blocked.has(`summary:${s.night}`) && this.summaryDue(s.night))
    );
  }

  /** One pass over every open notice and summary; throws at the first failure that retrying may fix. */
  private async round(): Promise<void> {
    const { schedules } = this.options.store;
    for (const run of schedules.openRuns()) {
      if (this.stopped) return;
      await this.guard(`run:${run.id}`, () => this.deliverNotice(run.id));
    }
    for (const s of schedules.openSummaries()) {
      if (this.stopped) return;
      await this.guard(`summary:${s.night}`, () => this.deliverSummary(s.night));
    }
  }

  /** Runs one delivery; a permanent error blocks that message (logged) instead of failing the round. */
  private async guard(what: string, deliver: () => Promise<void>): Promise<void> {
    if (this.blocked.has(what)) return;
    try {
      await deliver();
      this.uncertain.delete(what);
    } catch (err) {
      const { code, uncertain } = describeError(err);
      if (PERMANENT_ERRORS.has(code)) {
        this.blocked.set(what, code);
        this.log.error({ err, what, code }, `cannot deliver ${what} to Slack (${code}); not retried until the next start`);
        return;
      }
      if (uncertain) this.uncertain.add(what);
      throw err;
    }
  }

  /** The deploy a tick started, as surfaces show it. */
  private deployOf(run: ScheduleRunRecord): DeployView | undefined {
    return run.deployId && this.options.store.deploys.get(run.deployId) ? this.options.core.view(run.deployId) : undefined;
  }

  private noticeDue(run: ScheduleRunRecord): boolean {
    return !run.noticeTs || run.noticeShown !== noticeKey(run, this.deployOf(run));
  }

  /** Posts a tick's notice (once), or edits it to show the refresh's result; done once it says all it will. */
  private async deliverNotice(runId: number): Promise<void> {
    const { store, client } = this.options;
    let run = store.schedules.run(runId);
    if (!run) return;
    if (!run.noticeTs) {
      await this.postNotice(runId);
      run = store.schedules.run(runId)!;
    }
    const d = this.deployOf(run);
    const key = noticeKey(run, d);
    if (run.noticeShown !== key && run.noticeTs && run.noticeChannel) {
      const msg = this.notice(run, d);
      try {
        await this.call(() => client.chat.update({ channel: run!.noticeChannel!, ts: run!.noticeTs!, text: msg.text, blocks: msg.blocks }));
      } catch (err) {
        const code = describeError(err).code;
        if (!UNEDITABLE.has(code)) throw err;
        // The announcement cannot take its result any more: the thread's result (the reporter's) says it.
        this.log.warn({ runId, code }, `the announcement of ${run.app}'s refresh could not be edited with its result (${code})`);
      }
      store.schedules.patchRun(runId, { noticeShown: key });
    }
    if (key !== 'announced') store.schedules.patchRun(runId, { noticeDone: true });
  }

  /** Posts a tick's notice in its refresh channel once (shared by the round and `beforeCard`). */
  private postNotice(runId: number): Promise<void> {
    const inFlight = this.posting.get(runId);
    if (inFlight) return inFlight;
    const p = (async () => {
      const { store, client } = this.options;
      const run = store.schedules.run(runId);
      if (!run || run.noticeTs) return;
      const d = this.deployOf(run);
      const msg = this.notice(run, d);
      const key = `run:${run.id}`;
      const metadata = { event_type: EVENT_TYPE, event_payload: { run: run.id, key: 'notice' } };
      const found = this.uncertain.has(key) ? await this.findPosted(run.channel, run.at, (p) => p.run === run.id && p.key === 'notice') : undefined;
      const res = found ?? (await this.call(() => client.chat.postMessage({ channel: run.channel, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false, metadata })));
      store.schedules.patchRun(run.id, { noticeChannel: res.channel ?? run.channel, noticeTs: res.ts ?? '', noticeShown: noticeKey(run, d) });
    })().finally(() => this.posting.delete(runId));
    this.posting.set(runId, p);
    return p;
  }

  private notice(run: ScheduleRunRecord, d: DeployView | undefined): SlackMessage {
    return scheduleNotice(run, d, this.options.apps.get(run.app), { provider: this.options.providerLabel, now: this.options.store.now(), groupIds: this.options.groupIds });
  }

  private rows(night: string): SummaryRow[] {
    return this.options.store.schedules.runsOfNight(night).map((run) => ({ run, deploy: this.deployOf(run) }));
  }

  private summaryDue(night: string): boolean {
    const s = this.options.store.schedules.summary(night);
    const rows = this.rows(night);
    return !s?.ts || s.shown !== nightlySummary(night, rows, { now: 0 }).key || rows.every(rowEnded);
  }

  /** Posts the night's summary once, then edits it in place whenever what it shows changed. */
  private async deliverSummary(night: string): Promise<void> {
    const { store, client, platformChannel } = this.options;
    const s = store.schedules.summary(night);
    if (!s) return;
    const rows = this.rows(night);
    if (!rows.length) return;
    const { message, key } = nightlySummary(night, rows, { now: store.now() });
    const post = async (): Promise<void> => {
      const metadata = { event_type: EVENT_TYPE, event_payload: { night, key: 'summary' } };
      const found = this.uncertain.has(`summary:${night}`)
        ? await this.findPosted(platformChannel, rows[0]!.run.at, (p) => p.night === night && p.key === 'summary')
        : undefined;
      const res = found ?? (await this.call(() => client.chat.postMessage({ channel: platformChannel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false, metadata })));
      store.schedules.patchSummary(night, { channel: res.channel ?? platformChannel, ts: res.ts ?? '', shown: found ? 'found' : key });
    };
    if (!s.ts || !s.channel) await post();
    else if (s.shown !== key) {
      try {
        await this.call(() => client.chat.update({ channel: s.channel!, ts: s.ts!, text: message.text, blocks: message.blocks }));
        store.schedules.patchSummary(night, { shown: key });
      } catch (err) {
        const code = describeError(err).code;
        if (!UNEDITABLE.has(code)) throw err;
        this.log.warn({ night, code }, `the summary of the ${night} night could not be edited (${code}); posting a new one`);
        await post();
      }
    }
    const now = store.schedules.summary(night)!;
    if (now.shown === key && rows.every(rowEnded)) store.schedules.patchSummary(night, { done: true });
  }

  /**
   * A message of ours in `channel` whose post had no answer, found by its metadata (newest 200 since
   * shortly before `since`). A failed lookup counts as not found: then it is posted again.
   */
  private async findPosted(channel: string, since: number, match: (payload: Record<string, unknown>) => boolean): Promise<{ channel?: string; ts?: string } | undefined> {
    try {
      const res = await this.call(() =>
        this.options.client.conversations.history({ channel, oldest: String(Math.floor(since / 1000) - 60), include_all_metadata: true, limit: 200 }),
      );
      for (const m of res.messages ?? []) {
        const meta = (m as { metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }).metadata;
        if (meta?.event_type === EVENT_TYPE && meta.event_payload && match(meta.event_payload) && m.ts) return { channel, ts: m.ts };
      }
      return undefined;
    } catch (err) {
      this.log.debug({ err, channel }, 'could not look for a message whose post had no answer; posting it');
      return undefined;
    }
  }

  /** A Slack call bounded by `callTimeoutMs`. */
  private call<T>(send: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const request = send();
    request.catch(() => undefined);
    return Promise.race([
      request,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CallTimeout(`no answer from Slack within ${this.callTimeoutMs} ms`)), this.callTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}
