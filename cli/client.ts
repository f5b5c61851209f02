/** The CLI's client of the kubecontrol server's HTTP API. */
import { userInfo } from 'node:os';

export interface ClientOptions {
  readonly url: string;
  /** Where `url` came from when not from --url or KUBECONTROL_URL: the server.json that named it. */
  readonly origin?: string;
  readonly token?: string;
  /** Act as this person (local mode only). */
  readonly as?: string;
}

/** The server could not be reached or answered something that is not the API. */
export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** The words typed at the terminal cannot be sent as they are (exit 2), checked before any request. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The same server one port up: an example of a URL KUBECONTROL_URL may name. */
function anotherPort(url: string): string {
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    u.port = String(port === 3000 ? 3001 : port + 1);
    return u.origin;
  } catch {
    return 'http://127.0.0.1:3001';
  }
}

/** What the CLI says when nothing answers at `url` (named by `origin`, a server.json, when it was). */
export function unreachableMessage(url: string, cause?: string, origin?: string): string {
  const why = [cause, origin ? `named by ${origin}` : undefined].filter(Boolean).join('; ');
  return (
    `cannot reach the kubecontrol server at ${url}${why ? ` (${why})` : ''}: start it with \`npm start\` ` +
    `or set KUBECONTROL_URL if it runs elsewhere (e.g. KUBECONTROL_URL=${anotherPort(url)})`
  );
}

import { shown } from '../commands/quote.js';

export { shown };

/**
 * What a refusal of the API means: its own message (the API says what was wrong
 * with a request, field and value), else its HTTP status.
 */
export function explainRefusal(status: number, body: { message?: unknown } | undefined): string {
  return typeof body?.message === 'string' && body.message ? body.message : `HTTP ${status}`;
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'local';
  }
}

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'x-kubecontrol-user': localUser(), 'x-kubecontrol-surface': 'cli', ...extra };
    if (this.options.as) h['x-kubecontrol-as'] = this.options.as;
    if (this.options.token) h.authorization = `Bearer ${this.options.token}`;
    return h;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    let target: URL;
    try {
      target = new URL(path, this.options.url);
    } catch {
      throw new UsageError(`${shown(this.options.url)} is not a URL (from --url or KUBECONTROL_URL); e.g. http://127.0.0.1:3000`);
    }
    try {
      res = await fetch(target, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new ConnectionError(unreachableMessage(this.options.url, cause, this.options.origin));
    }
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new ConnectionError(`${this.options.url} did not answer like a kubecontrol server (HTTP ${res.status})`);
    }
  }

  /**
   * Follows a deploy's server-sent events; calls `onMessage` for each, and
   * resolves at the stream's end. Reconnects from the last event id if cut.
   */
  async follow(deployId: number, onMessage: (type: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    let after = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      let res: Response;
      try {
        res = await fetch(new URL(`/api/deploys/${deployId}/stream?after=${after}`, this.options.url), { headers: this.headers(), signal });
      } catch (err) {
        if (signal?.aborted) return;
        if (attempt === 19) throw new ConnectionError(`lost the kubecontrol server at ${this.options.url}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!res.ok || !res.body) throw new ConnectionError(`cannot follow deploy #${deployId}: HTTP ${res.status}`);
      const decoder = new TextDecoder();
      let buffer = '';
      let ended = false;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let type = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
              else if (line.startsWith('id: ')) after = Number(line.slice(4));
            }
            if (!data) continue;
            onMessage(type, JSON.parse(data) as unknown);
            if (type === 'end') ended = true;
          }
        }
      } catch (err) {
        if (signal?.aborted) return;
        void err; // the connection was cut: reconnect from the last event id
      }
      if (ended) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
