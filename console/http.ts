/**
 * The kubecontrol server's HTTP layer: one Fastify instance that owns the
 * socket, the surfaces' mounts (Slack's `/slack/events`, which needs the raw
 * request and its unparsed body), JSON bodies, and the one place where errors
 * become answers: `{status: 'error', code, message}`, a plain sentence for
 * every error a caller can cause, never a stack trace or a framework's code.
 *
 * Why Fastify: mature and the Node engineer's default; its `onRequest` hook
 * lets a mount take the raw request before any body is read (Slack's
 * signature is over the raw body), `reply.hijack()` hands the socket to a
 * server-sent event stream, and it is schema-agnostic, so zod stays the one
 * validator (`parse`).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';

/** A request handler a surface mounts on the server; resolves false if the request is not its own. */
export type Mount = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** An answer the API gives on purpose: an HTTP status, a stable code and a sentence for the person. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Recorded in the commands table whatever the endpoint (who could not be identified, or was refused as someone else). */
    readonly options: { readonly alwaysRecorded?: boolean } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The largest JSON body the API reads. */
export const MAX_BODY = 64 * 1024;

/** What the API answers for an error, and whether it was ours (a 500, logged with the error). */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly internal: boolean;
}

const INTERNAL: ErrorAnswer = { status: 500, code: 'internal', message: 'internal error; the server log has the details', internal: true };
const SEND_JSON = 'send the request body as JSON (Content-Type: application/json)';

/**
 * Every Fastify error a request can cause, as a sentence. Fastify's own texts
 * ("FST_ERR_CTP_EMPTY_JSON_BODY", "Unsupported Media Type") never reach a caller.
 */
const FRAMEWORK_ERRORS: Readonly<Record<string, Omit<ErrorAnswer, 'internal'>>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'too_large', message: `request body is larger than ${MAX_BODY / 1024} KiB` },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_json', message: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_json', message: `request body is empty; ${SEND_JSON}` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'bad_content_type', message: `the request's Content-Type is not one this server reads; ${SEND_JSON}` },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_length', message: 'the request body is not as long as its Content-Length header says' },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: { status: 400, code: 'bad_content_type', message: `the request has no Content-Type; ${SEND_JSON}` },
  FST_ERR_ROUTE_MISSING_CONTENT: { status: 400, code: 'bad_request', message: `the request has no body; ${SEND_JSON}` },
  FST_ERR_VALIDATION: { status: 400, code: 'bad_request', message: 'the request is not valid' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_url', message: 'the URL is not valid (a malformed %-escape?)' },
  FST_ERR_INVALID_URL: { status: 400, code: 'bad_url', message: 'the URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'url_too_long', message: 'a part of the URL is too long' },
  FST_ERR_NOT_FOUND: { status: 404, code: 'not_found', message: 'no such endpoint' },
  FST_ERR_HANDLER_TIMEOUT: { status: 503, code: 'timed_out', message: 'the server took too long to answer; try again' },
};

/** The answer for any error: ours as thrown, Fastify's as a sentence, anything else a 500 that says nothing of its cause. */
export function describeError(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message, internal: false };
  const code = (err as { code?: unknown } | undefined)?.code;
  const known = typeof code === 'string' ? FRAMEWORK_ERRORS[code] : undefined;
  if (known) return { ...known, internal: false };
  // A request the server could not read (e.g. the body stream broke off): the caller's side, said plainly.
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, code: 'bad_request', message: 'the request could not be read', internal: false };
  return INTERNAL;
}

/**
 * Validates `value` with a zod schema; throws a 400 whose message is `problem(value)`
 * (what is wrong, in the words of the request's fields) when it does not fit.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, problem: (value: unknown) => string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'bad_request', problem(value));
  return result.data;
}

/** Sends a JSON answer, never cached. Synchronous: the answer is on its way when this returns (no onSend hooks). */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(JSON.stringify(body));
}

