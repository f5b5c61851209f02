/**
 * Faults at the wire for the fake AWS account: SDK clients built as
 * kubecontrol builds them (8 attempts, adaptive retry), whose every attempt
 * runs the SDK's own middleware — serialisation, signing, retry, error
 * deserialisation — with the fake account (`FakeAwsAccount`, answered at
 * `send` by aws-sdk-client-mock) standing in for the transport.
 *
 * An armed fault answers an attempt instead of the account, as an HTTP
 * response in the service's own protocol that the SDK's deserialiser turns
 * into its exception, as AWS sends them:
 *  - throttle: EKS `429 TooManyRequestsException` ("Too Many Requests");
 *    ECR and CodeBuild `400 ThrottlingException`; ELBv2, Auto Scaling and
 *    Route 53 `400 Throttling` ("Rate exceeded"; a Route 53 change can also
 *    get `400 PriorRequestNotComplete`); EC2 `503 RequestLimitExceeded`; the
 *    tagging API `400 ThrottledException`. The SDK retries them.
 *  - error: the status and code given (a refusal the SDK does not retry).
 *  - timeout: the request is never answered; only the caller's abort (or
 *    `release`) ends it.
 * The backoff between attempts is 1 ms and the client-side rate limiter never
 * waits, so no test sleeps; what is retried and how often is the SDK's.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { Route53Client } from '@aws-sdk/client-route-53';
import { STSClient } from '@aws-sdk/client-sts';
import { AdaptiveRetryStrategy } from '@smithy/core/retry';
import { HttpResponse } from '@smithy/protocol-http';
import type { AwsClients, AwsClientsFor } from '../../deployer/aws/clients.js';

type Protocol = 'json' | 'restJson' | 'query' | 'ec2' | 'restXml';

/** A service as the wire sees it: its name in errors, its protocol, how it throttles. */
interface ServiceShape {
  readonly service: string;
  readonly protocol: Protocol;
  readonly xmlns?: string;
  readonly throttle: WireError;
}

