/**
 * A local HTTP server that plays a Kubernetes API server for the real
 * @kubernetes/client-node: namespaces, deployments, services and pods with
 * get / list / create / server-side apply / strategic merge patch / delete,
 * and watch streams (`?watch=true`: newline-delimited JSON events on a
 * connection kept open). A tiny "controller" moves deployments and services
 * along according to `behaviour`.
 *
 * It refuses what a real kube-apiserver refuses, for what kubecontrol uses:
 * 409 AlreadyExists on a create of an existing object, 409 Conflict on a stale
 * resourceVersion (apply) or uid (delete precondition), 404 for a missing
 * object or namespace, 403 for new objects in a Terminating namespace, 409 on
 * deleting a namespace that is already Terminating, 400 for a malformed label
 * selector or an unsupported field selector, 422 for invalid names and labels.
 * A deleted namespace is Terminating (with a deletionTimestamp) before it goes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    uid?: string;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
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

/** A label key: an optional DNS subdomain prefix and a name of at most 63 characters. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
/** Names of namespaces and services (DNS-1123 labels) and deployments (DNS-1123 subdomains). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Thrown by the selector parsers and validators; answered with its status. */
class ApiRefusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

type Requirement = (labels: Record<string, string>) => boolean;

/** Splits on commas outside parentheses (`a in (x,y),b` is two requirements). */
function splitTerms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Parses a label selector as the API server does (equality, inequality, existence, in, notin); 400 when malformed. */
function parseLabelSelector(selector: string): Requirement[] {
  const bad = (term: string, why: string): ApiRefusal => new ApiRefusal(400, 'BadRequest', `unable to parse requirement: ${why} (in ${JSON.stringify(term)})`);
  const key = (k: string, term: string): string => {
    if (!LABEL_KEY.test(k)) throw bad(term, `invalid label key ${JSON.stringify(k)}`);
    return k;
  };
  const value = (v: string, term: string): string => {
    if (!LABEL_VALUE.test(v)) throw bad(term, `invalid label value ${JSON.stringify(v)}`);
    return v;
  };
  return splitTerms(selector).map((raw) => {
    const term = raw.trim();
    if (!term) throw bad(raw, 'empty requirement');
    let m = /^!\s*(\S+)$/.exec(term);
    if (m) {
      const k = key(m[1]!, term);
      return (l) => !(k in l);
    }
    m = /^(\S+?)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const k = key(m[1]!, term);
      const values = m[3]!.split(',').map((v) => value(v.trim(), term));
      return m[2] === 'in' ? (l) => k in l && values.includes(l[k]!) : (l) => !(k in l) || !values.includes(l[k]!);
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const k = key(m[1]!, term);
      const v = value(m[3]!, term);
      return m[2] === '!=' ? (l) => l[k] !== v : (l) => l[k] === v;
    }
    if (/^\S+$/.test(term)) {
      const k = key(term, term);
      return (l) => k in l;
    }
    throw bad(term, 'not a requirement');
  });
}

/** Parses a field selector; only the fields the API server supports for the resource (else 400). */
function parseFieldSelector(resource: Resource, selector: string): ((o: Obj) => boolean)[] {
  const fields: Record<string, (o: Obj) => string | undefined> = {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace,
    ...(resource === 'namespaces' ? { 'status.phase': (o: Obj) => (o.status as { phase?: string } | undefined)?.phase } : {}),
  };
  return selector.split(',').map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) throw new ApiRefusal(400, 'BadRequest', `invalid selector: ${JSON.stringify(term)}`);
    const get = fields[m[1]!];
    if (!get) throw new ApiRefusal(400, 'BadRequest', `"${m[1]}" is not a known field selector: only "${Object.keys(fields).join('", "')}"`);
    const v = m[3]!;
    return m[2] === '!=' ? (o) => (get(o) ?? '') !== v : (o) => (get(o) ?? '') === v;
  });
}

