/**
 * A local HTTP server that plays Slack for the real Bolt app and WebClient:
 * the Web API (`/api/<method>`, form-encoded like the real client sends) and
 * response_urls (`/respond/<id>`, JSON). It records every request so tests can
 * assert on what Slack received, and misbehaves the way Slack does when asked
 * (`fault`): 429 with Retry-After, 5xx bursts, `ok: false` errors such as
 * `edit_window_closed` or `message_not_found`, a call that never answers, a
 * connection dropped (Slack unreachable).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Web API call as Slack received it; JSON-valued fields (blocks) are parsed. */
export interface SlackCall {
  readonly method: string;
  readonly body: Record<string, unknown>;
  readonly authorization: string | undefined;
  readonly at: number;
  /** The HTTP status the fake answered with. */
  readonly status: number;
  /** What the fake answered (e.g. the `ts` of a posted message). */
  response: Record<string, unknown>;
}

/** A POST to a response_url. */
export interface SlackResponse {
  readonly id: string;
  readonly body: Record<string, unknown>;
}

export interface FakeSlackOptions {
  /** Display names by user id (users.info). */
  readonly users?: Readonly<Record<string, string>>;
  /** Members by user-group handle (usergroups.list / usergroups.users.list). */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /** Channel ids by name ('#search-team' → 'C0SEARCH'). */
  readonly channels?: Readonly<Record<string, string>>;
}

/** How a call misbehaves (`FakeSlack.fault`). */
export interface SlackFault {
  /** An HTTP error status (e.g. 503), answered `{ ok: false, error: 'service_unavailable' }` as Slack's edge does. */
  readonly status?: number;
  /** HTTP 429 with this Retry-After (seconds). */
  readonly retryAfter?: number;
  /** HTTP 200 with `{ ok: false, error }` (e.g. 'edit_window_closed', 'message_not_found', 'invalid_blocks'). */
  readonly error?: string;
  /** Never answers (the request stays open until the fake is closed or `release()`d). */
  readonly stall?: boolean;
  /** The connection is dropped without an answer (Slack unreachable). */
  readonly drop?: boolean;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly responses: SlackResponse[] = [];
  private readonly limited = new Map<string, number>();
  private readonly failures = new Map<string, string>();
  /** Faults per method ('*': every method), each for a number of calls. */
  private readonly faults = new Map<string, { fault: SlackFault; left: number }[]>();
  /** Answers held back by `stall` faults. */
  private readonly held: (() => void)[] = [];
  private tsCounter = 0;
  private server!: Server;
  url = '';
  /** What apps.connections.open answers (set by FakeSocketMode). */
  socketUrl = '';

