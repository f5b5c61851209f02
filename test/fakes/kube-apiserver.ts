/**
 * A local HTTP server that plays a Kubernetes API server for the real
 * @kubernetes/client-node: namespaces, service accounts, config maps, deployments,
 * services, pods, pod disruption budgets and (on an EKS Auto Mode cluster)
 * Karpenter NodePools, with get / list / create / server-side apply /
 * strategic merge patch / delete, watch streams (`?watch=true`:
 * newline-delimited JSON events on a connection kept open) and the service
 * proxy. Tiny "controllers" move objects along according to `behaviour`.
 *
 * It refuses what a real kube-apiserver refuses, for what kubecontrol uses:
 * 409 AlreadyExists on a create of an existing object, 409 Conflict on a stale
 * resourceVersion (apply) or uid (delete precondition), 404 for a missing
 * object or namespace, 403 for new objects in a Terminating namespace, 409 on
 * deleting a namespace that is already Terminating, 400 for a malformed label
 * selector or an unsupported field selector, 422 for invalid names, labels,
 * PodDisruptionBudgets, NodePools, ConfigMap keys and sizes, and a changed `spec.loadBalancerClass`,
 * 404 for NodePools on a cluster without Auto Mode (no such resource).
 *
 * And it behaves as a cluster does where it bit:
 * - A LoadBalancer Service gets an address ONLY when the cluster runs a
 *   load-balancing controller (EKS Auto Mode with load balancing: the
 *   `loadBalancing` option) AND the Service asks for it
 *   (`spec.loadBalancerClass: eks.amazonaws.com/nlb`). The controller adds the
 *   finalizer `service.eks.amazonaws.com/resources`, creates the NLB, target
 *   group and security group in the shared fake account (FakeLoadBalancers),
 *   registers the ready pods' IPs, and on deletion keeps the Service
 *   Terminating until it has removed them. A Service without that class (or
 *   annotated for the AWS Load Balancer Controller, which no cluster runs)
 *   stays `<pending>` forever.
 * - A namespace being deleted is Terminating until everything in it is gone
 *   (a Service waiting for its load balancer keeps it there).
 * - Pod Security admission: in a namespace labelled
 *   `pod-security.kubernetes.io/enforce=restricted`, a Deployment whose pods
 *   violate "restricted" is accepted (with a warning when the namespace also
 *   has `warn=restricted`), but its ReplicaSet cannot create pods: the
 *   Deployment reports `ReplicaFailure` / `FailedCreate` ("violates PodSecurity")
 *   and never progresses.
 * - Pods whose containers (any, sidecars too) crash loop, per `behaviour.crashContainers`.
 * - A Deployment's `scale` subresource (autoscaling/v1 Scale: GET, PUT, PATCH), as
 *   `kubectl scale` and the client's `*NamespacedDeploymentScale` use it: it changes only
 *   `spec.replicas` (a new generation, a new rollout); it refuses what the API server does —
 *   404 without the Deployment, 415 for a content type it does not take, 400 for a Scale whose
 *   name is not the URL's, 409 for a stale resourceVersion, 422 for replicas that are not a
 *   whole number of at least 0 ("must be greater than or equal to 0").
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeLoadBalancer, FakeLoadBalancers } from './aws-load-balancers.js';

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    uid?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
};

/** How the fake cluster's controllers behave (tests change it at will). */
export interface FakeBehaviour {
  /**
   * healthy: pods come up; deadline: ProgressDeadlineExceeded; crashloop: pods in CrashLoopBackOff and the
   * deployment stays Progressing; crashloop-deadline: both; pending: nothing ever happens.
   */
  rollout: 'healthy' | 'deadline' | 'crashloop' | 'crashloop-deadline' | 'pending';
  /** Restart count of crashing containers (crashloop). @default 5 */
  crashRestarts: number;
  /** Which containers crash loop (crashloop): their names; undefined: the first container. */
  crashContainers: readonly string[] | undefined;
  /** Bearer tokens accepted; undefined: any. */
  acceptToken: ((authorization: string | undefined) => boolean) | undefined;
  /**
   * The next this-many rollouts (a Deployment's new generation) crash loop whatever `rollout` says,
   * then rollouts behave as `rollout` says again: a restart that fails, then its undo that succeeds.
   */
  failingRollouts: number;
  /**
   * The pods of a Deployment's previous template stay until those of the new one are ready (as a
   * rolling update keeps the old ReplicaSet's pods until it can scale it down), crash-looping ones too.
   * Off: they go as soon as the new template is seen.
   */
  oldPodsLinger: boolean;
  /** Close every watch right after its initial events (clients must watch again). */
  closeWatchesAfterInitial: boolean;
  /** A deleted namespace stays Terminating forever (a finalizer nobody removes). */
  namespacesStuckTerminating: boolean;
  /** The load-balancing controller never manages to delete a load balancer: its Service stays Terminating. */
  loadBalancerDeletionStuck: boolean;
  /** What the app answers through the service proxy (when the Service has ready endpoints). @default 200 */
  serviceHealth: number;
  /** NodePools never become Ready (Ready=Unknown stays). */
  nodePoolsNeverReady: boolean;
  /**
   * The load-balancing controller cannot build the load balancer (e.g. no subnet tagged
   * `kubernetes.io/role/elb`): it reports this as a Warning event on the Service and makes nothing.
   */
  loadBalancerFailure: string | undefined;
  /**
   * etcd has compacted past every resourceVersion a client holds (a long wait): each watch from a
   * resourceVersion is answered `ERROR 410 Expired` ("too old resource version") and closed, as a
   * real API server does after compaction; the client must read again.
   */
  compactedWatches: boolean;
  /**
   * Answers a request instead of the API server (fault injection): a Status of `code`/`reason`
   * (e.g. 429 TooManyRequests with Retry-After, as API Priority and Fairness rejects), or
   * 'hang': the request is never answered (until the client gives up or the server closes).
   */
  intercept: ((req: { method: string; path: string; query: URLSearchParams }) => InterceptedAnswer | 'hang' | undefined) | undefined;
}