/** Writes a JSON answer on a raw response (a mount that failed, a malformed request). */
function writeRawJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const errorBody = (a: Pick<ErrorAnswer, 'code' | 'message'>): { status: 'error'; code: string; message: string } => ({ status: 'error', code: a.code, message: a.message });

/** Where the HTTP layer logs what went wrong on the server's side (a 500, a mount that threw). */
export interface HttpLogger {
  error(obj: object, msg: string): void;
}

export interface HttpServerOptions {
  readonly logger: HttpLogger;
  /** Tried in order before any route, with the raw request (body unread); read at each request, so mounts may be added later. */
  readonly mounts: readonly Mount[];
  /**
   * Answers an error as an HTML page when a browser asked for one (the console's pages, `Accept: text/html`);
   * returns false to leave it to the JSON answer. Every other caller gets `{status: 'error', code, message}`.
   */
  readonly htmlError?: (answer: Omit<ErrorAnswer, 'internal'>, request: FastifyRequest, reply: FastifyReply) => boolean;
}

/** A request that is not valid HTTP (bad request line, headers too large): answered on the socket, in the API's shape. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request took too long to arrive']
        : [400, 'bad_http', 'the request is not valid HTTP'];
  const text = JSON.stringify(errorBody({ code, message }));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\n\r\n${text}`,
  );
}

/**
 * Builds the Fastify instance: its logger off (the server logs through pino itself), JSON bodies up to
 * 64 KiB, the mounts offered each request first, one error handler and one not-found handler.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const { logger, mounts, htmlError } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY,
    // Close drops every connection, live event streams included, as the node:http server did.
    forceCloseConnections: true,
    // While closing, our own 503 (below) rather than Fastify's text.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    // A malformed URL, a too-long path segment: the same error handler as everything else.
    frameworkErrors: (err, request, reply) => {
      answerError(err, request, reply);
    },
  });

  /** The one place an error becomes an answer: a page for a browser that asked for one, else JSON. */
  const answer = (a: Omit<ErrorAnswer, 'internal'>, request: FastifyRequest, reply: FastifyReply): void => {
    if (htmlError) {
      try {
        if (htmlError(a, request, reply)) return;
      } catch (err) {
        // The page could not be drawn: the JSON answer still says what happened.
        logger.error({ err, method: request.method, url: request.url }, 'error page failed');
        if (reply.sent || reply.raw.headersSent) return;
      }
    }
    sendJson(reply, a.status, errorBody(a));
  };
  const answerError = (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const a = describeError(err);
    // No stack trace reaches a caller; the log has it.
    if (a.internal) logger.error({ err, method: request.method, url: request.url }, 'request failed');
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    answer(a, request, reply);
  };
  app.setErrorHandler((err, request, reply) => answerError(err, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const message = path.startsWith('/api/') ? `no such endpoint: ${request.method} ${path}` : `no such path: ${request.url}`;
    answer({ status: 404, code: 'not_found', message }, request, reply);
  });

  // Every body is read as JSON, whatever its Content-Type says (the CLI sends application/json, a bare
  // fetch text/plain): an empty one is no body, and the route says what it expected.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    // A path no route serves answers 404, whatever its body.
    if (request.is404) return done(null, undefined);
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(new HttpError(400, 'bad_json', 'request body is not valid JSON'), undefined);
    }
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // The mounts first, with the raw request and its body unread; a mount that takes it answers it itself.
  app.addHook('onRequest', async (request, reply) => {
    if (closing) throw new HttpError(503, 'shutting_down', 'kubecontrol is shutting down; try again in a moment');
    for (const mount of mounts) {
      let taken: boolean;
      try {
        taken = await mount(request.raw, reply.raw);
      } catch (err) {
        logger.error({ err, method: request.method, url: request.url }, 'request failed');
        if (!reply.raw.headersSent) writeRawJson(reply.raw, 500, errorBody(INTERNAL));
        else if (!reply.raw.writableEnded) reply.raw.end();
        taken = true;
      }
      if (taken) {
        reply.hijack();
        return;
      }
    }
  });
  return app;
}
