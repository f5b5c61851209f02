/**
 * A local HTTP server that plays a Kubernetes API server for the real
 * @kubernetes/client-node: namespaces, deployments, services and pods with
 * get / list / server-side apply / strategic merge patch / delete, and watch
 * streams (`?watch=true`: newline-delimited JSON events on a connection kept
 * open). A tiny "controller" moves deployments and services along according
 * to `behaviour`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number; resourceVersion?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
};

/** How the fake cluster's controllers behave. */
export interface FakeBehaviour {
  /**
   * healthy: pods come up; deadline: ProgressDeadlineExceeded; crashloop: pods in CrashLoopBackOff and the
   * deployment stays Progressing; crashloop-deadline: both; pending: nothing ever happens.
   */
  rollout: 'healthy' | 'deadline' | 'crashloop' | 'crashloop-deadline' | 'pending';
  /** Restart count of crashing containers (crashloop). @default 5 */
  crashRestarts: number;
  /** Hostname the Service's load balancer gets; undefined: never. */
  loadBalancerHostname: string | undefined;
  /** Bearer tokens accepted; undefined: any. */
  acceptToken: ((authorization: string | undefined) => boolean) | undefined;
  /** Close every watch right after its initial events (clients must watch again). */
  closeWatchesAfterInitial: boolean;
  /** A deleted namespace stays Terminating forever (a finalizer nobody removes). */
  namespacesStuckTerminating: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

type Resource = 'namespaces' | 'deployments' | 'services' | 'pods';
interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  obj: Obj;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string }> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
};

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Deep merge; arrays of objects with `name` merge by name when `byName` (strategic merge of containers). */
function merge(target: unknown, patch: unknown, byName: boolean): unknown {
  if (Array.isArray(patch)) {
    if (byName && Array.isArray(target) && patch.every((p) => isObj(p) && typeof p.name === 'string')) {
      const out = target.map((t) => ({ ...(t as object) })) as Record<string, unknown>[];
      for (const p of patch as Record<string, unknown>[]) {
        const i = out.findIndex((t) => t.name === p.name);
        if (i >= 0) out[i] = merge(out[i], p, byName) as Record<string, unknown>;
        else out.push(p);
      }
      return out;
    }
    return structuredClone(patch);
  }
  if (isObj(patch)) {
    const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = merge(out[k], v, byName);
    }
    return out;
  }
  return patch;
}

function matchesLabels(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return obj.metadata.labels?.[k!] === v;
  });
}

