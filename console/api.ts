/**
 * The HTTP JSON API the CLI and the console use, on the kubecontrol server (Fastify routes, see console/http.ts).
 *
 *   GET  /api/info                      mode, version; with a valid token (or in local mode) also apps, warnings, surfaces
 *   POST /api/commands                  { args: string[] } or { text }: the command core's grammar
 *   GET  /api/deploys/:id               one deploy with steps, decision and place in line
 *   GET  /api/deploys/:id/events        events after ?after=N (JSON)
 *   GET  /api/deploys/:id/stream        the same as server-sent events, live until the deploy ends (resumes after
 *                                       the Last-Event-ID header, else ?after=N)
 *   GET  /api/fleet                     every app: live version, hardware, last deploy, lock, what runs now (the console's fleet)
 *   GET  /api/apps/:app/history         deploys of an app: ?version= (v12* a prefix) &person= &outcome= &from= &to= &before= &limit=
 *   GET  /api/apps/:app/dora            DORA figures over ?window=DAYS (default 30)
 *   GET  /api/search?q=                 deploys by version, person, outcome and time, as the console's search box
 *   GET  /api/gc   POST /api/gc         resources kubecontrol tagged that no live deploy owns (admins)
 *   GET|POST|DELETE /api/sandbox/faults injectable faults (sandbox provider only; per app: its deployers, or admins)
 *
 * Identity: in local mode the caller's user name is trusted (loopback only) and
 * every answer says it is unauthenticated; otherwise a per-person bearer token.
 *
 * The audit trail: what the API refuses before the command core sees it (no or a bad token, `--as` in
 * token mode, a malformed or too large body, gc and fault refusals) and what it does itself (gc
 * deletions, faults added or cleared) is recorded in the commands table (surface `api`) and logged,
 * one info line each, like the core's commands.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { canDo, describeRole, GroupLookupError, type GroupResolver } from '../commands/authorize.js';
import { runAfterAck, type CommandCore } from '../commands/core.js';
import { EXIT_CODES, type ResultStatus } from '../commands/results.js';
import { SPECS, type Verb, type VerbSpec } from '../commands/grammar.js';
import { shown } from '../commands/quote.js';
import type { GcReport } from '../deployer/gc.js';
import type { KubeApp } from '../kubeapps/index.js';
import { isTerminal, type CommandOutcome, type EventFeed, type Store } from '../store/index.js';
import { describeError, HttpError, parse, sendJson } from './http.js';
import type { ConsoleReads } from './model.js';
import { DEFAULT_WINDOW, doraQuery, doraWindow, historyFilters, historyQuery, parseQuery, searchQuery } from './pages/queries.js';

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

/** The operator's log, as the API uses it: one info line per recorded request. */
export interface ApiLogger {
  info(obj: object, msg: string): void;
}

/** What the API needs, and nothing more. */
export interface ApiDeps {
  readonly config: { readonly auth: 'local' | 'token' | 'proxy'; readonly admins: readonly string[] };
  readonly core: CommandCore;
  /** Read models: deploys and their events. */
  readonly reads: { readonly deploys: Pick<Store['deploys'], 'get'>; readonly events: Pick<Store['events'], 'after'> };
  /** Committed events, for the live stream. */
  readonly feed: EventFeed;
  readonly tokens: Pick<Store['tokens'], 'verify'>;
  /** Where refusals before the core, gc deletions and fault changes are recorded (surface `api`). */
  readonly commands: Pick<Store['commands'], 'record'>;
  /** One info line per recorded request. */
  readonly logger?: ApiLogger;
  /** Resolves `@group` entries of a KubeApp, for who may inject a fault into it; without one, groups match nobody. */
  readonly groups?: GroupResolver;
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
  /** The console's read model (fleet, history, DORA, search), served as JSON too; `now` is the clock's. */
  readonly console?: { readonly reads: ConsoleReads; readonly now: () => number };
}

