/**
 * Bolt's HTTP transport, mounted on the kubecontrol server instead of a
 * server of its own: `POST /slack/events` is verified with Bolt's own
 * functions (HMAC signature over the raw body, 5-minute replay window),
 * acknowledged through Bolt's HTTPResponseAck and handed to `app.processEvent`.
 * Anything unsigned, badly signed or stale gets 401 before any listener runs.
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
}

/** A Bolt `Receiver` whose `mount` handles Slack's requests on an existing HTTP server. */
export class MountedHttpReceiver implements Receiver {
  private app: App | undefined;
  private readonly path: string;
  private closed = false;

  constructor(private readonly options: MountedReceiverOptions) {
    this.path = options.path ?? SLACK_EVENTS_PATH;
  }

  init(app: App): void {
    this.app = app;
  }

  // The kubecontrol server owns the socket: nothing to listen on here.
  async start(): Promise<void> {
    this.closed = false;
  }
  async stop(): Promise<void> {
    this.closed = true;
  }

  /** Answers 503 from now on (the mount stays on the server, which cannot unmount). */
  close(): void {
    this.closed = true;
  }

  /** The handler to `mount()` on the kubecontrol server; returns false for other paths. */
  readonly mount: Mount = async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.path) return false;
    if (this.closed || !this.app) {
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
}