/** 422 Invalid when the object's name or labels would be refused by the API server's validation. */
function validate(resource: Resource, obj: Obj): void {
  const kind = KINDS[resource].kind;
  const invalid = (field: string, value: string, why: string): ApiRefusal =>
    new ApiRefusal(422, 'Invalid', `${kind} "${obj.metadata.name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`);
  const nameOk = resource === 'deployments' ? DNS_SUBDOMAIN.test(obj.metadata.name) && obj.metadata.name.length <= 253 : DNS_LABEL.test(obj.metadata.name);
  if (!nameOk) throw invalid('metadata.name', obj.metadata.name, 'a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\'');
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!LABEL_KEY.test(k)) throw invalid('metadata.labels', k, 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\'');
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) throw invalid(`metadata.labels`, String(v), 'a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (max 63)');
  }
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
    const before = this.objects.get(key);
    const existed = !!before;
    const stored: Obj = structuredClone({ ...KINDS[resource], ...obj });
    stored.metadata.resourceVersion = String(++this.rv);
    // Identity is the server's: a new object gets a uid, an update keeps the stored one.
    stored.metadata.uid = before?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = before?.metadata.creationTimestamp ?? new Date().toISOString();
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
    try {
      if (method === 'GET' && !name) return this.listOrWatch(req, res, resource, ns, url.searchParams);
      if (method === 'GET') {
        const o = this.get(resource, ns, name!);
        return o ? this.send(res, 200, o) : this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
      }
      if (method === 'POST' && !name) return this.create(res, resource, ns, body);
      if (method === 'PATCH' && name) return this.patch(req, res, resource, ns, name, body, url.searchParams);
      if (method === 'DELETE' && name) return this.delete(res, resource, ns, name, body);
    } catch (err) {
      if (err instanceof ApiRefusal) return this.status(res, err.code, err.reason, err.message);
      throw err;
    }
    return this.status(res, 405, 'MethodNotAllowed', `${method} not supported`);
  }

  /** 404 when the namespace of a namespaced object is missing, 403 when it is being deleted (as the NamespaceLifecycle admission plugin answers). */
  private admitInNamespace(resource: Resource, ns: string | undefined, name: string): void {
    if (resource === 'namespaces') return;
    const namespace = this.get('namespaces', undefined, ns!);
    if (!namespace) throw new ApiRefusal(404, 'NotFound', `namespaces "${ns}" not found`);
    if (namespace.metadata.deletionTimestamp) {
      throw new ApiRefusal(403, 'Forbidden', `${resource} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  private create(res: ServerResponse, resource: Resource, ns: string | undefined, body: unknown): void {
    if (!isObj(body) || !isObj(body.metadata) || typeof body.metadata.name !== 'string') {
      throw new ApiRefusal(422, 'Invalid', `${KINDS[resource].kind} is invalid: metadata.name: Required value: name or generateName is required`);
    }
    const obj = structuredClone(body) as Obj;
    const name = obj.metadata.name;
    if (resource !== 'namespaces') obj.metadata.namespace = ns;
    if (obj.metadata.resourceVersion) throw new ApiRefusal(400, 'BadRequest', 'resourceVersion should not be set on objects to be created');
    validate(resource, obj);
    if (this.get(resource, ns, name)) throw new ApiRefusal(409, 'AlreadyExists', `${resource} "${name}" already exists`);
    this.admitInNamespace(resource, ns, name);
    const stored = this.put(resource, resource === 'namespaces' ? { ...obj, status: { phase: 'Active' } } : obj);
    this.send(res, 201, stored);
    if (resource === 'services') this.later(() => this.reconcileService(ns!, name));
    if (resource === 'deployments') this.later(() => this.reconcileDeployment(ns!, name));
  }

  private delete(res: ServerResponse, resource: Resource, ns: string | undefined, name: string, body: unknown): void {
    const o = this.get(resource, ns, name);
    if (!o) throw new ApiRefusal(404, 'NotFound', `${resource} "${name}" not found`);
    const uid = isObj(body) && isObj(body.preconditions) ? body.preconditions.uid : undefined;
    if (typeof uid === 'string' && uid !== o.metadata.uid) {
      throw new ApiRefusal(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${o.metadata.uid}`);
    }
    if (resource !== 'namespaces') {
      this.remove(resource, ns, name);
      return this.send(res, 200, o);
    }
    if (o.metadata.deletionTimestamp) {
      throw new ApiRefusal(
        409,
        'Conflict',
        `Operation cannot be fulfilled on namespaces "${name}": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.`,
      );
    }
    // A namespace is Terminating first; its content goes, then (unless a finalizer is stuck) the namespace itself.
    const terminating = this.put('namespaces', { ...o, metadata: { ...o.metadata, deletionTimestamp: new Date().toISOString() }, status: { phase: 'Terminating' } });
    this.send(res, 200, terminating);
    if (this.behaviour.namespacesStuckTerminating) return;
    this.later(() => {
      for (const r of ['pods', 'services', 'deployments'] as const) for (const x of this.list(r)) if (x.metadata.namespace === name) this.remove(r, name, x.metadata.name);
      this.remove('namespaces', undefined, name);
    });
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
    // Parsed before anything is sent: a malformed selector is a 400, as on a real API server.
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector')!) : [];
    const fields = q.get('fieldSelector') ? parseFieldSelector(resource, q.get('fieldSelector')!) : [];
    const match = (o: Obj): boolean =>
      (resource === 'namespaces' || o.metadata.namespace === ns) && fields.every((f) => f(o)) && labels.every((l) => l(o.metadata.labels ?? {}));
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
    if (type === 'application/apply-patch+yaml' && (!body.apiVersion || !body.kind)) {
      return this.status(res, 400, 'BadRequest', 'apiVersion and kind must be set in an apply patch');
    }
    if (resource !== 'namespaces' && !this.get('namespaces', undefined, ns!)) {
      return this.status(res, 404, 'NotFound', `namespaces "${ns}" not found`);
    }
    // A resourceVersion in the patch is a precondition: the object must be at exactly that version.
    const wanted = isObj(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (typeof wanted === 'string' && wanted !== existing?.metadata.resourceVersion) {
      return this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (!existing) this.admitInNamespace(resource, ns, name);
    const merged = merge(existing ?? { metadata: { name, ...(resource === 'namespaces' ? {} : { namespace: ns }) } }, body, type !== 'application/merge-patch+json') as Obj;
    merged.metadata = { ...merged.metadata, name, ...(resource === 'namespaces' ? {} : { namespace: ns }) };
    if (resource === 'namespaces' && !existing) merged.status = { phase: 'Active' };
    validate(resource, merged);
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