/** A caller's identity as the API established it. */
export interface Caller {
  readonly id: string;
  readonly authenticated: boolean;
}

/** How a route is guarded and audited. */
interface RoutePolicy {
  /** `optional`: answers without an identity (GET /api/info); otherwise the caller must be identified. */
  readonly auth?: 'optional';
  /** Its refusals (4xx) and failures are recorded, not only the identification's. */
  readonly audit?: boolean;
  /** The verb its records carry (`gc`, `faults`). */
  readonly verb?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** kubecontrol's guard and audit of a route (console/api.ts). */
    kubecontrol?: RoutePolicy;
  }
}

/** What the API learnt of one request, for its record. */
interface RequestState {
  caller?: Caller;
  /** Who a token named when the request was refused anyway (`--as` in token mode). */
  tokenPerson?: string;
  /** What the record says was asked, when more is known than method and path (`faults add provision fail search-svc`). */
  text?: string;
  app?: string;
}

const MAX_WORD = 1000;
const MAX_WORDS = 50;
const commandBody = z.union([
  z.object({ args: z.array(z.string().max(MAX_WORD)).min(1).max(MAX_WORDS) }),
  z.object({ text: z.string().min(1).max(4000) }),
]);
const COMMAND_FORMAT = 'send {"args": ["deploy", "APP", "VERSION"]} or {"text": "deploy APP VERSION"}';

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

/** How a refusal is recorded: not allowed (401, 403), not valid (other 4xx), or the server failed. */
function outcomeOf(status: number): CommandOutcome {
  return status === 401 || status === 403 ? 'refused' : status < 500 ? 'invalid' : 'failed';
}

/** What gc did, in one line for the record. */
function gcSummary(report: GcReport): string {
  if (!report.orphans.length) return 'nothing to delete';
  const deleted = report.orphans.filter((o) => o.outcome === 'deleted');
  const failed = report.orphans.filter((o) => o.outcome !== 'deleted');
  const name = (o: GcReport['orphans'][number]): string => `${o.kind} ${o.name}`;
  return [
    `deleted ${deleted.length} of ${report.orphans.length}${deleted.length ? `: ${deleted.map(name).join(', ')}` : ''}`,
    ...(failed.length ? [`not deleted: ${failed.map((o) => `${name(o)} (${o.outcome ?? 'not tried'})`).join(', ')}`] : []),
  ].join('; ');
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The bearer token of an Authorization header; the scheme is case-insensitive (RFC 7235). */
function bearerToken(request: FastifyRequest): string | undefined {
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header(request, 'authorization') ?? '');
  return m?.[1];
}

/** The path of a request without its query (which is never recorded: nothing secret belongs there, but it may be sent anyway). */
function pathOf(request: FastifyRequest): string {
  const path = request.url.split('?')[0]!;
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/** A non-negative whole number, or undefined. */
function eventId(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\s*\d{1,15}\s*$/.test(raw)) return undefined;
  return Number(raw);
}

/** Registers the API's routes on the server, in their own scope (their guard and audit hooks apply to them only). */
export function registerApi(server: FastifyInstance, deps: ApiDeps): void {
  void server.register(async (api) => apiRoutes(api, deps));
}

function apiRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { reads: store, core, config } = deps;
  const faultBody = deps.faults
    ? z.object({
        step: z.enum(deps.faults.steps),
        fault: z.enum(deps.faults.kinds),
        app: z.string().optional(),
        times: z.number().int().min(1).max(100).optional(),
      })
    : undefined;

  const states = new WeakMap<FastifyRequest, RequestState>();
  const stateOf = (request: FastifyRequest): RequestState => {
    let s = states.get(request);
    if (!s) states.set(request, (s = {}));
    return s;
  };
  const policyOf = (request: FastifyRequest): RoutePolicy => request.routeOptions.config.kubecontrol ?? {};

  /** Records a request the API refused or acted on, and logs it like the core's commands. */
  const record = (request: FastifyRequest, outcome: CommandOutcome, message: string): void => {
    const state = stateOf(request);
    const actor = state.caller?.id ?? state.tokenPerson ?? 'anonymous';
    const text = state.text ?? `${request.method} ${pathOf(request)}`;
    const verb = policyOf(request).verb ?? null;
    const app = state.app ?? null;
    const commandId = deps.commands.record({ actor, surface: 'api', text, verb, app, outcome, message });
    deps.logger?.info(
      { commandId, actor, surface: 'api', verb, app, outcome },
      `command #${commandId} ${text} by ${actor} via api: ${outcome}${message ? ` — ${message}` : ''}`,
    );
  };

  const identify = (request: FastifyRequest): Caller => {
    const state = stateOf(request);
    const as = header(request, 'x-kubecontrol-as');
    if (config.auth === 'local') {
      const user = as ?? header(request, 'x-kubecontrol-user') ?? 'local';
      if (!/^[\w.@-]{1,64}$/.test(user)) throw new HttpError(400, 'bad_user', `${shown(user)} is not a valid user name`, { alwaysRecorded: true });
      return { id: user, authenticated: false };
    }
    const token = bearerToken(request);
    const person = token ? deps.tokens.verify(token) : undefined;
    if (as) {
      state.tokenPerson = person;
      throw new HttpError(403, 'as_refused', '--as is only available in local mode; the server knows you by your token', { alwaysRecorded: true });
    }
    if (!person) {
      throw new HttpError(
        401,
        'unauthenticated',
        token ? 'this token is unknown or revoked' : 'a bearer token is required: set KUBECONTROL_TOKEN (ask an admin: `kubecontrol tokens create <you>`)',
        { alwaysRecorded: true },
      );
    }
    return { id: person, authenticated: true };
  };
  const callerOf = (request: FastifyRequest): Caller => stateOf(request).caller!;
  const isAdmin = (caller: Caller): boolean => config.auth === 'local' || config.admins.includes(caller.id);

  // Identification comes before anything else, the body included: an unknown caller's body is not read.
  api.addHook('onRequest', async (request) => {
    if (policyOf(request).auth === 'optional') return;
    stateOf(request).caller = identify(request);
  });
  // The audit trail of refusals: whoever could not be identified, and any refusal on an audited route.
  api.addHook('onError', async (request, _reply, error) => {
    const recorded = (error instanceof HttpError && error.options.alwaysRecorded) || policyOf(request).audit;
    if (!recorded) return;
    const answer = describeError(error);
    record(request, outcomeOf(answer.status), answer.message);
  });

  const deployOr404 = (raw: string): number => {
    const id = Number(raw);
    if (!store.deploys.get(id)) throw new HttpError(404, 'unknown_deploy', `there is no deploy #${raw}`);
    return id;
  };
  const idParam = (request: FastifyRequest): string => (request.params as { id: string }).id;

  api.get('/api/info', { config: { kubecontrol: { auth: 'optional' } } }, async (request, reply) => {
    const about = { name: 'kubecontrol', version: deps.version, provider: deps.provider.name, providerLabel: deps.provider.label, auth: config.auth };
    const full = {
      installation: deps.installation,
      apps: [...deps.apps.keys()],
      warnings: deps.warnings ?? [],
      surfaces: deps.surfaces?.() ?? {},
    };
    if (config.auth === 'local') {
      return sendJson(reply, 200, { ...about, authenticated: false, note: 'local mode: unauthenticated; callers are trusted by user name', ...full });
    }
    const token = bearerToken(request);
    const person = token ? deps.tokens.verify(token) : undefined;
    if (!person) {
      // Without a valid token: what this server is, not what it runs.
      const why = token ? 'this token is unknown or revoked' : 'no bearer token was sent';
      return sendJson(reply, 200, { ...about, authenticated: false, note: `${why}: set KUBECONTROL_TOKEN to see the apps, warnings and surfaces` });
    }
    return sendJson(reply, 200, { ...about, authenticated: true, you: person, ...full });
  });

  api.post('/api/commands', { config: { kubecontrol: { audit: true } } }, async (request, reply) => {
    const caller = callerOf(request);
    const body = parse(commandBody, request.body, (b) => (b === undefined ? `the request has no body; ${COMMAND_FORMAT}` : (commandBodyProblem(b) ?? COMMAND_FORMAT)));
    const input = 'args' in body ? body.args : body.text;
    const surface = header(request, 'x-kubecontrol-surface') === 'console' ? 'console' : 'cli';
    const result = await core.execute({ actor: { id: caller.id }, surface, input });
    sendJson(reply, HTTP_STATUS[result.status], { ...result, exitCode: EXIT_CODES[result.status], authenticated: caller.authenticated });
    // Only now, with the answer on its way, does a deploy join the deployer's line.
    runAfterAck(result);
    return reply;
  });

  api.get('/api/deploys/:id(^\\d+$)', async (request, reply) => sendJson(reply, 200, core.view(deployOr404(idParam(request)))));

  api.get('/api/deploys/:id(^\\d+)/events', async (request, reply) => {
    const id = deployOr404(idParam(request));
    const after = eventId((request.query as { after?: unknown }).after) ?? 0;
    return sendJson(reply, 200, store.events.after(id, after));
  });

  api.get('/api/deploys/:id(^\\d+)/stream', async (request, reply) => {
    const id = deployOr404(idParam(request));
    // A reconnecting EventSource sends the last id it saw; the CLI says ?after=N.
    const after = eventId(header(request, 'last-event-id')) ?? eventId((request.query as { after?: unknown }).after) ?? 0;
    reply.hijack();
    streamEvents(deps, id, after, reply);
  });

  api.route({
    method: ['GET', 'POST'],
    url: '/api/gc',
    config: { kubecontrol: { audit: true, verb: 'gc' } },
    handler: async (request, reply) => {
      const caller = callerOf(request);
      if (!isAdmin(caller)) throw new HttpError(403, 'forbidden', `${caller.id} is not an admin (KUBECONTROL_ADMINS)`);
      const del = request.method === 'POST';
      const report = await deps.gc(del);
      if (del) record(request, 'accepted', gcSummary(report));
      return sendJson(reply, 200, report);
    },
  });

  if (deps.console) {
    const { reads, now } = deps.console;
    const appOr404 = (request: FastifyRequest): string => {
      const name = (request.params as { app: string }).app;
      if (!deps.apps.has(name)) throw new HttpError(404, 'unknown_app', `there is no app ${shown(name)}`);
      return name;
    };
    api.get('/api/fleet', async (_request, reply) => sendJson(reply, 200, reads.fleet(now())));
    api.get('/api/apps/:app/history', async (request, reply) => {
      const app = appOr404(request);
      const filters = historyFilters(parseQuery(historyQuery, request.query));
      const { toDay: _shown, ...q } = filters;
      return sendJson(reply, 200, reads.history({ app, ...q }));
    });
    api.get('/api/apps/:app/dora', async (request, reply) => {
      const app = appOr404(request);
      const { from, to } = doraWindow(parseQuery(doraQuery, request.query).window ?? DEFAULT_WINDOW, now());
      return sendJson(reply, 200, reads.dora(app, from, to));
    });
    api.get('/api/search', async (request, reply) => {
      const q = parseQuery(searchQuery, request.query);
      if (!q.q.trim()) throw new HttpError(400, 'bad_query', 'q is empty: ask for a version (v123), a person and a time (carol this week) or an outcome (failed yesterday)');
      return sendJson(reply, 200, reads.search(q.q.trim(), now(), q.limit));
    });
  }

  const sandboxOnly = (): Faults => {
    if (!deps.faults || !faultBody) throw new HttpError(404, 'not_sandbox', 'faults can only be injected into the sandbox provider');
    return deps.faults;
  };
  api.get('/api/sandbox/faults', async (_request, reply) => sendJson(reply, 200, sandboxOnly().list()));

  api.post('/api/sandbox/faults', { config: { kubecontrol: { audit: true, verb: 'faults' } } }, async (request, reply) => {
    const faults = sandboxOnly();
    const caller = callerOf(request);
    const format = `send {"step": ${faults.steps.map((s) => `"${s}"`).join('|')}, "fault": ${faults.kinds.map((s) => `"${s}"`).join('|')}, "app"?: name, "times"?: n}`;
    const f = parse(faultBody!, request.body, (b) => (b === undefined ? `the request has no body; ${format}` : (faultBodyProblem(b, faults) ?? format)));
    const state = stateOf(request);
    state.text = `faults add ${f.step} ${f.fault}${f.app ? ` ${f.app}` : ''}${f.times && f.times > 1 ? ` --times ${f.times}` : ''}`;
    if (f.app) {
      const app = deps.apps.get(f.app);
      if (!app) throw new HttpError(404, 'unknown_app', `there is no app ${f.app}`);
      state.app = app.name;
      // A fault breaks the app's next deploys: the people who may deploy it, or an admin — in local mode too.
      let allowed = config.admins.includes(caller.id);
      try {
        allowed ||= canDo({ id: caller.id }, app, 'deploy', deps.groups);
      } catch (err) {
        if (!(err instanceof GroupLookupError)) throw err;
        throw new HttpError(502, 'group_lookup_failed', `couldn't check your group membership for ${app.name} (${err.group}: ${err.reason}); try again`);
      }
      if (!allowed) throw new HttpError(403, 'forbidden', `${caller.id} may not inject faults into ${app.name}: ${describeRole(app, 'deploy')}, or an admin (KUBECONTROL_ADMINS)`);
    } else if (!isAdmin(caller)) {
      throw new HttpError(403, 'forbidden', `${caller.id} is not an admin (KUBECONTROL_ADMINS): a fault for every app needs one; name the app (--app) to inject one into an app you may deploy`);
    }
    faults.add(f);
    record(request, 'accepted', `added: ${f.step} will ${f.fault === 'fail' ? 'fail' : f.fault === 'timeout' ? 'time out' : 'be unhealthy'}${f.app ? ` for ${f.app}` : ' for every app'}${f.times && f.times > 1 ? `, ${f.times} times` : ''}`);
    return sendJson(reply, 200, faults.list());
  });

  api.delete('/api/sandbox/faults', { config: { kubecontrol: { audit: true, verb: 'faults' } } }, async (request, reply) => {
    const faults = sandboxOnly();
    const caller = callerOf(request);
    stateOf(request).text = 'faults clear';
    if (!isAdmin(caller)) throw new HttpError(403, 'forbidden', `${caller.id} is not an admin (KUBECONTROL_ADMINS): clearing faults needs one`);
    const before = faults.list();
    faults.clear();
    record(request, 'accepted', Array.isArray(before) ? `cleared ${before.length} fault${before.length === 1 ? '' : 's'}` : 'cleared');
    return sendJson(reply, 200, faults.list());
  });
}

/**
 * Server-sent events: every event after `after`, then live ones, until the deploy has ended and cleaned up.
 * Also the console's own stream route (console/pages), which identifies the browser its own way.
 */
export function streamEvents(deps: Pick<ApiDeps, 'reads' | 'core' | 'feed'>, deployId: number, after: number, reply: FastifyReply): void {
  const { reads: store, core, feed } = deps;
  const res = reply.raw;
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
  // The response closes when it ends or when the client goes away (or the server closes every connection).
  res.on('close', stop);
  flush();
}
