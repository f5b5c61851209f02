/**
 * A thin front for FakeKubeApiServer that adds what a laptop cluster's API
 * server also serves and the fake does not: the service proxy
 * (`/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/<path>`), answered
 * like a Service would (200 when its namespace has an available deployment,
 * else 503 "no endpoints available"). Every other request, watches included,
 * is passed through to the fake unchanged.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { FakeKubeApiServer } from './kube-apiserver.js';

const PROXY = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/:]+)(?::([^/]+))?\/proxy(\/.*)?$/;

export interface ProxiedRequest {
  readonly namespace: string;
  readonly service: string;
  readonly port: string | undefined;
  readonly path: string;
  readonly authorization: string | undefined;
}

export class LocalApiFront {
  url = '';
  /** Service proxy requests seen. */
  readonly proxied: ProxiedRequest[] = [];
  /** Overrides the answer of the app behind the service proxy. */
  health: ((r: ProxiedRequest) => { status: number; body: string } | undefined) | undefined;
  private readonly server = createServer((req, res) => this.handle(req, res));

  constructor(readonly fake: FakeKubeApiServer) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A kubeconfig for this server, as `kind create cluster --name kubecontrol` would name its context. */
  kubeConfig(context = 'kind-kubecontrol'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: context, server: this.url, skipTLSVerify: true }],
      users: [{ name: context, token: 'local-token' }],
      contexts: [{ name: context, cluster: context, user: context }],
      currentContext: context,
    });
    return kc;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://front');
    const m = PROXY.exec(url.pathname);
    if (m && req.method === 'GET') return this.proxy(req, res, { namespace: m[1]!, service: m[2]!, port: m[3], path: m[4] ?? '/', authorization: req.headers.authorization });
    const upstream = request(`${this.fake.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      res.flushHeaders();
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // A watch the client stops must end upstream too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  private proxy(_req: IncomingMessage, res: ServerResponse, r: ProxiedRequest): void {
    this.proxied.push(r);
    const answer = (status: number, body: string, type = 'text/plain'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const status = (code: number, reason: string, message: string): void =>
      answer(code, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }), 'application/json');
    if (!this.fake.get('services', r.namespace, r.service)) return status(404, 'NotFound', `services "${r.service}" not found`);
    const own = this.health?.(r);
    if (own) return answer(own.status, own.body);
    const ready = this.fake.list('deployments').some((d) => d.metadata.namespace === r.namespace && Number((d.status as { availableReplicas?: number } | undefined)?.availableReplicas ?? 0) > 0);
    if (!ready) return status(503, 'ServiceUnavailable', `no endpoints available for service "${r.service}"`);
    answer(200, 'ok');
  }
}
