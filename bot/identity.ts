/**
 * Who people are on Slack. KubeApps name Slack user ids and user-group
 * handles (`@search-team`); `SlackGroups` resolves handles to member ids
 * (usergroups.list + usergroups.users.list) and `SlackUsers` ids to display
 * names (users.info). Both cache, so the slash-command ack path can answer
 * from memory: `peek()` never calls Slack.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { GroupMembers, GroupResolver } from '../commands/authorize.js';
import { describeSlackError } from './logger.js';

type WebClient = webApi.WebClient;

/** A Slack user id (U…, W… for Enterprise Grid). */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** How a person appears in a message: a mention for Slack ids (Slack shows the display name), the name otherwise. */
export function who(id: string, name?: string | null): string {
  return SLACK_USER_ID.test(id) ? `<@${id}>` : (name ?? id);
}

/** Looks up a user group's id by handle, without calling Slack. */
export type GroupIds = (handle: string) => string | undefined;

/** A principal from a KubeApp (id, local name or @handle) as a message shows it; a known group is mentioned (and notified). */
export function principal(entry: string, groupIds?: GroupIds): string {
  if (!entry.startsWith('@')) return who(entry);
  const id = groupIds?.(entry.slice(1));
  return id ? `<!subteam^${id}>` : `\`${entry}\``;
}

interface Cached<T> {
  readonly value: T;
  readonly at: number;
}

export interface SlackGroupsOptions {
  /** How long a group's member list is trusted. @default 60_000 */
  readonly ttlMs?: number;
  readonly logger?: Logger;
  /** Handles to keep warm (the `@handles` the KubeApps name); refreshed before they expire. */
  readonly handles?: readonly string[];
  /**
   * How long a member list that could not be refreshed is still used (Slack
   * down for a minute must not lock everyone out). @default 10 × ttlMs
   */
  readonly maxStaleMs?: number;
  /**
   * After this long without an answer a lookup counts as failed for the people
   * asking ("Slack did not answer within …; try again"), although the request
   * may still finish and fill the cache. @default 10_000
   */
  readonly lookupTimeoutMs?: number;
}

/**
 * Slack user groups as the command core's GroupResolver. Member lists are
 * cached for `ttlMs` (a removed member loses access within that time);
 * handles the KubeApps name are refreshed in the background so permission
 * checks on the ack path are answered from the cache. A refresh asks
 * `usergroups.list` once for all handles, then `usergroups.users.list` once
 * per named group; concurrent askers share the lookups in flight.
 */
export class SlackGroups implements GroupResolver {
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly lookupTimeoutMs: number;
  /** Why the last lookup of a handle failed (or is overdue), for "couldn't check your group membership". */
  private readonly lastError = new Map<string, string>();
  private readonly members_ = new Map<string, Cached<readonly string[]>>();
  private ids: Cached<ReadonlyMap<string, string>> | undefined;
  /** The usergroups.list in flight, shared by every handle that needs it. */
  private idsInflight: Promise<ReadonlyMap<string, string>> | undefined;
  private readonly inflight = new Map<string, Promise<readonly string[]>>();
  private timer: NodeJS.Timeout | undefined;
  private handles: readonly string[];

  constructor(
    private readonly client: WebClient,
    private readonly options: SlackGroupsOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxStaleMs = options.maxStaleMs ?? this.ttlMs * 10;
    this.lookupTimeoutMs = options.lookupTimeoutMs ?? 10_000;
    this.handles = options.handles ?? [];
  }

  /**
   * What is known of `@handle` now, without waiting (the ack path). A list
   * older than the TTL is still used, up to `maxStaleMs`, while a refresh runs
   * in the background; a handle never loaded (or stale past that) is not known,
   * and a lookup starts (or the one in flight is joined) so that trying again works.
   */
  membersNow(handle: string): GroupMembers {
    const key = handle.toLowerCase();
    const c = this.members_.get(key);
    const age = c ? Date.now() - c.at : Number.POSITIVE_INFINITY;
    if (age >= this.ttlMs) {
      this.fetch(key).catch(() => undefined); // logged by fetch
    }
    if (c && age < this.maxStaleMs) return { known: true, members: c.value };
    return { known: false, reason: this.lastError.get(key) ?? 'its members are still being fetched from Slack' };
  }

  /** Member ids of `@handle` (without '@'); unknown handles have no members. */
  async members(handle: string): Promise<readonly string[]> {
    const cached = this.peek(handle);
    if (cached) return cached;
    return this.fetch(handle);
  }

  /** The cached, still fresh member list, without calling Slack. */
  peek(handle: string): readonly string[] | undefined {
    const c = this.members_.get(handle.toLowerCase());
    return c && Date.now() - c.at < this.ttlMs ? c.value : undefined;
  }

