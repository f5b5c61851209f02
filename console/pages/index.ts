/**
 * The KubeApp Management Console's pages, as a Fastify plugin in its own scope
 * (the JSON API stays in console/api.ts):
 *
 *   GET  /                          the fleet            GET /fragment/fleet, /fleet/stream (live)
 *   GET  /apps/:app                 history, DORA, definition, manifests     POST /apps/:app/rollback
 *   GET  /deploys/:id               one deploy           GET /deploys/:id/fragment, /deploys/:id/stream (live)
 *   POST /deploys/:id/approve|reject|cancel
 *   GET  /search?q=                 the search box's answers
 *   POST /acting-as                 local mode: who the browser acts as (a cookie)
 *   GET  /assets/:file              the CSS and the script, cached by content hash
 *
 * Every page is rendered on the server from the store (ConsoleReads); the script only
 * re-fetches server-rendered fragments when the event stream says something changed,
 * so what the page shows is what the store holds, and everything works without it.
 * Who is acting comes from console/identity.ts; every POST is checked by console/csrf.ts;
 * actions go through the command core with surface `console`, like Slack and the CLI.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GroupResolver } from '../../commands/authorize.js';
import { runAfterAck, type CommandCore } from '../../commands/core.js';
import type { CommandResult } from '../../commands/results.js';
import type { KubeApp } from '../../kubeapps/index.js';
import type { CommandOutcome, EventFeed, Store } from '../../store/index.js';
import { HTTP_STATUS } from '../api.js';
import { CSRF_FIELD, originProblem, type Csrf } from '../csrf.js';
import { html, path, query, raw, type Html } from '../html.js';
import { HttpError, type ErrorAnswer } from '../http.js';
import { actingAsCookie, type ConsoleIdentity, type Identify } from '../identity.js';
import type { ConsoleReads, DoraReport } from '../model.js';
import { confirmBody, deployActions, deployActionWords, rollbackOffer, rollbackWords, type Action, type DeployAction } from './actions.js';
import { appBody, type RenderedManifest } from './app.js';
import { deployBody, deployParts, type DeployContext } from './deploy.js';
import { fleetBody, fleetParts } from './fleet.js';
import { errorPage, page, type Frame } from './layout.js';
import { DEFAULT_WINDOW, doraWindow, historyFilters, historyQuery, parseQuery, searchQuery } from './queries.js';
import { searchBody } from './search.js';

/** The operator's log, as the console uses it: one info line per recorded refusal. */
export interface PagesLogger {
  info(obj: object, msg: string): void;
}

/** What the console's pages need, and nothing more. */
export interface PagesDeps {
  readonly identify: Identify;
  readonly csrf: Csrf;
  readonly reads: ConsoleReads;
  /** Where actions go: the same core, checks and records as Slack and the CLI. */
  readonly core: Pick<CommandCore, 'execute'>;
  readonly deploys: Pick<Store['deploys'], 'get' | 'lastSucceededOtherThan'>;
  /** Refusals before the core (forged forms, identity headers from elsewhere) are recorded here, surface `console`; answers are read back. */
  readonly commands: Pick<Store['commands'], 'record' | 'get'>;
  /** Committed events: the fleet's live stream. */
  readonly feed: EventFeed;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly groups?: GroupResolver;
  /** The Kubernetes manifests a deploy of `version` applies, rendered by the provider's adapter (handed in by the composition root). */
  readonly manifests?: (app: KubeApp, version: string) => readonly RenderedManifest[];
  /** The DORA charts as SVG (console/charts.ts). */
  readonly charts: (report: DoraReport) => string;
  readonly now: () => number;
  readonly provider: { readonly name: string; readonly label: string };
  readonly logger?: PagesLogger;
  /**
   * A deploy's live events on the console's own route (`/deploys/:id/stream`), for modes where the
   * browser cannot call the API (proxy: the API wants a bearer token). Local mode uses the API's.
   */
  readonly streamDeploy: (id: number, after: number, reply: FastifyReply) => void;
}

/** The console's pages: a plugin to register, and the HTML error page the server's one error handler uses for browsers. */
export interface Pages {
  register(server: FastifyInstance): void;
  /** Answers an error with an HTML page when a browser asked for one (Accept: text/html); false otherwise. */
  answerError(answer: Omit<ErrorAnswer, 'internal'>, request: FastifyRequest, reply: FastifyReply): boolean;
}

const ASSET_DIR = new URL('../assets/', import.meta.url);
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

