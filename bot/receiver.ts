/**
 * Bolt's HTTP transport, mounted on the kubecontrol server instead of a
 * server of its own: `POST /slack/events` is verified with Bolt's own
 * functions (HMAC signature over the raw body, 5-minute replay window),
 * acknowledged through Bolt's HTTPResponseAck and handed to `app.processEvent`.
 * Anything unsigned, badly signed, stale or timestamped more than a minute in
 * the future (Bolt checks only the past) gets 401 before any listener runs.
 *
 * It is mounted before Slack is reachable: until the Bolt app is started,
 * every request is still verified, then a slash command is answered
 * "kubecontrol is starting" (ephemeral, HTTP 200, not a 404 that users would
 * see as dispatch_failed) and a button click the same through its response_url.
 */
import { HTTPModuleFunctions, HTTPResponseAck, type App, type Logger as BoltLogger, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SLACK_EVENTS_PATH } from './constants.js';

/** A request handler mounted on the kubecontrol server; false when the request is not its own. */
export type Mount = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface MountedReceiverOptions {
  readonly signingSecret: string;
  readonly logger: BoltLogger;
  /** @default '/slack/events' */
  readonly path?: string;
  readonly bodyLimit?: number;
  /** How far in the future a request's timestamp may be (clock skew), in seconds. @default 60 */
  readonly maxFutureSkewSec?: number;
  /** How long posting the "starting" answer to a response_url may take. @default 5000 */
  readonly responseTimeoutMs?: number;
}

/** What Slack users are told while the surface is not connected yet. */
export const STARTING_TEXT = 'kubecontrol is starting: Slack is not connected yet, try again in a minute.';

/** A Bolt `Receiver` whose `mount` handles Slack's requests on an existing HTTP server. */
export class MountedHttpReceiver implements Receiver {
  private app: App | undefined;
  private readonly path: string;
  /** 'starting' until the Bolt app is started: requests are verified and answered "kubecontrol is starting". */
  private state: 'starting' | 'ready' | 'closed' = 'starting';

  constructor(private readonly options: MountedReceiverOptions) {
    this.path = options.path ?? SLACK_EVENTS_PATH;
  }

  init(app: App): void {
    this.app = app;
  }

  // The kubecontrol server owns the socket: nothing to listen on here.
  async start(): Promise<void> {
    if (this.state !== 'closed') this.state = 'ready';
  }
  async stop(): Promise<void> {
    this.state = 'closed';
  }

  /** Answers 503 from now on (the mount stays on the server, which cannot unmount). */
  close(): void {
    this.state = 'closed';
  }

  /** The handler to `mount()` on the kubecontrol server; returns false for other paths. */
  readonly mount: Mount = async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.path) return false;
    if (this.state === 'closed') {
      res.writeHead(503, { 'retry-after': '5' });
      res.end();
      return true;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' });
      res.end();
      return true;
    }
    await this.handle(req, res);
    return true;
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.options.logger;
    let buffered;
    try {
      buffered = await HTTPModuleFunctions.parseAndVerifyHTTPRequest(
        { signingSecret: this.options.signingSecret, bodyLimit: this.options.bodyLimit, logger: log },
        req,
      );
    } catch (err) {
      if (HTTPModuleFunctions.isRawBodyError(err) && (err.type === 'entity.too.large' || err.statusCode === 413)) {
        HTTPModuleFunctions.buildNoBodyResponse(res, 413);
        return;
      }
      // The message says which check failed (signature, timestamp); never the secret or the signature itself.
      log.warn(`rejected a Slack request: ${err instanceof Error ? err.message : String(err)}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    // Bolt refuses timestamps more than five minutes old, but not ones in the future: a request signed
    // ahead of time (a leaked signature, a skewed clock) would otherwise stay replayable until then.
    const timestamp = Number(HTTPModuleFunctions.getHeader(buffered, 'x-slack-request-timestamp'));
    const skew = this.options.maxFutureSkewSec ?? 60;
    if (timestamp > Date.now() / 1000 + skew) {
      log.warn(`rejected a Slack request: x-slack-request-timestamp is ${Math.round(timestamp - Date.now() / 1000)}s in the future (at most ${skew}s allowed)`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = HTTPModuleFunctions.parseHTTPRequestBody(buffered) as Record<string, unknown>;
    } catch (err) {
      log.warn(`malformed Slack request body: ${err instanceof Error ? err.message : String(err)}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
    if (body.ssl_check === '1') {
      HTTPModuleFunctions.buildSSLCheckResponse(res);
      return;
    }
    if (body.type === 'url_verification') {
      HTTPModuleFunctions.buildUrlVerificationResponse(res, body);
      return;
    }
    if (this.state !== 'ready' || !this.app) {
      this.answerStarting(body, res);
      return;
    }
    const ack = new HTTPResponseAck({ logger: log, processBeforeResponse: false, httpRequest: buffered, httpRequestBody: body, httpResponse: res });
    const event: ReceiverEvent = {
      body,
      ack: ack.bind(),
      retryNum: HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req),
      retryReason: HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req),
      customProperties: {},
    };
    try {
      await this.app!.processEvent(event);
    } catch (err) {
      // One global error handler (the app's) has logged it; answer if nobody did yet.
      if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
      else log.error(`error after ack: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Before the Bolt app runs: a verified request is answered "kubecontrol is starting" in the way its kind allows. */
  private answerStarting(body: Record<string, unknown>, res: ServerResponse): void {
    if (typeof body.command === 'string') {
      HTTPModuleFunctions.buildContentResponse(res, { response_type: 'ephemeral', text: `⏳ ${STARTING_TEXT}` });
      return;
    }
    // An interaction's ack carries no message: acknowledge, then answer through its response_url.
    HTTPModuleFunctions.buildNoBodyResponse(res, 200);
    // Bolt's parser has already unwrapped an interaction's `payload=` JSON.
    const responseUrl = body.response_url;
    if (typeof responseUrl !== 'string' || !/^https?:\/\//.test(responseUrl)) return;
    void fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text: `⏳ ${STARTING_TEXT}` }),
      signal: AbortSignal.timeout(this.options.responseTimeoutMs ?? 5000),
    }).then(
      (r) => void r.body?.cancel(),
      (err: unknown) => this.options.logger.warn(`could not answer "starting" on a response_url: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
}