  /**
   * Starts keeping `handles` warm (they are fetched now and before each
   * expiry). Resolves once the first refresh has settled.
   */
  keepWarm(handles: readonly string[] = this.handles): Promise<void> {
    this.handles = [...new Set(handles.map((h) => h.replace(/^@/, '').toLowerCase()))];
    if (!this.handles.length) return Promise.resolve();
    const first = this.refresh();
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.refresh(), Math.max(1000, Math.floor(this.ttlMs * 0.75)));
    this.timer.unref();
    return first;
  }

  /** One refresh of every kept handle: one usergroups.list, then one usergroups.users.list per handle. */
  async refresh(): Promise<void> {
    if (!this.handles.length) return;
    const ids = this.groupIds(true);
    ids.catch(() => undefined); // each handle's lookup reports it
    await Promise.allSettled(this.handles.map((h) => this.fetch(h, ids)));
  }

  /** The group id of a handle, if the cache knows it (for `<!subteam^ID>` mentions). */
  idOf(handle: string): string | undefined {
    return this.ids?.value.get(handle.replace(/^@/, '').toLowerCase());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks `handle` up (joining a lookup in flight), with `ids` when a refresh already asked for them. */
  private fetch(handle: string, ids?: Promise<ReadonlyMap<string, string>>): Promise<readonly string[]> {
    const key = handle.toLowerCase();
    const running = this.inflight.get(key);
    if (running) return running;
    // Past the deadline the people asking are told Slack did not answer; the request itself is bounded by the client's timeout.
    const overdue = setTimeout(() => {
      if (this.inflight.get(key) === p) this.lastError.set(key, `Slack did not answer within ${seconds(this.lookupTimeoutMs)}`);
    }, this.lookupTimeoutMs);
    overdue.unref();
    const p: Promise<readonly string[]> = (async () => {
      const id = (await (ids ?? this.groupIds(false))).get(key);
      const users = id ? (((await this.client.usergroups.users.list({ usergroup: id })).users as string[] | undefined) ?? []) : [];
      this.members_.set(key, { value: users, at: Date.now() });
      this.lastError.delete(key);
      return users;
    })()
      .catch((err: unknown) => {
        const reason = describeSlackError(err);
        this.lastError.set(key, reason);
        this.options.logger?.warn({ handle: key, error: reason }, 'cannot resolve Slack user group');
        throw err;
      })
      .finally(() => {
        clearTimeout(overdue);
        if (this.inflight.get(key) === p) this.inflight.delete(key);
      });
    this.inflight.set(key, p);
    return p;
  }

  /** handle → usergroup id, cached like the members; one request in flight at a time. */
  private groupIds(force: boolean): Promise<ReadonlyMap<string, string>> {
    if (!force && this.ids && Date.now() - this.ids.at < this.ttlMs) return Promise.resolve(this.ids.value);
    if (this.idsInflight) return this.idsInflight;
    const p = (async () => {
      const res = await this.client.usergroups.list({ include_disabled: false });
      const map = new Map<string, string>();
      for (const g of res.usergroups ?? []) if (g.handle && g.id) map.set(g.handle.toLowerCase(), g.id);
      this.ids = { value: map, at: Date.now() };
      return map as ReadonlyMap<string, string>;
    })().finally(() => {
      if (this.idsInflight === p) this.idsInflight = undefined;
    });
    this.idsInflight = p;
    return p;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

export interface SlackUsersOptions {
  /** @default 3_600_000 (display names rarely change) */
  readonly ttlMs?: number;
  readonly logger?: Logger;
}

/** Display names by user id (users.info), cached. Ids are what is checked and recorded; names are only shown. */
export class SlackUsers {
  private readonly ttlMs: number;
  private readonly names = new Map<string, Cached<string>>();
  private readonly inflight = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly client: WebClient,
    private readonly options: SlackUsersOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 3_600_000;
  }

  /** The cached display name, without calling Slack. */
  peek(id: string): string | undefined {
    const c = this.names.get(id);
    return c && Date.now() - c.at < this.ttlMs ? c.value : undefined;
  }

  /** Fetches (once at a time) and caches a display name; undefined when Slack does not know the id. */
  resolve(id: string): Promise<string | undefined> {
    const cached = this.peek(id);
    if (cached) return Promise.resolve(cached);
    const running = this.inflight.get(id);
    if (running) return running;
    const p = this.client.users
      .info({ user: id })
      .then((res) => {
        const u = res.user;
        const name = u?.profile?.display_name || u?.profile?.real_name || u?.real_name || u?.name;
        if (name) this.names.set(id, { value: name, at: Date.now() });
        return name;
      })
      .catch((err: unknown) => {
        this.options.logger?.warn({ user: id, error: describeSlackError(err) }, 'users.info failed; showing the id');
        return undefined;
      })
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }
}