/** The assets, each under its content hash (cached for a year) and its plain name (revalidated). */
function loadAssets(): { urls: Frame['assets']; files: Map<string, Asset> } {
  const files = new Map<string, Asset>();
  const url = (name: string, type: string): string => {
    const body = readFileSync(new URL(name, ASSET_DIR));
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    const [base, ext] = name.split('.') as [string, string];
    const hashed = `${base}.${hash}.${ext}`;
    files.set(hashed, { body, type, immutable: true });
    files.set(name, { body, type, immutable: false });
    return `/assets/${hashed}`;
  };
  return { urls: { css: url('console.css', 'text/css; charset=utf-8'), js: url('console.js', 'text/javascript; charset=utf-8') }, files };
}

/** Whether the request wants a page (a browser's navigation or the console's script), not JSON. */
function wantsHtml(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '');
  return accept.includes('text/html');
}

/** Whether the console's script sent this (it wants a fragment, not a whole page or a redirect). */
function fromScript(request: FastifyRequest): boolean {
  return request.headers['x-kmc'] === 'fragment';
}

/** A core message as HTML: `code` in backticks becomes <code>, everything escaped. */
function messageHtml(message: string): Html {
  return html`${message.split('`').map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}`;
}

function sendHtml(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' }).type('text/html; charset=utf-8').send(body.value);
}

/** A path of this site to come back to (never another site's, never `//host`). */
function localPath(raw: unknown): string {
  return typeof raw === 'string' && /^\/(?![/\\])[^\s]*$/.test(raw) && raw.length <= 2000 ? raw : '/';
}

