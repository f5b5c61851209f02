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
import type { CommandCore } from '../commands/core.js';
import { EXIT_CODES, type ResultStatus } from '../commands/results.js';
import { collectGarbage } from '../deployer/gc.js';
import type { Provider } from '../deployer/ports.js';
import { FAULT_KINDS, FAULT_STEPS } from '../deployer/sandbox/index.js';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type Store } from '../store/index.js';
import type { Config } from './config.js';

export const HTTP_STATUS: Readonly<Record<ResultStatus, number>> = {
  ok: 200,
  invalid: 400,
  refused: 403,
  not_found: 404,
  conflict: 409,
  error: 502,
};

export interface ApiDeps {
  readonly config: Pick<Config, 'auth' | 'admins' | 'provider'>;
  readonly store: Store;
  readonly core: CommandCore;
  readonly provider: Provider;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly version: string;
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

const commandBody = z.union([
  z.object({ args: z.array(z.string().max(1000)).min(1).max(50) }),
  z.object({ text: z.string().min(1).max(4000) }),
]);
const faultBody = z.object({
  step: z.enum(FAULT_STEPS),
  fault: z.enum(FAULT_KINDS),
  app: z.string().optional(),
  times: z.number().int().min(1).max(100).optional(),
});

/** Builds the API's request handler; returns false for paths it does not own. */
export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const { store, core, config } = deps;

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
    const person = token ? store.tokens.verify(token) : undefined;
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
          auth: config.auth,
          authenticated: config.auth !== 'local',
          note: config.auth === 'local' ? 'local mode: unauthenticated; callers are trusted by user name' : undefined,
          apps: [...deps.apps.keys()],
        });
        return true;
      }
      const caller = identify(req);
      if (method === 'POST' && path === '/api/commands') {
        const parsed = commandBody.safeParse(await readJson(req));
        if (!parsed.success) throw new HttpError(400, 'bad_request', 'send {"args": ["deploy", "APP", "VERSION"]} or {"text": "deploy APP VERSION"}');
        const input = 'args' in parsed.data ? parsed.data.args : parsed.data.text;
        const surface = header(req, 'x-kubecontrol-surface') === 'console' ? 'console' : 'cli';
        const result = await core.execute({ actor: { id: caller.id }, surface, input });
        sendJson(res, HTTP_STATUS[result.status], { ...result, exitCode: EXIT_CODES[result.status], authenticated: caller.authenticated });
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
        const report = await collectGarbage({ store, provider: deps.provider, apps: deps.apps, delete: method === 'POST' });
        sendJson(res, 200, report);
        return true;
      }
      if (path === '/api/sandbox/faults') {
        if (deps.provider.name !== 'sandbox') throw new HttpError(404, 'not_sandbox', 'faults can only be injected into the sandbox provider');
        if (method === 'POST') {
          const parsed = faultBody.safeParse(await readJson(req));
          if (!parsed.success) {
            throw new HttpError(400, 'bad_request', `send {"step": ${FAULT_STEPS.map((s) => `"${s}"`).join('|')}, "fault": ${FAULT_KINDS.map((s) => `"${s}"`).join('|')}, "app"?: name, "times"?: n}`);
          }
          if (parsed.data.app && !deps.apps.has(parsed.data.app)) throw new HttpError(404, 'unknown_app', `there is no app ${parsed.data.app}`);
          store.sandbox.addFault(parsed.data);
        } else if (method === 'DELETE') {
          store.sandbox.clearFaults();
        }
        sendJson(res, 200, store.sandbox.faults());
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
  const { store, core } = deps;
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
  const onEvent = (e: { deployId: number }): void => {
    if (e.deployId === deployId) setImmediate(flush);
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const stop = (): void => {
    closed = true;
    clearInterval(heartbeat);
    store.events.feed.off('appended', onEvent);
  };
  store.events.feed.on('appended', onEvent);
  req.on('close', stop);
  flush();
}