  private constructor(private readonly options: FakeSlackOptions) {}

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    fake.server = createServer((req, res) => {
      void fake.handle(req).then(
        ({ status, headers, body }) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', () => resolve()));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The Web API base URL for `slackApiUrl` / SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A response_url that records what is posted to it. */
  responseUrl(id: string): string {
    return `${this.url}/respond/${id}`;
  }

  /** The next call to `method` gets HTTP 429 with Retry-After: `seconds`. */
  rateLimitOnce(method: string, seconds = 1): void {
    this.limited.set(method, seconds);
  }

  /** The next call to `method` answers `{ ok: false, error }`. */
  failOnce(method: string, error: string): void {
    this.failures.set(method, error);
  }

  /**
   * The next `times` calls of `method` ('*': of any method) misbehave as `fault` says
   * (Infinity: until `clearFaults()`). Faults of one method are used in the order given.
   */
  fault(method: string, fault: SlackFault, times = 1): void {
    const list = this.faults.get(method) ?? [];
    list.push({ fault, left: times });
    this.faults.set(method, list);
  }

  /** Slack behaves again: no more faults; stalled calls stay stalled until `release()`. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Stalled calls get an HTTP 500 now (as a proxy timing out would). */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Calls of `method` that Slack accepted (HTTP 200), optionally filtered. */
  ok(method: string, where: (c: SlackCall) => boolean = () => true): SlackCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200 && where(c));
  }

  /** Polls until `pred` holds (returning its truthy value), or fails after `ms`. */
  async waitFor<T>(what: string, pred: () => T | undefined | false, ms = 15_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; Slack received:\n${this.describe()}`);
      await new Promise((r) => setTimeout(r, 15));
    }
  }

  /** A one-line-per-call summary, for failure messages. */
  describe(): string {
    return this.calls
      .map((c) => `${c.status} ${c.method} ${String(c.body.channel ?? '')} ${String(c.body.thread_ts ?? c.body.ts ?? '')} ${String(c.body.text ?? '').slice(0, 100)}`)
      .join('\n');
  }

  close(): Promise<void> {
    this.release();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private nextTs(): string {
    this.tsCounter++;
    return `${1_800_000_000 + this.tsCounter}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private channelId(channel: unknown): string {
    const c = String(channel ?? '');
    return this.options.channels?.[c] ?? this.options.channels?.[`#${c}`] ?? (c.startsWith('#') ? `C${c.slice(1).toUpperCase().replace(/[^A-Z0-9]/g, '')}` : c);
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body: unknown }> {
    const raw = await read(req);
    const path = (req.url ?? '').split('?')[0]!;
    if (path.startsWith('/respond/')) {
      this.responses.push({ id: path.slice('/respond/'.length), body: JSON.parse(raw || '{}') as Record<string, unknown> });
      return { status: 200, body: { ok: true } };
    }
    if (!path.startsWith('/api/')) return { status: 404, body: { ok: false } };
    const method = path.slice('/api/'.length);
    const body: Record<string, unknown> = {};
    const type = req.headers['content-type'] ?? '';
    if (type.includes('application/json')) Object.assign(body, JSON.parse(raw || '{}'));
    else
      for (const [k, v] of new URLSearchParams(raw)) {
        body[k] = JSON_FIELDS.has(k) ? (JSON.parse(v) as unknown) : v;
      }
    const record = (status: number): SlackCall => {
      const call: SlackCall = { method, body, authorization: req.headers.authorization, at: Date.now(), status, response: {} };
      this.calls.push(call);
      return call;
    };
    const fault = this.takeFault(method);
    if (fault) {
      if (fault.drop) {
        record(0);
        req.socket.destroy();
        return new Promise(() => undefined);
      }
      if (fault.stall) {
        record(0);
        return new Promise((resolve) => this.held.push(() => resolve({ status: 500, body: { ok: false, error: 'fatal_error' } })));
      }
      if (fault.retryAfter !== undefined) {
        record(429);
        return { status: 429, headers: { 'retry-after': String(fault.retryAfter) }, body: { ok: false, error: 'ratelimited' } };
      }
      if (fault.status !== undefined) {
        record(fault.status);
        return { status: fault.status, body: { ok: false, error: 'service_unavailable' } };
      }
      if (fault.error) {
        const call = record(200);
        call.response = { ok: false, error: fault.error };
        return { status: 200, body: call.response };
      }
    }
    const retryAfter = this.limited.get(method);
    if (retryAfter !== undefined) {
      this.limited.delete(method);
      record(429);
      return { status: 429, headers: { 'retry-after': String(retryAfter) }, body: { ok: false, error: 'ratelimited' } };
    }
    const call = record(200);
    const failure = this.failures.get(method);
    if (failure) {
      this.failures.delete(method);
      call.response = { ok: false, error: failure };
    } else {
      call.response = this.answer(method, body) as Record<string, unknown>;
    }
    return { status: 200, body: call.response };
  }

  private takeFault(method: string): SlackFault | undefined {
    for (const key of [method, '*']) {
      const list = this.faults.get(key);
      const next = list?.[0];
      if (!next) continue;
      if (--next.left <= 0) list!.shift();
      return next.fault;
    }
    return undefined;
  }

  private answer(method: string, body: Record<string, unknown>): unknown {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://kubecontrol-test.slack.com/', team: 'kubecontrol-test', user: 'kubecontrol', team_id: 'T0TEST', user_id: 'U0KUBEBOT', bot_id: 'B0KUBEBOT' };
      case 'apps.connections.open':
        return this.socketUrl ? { ok: true, url: this.socketUrl } : { ok: false, error: 'not_allowed_token_type' };
      case 'chat.postMessage':
        return { ok: true, channel: this.channelId(body.channel), ts: this.nextTs(), message: { text: body.text } };
      case 'chat.update':
        return { ok: true, channel: this.channelId(body.channel), ts: body.ts, text: body.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.nextTs() };
      case 'users.info': {
        const id = String(body.user);
        const name = this.options.users?.[id];
        return name ? { ok: true, user: { id, name: name.toLowerCase(), real_name: name, profile: { display_name: name, real_name: name } } } : { ok: false, error: 'user_not_found' };
      }
      case 'usergroups.list':
        return { ok: true, usergroups: Object.keys(this.options.groups ?? {}).map((handle, i) => ({ id: `S0GROUP${i}`, handle, name: handle })) };
      case 'usergroups.users.list': {
        const handles = Object.keys(this.options.groups ?? {});
        const i = Number(String(body.usergroup).replace('S0GROUP', ''));
        const handle = handles[i];
        return handle ? { ok: true, users: this.options.groups![handle] } : { ok: false, error: 'no_such_subteam' };
      }
      default:
        return { ok: true };
    }
  }
}