/** What `intercept` answers instead of the API server. */
export interface InterceptedAnswer {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

/**
 * What kind of cluster this fake plays. An EKS Auto Mode cluster serves
 * Karpenter NodePools; one with load balancing enabled also runs the
 * controller that gives Services of class `eks.amazonaws.com/nlb` an NLB.
 */
export interface FakeClusterOptions {
  /** EKS Auto Mode: `karpenter.sh/v1` NodePools exist (NodeClass `default` is built in). @default true when `loadBalancing` is set */
  readonly autoMode?: boolean;
  /**
   * Auto Mode's load-balancing capability (`elasticLoadBalancing.enabled`): the
   * account where its load balancers go and the EKS cluster's name (their
   * `eks:eks-cluster-name` tag). Absent: no controller serves LoadBalancer Services.
   */
  readonly loadBalancing?: { readonly loadBalancers: FakeLoadBalancers; readonly cluster: string };
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

type Resource = 'namespaces' | 'serviceaccounts' | 'configmaps' | 'deployments' | 'services' | 'pods' | 'poddisruptionbudgets' | 'nodepools' | 'events';
interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  obj: Obj;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string }> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1' },
  serviceaccounts: { kind: 'ServiceAccount', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  poddisruptionbudgets: { kind: 'PodDisruptionBudget', apiVersion: 'policy/v1' },
  nodepools: { kind: 'NodePool', apiVersion: 'karpenter.sh/v1' },
  events: { kind: 'Event', apiVersion: 'v1' },
};
const CLUSTER_SCOPED: ReadonlySet<Resource> = new Set(['namespaces', 'nodepools']);
/** What a namespace's deletion removes (everything namespaced). */
const NAMESPACED: readonly Resource[] = ['pods', 'services', 'deployments', 'poddisruptionbudgets', 'serviceaccounts', 'configmaps', 'events'];

/** The class EKS Auto Mode's load-balancing controller serves. */
export const AUTO_MODE_LB_CLASS = 'eks.amazonaws.com/nlb';
/** The finalizer Auto Mode's controller puts on a Service it made a load balancer for. */
export const AUTO_MODE_LB_FINALIZER = 'service.eks.amazonaws.com/resources';
const LB_ANNOTATION = 'service.beta.kubernetes.io/aws-load-balancer-';

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
/** Names of namespaces and services (DNS-1123 labels) and of the rest (DNS-1123 subdomains). */
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
    ...(resource === 'events'
      ? {
          'involvedObject.kind': (o: Obj) => (o.involvedObject as { kind?: string } | undefined)?.kind,
          'involvedObject.name': (o: Obj) => (o.involvedObject as { name?: string } | undefined)?.name,
          'involvedObject.namespace': (o: Obj) => (o.involvedObject as { namespace?: string } | undefined)?.namespace,
          reason: (o: Obj) => o.reason as string | undefined,
          type: (o: Obj) => o.type as string | undefined,
        }
      : {}),
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

/** Karpenter's NodePool requirement operators (v1 CRD enum). */
const NODEPOOL_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];
/** Label domains Karpenter refuses in requirements, but for its well-known labels. */
const RESTRICTED_DOMAINS = ['kubernetes.io', 'k8s.io', 'karpenter.sh'];
const WELL_KNOWN_LABELS = new Set([
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'node.kubernetes.io/instance-type',
  'node.kubernetes.io/windows-build',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'karpenter.sh/capacity-type',
]);

/** 422 Invalid when the object would be refused by the API server's validation (names, labels, and per kind). */
function validate(resource: Resource, obj: Obj): void {
  const kind = KINDS[resource].kind;
  const group = KINDS[resource].apiVersion.includes('/') ? `.${KINDS[resource].apiVersion.split('/')[0]}` : '';
  const invalid = (field: string, value: unknown, why: string): ApiRefusal =>
    new ApiRefusal(422, 'Invalid', `${kind}${group} "${obj.metadata.name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`);
  const nameOk = resource === 'namespaces' || resource === 'services' ? DNS_LABEL.test(obj.metadata.name) : DNS_SUBDOMAIN.test(obj.metadata.name) && obj.metadata.name.length <= 253;
  if (!nameOk) throw invalid('metadata.name', obj.metadata.name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'");
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!LABEL_KEY.test(k)) throw invalid('metadata.labels', k, "name part must consist of alphanumeric characters, '-', '_' or '.'");
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) {
      throw invalid(
        `metadata.labels`,
        String(v),
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63)",
      );
    }
  }
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (resource === 'poddisruptionbudgets' && spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
    throw invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set');
  }
  if (resource === 'nodepools') validateNodePool(spec, invalid);
  if (resource === 'configmaps') validateConfigMap(obj, invalid);
}

/** A ConfigMap key (IsConfigMapKey): letters, digits, '-', '_' and '.', at most 253 characters, not '.' or '..'. */
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
/** The API server refuses a ConfigMap whose data is over 1 MiB (MaxSecretSize applies to ConfigMaps too). */
const CONFIGMAP_MAX_BYTES = 1024 * 1024;