export function createPages(deps: PagesDeps): Pages {
  const assets = loadAssets();
  const identities = new WeakMap<FastifyRequest, ConsoleIdentity>();
  const identityOf = (request: FastifyRequest): ConsoleIdentity => identities.get(request)!;

  const frame = (request: FastifyRequest, title: string, extra: Partial<Frame> = {}): Frame => {
    const identity = identities.get(request) ?? null;
    return {
      title,
      assets: assets.urls,
      provider: deps.provider,
      mode: deps.identify.mode,
      identity,
      people: deps.identify.people,
      csrf: identity ? deps.csrf.token(identity.person ?? '') : '',
      here: request.url.length <= 2000 ? request.url : '/',
      ...extra,
    };
  };

  /** Records what the console refused before the core (and logs it), like the API's audit trail. */
  const record = (request: FastifyRequest, r: { actor: string; outcome: CommandOutcome; message: string; verb?: string | null; app?: string | null; deployId?: number | null }): void => {
    const text = `${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`;
    const commandId = deps.commands.record({ actor: r.actor, surface: 'console', text, verb: r.verb ?? null, app: r.app ?? null, deployId: r.deployId ?? null, outcome: r.outcome, message: r.message });
    deps.logger?.info(
      { commandId, actor: r.actor, surface: 'console', verb: r.verb ?? null, app: r.app ?? null, outcome: r.outcome, address: request.socket.remoteAddress },
      `command #${commandId} ${text} by ${r.actor} via console: ${r.outcome} — ${r.message}`,
    );
  };

  const appOr404 = (name: string): KubeApp => {
    const app = deps.apps.get(name);
    if (!app) throw new HttpError(404, 'unknown_app', `there is no app ${name.slice(0, 100)}`);
    return app;
  };
  const deployIdOr404 = (raw: string): number => {
    const id = Number(raw);
    if (!Number.isSafeInteger(id) || !deps.deploys.get(id)) throw new HttpError(404, 'unknown_deploy', `there is no deploy #${raw.slice(0, 20)}`);
    return id;
  };

  // ---- the deploy page's data, for a person ----
  const deployContext = (id: number, person: string | null, csrf: string): { page: NonNullable<ReturnType<ConsoleReads['deployPage']>>; ctx: DeployContext } => {
    const p = deps.reads.deployPage(id);
    if (!p) throw new HttpError(404, 'unknown_deploy', `there is no deploy #${id}`);
    const d = p.deploy;
    const app = deps.apps.get(d.app);
    const now = deps.now();
    const offer = deployActions(person, d, app, deps.groups);
    let rollback: DeployContext['rollback'];
    // Only a deploy that may be the live one offers a rollback (the fleet read is not free: it asks the core for status).
    if (app && person && (d.state === 'succeeded' || d.state === 'tearing_down')) {
      const row = deps.reads.fleet(now).find((r) => r.app === app.name);
      const isLive = row?.live?.deployId === d.id;
      if (row && isLive && rollbackOffer(person, app, row, deps.groups).actions.length) {
        rollback = { words: rollbackWords(app, row, row.live ? deps.deploys.lastSucceededOtherThan(app.name, row.live.version)?.version : undefined) };
      }
    }
    return {
      page: p,
      ctx: {
        now,
        offer,
        actionWords: (a) => deployActionWords(a, d, app),
        rollback,
        csrf,
        person,
        ...(app ? { app: { dns: app.dns.name, approvers: app.approvers, allowSelfApproval: app.allowSelfApproval } } : {}),
      },
    };
  };

  const register = (server: FastifyInstance): void => {
    void server.register(async (scope) => routes(scope));
  };

  const routes = (scope: FastifyInstance): void => {
    // Console forms are urlencoded; the server reads every other body as JSON (console/http.ts).
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
    });

    // Who is asking, before anything else (assets excepted: an error page needs its CSS).
    scope.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/assets/')) return;
      const result = deps.identify({ remoteAddress: request.socket.remoteAddress, headers: request.headers });
      if (!result.ok) {
        const r = result.refusal;
        if (r.record) record(request, { actor: r.claimed ?? 'anonymous', outcome: 'refused', message: r.message });
        throw new HttpError(r.status, r.code, r.message);
      }
      identities.set(request, result.identity);
    });

    // Every POST: from a page of this console (Origin, Sec-Fetch-Site), with the token made for the person acting.
    scope.addHook('preHandler', async (request) => {
      if (request.method !== 'POST') return;
      const identity = identityOf(request);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const header = (name: string): string | undefined => {
        const v = request.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const problem =
        originProblem({ host: identity.host, origin: header('origin'), secFetchSite: header('sec-fetch-site') }) ??
        deps.csrf.problem(identity.person ?? '', typeof body === 'object' ? body[CSRF_FIELD] : undefined);
      if (problem) {
        const target = actionTarget(request);
        record(request, { actor: identity.person ?? 'anonymous', outcome: 'refused', message: `forged or stale form refused: ${problem}`, verb: target.verb, app: target.app, deployId: target.deployId });
        throw new HttpError(403, 'csrf', `refused: ${problem}`);
      }
    });

    /** What a POST is about, for its record. */
    const actionTarget = (request: FastifyRequest): { verb: string | null; app: string | null; deployId: number | null } => {
      const m = /^\/deploys\/(\d{1,15})\/(approve|reject|cancel)$/.exec(request.url.split('?')[0]!);
      if (m) return { verb: m[2]!, app: deps.deploys.get(Number(m[1]))?.app ?? null, deployId: Number(m[1]) };
      const a = /^\/apps\/([^/]{1,100})\/rollback$/.exec(request.url.split('?')[0]!);
      if (a) {
        const name = decodeURIComponent(a[1]!);
        return { verb: 'rollback', app: deps.apps.has(name) ? name : null, deployId: null };
      }
      return { verb: request.url.startsWith('/acting-as') ? 'acting-as' : null, app: null, deployId: null };
    };

    scope.get('/assets/:file', async (request, reply) => {
      const asset = assets.files.get((request.params as { file: string }).file);
      if (!asset) throw new HttpError(404, 'not_found', `no such asset: ${request.url.slice(0, 200)}`);
      return reply
        .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .type(asset.type)
        .send(asset.body);
    });

    // ---- fleet ----
    scope.get('/', async (request, reply) => {
      const now = deps.now();
      return sendHtml(reply, 200, page(frame(request, 'Fleet', { section: 'fleet' }), fleetBody(deps.reads.fleet(now), now)));
    });
    scope.get('/fragment/fleet', async (_request, reply) => {
      const now = deps.now();
      return sendHtml(reply, 200, fleetParts(deps.reads.fleet(now), now));
    });
    scope.get('/fleet/stream', async (_request, reply) => {
      reply.hijack();
      fleetStream(deps.feed, reply);
    });

    // ---- app ----
    scope.get('/apps/:app', async (request, reply) => {
      const app = appOr404((request.params as { app: string }).app);
      const q = parseQuery(historyQuery, request.query);
      const filters = historyFilters(q);
      const now = deps.now();
      const windowDays = q.window ?? DEFAULT_WINDOW;
      const { from, to } = doraWindow(windowDays, now);
      const dora = deps.reads.dora(app.name, from, to);
      const row = deps.reads.fleet(now).find((r) => r.app === app.name);
      const identity = identityOf(request);
      const offer = row ? rollbackOffer(identity.person, app, row, deps.groups) : { actions: [] };
      const version = q.manifests ?? row?.live?.version;
      let manifests: Parameters<typeof appBody>[0]['manifests'] = null;
      if (version && deps.manifests) {
        try {
          manifests = { version, items: deps.manifests(app, version) };
        } catch (err) {
          manifests = { version, problem: `cannot render the manifests of ${version}: ${err instanceof Error ? err.message : String(err)}` };
        }
      } else if (version) manifests = { version, problem: 'this server cannot render manifests' };
      const body = appBody({
        app,
        row,
        filters,
        history: deps.reads.history({ app: app.name, ...filters }),
        dora,
        windowDays,
        charts: raw(deps.charts(dora)),
        manifests,
        rollback: offer.actions.length && row ? { words: rollbackWords(app, row, row.live ? deps.deploys.lastSucceededOtherThan(app.name, row.live.version)?.version : undefined) } : undefined,
        ...(offer.note ? { rollbackNote: offer.note } : {}),
        csrf: deps.csrf.token(identity.person ?? ''),
        now,
      });
      return sendHtml(reply, 200, page(frame(request, app.name, { section: 'app' }), body));
    });

    // ---- deploy ----
    const streamUrl = (id: number, identity: ConsoleIdentity): string =>
      // Local mode: the API's own stream (no token needed there); otherwise the console's route, which knows the proxy's person.
      identity.mode === 'local' ? `${path('api', 'deploys', id)}/stream` : `${path('deploys', id)}/stream`;

    scope.get('/deploys/:id(^\\d+$)', async (request, reply) => {
      const id = deployIdOr404((request.params as { id: string }).id);
      const identity = identityOf(request);
      const { page: p, ctx } = deployContext(id, identity.person, deps.csrf.token(identity.person ?? ''));
      const answer = answerFromQuery(request, identity, id);
      return sendHtml(reply, 200, page(frame(request, `Deploy #${id}`, { section: 'deploy' }), deployBody(p, ctx, streamUrl(id, identity), answer)));
    });
    scope.get('/deploys/:id(^\\d+)/fragment', async (request, reply) => {
      const id = deployIdOr404((request.params as { id: string }).id);
      const identity = identityOf(request);
      const { page: p, ctx } = deployContext(id, identity.person, deps.csrf.token(identity.person ?? ''));
      return sendHtml(reply, 200, deployParts(p, ctx));
    });
    scope.get('/deploys/:id(^\\d+)/stream', async (request, reply) => {
      const id = deployIdOr404((request.params as { id: string }).id);
      const last = request.headers['last-event-id'];
      const after = Number((Array.isArray(last) ? last[0] : last) ?? (request.query as { after?: string }).after ?? 0);
      reply.hijack();
      deps.streamDeploy(id, Number.isSafeInteger(after) && after > 0 ? after : 0, reply);
    });

    /** The answer of an action done without the script (the redirect says which command): only to the person who did it. */
    const answerFromQuery = (request: FastifyRequest, identity: ConsoleIdentity, deployId: number | null, app?: string): Html | undefined => {
      const raw = (request.query as { answer?: unknown }).answer;
      const commandId = typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
      const c = commandId ? deps.commands.get(commandId) : undefined;
      if (!c || c.surface !== 'console' || c.actor !== identity.person) return undefined;
      if (deployId !== null ? c.deployId !== deployId && !(c.verb === 'rollback' && c.app === deps.deploys.get(deployId)?.app) : c.app !== app) return undefined;
      const tone = c.outcome === 'accepted' ? 'ok' : c.outcome === 'failed' ? 'bad' : 'warn';
      return html`<p class="answer tone-${tone}">${messageHtml(c.message ?? c.outcome)}</p>`;
    };

    // ---- actions ----
    const act = async (request: FastifyRequest, reply: FastifyReply, action: Action, target: { deployId?: number; app: string }): Promise<FastifyReply> => {
      const identity = identityOf(request);
      const person = identity.person;
      const body = (request.body ?? {}) as Record<string, unknown>;
      const back = target.deployId !== undefined ? path('deploys', target.deployId) : path('apps', target.app);
      if (!person) {
        record(request, { actor: 'anonymous', outcome: 'refused', message: 'nobody is chosen in “acting as”', verb: action, app: target.app, deployId: target.deployId ?? null });
        throw new HttpError(403, 'nobody', 'choose who you are acting as first (top right of the page)');
      }
      const csrf = deps.csrf.token(person);
      if (body.confirm !== 'yes') {
        // Without the script: say what will happen, and ask again.
        const what = confirmWords(action, target);
        return sendHtml(reply, 200, page(frame(request, 'Confirm'), confirmBody(action, target, what, csrf, back)));
      }
      const reason = typeof body.reason === 'string' ? body.reason.trim().slice(0, 500) : '';
      const input =
        action === 'rollback' ? ['rollback', target.app] : action === 'reject' && reason ? ['reject', String(target.deployId), reason] : [action, String(target.deployId)];
      const result: CommandResult = await deps.core.execute({ actor: { id: person }, surface: 'console', input });
      const status = HTTP_STATUS[result.status];
      // Where the answer is shown: the deploy it made or decided, else the page it was asked from.
      const shownOn =
        result.kind === 'deploy_queued' || result.kind === 'flipped_back' || result.kind === 'decision' || result.kind === 'cancelled' ? path('deploys', result.deploy.id) : back;
      if (fromScript(request)) {
        const tone = result.status === 'ok' ? 'ok' : result.status === 'error' ? 'bad' : 'warn';
        const link = shownOn !== back ? html` <a href="${shownOn}">Open deploy →</a>` : '';
        sendHtml(reply, status, html`<p class="answer tone-${tone}">${messageHtml(result.message)}${link}</p>`);
      } else {
        void reply.code(303).header('cache-control', 'no-store').header('location', `${shownOn}${query({ answer: result.commandId ?? undefined })}`).send();
      }
      // Only now, with the answer on its way, does a deploy join the deployer's line.
      runAfterAck(result);
      return reply;
    };

    const confirmWords = (action: Action, target: { deployId?: number; app: string }): string => {
      const app = deps.apps.get(target.app);
      if (action === 'rollback') {
        const row = deps.reads.fleet(deps.now()).find((r) => r.app === target.app);
        if (!app || !row) return `Roll back ${target.app}.`;
        return rollbackWords(app, row, row.live ? deps.deploys.lastSucceededOtherThan(app.name, row.live.version)?.version : undefined);
      }
      return deployActionWords(action, deps.deploys.get(target.deployId!)!, app);
    };

    for (const action of ['approve', 'reject', 'cancel'] as const satisfies readonly DeployAction[]) {
      scope.post(`/deploys/:id(^\\d+)/${action}`, async (request, reply) => {
        const id = deployIdOr404((request.params as { id: string }).id);
        return act(request, reply, action, { deployId: id, app: deps.deploys.get(id)!.app });
      });
    }
    scope.post('/apps/:app/rollback', async (request, reply) => {
      const app = appOr404((request.params as { app: string }).app);
      return act(request, reply, 'rollback', { app: app.name });
    });

    // ---- acting as (local mode) ----
    scope.post('/acting-as', async (request, reply) => {
      const identity = identityOf(request);
      if (identity.mode !== 'local') throw new HttpError(404, 'not_found', 'choosing who to act as is for local mode only; the auth proxy says who you are');
      const body = (request.body ?? {}) as Record<string, unknown>;
      const chosen = typeof body.person === 'string' ? body.person : '';
      if (chosen && !deps.identify.people.includes(chosen)) {
        throw new HttpError(400, 'unknown_person', `${chosen.slice(0, 64)} is not one of the people the KubeApps name`);
      }
      return reply.code(303).header('set-cookie', actingAsCookie(chosen || null)).header('cache-control', 'no-store').header('location', localPath(body.return)).send();
    });

    // ---- search ----
    scope.get('/search', async (request, reply) => {
      const q = parseQuery(searchQuery, request.query);
      const text = q.q.trim();
      const result = text ? deps.reads.search(text, deps.now(), q.limit) : null;
      return sendHtml(reply, 200, page(frame(request, text ? `Search: ${text}` : 'Search', { section: 'search', q: text }), searchBody(text, result)));
    });
  };

  return {
    register,
    answerError(answer, request, reply) {
      const p = request.url.split('?')[0]!;
      if (!wantsHtml(request) || p.startsWith('/api/') || p.startsWith('/slack/')) return false;
      if (fromScript(request)) {
        sendHtml(reply, answer.status, html`<p class="answer tone-bad">${answer.message}</p>`);
        return true;
      }
      sendHtml(reply, answer.status, errorPage(frame(request, answer.status === 404 ? 'Not found' : 'Error'), answer));
      return true;
    },
  };
}

/** The fleet's live stream: "something changed" on every committed event (at most every 250 ms); the page re-fetches its fragment. */
function fleetStream(feed: EventFeed, reply: FastifyReply): void {
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n\n');
  let timer: NodeJS.Timeout | undefined;
  const onEvent = (): void => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      res.write('event: changed\ndata: {}\n\n');
    }, 250);
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  feed.on('appended', onEvent);
  res.on('close', () => {
    clearInterval(heartbeat);
    if (timer) clearTimeout(timer);
    feed.off('appended', onEvent);
  });
}
