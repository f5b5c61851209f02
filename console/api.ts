/**
 * The HTTP JSON API the CLI and the console use, on the kubecontrol server.
 *
 *   GET  /api/info                      mode, provider, whether callers are authenticated
 *   POST /api/commands                  { args: string[] } or { text }: the command core's grammar
 *   GET  /api/deploys/:id               one deploy with steps, decision and place in line
 *   GET  /api/deploys/:id/events        events after ?after=N (JSON)
 *   GET  /api/deploys/:id/stream        the same as server-sent events, live until the deploy ends
 *   GET  /api/gc   POST /api/gc         resources kubecontrol tagged that no live deploy owns (admins)
 *   GET|POST|DELETE /api/sandbox/faults injectable faults (sandbox provider only)
 *
 * Identity: in local mode the caller's user name is trusted (loopback only) and
 * every answer says it is unauthenticated; otherwise a per-person bearer token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { runAfterAck, type CommandCore } from '../commands/core.js';
import { EXIT_CODES, type ResultStatus } from '../commands/results.js';
import { SPECS, type Verb, type VerbSpec } from '../commands/grammar.js';
import { shown } from '../commands/quote.js';
import type { GcReport } from '../deployer/gc.js';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type EventFeed, type Store } from '../store/index.js';

export const HTTP_STATUS: Readonly<Record<ResultStatus, number>> = {
  ok: 200,
  invalid: 400,
  refused: 403,
  not_found: 404,
  conflict: 409,
  error: 502,
};

/** Injectable faults, when the provider has them (the sandbox). */
export interface Faults {
  readonly steps: readonly [string, ...string[]];
  readonly kinds: readonly [string, ...string[]];
  add(f: { step: string; fault: string; app?: string; times?: number }): void;
  list(): unknown;
  clear(): void;
}

/** What the API needs, and nothing more. */
export interface ApiDeps {
  readonly config: { readonly auth: 'local' | 'token'; readonly admins: readonly string[] };
  readonly core: CommandCore;
  /** Read models: deploys and their events. */
  readonly reads: { readonly deploys: Pick<Store['deploys'], 'get'>; readonly events: Pick<Store['events'], 'after'> };
  /** Committed events, for the live stream. */
  readonly feed: EventFeed;
  readonly tokens: Pick<Store['tokens'], 'verify'>;
  readonly provider: { readonly name: string; readonly label: string };
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly version: string;
  readonly installation: string;
  /** What the provider's start-up check warned about (shown by /api/info). */
  readonly warnings?: readonly string[];
  /** Where the other surfaces stand, one line each (Slack: connected or not, deploys it has not caught up with). */
  readonly surfaces?: () => Readonly<Record<string, string>>;
  /** Lists (and with `del`, deletes) what no environment in use owns. */
  readonly gc: (del: boolean) => Promise<GcReport>;
  readonly faults?: Faults;
}

/** A caller's identity as the API established it. */
export interface Caller {
  readonly id: string;
  readonly authenticated: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'too_large', 'request body is larger than 64 KiB');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpError(400, 'bad_json', 'request body is not valid JSON');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const MAX_WORD = 1000;
const MAX_WORDS = 50;
const commandBody = z.union([
  z.object({ args: z.array(z.string().max(MAX_WORD)).min(1).max(MAX_WORDS) }),
  z.object({ text: z.string().min(1).max(4000) }),
]);

/**
 * What is wrong with a command body, in the words of the command: the word that is too long named
 * by the verb's argument ("the version"), too many words. Undefined when it is not that kind of body.
 */
function commandBodyProblem(body: unknown): string | undefined {
  const args = (body as { args?: unknown } | undefined)?.args;
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return undefined;
  if (args.length > MAX_WORDS) return `too many words (${args.length}; at most ${MAX_WORDS})`;
  const spec = SPECS[args[0] as Verb] as VerbSpec | undefined;
  // The words are the verb, then the spec's arguments in order: word i is argument i - 1.
  const nameOf = (i: number): string => {
    const arg = i > 0 ? spec?.args[i - 1] : undefined;
    return arg ? `the ${arg.name.toLowerCase()}` : i === 0 ? 'the command' : `word ${i + 1}`;
  };
  const long = args.map((a, i) => (a.length > MAX_WORD ? `${nameOf(i)} is too long: ${shown(a)}; at most ${MAX_WORD.toLocaleString('en-US')} characters` : undefined)).filter(Boolean);
  return long.length ? long.join('; ') : undefined;
}