/** An error answer: HTTP status, AWS error code, message. */
export interface WireError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const SHAPES: Readonly<Record<string, ServiceShape>> = {
  ECRClient: { service: 'ECR', protocol: 'json', throttle: { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' } },
  CodeBuildClient: { service: 'CodeBuild', protocol: 'json', throttle: { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' } },
  EKSClient: { service: 'EKS', protocol: 'restJson', throttle: { status: 429, code: 'TooManyRequestsException', message: 'Too Many Requests' } },
  AutoScalingClient: {
    service: 'AutoScaling',
    protocol: 'query',
    xmlns: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
    throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' },
  },
  Route53Client: {
    service: 'Route53',
    protocol: 'restXml',
    xmlns: 'https://route53.amazonaws.com/doc/2013-04-01/',
    throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' },
  },
  ElasticLoadBalancingV2Client: {
    service: 'ELBv2',
    protocol: 'query',
    xmlns: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
    throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' },
  },
  EC2Client: { service: 'EC2', protocol: 'ec2', throttle: { status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' } },
  ResourceGroupsTaggingAPIClient: { service: 'Tagging', protocol: 'json', throttle: { status: 400, code: 'ThrottledException', message: 'Rate exceeded' } },
  IAMClient: { service: 'IAM', protocol: 'query', xmlns: 'https://iam.amazonaws.com/doc/2010-05-08/', throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' } },
  STSClient: { service: 'STS', protocol: 'query', xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/', throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' } },
};

export type WireFaultKind = 'throttle' | 'timeout' | 'error';

/** A fault armed for `service` `operation` (e.g. EKS CreateCluster): it answers the next `times` attempts. */
export interface WireFault {
  readonly service: string;
  readonly operation: string;
  readonly kind: WireFaultKind;
  /** @default 1 */
  readonly times?: number;
  /** The error answer (kind `error`), or a throttling answer other than the service's usual one (kind `throttle`). */
  readonly answer?: WireError;
}

/** One attempt as the wire saw it. */
export interface WireAttempt {
  readonly service: string;
  readonly operation: string;
  /** 'ok' (the account answered, or refused by its own rules), the fault kind, or 'aborted'. */
  readonly outcome: 'ok' | 'refused' | WireFaultKind;
  readonly status?: number;
  readonly code?: string;
}

interface Armed extends WireFault {
  left: number;
}

type Next = (args: { request?: unknown; input?: unknown }) => Promise<{ output?: unknown; response?: unknown }>;

export class AwsWire {
  private readonly armed: Armed[] = [];
  /** Every attempt, in order. */
  readonly attempts: WireAttempt[] = [];
  /** Requests not answered (timeout faults) and how to end each. */
  private readonly hung = new Set<(err: Error) => void>();
  /** Real time (Date.now()) of the last attempt that started or ended: how a driver tells the system is quiet. */
  lastActivity = Date.now();
  private seq = 0;

  arm(fault: WireFault): void {
    this.armed.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Faults armed and not used up, as `EKS CreateCluster throttle ×2`. */
  unused(): string[] {
    return this.armed.filter((a) => a.left > 0).map((a) => `${a.service} ${a.operation} ${a.kind} ×${a.left}`);
  }

  /** Forgets faults not used up. */
  disarm(): void {
    this.armed.length = 0;
  }

  /** How many requests are held unanswered right now. */
  get hanging(): number {
    return this.hung.size;
  }

  /** Ends every unanswered request with an error (a connection reset, as when the test stops). */
  release(): void {
    for (const end of [...this.hung]) end(Object.assign(new Error('socket hang up (the test released it)'), { code: 'ECONNRESET' }));
    this.hung.clear();
  }

  /** Attempts of `service operation` with `outcome`. */
  count(service: string, operation: string, outcome?: WireAttempt['outcome']): number {
    return this.attempts.filter((a) => a.service === service && a.operation === operation && (!outcome || a.outcome === outcome)).length;
  }

  private take(service: string, operation: string): Armed | undefined {
    const a = this.armed.find((x) => x.left > 0 && x.service === service && x.operation === operation);
    if (a) a.left -= 1;
    return a;
  }

  /**
   * The clients of one region, as `createAwsClientsFor` makes them (8 attempts, adaptive retry),
   * each attempt answered by the fake account or by an armed fault.
   */
  clientsFor(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): AwsClientsFor {
    const cache = new Map<string, AwsClients>();
    return (region) => {
      let c = cache.get(region);
      if (!c) {
        const config = (shape: ServiceShape) => ({
          region,
          credentials,
          maxAttempts: 8,
          retryStrategy: new AdaptiveRetryStrategy(8, {
            // The SDK's decisions (what is retried, how many times), without its waits.
            backoff: { setDelayBase: () => undefined, computeNextBackoffDelay: () => 1 },
            rateLimiter: { getSendToken: async () => undefined, updateClientSendingRate: () => undefined },
          } as never),
          requestHandler: this.transport(shape),
        });
        const wired = <T extends object>(Ctor: new (cfg: never) => T): T => this.wire(new Ctor(config(SHAPES[Ctor.name]!) as never), SHAPES[Ctor.name]!);
        c = {
          ecr: wired(ECRClient),
          codebuild: wired(CodeBuildClient),
          eks: wired(EKSClient),
          autoscaling: wired(AutoScalingClient),
          route53: wired(Route53Client),
          elbv2: wired(ElasticLoadBalancingV2Client),
          ec2: wired(EC2Client),
          tagging: wired(ResourceGroupsTaggingAPIClient),
          iam: wired(IAMClient),
          sts: wired(STSClient),
        };
        cache.set(region, c);
      }
      return c;
    };
  }

  /**
   * The client's own `send` (the SDK's middleware stack) in place of aws-sdk-client-mock's stub, with one
   * middleware inside the retry loop that lets the stub (the fake account) answer each attempt — or the
   * transport, when a fault is armed for it.
   */
  private wire<T extends object>(client: T, shape: ServiceShape): T {
    const stubbed = (client as unknown as { send: (cmd: unknown) => unknown }).send;
    const real = (Object.getPrototypeOf(Object.getPrototypeOf(client)) as { send: (cmd: unknown, opts?: unknown) => Promise<unknown> }).send;
    const wiredCommands = new WeakSet<object>();
    (client as unknown as { send: unknown }).send = (command: { middlewareStack: { add(mw: unknown, opts: unknown): void } }, options?: unknown) => {
      if (!wiredCommands.has(command)) {
        wiredCommands.add(command);
        command.middlewareStack.add(this.answering(client, stubbed, shape, command), { step: 'deserialize', priority: 'high', name: 'fakeAwsAccount' });
      }
      return real.call(client, command, options);
    };
    return client;
  }

  /** The middleware that answers each attempt of `command`: the fake account (the stub), or the transport when a fault is armed. */
  private answering(client: object, stubbed: (cmd: unknown) => unknown, shape: ServiceShape, command: object) {
    return (next: Next, context: { commandName?: string }) =>
      async (args: { request?: { headers: Record<string, string> } }) => {
        const operation = (context.commandName ?? command.constructor.name).replace(/Command$/, '');
        const fault = this.take(shape.service, operation);
        this.lastActivity = Date.now();
        if (fault) {
          // The transport answers this attempt: the SDK's deserialiser reads the error, its retry decides.
          args.request!.headers['x-fake-fault'] = JSON.stringify({ kind: fault.kind, operation, answer: fault.answer });
          return next(args);
        }
        try {
          const output = (await stubbed.call(client, command)) as Record<string, unknown> | undefined;
          this.attempts.push({ service: shape.service, operation, outcome: 'ok' });
          return { output: { ...(output ?? {}), $metadata: { httpStatusCode: 200, requestId: `fake-${++this.seq}` } }, response: new HttpResponse({ statusCode: 200, headers: {} }) };
        } catch (err) {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          this.attempts.push({ service: shape.service, operation, outcome: 'refused', status: e.$metadata?.httpStatusCode, code: e.name });
          throw err;
        } finally {
          this.lastActivity = Date.now();
        }
      };
  }

  /** The HTTP handler: only faulted attempts reach it. */
  private transport(shape: ServiceShape) {
    return {
      handle: (request: { headers: Record<string, string> }, options?: { abortSignal?: AbortSignal }): Promise<{ response: HttpResponse }> => {
        const { kind, operation, answer } = JSON.parse(request.headers['x-fake-fault'] ?? '{}') as { kind: WireFaultKind; operation: string; answer?: WireError };
        this.lastActivity = Date.now();
        if (kind === 'timeout') {
          this.attempts.push({ service: shape.service, operation, outcome: 'timeout' });
          return new Promise((_resolve, reject) => {
            const end = (err: Error): void => {
              this.hung.delete(end);
              this.lastActivity = Date.now();
              reject(err);
            };
            this.hung.add(end);
            const signal = options?.abortSignal;
            const onAbort = (): void => end(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
            if (signal?.aborted) onAbort();
            else signal?.addEventListener('abort', onAbort, { once: true });
          });
        }
        const e = kind === 'throttle' ? (answer ?? shape.throttle) : answer!;
        this.attempts.push({ service: shape.service, operation, outcome: kind, status: e.status, code: e.code });
        return Promise.resolve({ response: errorResponse(shape, e, `wire-${++this.seq}`) });
      },
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
      destroy: () => undefined,
    };
  }
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An error response as the service sends it. */
function errorResponse(shape: ServiceShape, e: WireError, requestId: string): HttpResponse {
  const json = (contentType: string, body: unknown, headers: Record<string, string> = {}): HttpResponse =>
    new HttpResponse({ statusCode: e.status, headers: { 'content-type': contentType, 'x-amzn-requestid': requestId, ...headers }, body: Buffer.from(JSON.stringify(body)) });
  const xml = (body: string): HttpResponse =>
    new HttpResponse({ statusCode: e.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`) });
  switch (shape.protocol) {
    case 'json':
      return json('application/x-amz-json-1.1', { __type: e.code, message: e.message });
    case 'restJson':
      return json('application/json', { message: e.message }, { 'x-amzn-errortype': `${e.code}:http://internal.amazon.com/coral/com.amazonaws.eks/` });
    case 'ec2':
      return xml(`<Response><Errors><Error><Code>${esc(e.code)}</Code><Message>${esc(e.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`);
    case 'query':
    case 'restXml':
      return xml(
        `<ErrorResponse xmlns="${shape.xmlns}"><Error><Type>Sender</Type><Code>${esc(e.code)}</Code><Message>${esc(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
  }
}