function matchesFields(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k === 'metadata.name' ? obj.metadata.name === v : k === 'metadata.namespace' ? obj.metadata.namespace === v : true;
  });
}

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly behaviour: FakeBehaviour = {
    rollout: 'healthy',
    crashRestarts: 5,
    loadBalancerHostname: 'k8s-app-abc123.elb.us-east-1.amazonaws.com',
    acceptToken: undefined,
    closeWatchesAfterInitial: false,
    namespacesStuckTerminating: false,
  };
  private readonly objects = new Map<string, Obj>();
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<(e: WatchEvent) => void>();
  private rv = 100;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Watch streams currently open. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** The paths of the watch streams currently open. */
  readonly openWatchPaths = new Map<(e: WatchEvent) => void, string>();

  get(resource: Resource, ns: string | undefined, name: string): Obj | undefined {
    return this.objects.get(this.key(resource, ns, name));
  }

  list(resource: Resource): Obj[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${resource}/`)).map(([, v]) => v);
  }

  /** Writes an object (as the API server would) and tells the watchers. */
  put(resource: Resource, obj: Obj): Obj {
    const key = this.key(resource, obj.metadata.namespace, obj.metadata.name);
    const existed = this.objects.has(key);
    const stored: Obj = structuredClone({ ...KINDS[resource], ...obj });
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, stored);
    this.emit({ rv: this.rv, type: existed ? 'MODIFIED' : 'ADDED', resource, obj: stored });
    return stored;
  }

  remove(resource: Resource, ns: string | undefined, name: string): void {
    const key = this.key(resource, ns, name);
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.emit({ rv: ++this.rv, type: 'DELETED', resource, obj });
  }

  private key(resource: Resource, ns: string | undefined, name: string): string {
    return `${resource}/${resource === 'namespaces' ? '' : ns}/${name}`;
  }

  private emit(e: WatchEvent): void {
    this.events.push(e);
    for (const w of this.watchers) w(e);
  }

  private later(fn: () => void, ms = 5): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body });
    if (this.behaviour.acceptToken && !this.behaviour.acceptToken(req.headers.authorization)) {
      return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const route = this.route(url.pathname);
    if (!route) return this.status(res, 404, 'NotFound', `no route ${url.pathname}`);
    const { resource, ns, name } = route;
    const method = req.method ?? 'GET';
    if (method === 'GET' && !name) return this.listOrWatch(req, res, resource, ns, url.searchParams);
    if (method === 'GET') {
      const o = this.get(resource, ns, name!);
      return o ? this.send(res, 200, o) : this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
    }
    if (method === 'PATCH' && name) return this.patch(req, res, resource, ns, name, body, url.searchParams);
    if (method === 'DELETE' && name) {
      const o = this.get(resource, ns, name);
      if (!o) return this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
      this.send(res, 200, o);
      if (resource === 'namespaces' && this.behaviour.namespacesStuckTerminating) {
        this.put('namespaces', { ...o, status: { phase: 'Terminating' } });
      } else if (resource === 'namespaces') {
        // Namespace deletion takes its objects with it, then the namespace itself goes.
        this.later(() => {
          for (const r of ['pods', 'services', 'deployments'] as const) for (const x of this.list(r)) if (x.metadata.namespace === name) this.remove(r, name, x.metadata.name);
          this.remove('namespaces', undefined, name);
        });
      } else {
        this.remove(resource, ns, name);
      }
      return;
    }
    return this.status(res, 405, 'MethodNotAllowed', `${method} not supported`);
  }

  private route(path: string): { resource: Resource; ns?: string; name?: string } | undefined {
    let m = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: 'namespaces', name: m[1] };
    m = /^\/api\/v1\/namespaces\/([^/]+)\/(services|pods)(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: m[2] as Resource, ns: m[1], name: m[3] };
    m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: 'deployments', ns: m[1], name: m[2] };
    return undefined;
  }

  private listOrWatch(req: IncomingMessage, res: ServerResponse, resource: Resource, ns: string | undefined, q: URLSearchParams): void {
    const match = (o: Obj): boolean =>
      (resource === 'namespaces' || o.metadata.namespace === ns) && matchesFields(o, q.get('fieldSelector')) && matchesLabels(o, q.get('labelSelector'));
    if (q.get('watch') !== 'true') {
      const items = this.list(resource).filter(match);
      return this.send(res, 200, { kind: `${KINDS[resource].kind}List`, apiVersion: KINDS[resource].apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Like the real API server: the response starts at once, events follow when they happen.
    res.flushHeaders();
    const write = (type: string, obj: Obj): void => {
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    const since = q.get('resourceVersion');
    if (since) {
      for (const e of this.events) if (e.rv > Number(since) && e.resource === resource && match(e.obj)) write(e.type, e.obj);
    } else {
      // A watch without resourceVersion starts with the current state as ADDED events.
      for (const o of this.list(resource).filter(match)) write('ADDED', o);
    }
    if (this.behaviour.closeWatchesAfterInitial) {
      res.end();
      return;
    }
    const listener = (e: WatchEvent): void => {
      if (e.resource === resource && match(e.obj)) write(e.type, e.obj);
    };
    this.watchers.add(listener);
    this.openWatchPaths.set(listener, `${req.url}`);
    const stop = (): void => {
      this.watchers.delete(listener);
      this.openWatchPaths.delete(listener);
    };
    req.on('close', stop);
    res.on('close', stop);
  }

  private patch(req: IncomingMessage, res: ServerResponse, resource: Resource, ns: string | undefined, name: string, body: unknown, q: URLSearchParams): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0];
    if (type === 'application/apply-patch+yaml' && !q.get('fieldManager')) {
      return this.status(res, 400, 'BadRequest', 'PATCH /apply requires fieldManager');
    }
    if (type !== 'application/apply-patch+yaml' && type !== 'application/strategic-merge-patch+json' && type !== 'application/merge-patch+json') {
      return this.status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/strategic-merge-patch+json, application/merge-patch+json (got ${type})`);
    }
    if (!isObj(body)) return this.status(res, 400, 'BadRequest', 'body must be an object');
    const existing = this.get(resource, ns, name);
    if (!existing && type !== 'application/apply-patch+yaml') return this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
    if (resource !== 'namespaces' && !this.get('namespaces', undefined, ns!)) {
      return this.status(res, 404, 'NotFound', `namespaces "${ns}" not found`);
    }
    const merged = merge(existing ?? { metadata: { name, ...(resource === 'namespaces' ? {} : { namespace: ns }) } }, body, type !== 'application/merge-patch+json') as Obj;
    merged.metadata = { ...merged.metadata, name, ...(resource === 'namespaces' ? {} : { namespace: ns }) };
    const specChanged = JSON.stringify(existing?.spec) !== JSON.stringify(merged.spec);
    if (resource === 'deployments') merged.metadata.generation = (existing?.metadata.generation ?? 0) + (specChanged ? 1 : 0);
    const stored = this.put(resource, merged);
    this.send(res, existing ? 200 : 201, stored);
    if (resource === 'deployments' && specChanged) this.later(() => this.reconcileDeployment(ns!, name));
    if (resource === 'services' && !existing) this.later(() => this.reconcileService(ns!, name));
  }

  /** The deployment controller, kubelet and scheduler in one, according to `behaviour.rollout`. */
  private reconcileDeployment(ns: string, name: string): void {
    const d = this.get('deployments', ns, name);
    if (!d || this.behaviour.rollout === 'pending') return;
    const spec = d.spec as { replicas?: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: { name: string }[] } } };
    const replicas = spec.replicas ?? 1;
    const generation = d.metadata.generation ?? 1;
    const labels = spec.template.metadata.labels;
    // The rollout starts: observed, nothing available yet.
    this.put('deployments', { ...d, status: { observedGeneration: generation, replicas, updatedReplicas: 0, availableReplicas: 0, conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }] } });
    for (const p of this.list('pods')) if (p.metadata.namespace === ns && p.metadata.labels?.['app.kubernetes.io/name'] === labels['app.kubernetes.io/name']) this.remove('pods', ns, p.metadata.name);
    const crash = this.behaviour.rollout === 'crashloop' || this.behaviour.rollout === 'crashloop-deadline';
    for (let i = 0; i < replicas; i++) {
      this.put('pods', {
        metadata: { name: `${name}-${generation}-${i}`, namespace: ns, labels },
        spec: structuredClone(spec.template.spec),
        status: {
          phase: crash ? 'Running' : 'Pending',
          containerStatuses: spec.template.spec.containers.map((c, j) => ({
            name: c.name,
            ready: false,
            restartCount: crash && j === 0 ? this.behaviour.crashRestarts : 0,
            state: crash && j === 0 ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } : { waiting: { reason: 'ContainerCreating' } },
            ...(crash && j === 0 ? { lastState: { terminated: { exitCode: 1, reason: 'Error' } } } : {}),
          })),
        },
      });
    }
    this.later(() => {
      const cur = this.get('deployments', ns, name);
      if (!cur || cur.metadata.generation !== generation || this.behaviour.rollout === 'crashloop') return;
      if (this.behaviour.rollout === 'healthy') {
        this.put('deployments', { ...cur, status: { observedGeneration: generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, conditions: [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] } });
      } else {
        this.put('deployments', { ...cur, status: { observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: 0, unavailableReplicas: replicas, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${name}-${generation}" has timed out progressing.` }] } });
      }
    });
  }

  private reconcileService(ns: string, name: string): void {
    const s = this.get('services', ns, name);
    const hostname = this.behaviour.loadBalancerHostname;
    if (!s || !hostname) return;
    this.put('services', { ...s, status: { loadBalancer: { ingress: [{ hostname }] } } });
  }
}