/** What is wrong with a fault body, field by field, with the values each field takes. */
function faultBodyProblem(body: unknown, faults: Faults): string | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const oneOf = (field: string, allowed: readonly string[]): void => {
    if (!allowed.includes(b[field] as string)) problems.push(`${field} ${shown(b[field] ?? '')} is not one of ${allowed.join(', ')}`);
  };
  oneOf('step', faults.steps);
  oneOf('fault', faults.kinds);
  if (b.times !== undefined) {
    if (typeof b.times !== 'number' || !Number.isInteger(b.times)) problems.push('times must be a whole number');
    else if (b.times < 1 || b.times > 100) problems.push(`times must be between 1 and 100 (got: ${b.times})`);
  }
  if (b.app !== undefined && typeof b.app !== 'string') problems.push('app must be an app name');
  return problems.length ? problems.join('; ') : undefined;
}

/** Builds the API's request handler; returns false for paths it does not own. */
export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const { reads: store, core, config } = deps;
  const faultBody = deps.faults
    ? z.object({
        step: z.enum(deps.faults.steps),
        fault: z.enum(deps.faults.kinds),
        app: z.string().optional(),
        times: z.number().int().min(1).max(100).optional(),
      })
    : undefined;

  const identify = (req: IncomingMessage): Caller => {
    const as = header(req, 'x-kubecontrol-as');
    if (config.auth === 'local') {
      const user = as ?? header(req, 'x-kubecontrol-user') ?? 'local';
      if (!/^[\w.@-]{1,64}$/.test(user)) throw new HttpError(400, 'bad_user', `"${user}" is not a valid user name`);
      return { id: user, authenticated: false };
    }
    if (as) throw new HttpError(403, 'as_refused', '--as is only available in local mode; the server knows you by your token');
    const auth = header(req, 'authorization');
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const person = token ? deps.tokens.verify(token) : undefined;
    if (!person) {
      throw new HttpError(401, 'unauthenticated', token ? 'this token is unknown or revoked' : 'a bearer token is required: set KUBECONTROL_TOKEN (ask an admin: `kubecontrol tokens create <you>`)');
    }
    return { id: person, authenticated: true };
  };
  const isAdmin = (caller: Caller): boolean => config.auth === 'local' || config.admins.includes(caller.id);

  const deployOr404 = (raw: string): number => {
    const id = Number(raw);
    if (!store.deploys.get(id)) throw new HttpError(404, 'unknown_deploy', `there is no deploy #${raw}`);
    return id;
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/api/')) return false;
    try {
      const method = req.method ?? 'GET';
      const path = url.pathname;
      if (method === 'GET' && path === '/api/info') {
        sendJson(res, 200, {
          name: 'kubecontrol',
          version: deps.version,
          provider: deps.provider.name,
          providerLabel: deps.provider.label,
          installation: deps.installation,
          auth: config.auth,
          authenticated: config.auth !== 'local',
          note: config.auth === 'local' ? 'local mode: unauthenticated; callers are trusted by user name' : undefined,
          apps: [...deps.apps.keys()],
          warnings: deps.warnings ?? [],
          surfaces: deps.surfaces?.() ?? {},
        });
        return true;
      }
      const caller = identify(req);
      if (method === 'POST' && path === '/api/commands') {
        const body = await readJson(req);
        const parsed = commandBody.safeParse(body);
        if (!parsed.success) {
          throw new HttpError(400, 'bad_request', commandBodyProblem(body) ?? 'send {"args": ["deploy", "APP", "VERSION"]} or {"text": "deploy APP VERSION"}');
        }
        const input = 'args' in parsed.data ? parsed.data.args : parsed.data.text;
        const surface = header(req, 'x-kubecontrol-surface') === 'console' ? 'console' : 'cli';
        const result = await core.execute({ actor: { id: caller.id }, surface, input });
        sendJson(res, HTTP_STATUS[result.status], { ...result, exitCode: EXIT_CODES[result.status], authenticated: caller.authenticated });
        // Only now, with the answer on its way, does a deploy join the deployer's line.
        runAfterAck(result);
        return true;
      }
      let m = /^\/api\/deploys\/(\d+)$/.exec(path);
      if (method === 'GET' && m) {
        sendJson(res, 200, core.view(deployOr404(m[1]!)));
        return true;
      }
      m = /^\/api\/deploys\/(\d+)\/events$/.exec(path);
      if (method === 'GET' && m) {
        const id = deployOr404(m[1]!);
        sendJson(res, 200, store.events.after(id, Number(url.searchParams.get('after') ?? 0) || 0));
        return true;
      }
      m = /^\/api\/deploys\/(\d+)\/stream$/.exec(path);
      if (method === 'GET' && m) {
        streamEvents(deps, deployOr404(m[1]!), Number(url.searchParams.get('after') ?? 0) || 0, req, res);
        return true;
      }
      if (path === '/api/gc' && (method === 'GET' || method === 'POST')) {
        if (!isAdmin(caller)) throw new HttpError(403, 'forbidden', `${caller.id} is not an admin (KUBECONTROL_ADMINS)`);
        const report = await deps.gc(method === 'POST');
        sendJson(res, 200, report);
        return true;
      }
      if (path === '/api/sandbox/faults') {
        const faults = deps.faults;
        if (!faults || !faultBody) throw new HttpError(404, 'not_sandbox', 'faults can only be injected into the sandbox provider');
        if (method === 'POST') {
          const body = await readJson(req);
          const parsed = faultBody.safeParse(body);
          if (!parsed.success) {
            throw new HttpError(
              400,
              'bad_request',
              faultBodyProblem(body, faults) ?? `send {"step": ${faults.steps.map((s) => `"${s}"`).join('|')}, "fault": ${faults.kinds.map((s) => `"${s}"`).join('|')}, "app"?: name, "times"?: n}`,
            );
          }
          if (parsed.data.app && !deps.apps.has(parsed.data.app)) throw new HttpError(404, 'unknown_app', `there is no app ${parsed.data.app}`);
          faults.add(parsed.data);
        } else if (method === 'DELETE') {
          faults.clear();
        }
        sendJson(res, 200, faults.list());
        return true;
      }
      throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${path}`);
    } catch (err) {
      if (err instanceof HttpError) sendJson(res, err.status, { status: 'error', code: err.code, message: err.message });
      else {
        // No stack trace reaches a caller; the log has it.
        res.emit('kubecontrol:error', err);
        sendJson(res, 500, { status: 'error', code: 'internal', message: 'internal error; the server log has the details' });
      }
      return true;
    }
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Server-sent events: every event after `after`, then live ones, until the deploy has ended and cleaned up. */
function streamEvents(deps: ApiDeps, deployId: number, after: number, req: IncomingMessage, res: ServerResponse): void {
  const { reads: store, core, feed } = deps;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let last = after;
  let closed = false;
  const finished = (): boolean => {
    const d = store.deploys.get(deployId)!;
    return isTerminal(d.state) && d.cleanup !== 'pending';
  };
  const flush = (): void => {
    if (closed) return;
    const events = store.events.after(deployId, last);
    // One view per flush, not per event: a chatty step writes many lines at once.
    const deploy = events.length ? core.view(deployId) : undefined;
    for (const e of events) {
      res.write(`id: ${e.id}\nevent: deploy-event\ndata: ${JSON.stringify({ event: e, deploy })}\n\n`);
      last = e.id;
    }
    if (finished()) {
      res.write(`event: end\ndata: ${JSON.stringify({ deploy: core.view(deployId) })}\n\n`);
      stop();
      res.end();
    }
  };
  // The feed announces committed events only, so the flush reads exactly what is stored.
  const onEvent = (e: { deployId: number }): void => {
    if (e.deployId === deployId) flush();
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const stop = (): void => {
    closed = true;
    clearInterval(heartbeat);
    feed.off('appended', onEvent);
  };
  feed.on('appended', onEvent);
  req.on('close', stop);
  flush();
}