function validateConfigMap(obj: Obj, invalid: (field: string, value: unknown, why: string) => ApiRefusal): void {
  let bytes = 0;
  for (const field of ['data', 'binaryData'] as const) {
    const map = obj[field];
    if (map === undefined) continue;
    if (!isObj(map)) throw invalid(field, map, 'must be a map of strings');
    for (const [k, v] of Object.entries(map)) {
      if (k.length > 253 || !CONFIGMAP_KEY.test(k) || k === '.' || k === '..') {
        throw invalid(`${field}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
      }
      if (typeof v !== 'string') throw invalid(`${field}[${k}]`, v, 'must be a string');
      bytes += Buffer.byteLength(v);
    }
  }
  if (bytes > CONFIGMAP_MAX_BYTES) throw new ApiRefusal(422, 'Invalid', `ConfigMap "${obj.metadata.name}" is invalid: []: Too long: must have at most ${CONFIGMAP_MAX_BYTES} bytes`);
}

/**
 * Why Fargate's log router would refuse the `aws-logging` ConfigMap (EKS User Guide, "Start AWS
 * Fargate logging"): only [FILTER], [OUTPUT] and [PARSER] sections, each under its own key; Name
 * and Match required in filters and outputs; at least one supported output; keys indented more
 * than their directive; no environment variables; at most 5300 characters. Empty: it would be used.
 */
export function fargateLoggingProblems(configMap: { data?: Record<string, string> }): string[] {
  const data = configMap.data ?? {};
  const problems: string[] = [];
  const total = Object.entries(data).reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (total > 5300) problems.push(`the ConfigMap has ${total} characters (at most 5300)`);
  const sections: Record<string, string> = { 'filters.conf': 'FILTER', 'output.conf': 'OUTPUT', 'parsers.conf': 'PARSER' };
  const outputs = ['es', 'firehose', 'kinesis_firehose', 'cloudwatch', 'cloudwatch_logs', 'kinesis'];
  let supportedOutputs = 0;
  for (const [key, text] of Object.entries(data)) {
    if (key === 'flb_log_cw') continue;
    const expected = sections[key];
    if (!expected) {
      problems.push(`unknown key ${key}`);
      continue;
    }
    if (/\$\{/.test(text)) problems.push(`${key}: environment variables are not allowed`);
    let current: Record<string, string> | undefined;
    let directiveIndent = -1;
    const blocks: Record<string, string>[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      const indent = raw.length - raw.trimStart().length;
      const m = /^\[(\w+)\]$/.exec(raw.trim());
      if (m) {
        if (m[1]!.toUpperCase() !== expected) problems.push(`${key}: section [${m[1]}] does not belong under ${key}`);
        directiveIndent = indent;
        current = {};
        blocks.push(current);
        continue;
      }
      if (!current || indent <= directiveIndent) {
        problems.push(`${key}: ${JSON.stringify(raw.trim())} is not indented under a section`);
        continue;
      }
      const [k, ...rest] = raw.trim().split(/\s+/);
      current[k!.toLowerCase()] = rest.join(' ');
    }
    for (const b of blocks) {
      if (!b.name) problems.push(`${key}: a [${expected}] without Name`);
      if ((expected === 'FILTER' || expected === 'OUTPUT') && !b.match) problems.push(`${key}: a [${expected}] without Match`);
      if (expected === 'PARSER' && !b.format) problems.push(`${key}: a [PARSER] without Format`);
      if (expected === 'OUTPUT' && b.name && outputs.includes(b.name)) supportedOutputs++;
    }
  }
  if (!supportedOutputs) problems.push('no supported [OUTPUT] (es, firehose, kinesis_firehose, cloudwatch, cloudwatch_logs, kinesis): logging is not enabled');
  return problems;
}

/** The NodePool CRD's schema and CEL rules, for the fields kubecontrol writes. */
function validateNodePool(spec: Record<string, unknown>, invalid: (field: string, value: unknown, why: string) => ApiRefusal): void {
  const template = isObj(spec.template) && isObj(spec.template.spec) ? spec.template.spec : undefined;
  if (!template) throw new ApiRefusal(422, 'Invalid', 'NodePool.karpenter.sh is invalid: spec.template.spec: Required value');
  const ref = template.nodeClassRef;
  for (const f of ['group', 'kind', 'name'] as const) {
    if (!isObj(ref) || typeof ref[f] !== 'string' || ref[f] === '') {
      throw new ApiRefusal(422, 'Invalid', `NodePool.karpenter.sh is invalid: spec.template.spec.nodeClassRef.${f}: Required value`);
    }
  }
  const reqs = template.requirements;
  if (!Array.isArray(reqs)) throw new ApiRefusal(422, 'Invalid', 'NodePool.karpenter.sh is invalid: spec.template.spec.requirements: Required value');
  reqs.forEach((r: unknown, i) => {
    const at = `spec.template.spec.requirements[${i}]`;
    if (!isObj(r) || typeof r.key !== 'string') throw invalid(`${at}.key`, isObj(r) ? r.key : r, 'Required value');
    const key = r.key;
    if (!LABEL_KEY.test(key)) throw invalid(`${at}.key`, key, 'must be a qualified name');
    const domain = key.includes('/') ? key.split('/')[0]! : '';
    if (RESTRICTED_DOMAINS.some((d) => domain === d || domain.endsWith(`.${d}`)) && !WELL_KNOWN_LABELS.has(key)) {
      throw invalid(`${at}.key`, key, `label domain "${domain}" is restricted`);
    }
    if (typeof r.operator !== 'string' || !NODEPOOL_OPERATORS.includes(r.operator)) {
      throw new ApiRefusal(422, 'Invalid', `NodePool.karpenter.sh is invalid: ${at}.operator: Unsupported value: ${JSON.stringify(r.operator)}: supported values: ${NODEPOOL_OPERATORS.map((o) => `"${o}"`).join(', ')}`);
    }
    const values = r.values;
    if (values !== undefined && (!Array.isArray(values) || values.some((v) => typeof v !== 'string'))) throw invalid(`${at}.values`, values, 'must be a list of strings');
    const n = Array.isArray(values) ? values.length : 0;
    if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0) throw invalid(`${at}.values`, values, `requirements with operator '${r.operator}' must have a value defined`);
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0) throw invalid(`${at}.values`, values, `requirements with operator '${r.operator}' must not have values`);
    if ((r.operator === 'Gt' || r.operator === 'Lt') && (n !== 1 || !/^\d+$/.test((values as string[])[0]!))) {
      throw invalid(`${at}.values`, values, `requirements with operator '${r.operator}' must have a single positive integer value`);
    }
  });
  if (spec.limits !== undefined && !isObj(spec.limits)) throw invalid('spec.limits', spec.limits, 'must be an object of resource quantities');
}

type Container = {
  name: string;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type?: string };
  };
};
type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  volumes?: Record<string, unknown>[];
  serviceAccountName?: string;
};

/**
 * What Pod Security "restricted" finds wrong with a pod, worded as the
 * PodSecurity admission plugin words it (`allowPrivilegeEscalation != false
 * (container "x" must set ...)`); empty when it passes.
 */
export function restrictedViolations(pod: PodSpec): string[] {
  const all = [...(pod.initContainers ?? []), ...pod.containers];
  const names = (cs: Container[]): string => `${cs.length === 1 ? 'container' : 'containers'} ${cs.map((c) => `"${c.name}"`).join(', ')}`;
  const out: string[] = [];
  const privileged = all.filter((c) => c.securityContext?.privileged === true);
  if (privileged.length) out.push(`privileged (${names(privileged)} must not set securityContext.privileged=true)`);
  const escalation = all.filter((c) => c.securityContext?.allowPrivilegeEscalation !== false);
  if (escalation.length) out.push(`allowPrivilegeEscalation != false (${names(escalation)} must set securityContext.allowPrivilegeEscalation=false)`);
  const caps = all.filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'));
  if (caps.length) out.push(`unrestricted capabilities (${names(caps)} must set securityContext.capabilities.drop=["ALL"])`);
  const added = all.filter((c) => (c.securityContext?.capabilities?.add ?? []).some((a) => a !== 'NET_BIND_SERVICE'));
  if (added.length) out.push(`unrestricted capabilities (${names(added)} must not include capabilities other than "NET_BIND_SERVICE" in securityContext.capabilities.add)`);
  const podNonRoot = pod.securityContext?.runAsNonRoot === true;
  const root = all.filter((c) => (c.securityContext?.runAsNonRoot ?? podNonRoot) !== true);
  if (root.length) out.push(`runAsNonRoot != true (pod or ${names(root)} must set securityContext.runAsNonRoot=true)`);
  const uid0 = pod.securityContext?.runAsUser === 0 || all.some((c) => c.securityContext?.runAsUser === 0);
  if (uid0) out.push('runAsUser=0 (pod and containers must not set runAsUser=0)');
  const seccomp = (t: string | undefined): boolean => t === 'RuntimeDefault' || t === 'Localhost';
  const podSeccomp = seccomp(pod.securityContext?.seccompProfile?.type);
  const noSeccomp = all.filter((c) => !(c.securityContext?.seccompProfile?.type ? seccomp(c.securityContext.seccompProfile.type) : podSeccomp));
  if (noSeccomp.length) out.push(`seccompProfile (pod or ${names(noSeccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  const hostPath = (pod.volumes ?? []).filter((v) => 'hostPath' in v);
  if (hostPath.length) out.push(`restricted volume types (${hostPath.length === 1 ? 'volume' : 'volumes'} ${hostPath.map((v) => `"${String(v.name)}"`).join(', ')} uses restricted volume type "hostPath")`);
  return out;
}

/** `k1=v1,k2=v2` as the load-balancer annotations write tags; undefined when malformed (the controller then refuses the Service). */
function parseTags(text: string | undefined): Record<string, string> | undefined {
  if (!text) return {};
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(part);
    if (!m || !m[1]) return undefined;
    out[m[1]] = m[2]!;
  }
  return out;
}

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly behaviour: FakeBehaviour = {
    rollout: 'healthy',
    crashRestarts: 5,
    crashContainers: undefined,
    acceptToken: undefined,
    closeWatchesAfterInitial: false,
    namespacesStuckTerminating: false,
    loadBalancerDeletionStuck: false,
    serviceHealth: 200,
    nodePoolsNeverReady: false,
    compactedWatches: false,
    loadBalancerFailure: undefined,
    intercept: undefined,
    failingRollouts: 0,
    oldPodsLinger: false,
  };
  /** The rollout mode of each Deployment generation, once decided (`failingRollouts` counts generations, not looks). */
  private readonly rolloutModes = new Map<string, FakeBehaviour['rollout']>();
  /** The NodeClasses the cluster has (Auto Mode's built-in `default`). */
  readonly nodeClasses = new Set(['default']);
  private readonly objects = new Map<string, Obj>();
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<(e: WatchEvent) => void>();
  private rv = 100;
  private podIps = 0;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(readonly cluster: FakeClusterOptions = {}) {}

  /** Whether NodePools exist (EKS Auto Mode). */
  get autoMode(): boolean {
    return this.cluster.autoMode ?? !!this.cluster.loadBalancing;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops the server (as a deleted cluster does): its load balancers stay in the account. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closed = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
  private closed = false;

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
    // A namespace being deleted goes once its last object has.
    if (ns && resource !== 'namespaces') this.later(() => this.finalizeNamespace(ns));
  }

  /** The load balancer the cluster's controller made for a Service, if any. */
  loadBalancerOf(ns: string, service: string): FakeLoadBalancer | undefined {
    const lb = this.cluster.loadBalancing;
    return lb?.loadBalancers.forService(lb.cluster, ns, service);
  }

  private key(resource: Resource, ns: string | undefined, name: string): string {
    return `${resource}/${CLUSTER_SCOPED.has(resource) ? '' : ns}/${name}`;
  }

  private emit(e: WatchEvent): void {
    this.events.push(e);
    for (const w of this.watchers) w(e);
  }

  /** A controller's next look, a few ms from now (never after close: a deleted cluster's controllers are gone). */
  private later(fn: () => void, ms = 5): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code });
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
    const method = req.method ?? 'GET';
    const forced = this.behaviour.intercept?.({ method, path: url.pathname, query: url.searchParams });
    if (forced === 'hang') return; // never answered: the client's abort or close() ends it
    if (forced) {
      const { code, reason, message, headers } = forced;
      return this.send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code }, headers);
    }
    const proxy = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/:]+)(?::([^/]+))?\/proxy(\/.*)?$/.exec(url.pathname);
    if (proxy) return this.serviceProxy(res, method, proxy[1]!, proxy[2]!, proxy[3]);
    const scale = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)\/scale$/.exec(url.pathname);
    if (scale) {
      try {
        return this.deploymentScale(req, res, method, scale[1]!, scale[2]!, body);
      } catch (err) {
        if (err instanceof ApiRefusal) return this.status(res, err.code, err.reason, err.message);
        throw err;
      }
    }
    const route = this.route(url.pathname);
    // What a real API server answers for a resource it does not serve (e.g. NodePools without their CRD).
    if (!route) return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const { resource, ns, name } = route;
    try {
      if (method === 'GET' && !name) return this.listOrWatch(req, res, resource, ns, url.searchParams);
      if (method === 'GET') {
        const o = this.get(resource, ns, name!);
        return o ? this.send(res, 200, o) : this.notFound(res, resource, name!);
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

  private notFound(res: ServerResponse, resource: Resource, name: string): void {
    const group = KINDS[resource].apiVersion.includes('/') ? `.${KINDS[resource].apiVersion.split('/')[0]}` : '';
    this.status(res, 404, 'NotFound', `${resource}${group} "${name}" not found`);
  }

  /**
   * The API server's service proxy: the app's answer (`behaviour.serviceHealth`) when
   * the Service has ready endpoints, 503 when it has none, 404 without the Service.
   */
  private serviceProxy(res: ServerResponse, method: string, ns: string, name: string, port: string | undefined): void {
    if (method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', `${method} not supported by this fake's service proxy`);
    const svc = this.get('services', ns, name);
    if (!svc) return this.status(res, 404, 'NotFound', `services "${name}" not found`);
    const ports = ((svc.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports ?? []);
    if (port !== undefined && !ports.some((p) => p.name === port || String(p.port) === port)) {
      return this.status(res, 503, 'ServiceUnavailable', `no service port ${JSON.stringify(port)} found for service "${name}"`);
    }
    if (this.readyPodsOf(svc).length === 0) return this.status(res, 503, 'ServiceUnavailable', `no endpoints available for service "${name}"`);
    const code = this.behaviour.serviceHealth;
    res.writeHead(code, { 'content-type': 'text/plain' });
    res.end(code < 400 ? 'ok' : 'unhealthy');
  }

  /** A Deployment's scale subresource as autoscaling/v1 Scale. */
  private scaleOf(d: Obj): Record<string, unknown> {
    const labels = ((d.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {}) as Record<string, string>;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: d.metadata.name, namespace: d.metadata.namespace, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: d.metadata.creationTimestamp },
      spec: { replicas: (d.spec as { replicas?: number }).replicas ?? 1 },
      status: {
        replicas: (d.status as { replicas?: number } | undefined)?.replicas ?? 0,
        selector: Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    };
  }

  /** GET / PUT / PATCH of `deployments/<name>/scale`: only `spec.replicas` changes. */
  private deploymentScale(req: IncomingMessage, res: ServerResponse, method: string, ns: string, name: string, body: unknown): void {
    if (!this.get('namespaces', undefined, ns)) throw new ApiRefusal(404, 'NotFound', `namespaces "${ns}" not found`);
    const d = this.get('deployments', ns, name);
    if (!d) throw new ApiRefusal(404, 'NotFound', `deployments.apps "${name}" not found`);
    if (method === 'GET') return this.send(res, 200, this.scaleOf(d));
    if (method !== 'PUT' && method !== 'PATCH') throw new ApiRefusal(405, 'MethodNotAllowed', `${method} is not supported on deployments/scale`);
    if (!isObj(body)) throw new ApiRefusal(400, 'BadRequest', 'body must be an object');
    const type = (req.headers['content-type'] ?? '').split(';')[0];
    if (method === 'PATCH' && !['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'].includes(type!)) {
      throw new ApiRefusal(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${type})`,
      );
    }
    const meta = isObj(body.metadata) ? body.metadata : {};
    if (method === 'PUT') {
      if (body.kind !== 'Scale') throw new ApiRefusal(400, 'BadRequest', `Scale in version "v1" cannot be handled as a ${String(body.kind)}`);
      if (meta.name !== undefined && meta.name !== name) throw new ApiRefusal(400, 'BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== d.metadata.resourceVersion) {
      throw new ApiRefusal(409, 'Conflict', `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const spec = isObj(body.spec) ? body.spec : {};
    const current = (d.spec as { replicas?: number }).replicas ?? 1;
    const replicas = spec.replicas === undefined ? (method === 'PUT' ? 0 : current) : spec.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new ApiRefusal(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`);
    }
    if (replicas === current) return this.send(res, 200, this.scaleOf(d));
    const stored = this.put('deployments', { ...d, spec: { ...(d.spec as object), replicas }, metadata: { ...d.metadata, generation: (d.metadata.generation ?? 1) + 1 } });
    this.send(res, 200, this.scaleOf(stored));
    this.reconcileLater('deployments', ns, name);
  }

  /** 404 when the namespace of a namespaced object is missing, 403 when it is being deleted (as the NamespaceLifecycle admission plugin answers). */
  private admitInNamespace(resource: Resource, ns: string | undefined, name: string): void {
    if (CLUSTER_SCOPED.has(resource)) return;
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
    if (!CLUSTER_SCOPED.has(resource)) obj.metadata.namespace = ns;
    if (obj.metadata.resourceVersion) throw new ApiRefusal(400, 'BadRequest', 'resourceVersion should not be set on objects to be created');
    validate(resource, obj);
    if (this.get(resource, ns, name)) throw new ApiRefusal(409, 'AlreadyExists', `${resource} "${name}" already exists`);
    this.admitInNamespace(resource, ns, name);
    if (resource === 'namespaces') obj.status = { phase: 'Active' };
    if (resource === 'deployments' || resource === 'nodepools') obj.metadata.generation = 1;
    const stored = this.put(resource, obj);
    this.send(res, 201, stored, this.warnings(resource, ns, stored));
    this.reconcileLater(resource, ns, name);
  }

  private reconcileLater(resource: Resource, ns: string | undefined, name: string): void {
    if (resource === 'services') this.later(() => this.reconcileService(ns!, name));
    if (resource === 'deployments') this.later(() => this.reconcileDeployment(ns!, name));
    if (resource === 'nodepools') this.later(() => this.reconcileNodePool(name));
    // The ReplicaSet controller tries again once a missing service account appears.
    if (resource === 'serviceaccounts') {
      for (const d of this.list('deployments')) if (d.metadata.namespace === ns && this.stalledOn(d) === 'serviceaccount') this.later(() => this.reconcileDeployment(ns!, d.metadata.name));
    }
  }

  /** `Warning` headers as PodSecurity's `warn` mode sends them for a workload whose pods would violate the level. */
  private warnings(resource: Resource, ns: string | undefined, obj: Obj): Record<string, string> {
    if (resource !== 'deployments' || !ns) return {};
    const level = this.get('namespaces', undefined, ns)?.metadata.labels?.['pod-security.kubernetes.io/warn'];
    if (level !== 'restricted') return {};
    const problems = restrictedViolations((obj.spec as { template: { spec: PodSpec } }).template.spec);
    return problems.length ? { warning: `299 - "would violate PodSecurity \\"restricted:latest\\": ${problems.join(', ').replace(/"/g, '\\"')}"` } : {};
  }

  private delete(res: ServerResponse, resource: Resource, ns: string | undefined, name: string, body: unknown): void {
    const o = this.get(resource, ns, name);
    if (!o) return this.notFound(res, resource, name);
    const uid = isObj(body) && isObj(body.preconditions) ? body.preconditions.uid : undefined;
    if (typeof uid === 'string' && uid !== o.metadata.uid) {
      throw new ApiRefusal(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${o.metadata.uid}`);
    }
    if (resource === 'namespaces') return this.deleteNamespace(res, o);
    if (o.metadata.finalizers?.length) {
      // Finalizers hold it: Terminating (a deletionTimestamp) until its controller is done; a second delete changes nothing.
      const marked = o.metadata.deletionTimestamp ? o : this.put(resource, { ...o, metadata: { ...o.metadata, deletionTimestamp: new Date().toISOString() } });
      this.send(res, 200, marked);
      if (resource === 'services') this.later(() => this.finalizeService(ns!, name));
      return;
    }
    this.remove(resource, ns, name);
    return this.send(res, 200, o);
  }

  private deleteNamespace(res: ServerResponse, o: Obj): void {
    const name = o.metadata.name;
    if (o.metadata.deletionTimestamp) {
      throw new ApiRefusal(
        409,
        'Conflict',
        `Operation cannot be fulfilled on namespaces "${name}": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.`,
      );
    }
    // A namespace is Terminating first; its content goes (objects with finalizers when their controllers let them), then the namespace.
    const terminating = this.put('namespaces', { ...o, metadata: { ...o.metadata, deletionTimestamp: new Date().toISOString() }, status: { phase: 'Terminating' } });
    this.send(res, 200, terminating);
    this.later(() => {
      for (const r of NAMESPACED) {
        for (const x of this.list(r)) {
          if (x.metadata.namespace !== name) continue;
          if (!x.metadata.finalizers?.length) {
            this.remove(r, name, x.metadata.name);
            continue;
          }
          if (!x.metadata.deletionTimestamp) this.put(r, { ...x, metadata: { ...x.metadata, deletionTimestamp: new Date().toISOString() } });
          if (r === 'services') this.later(() => this.finalizeService(name, x.metadata.name));
        }
      }
      this.finalizeNamespace(name);
    });
  }

  /** The namespace controller's last step: a Terminating namespace with nothing left in it goes. */
  private finalizeNamespace(name: string): void {
    const ns = this.get('namespaces', undefined, name);
    if (!ns?.metadata.deletionTimestamp || this.behaviour.namespacesStuckTerminating) return;
    const left = NAMESPACED.some((r) => this.list(r).some((x) => x.metadata.namespace === name));
    if (left) {
      // What a real namespace reports while content with finalizers remains.
      const conditions = [{ type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${AUTO_MODE_LB_FINALIZER}` }];
      if (JSON.stringify((ns.status as { conditions?: unknown })?.conditions) !== JSON.stringify(conditions)) this.put('namespaces', { ...ns, status: { phase: 'Terminating', conditions } });
      return;
    }
    this.remove('namespaces', undefined, name);
  }

  private route(path: string): { resource: Resource; ns?: string; name?: string } | undefined {
    let m = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: 'namespaces', name: m[1] };
    m = /^\/api\/v1\/namespaces\/([^/]+)\/(services|pods|serviceaccounts|configmaps|events)(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: m[2] as Resource, ns: m[1], name: m[3] };
    m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: 'deployments', ns: m[1], name: m[2] };
    m = /^\/apis\/policy\/v1\/namespaces\/([^/]+)\/poddisruptionbudgets(?:\/([^/]+))?$/.exec(path);
    if (m) return { resource: 'poddisruptionbudgets', ns: m[1], name: m[2] };
    // The NodePool CRD exists only on an EKS Auto Mode cluster (elsewhere: 404, as for any missing resource).
    m = /^\/apis\/karpenter\.sh\/v1\/nodepools(?:\/([^/]+))?$/.exec(path);
    if (m && this.autoMode) return { resource: 'nodepools', name: m[1] };
    return undefined;
  }

  private listOrWatch(req: IncomingMessage, res: ServerResponse, resource: Resource, ns: string | undefined, q: URLSearchParams): void {
    // Parsed before anything is sent: a malformed selector is a 400, as on a real API server.
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector')!) : [];
    const fields = q.get('fieldSelector') ? parseFieldSelector(resource, q.get('fieldSelector')!) : [];
    const match = (o: Obj): boolean =>
      (CLUSTER_SCOPED.has(resource) || o.metadata.namespace === ns) && fields.every((f) => f(o)) && labels.every((l) => l(o.metadata.labels ?? {}));
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
    if (since && this.behaviour.compactedWatches) {
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${since} (${this.rv})` };
      write('ERROR', status as unknown as Obj);
      res.end();
      return;
    }
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
      return this.status(
        res,
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/strategic-merge-patch+json, application/merge-patch+json (got ${type})`,
      );
    }
    // Custom resources have no strategic merge patch.
    if (resource === 'nodepools' && type === 'application/strategic-merge-patch+json') {
      return this.status(res, 415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
    }
    if (!isObj(body)) return this.status(res, 400, 'BadRequest', 'body must be an object');
    const existing = this.get(resource, ns, name);
    if (!existing && type !== 'application/apply-patch+yaml') return this.notFound(res, resource, name);
    if (type === 'application/apply-patch+yaml' && (!body.apiVersion || !body.kind)) {
      return this.status(res, 400, 'BadRequest', 'apiVersion and kind must be set in an apply patch');
    }
    if (type === 'application/apply-patch+yaml' && (body.apiVersion !== KINDS[resource].apiVersion || body.kind !== KINDS[resource].kind)) {
      return this.status(res, 400, 'BadRequest', `the apply patch's ${String(body.apiVersion)}/${String(body.kind)} does not match the resource ${KINDS[resource].apiVersion}/${KINDS[resource].kind}`);
    }
    if (!CLUSTER_SCOPED.has(resource) && !this.get('namespaces', undefined, ns!)) {
      return this.status(res, 404, 'NotFound', `namespaces "${ns}" not found`);
    }
    // A resourceVersion in the patch is a precondition: the object must be at exactly that version.
    const wanted = isObj(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (typeof wanted === 'string' && wanted !== existing?.metadata.resourceVersion) {
      return this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    try {
      if (!existing) this.admitInNamespace(resource, ns, name);
      const merged = merge(existing ?? { metadata: { name, ...(CLUSTER_SCOPED.has(resource) ? {} : { namespace: ns }) } }, body, type !== 'application/merge-patch+json') as Obj;
      merged.metadata = { ...merged.metadata, name, ...(CLUSTER_SCOPED.has(resource) ? {} : { namespace: ns }) };
      // Status is the controllers' (a subresource): a patch of the object does not change it.
      if (existing) merged.status = existing.status;
      else delete merged.status;
      if (resource === 'namespaces' && !existing) merged.status = { phase: 'Active' };
      validate(resource, merged);
      if (resource === 'services' && existing) this.checkServiceUpdate(existing, merged);
      const specChanged = JSON.stringify(existing?.spec) !== JSON.stringify(merged.spec);
      if (resource === 'deployments' || resource === 'nodepools') merged.metadata.generation = (existing?.metadata.generation ?? 0) + (specChanged || !existing ? 1 : 0);
      const stored = this.put(resource, merged);
      this.send(res, existing ? 200 : 201, stored, this.warnings(resource, ns, stored));
      if (!existing || specChanged || resource === 'services') this.reconcileLater(resource, ns, name);
    } catch (err) {
      if (err instanceof ApiRefusal) return this.status(res, err.code, err.reason, err.message);
      throw err;
    }
  }

  /** `spec.loadBalancerClass` cannot change on a LoadBalancer Service (as the API server validates). */
  private checkServiceUpdate(before: Obj, after: Obj): void {
    const b = before.spec as { type?: string; loadBalancerClass?: string };
    const a = after.spec as { type?: string; loadBalancerClass?: string };
    if (b.type === 'LoadBalancer' && a.type === 'LoadBalancer' && b.loadBalancerClass !== a.loadBalancerClass) {
      throw new ApiRefusal(422, 'Invalid', `Service "${after.metadata.name}" is invalid: spec.loadBalancerClass: Invalid value: ${JSON.stringify(a.loadBalancerClass ?? null)}: may not change once set`);
    }
  }

  /** Why a deployment's pods cannot be created, if they cannot. */
  private stalledOn(d: Obj): 'serviceaccount' | 'podsecurity' | undefined {
    const cond = ((d.status as { conditions?: { type: string; reason?: string; message?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
    if (!cond) return undefined;
    return cond.message?.includes('violates PodSecurity') ? 'podsecurity' : 'serviceaccount';
  }

  /** Ready pods selected by a Service. */
  private readyPodsOf(svc: Obj): Obj[] {
    const selector = (svc.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
    if (!Object.keys(selector).length) return [];
    return this.list('pods').filter((p) => {
      if (p.metadata.namespace !== svc.metadata.namespace || p.metadata.deletionTimestamp) return false;
      if (!Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v)) return false;
      return ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    });
  }

  /** The deployment controller, ReplicaSet controller (with PodSecurity admission), kubelet and scheduler in one, according to `behaviour.rollout`. */
  private reconcileDeployment(ns: string, name: string): void {
    const d = this.get('deployments', ns, name);
    if (!d) return;
    // `failingRollouts` makes the next generations' rollouts crash loop (decided once per generation);
    // any other rollout behaves as `rollout` says when it is looked at.
    const generationKey = `${ns}/${name}/${d.metadata.generation ?? 1}`;
    if (!this.rolloutModes.has(generationKey) && this.behaviour.failingRollouts > 0) {
      this.behaviour.failingRollouts--;
      this.rolloutModes.set(generationKey, 'crashloop');
    }
    const modeNow = (): FakeBehaviour['rollout'] => this.rolloutModes.get(generationKey) ?? this.behaviour.rollout;
    const mode = modeNow();
    if (mode === 'pending') return;
    const spec = d.spec as { replicas?: number; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } };
    const replicas = spec.replicas ?? 1;
    const generation = d.metadata.generation ?? 1;
    const labels = spec.template.metadata.labels;
    const rsName = `${name}-${generation}`;
    const namespace = this.get('namespaces', undefined, ns);
    // The ReplicaSet's pod creations go through admission: a missing service account or Pod Security refuses them.
    const sa = spec.template.spec.serviceAccountName;
    let refused: string | undefined;
    if (sa && sa !== 'default' && !this.get('serviceaccounts', ns, sa)) {
      refused = `pods "${rsName}-x7k2p" is forbidden: error looking up service account ${ns}/${sa}: serviceaccount "${sa}" not found`;
    } else if (namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'] === 'restricted') {
      const problems = restrictedViolations(spec.template.spec);
      if (problems.length) refused = `pods "${rsName}-x7k2p" is forbidden: violates PodSecurity "restricted:latest": ${problems.join(', ')}`;
    }
    if (refused) {
      this.put('deployments', {
        ...d,
        status: {
          observedGeneration: generation,
          replicas: 0,
          updatedReplicas: 0,
          availableReplicas: 0,
          unavailableReplicas: replicas,
          conditions: [
            { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${rsName}"` },
            { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: refused },
          ],
        },
      });
      return;
    }
    // The rollout starts: observed, nothing available yet.
    this.put('deployments', {
      ...d,
      status: { observedGeneration: generation, replicas, updatedReplicas: 0, availableReplicas: 0, conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }] },
    });
    const previousPods = (): Obj[] =>
      this.list('pods').filter((p) => p.metadata.namespace === ns && p.metadata.labels?.['app.kubernetes.io/name'] === labels['app.kubernetes.io/name'] && !p.metadata.name.startsWith(`${name}-${generation}-`));
    if (!this.behaviour.oldPodsLinger) for (const p of previousPods()) this.remove('pods', ns, p.metadata.name);
    const crash = mode === 'crashloop' || mode === 'crashloop-deadline';
    const crashing = (c: { name: string }, j: number): boolean => crash && (this.behaviour.crashContainers ? this.behaviour.crashContainers.includes(c.name) : j === 0);
    const podNames: string[] = [];
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${generation}-${i}`;
      podNames.push(podName);
      this.put('pods', {
        metadata: { name: podName, namespace: ns, labels, ...(spec.template.metadata.annotations ? { annotations: spec.template.metadata.annotations } : {}) },
        spec: structuredClone(spec.template.spec) as unknown as Record<string, unknown>,
        status: {
          phase: crash ? 'Running' : 'Pending',
          conditions: [{ type: 'Ready', status: 'False' }],
          containerStatuses: spec.template.spec.containers.map((c, j) => ({
            name: c.name,
            ready: false,
            restartCount: crashing(c, j) ? this.behaviour.crashRestarts : 0,
            state: crashing(c, j) ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } : { waiting: { reason: 'ContainerCreating' } },
            ...(crashing(c, j) ? { lastState: { terminated: { exitCode: 1, reason: 'Error' } } } : {}),
          })),
        },
      });
    }
    this.later(() => {
      const cur = this.get('deployments', ns, name);
      const later = modeNow();
      if (!cur || cur.metadata.generation !== generation || later === 'crashloop') return;
      if (later === 'healthy') {
        // The pods run and pass readiness: each has an IP (the NLB's targets).
        for (const podName of podNames) {
          const p = this.get('pods', ns, podName);
          if (!p) continue;
          const containers = spec.template.spec.containers.map((c) => ({ name: c.name, ready: true, restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } }));
          this.put('pods', { ...p, status: { phase: 'Running', podIP: `10.0.${Math.floor(++this.podIps / 250)}.${(this.podIps % 250) + 1}`, conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: containers } });
        }
        // The new pods are ready: the previous template's go (when they lingered).
        for (const p of previousPods()) this.remove('pods', ns, p.metadata.name);
        this.put('deployments', {
          ...cur,
          status: {
            observedGeneration: generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            conditions: [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
          },
        });
        this.syncTargets(ns);
      } else {
        this.put('deployments', {
          ...cur,
          status: {
            observedGeneration: generation,
            replicas,
            updatedReplicas: replicas,
            availableReplicas: 0,
            unavailableReplicas: replicas,
            conditions: [
              { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
              { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${name}-${generation}" has timed out progressing.` },
            ],
          },
        });
      }
    });
  }

  /** Whether this cluster's load-balancing controller serves the Service (Auto Mode with load balancing, and its class). */
  private served(svc: Obj): boolean {
    const spec = svc.spec as { type?: string; loadBalancerClass?: string } | undefined;
    return !!this.cluster.loadBalancing && spec?.type === 'LoadBalancer' && spec.loadBalancerClass === AUTO_MODE_LB_CLASS;
  }

  /**
   * EKS Auto Mode's load-balancing controller: for a Service it serves, the
   * finalizer first, then (a look later) an NLB with its target group and
   * security group, then the address on the Service. Nobody serves any other
   * LoadBalancer Service: it stays `<pending>`.
   */
  private reconcileService(ns: string, name: string): void {
    const s = this.get('services', ns, name);
    if (!s || s.metadata.deletionTimestamp || !this.served(s)) return;
    const lb = this.cluster.loadBalancing!;
    if (!s.metadata.finalizers?.includes(AUTO_MODE_LB_FINALIZER)) {
      this.put('services', { ...s, metadata: { ...s.metadata, finalizers: [...(s.metadata.finalizers ?? []), AUTO_MODE_LB_FINALIZER] } });
      this.later(() => this.reconcileService(ns, name));
      return;
    }
    if (this.loadBalancerOf(ns, name)) return;
    const annotations = s.metadata.annotations ?? {};
    const tags = parseTags(annotations[`${LB_ANNOTATION}additional-resource-tags`]);
    // What it cannot do, it reports as a Warning event on the Service, and makes nothing.
    if (!tags) return this.warn(s, 'FailedBuildModel', `Failed build model due to failed to parse annotation ${LB_ANNOTATION}additional-resource-tags`);
    if (this.behaviour.loadBalancerFailure) return this.warn(s, 'FailedBuildModel', this.behaviour.loadBalancerFailure);
    const scheme = annotations[`${LB_ANNOTATION}scheme`] === 'internet-facing' ? 'internet-facing' : 'internal';
    const cert = annotations[`${LB_ANNOTATION}ssl-cert`];
    const sslPorts = annotations[`${LB_ANNOTATION}ssl-ports`]?.split(',').map((p) => p.trim());
    const ports = (s.spec as { ports?: { name?: string; port: number; targetPort?: number | string }[] }).ports ?? [];
    const listeners = ports.map((p) => {
      const tls = !!cert && (!sslPorts || sslPorts.includes(String(p.port)) || (!!p.name && sslPorts.includes(p.name)));
      return tls ? { port: p.port, protocol: 'TLS' as const, certificateArn: cert } : { port: p.port, protocol: 'TCP' as const };
    });
    const made = lb.loadBalancers.provision({
      cluster: lb.cluster,
      namespace: ns,
      service: name,
      scheme,
      tags,
      listeners,
      targets: this.targetsOf(s),
    });
    const cur = this.get('services', ns, name)!;
    this.put('services', { ...cur, status: { loadBalancer: { ingress: [{ hostname: made.dnsName }] } } });
  }

  /** A Warning event about `obj`, counted when the same one repeats (as the event recorder does). */
  private warn(obj: Obj, reason: string, message: string): void {
    const ns = obj.metadata.namespace!;
    const same = this.list('events').find((e) => e.metadata.namespace === ns && e.reason === reason && e.message === message && (e.involvedObject as { uid?: string }).uid === obj.metadata.uid);
    if (same) {
      this.put('events', { ...same, count: Number(same.count ?? 1) + 1, lastTimestamp: new Date().toISOString() });
      return;
    }
    this.put('events', {
      metadata: { name: `${obj.metadata.name}.${randomUUID().replace(/-/g, '').slice(0, 16)}`, namespace: ns },
      involvedObject: { kind: obj.kind, apiVersion: obj.apiVersion, name: obj.metadata.name, namespace: ns, uid: obj.metadata.uid },
      reason,
      message,
      type: 'Warning',
      count: 1,
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
    });
  }

  /** The ready pods' IPs on the Service's target port (ip target type). */
  private targetsOf(svc: Obj): { id: string; port: number }[] {
    const port = ((svc.spec as { ports?: { targetPort?: number | string; port: number }[] }).ports ?? [])[0];
    const target = typeof port?.targetPort === 'number' ? port.targetPort : (port?.port ?? 80);
    return this.readyPodsOf(svc)
      .map((p) => (p.status as { podIP?: string }).podIP)
      .filter((ip): ip is string => !!ip)
      .map((id) => ({ id, port: target }));
  }

  /** The controller follows the endpoints: targets of pods no longer ready go, new ready pods come in `initial`. */
  private syncTargets(ns: string): void {
    for (const svc of this.list('services')) {
      if (svc.metadata.namespace !== ns) continue;
      const lb = this.loadBalancerOf(ns, svc.metadata.name);
      if (!lb) continue;
      const want = this.targetsOf(svc);
      const healthyLooks = lb.targets[0]?.looksLeft ?? 1;
      lb.targets = want.map((t) => lb.targets.find((x) => x.id === t.id && x.port === t.port) ?? { ...t, health: 'initial', looksLeft: healthyLooks });
    }
  }

  /**
   * A Service being deleted: the controller deletes its load balancer, target
   * group and security group (after a look), then lifts its finalizer; the
   * Service goes. Stuck when `behaviour.loadBalancerDeletionStuck`.
   */
  private finalizeService(ns: string, name: string, looks = 1): void {
    const s = this.get('services', ns, name);
    if (!s?.metadata.deletionTimestamp) return;
    const finalizers = s.metadata.finalizers ?? [];
    if (finalizers.includes(AUTO_MODE_LB_FINALIZER)) {
      if (!this.cluster.loadBalancing) return;
      // Stuck: it keeps trying (and succeeds once a test lets it).
      if (this.behaviour.loadBalancerDeletionStuck) return this.later(() => this.finalizeService(ns, name, looks));
      if (looks > 0) return this.later(() => this.finalizeService(ns, name, looks - 1));
      const lb = this.loadBalancerOf(ns, name);
      if (lb) this.cluster.loadBalancing.loadBalancers.deprovision(lb.arn);
      const rest = finalizers.filter((f) => f !== AUTO_MODE_LB_FINALIZER);
      if (rest.length) {
        this.put('services', { ...s, metadata: { ...s.metadata, finalizers: rest } });
        return;
      }
    } else if (finalizers.length) return;
    this.remove('services', ns, name);
  }

  /** Karpenter: a NodePool is Ready once validated and its NodeClass is there. */
  private reconcileNodePool(name: string): void {
    const np = this.get('nodepools', undefined, name);
    if (!np) return;
    const ref = ((np.spec as { template: { spec: { nodeClassRef: { group: string; kind: string; name: string } } } }).template.spec.nodeClassRef);
    const now = new Date().toISOString();
    const cond = (type: string, ok: boolean | 'unknown', reason: string, message = ''): Record<string, unknown> => ({
      type,
      status: ok === 'unknown' ? 'Unknown' : ok ? 'True' : 'False',
      reason,
      message,
      lastTransitionTime: now,
      observedGeneration: np.metadata.generation,
    });
    const classOk = ref.group === 'eks.amazonaws.com' && ref.kind === 'NodeClass' && this.nodeClasses.has(ref.name);
    const conditions = this.behaviour.nodePoolsNeverReady
      ? [cond('ValidationSucceeded', true, 'ValidationSucceeded'), cond('Ready', 'unknown', 'AwaitingReconciliation', 'object is awaiting reconciliation')]
      : [
          cond('ValidationSucceeded', true, 'ValidationSucceeded'),
          classOk ? cond('NodeClassReady', true, 'NodeClassReady') : cond('NodeClassReady', false, 'NodeClassNotFound', `NodeClass ${JSON.stringify(ref.name)} not found`),
          classOk ? cond('Ready', true, 'Ready') : cond('Ready', false, 'NodeClassReadyNotTrue', 'NodeClassReady=False'),
        ];
    this.put('nodepools', { ...np, status: { conditions, resources: { cpu: '0', nodes: '0' } } });
  }
}
