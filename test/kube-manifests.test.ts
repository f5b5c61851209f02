/** The Kubernetes objects rendered from the example KubeApps' workload specs: snapshots, the facts that matter, and the OpenAPI schemas. */
import { describe, expect, it } from '@jest/globals';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { defineKubeApp, type KubeApp, type KubeAppProps } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { ANNOTATION_VERSION, isLabelValue, renderManifests, versionOf, type AppManifests, type RenderOptions } from '../deployer/kube/manifests.js';
import { workloadSpec } from '../deployer/specs.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const EXAMPLES: [string, KubeApp][] = [
  ['search-svc', searchSvc],
  ['web-frontend', webFrontend],
  ['cache-worker', cacheWorker],
];
// The app as the ports see it (deployer/specs.ts), rendered with an ECR-like registry.
const render = (app: KubeApp, version = '2.0.1', opts: Partial<RenderOptions> = {}) =>
  renderManifests(workloadSpec(app, version), { imageUri: (image) => `${REGISTRY}/${image.repository}:${image.tag}`, installation: 'inst-a1', ...opts });
const podSpec = (m: AppManifests) => m.deployment.spec!.template.spec!;
const containers = (app: KubeApp): V1Container[] => podSpec(render(app)).containers;
const ann = (m: AppManifests) => m.service.metadata!.annotations!;
const LB = 'service.beta.kubernetes.io/aws-load-balancer-';

/**
 * Each object through the Kubernetes OpenAPI schema of its kind (kubernetes-models):
 * types, required fields, enums. Unknown fields are caught at compile time (the
 * renderer builds typed @kubernetes/client-node literals), which the schemas do not check.
 */
function validateAll(m: AppManifests): void {
  new Namespace(m.namespace as never).validate();
  new ServiceAccount(m.serviceAccount as never).validate();
  new Deployment(m.deployment as never).validate();
  new Service(m.service as never).validate();
  new PodDisruptionBudget(m.podDisruptionBudget as never).validate();
}

const base: KubeAppProps = {
  name: 'tool',
  image: { repository: 'tool' },
  pods: { containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080 }] }] },
  owners: ['alice'],
};

describe('renderManifests', () => {
  it.each(EXAMPLES)('renders %s', (_name, app) => {
    expect(render(app)).toMatchSnapshot();
  });

  it.each(EXAMPLES)('renders %s to objects the Kubernetes OpenAPI schemas accept (LoadBalancer and ClusterIP)', (_name, app) => {
    validateAll(render(app));
    validateAll(render(app, 'v1', { serviceType: 'ClusterIP', namespace: `${app.name}-7` }));
  });

  it('validates an app with every feature on: secrets, sidecars, an opted-out container, TLS, a version that is no label', () => {
    const app = defineKubeApp({
      ...base,
      pods: {
        containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080 }], unrestricted: 'binds :80 as root' }],
        sidecars: [{ name: 'envoy', image: 'envoyproxy/envoy', tag: 'v1.31.0', ports: [{ name: 'admin', containerPort: 9901 }] }],
      },
      service: { port: 443, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123' },
      aws: { podRoleArn: 'arn:aws:iam::123456789012:role/tool' },
      secrets: [{ name: 'db-password', secretId: 'prod/db' }],
    });
    const m = render(app, `v1-${'x'.repeat(100)}.`, { region: 'eu-west-1' });
    validateAll(m);
    // The OpenAPI schemas really check: a wrong type is refused.
    const broken = JSON.parse(JSON.stringify(m.deployment)) as V1Deployment;
    (broken.spec as unknown as Record<string, unknown>).replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas must be integer/);
  });

  it('runs the app containers at the deployed version; there are no default sidecars', () => {
    expect(containers(searchSvc).map((c) => `${c.name}=${c.image}`)).toEqual([`api=${REGISTRY}/search-svc:2.0.1`]);
    expect(containers(cacheWorker).map((c) => c.name)).toEqual(['worker']);
    expect(containers(webFrontend).map((c) => c.name)).toEqual(['web']);
  });

  it("runs an app's own sidecars at their fixed tags, without probes", () => {
    const app = defineKubeApp({ ...base, pods: { ...base.pods, sidecars: [{ name: 'envoy', image: 'envoyproxy/envoy', tag: 'v1.31.0' }] } });
    const [main, envoy] = containers(app);
    expect(envoy).toMatchObject({ name: 'envoy', image: 'envoyproxy/envoy:v1.31.0' });
    expect([envoy!.startupProbe, envoy!.readinessProbe, envoy!.livenessProbe]).toEqual([undefined, undefined, undefined]);
    expect(main!.readinessProbe).toBeDefined();
  });

  it('sets requests and limits on every container', () => {
    const [api] = containers(searchSvc);
    expect(api!.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '2Gi' } });
    for (const [, app] of EXAMPLES) for (const c of containers(app)) expect(c.resources?.requests && c.resources.limits).toBeTruthy();
  });

  it('gives the first app container separate startup, readiness and liveness probes on the health path and target port', () => {
    const [web] = containers(webFrontend);
    const get = { path: '/health', port: 3000 };
    expect(web!.startupProbe).toEqual({ httpGet: get, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 60 });
    expect(web!.readinessProbe).toEqual({ httpGet: get, timeoutSeconds: 2, periodSeconds: 10, failureThreshold: 3 });
    expect(web!.livenessProbe).toEqual({ httpGet: get, timeoutSeconds: 2, periodSeconds: 20, failureThreshold: 3 });
    expect(containers(cacheWorker)[0]!.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 9000 });
  });

  it('runs every container Pod Security "restricted", the pod with seccomp RuntimeDefault', () => {
    for (const [, app] of EXAMPLES) {
      const m = render(app);
      expect(podSpec(m).securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of podSpec(m).containers) {
        expect(c.securityContext).toEqual({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
      }
      expect(m.namespace.metadata!.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
    }
  });

  it('lets one container opt out of "restricted", and then only warns in the namespace', () => {
    const app = defineKubeApp({ ...base, pods: { containers: [{ name: 'main', unrestricted: 'needs NET_ADMIN for iptables' }, { name: 'other' }] } });
    const m = render(app);
    const [main, other] = podSpec(m).containers;
    expect(main!.securityContext).toBeUndefined();
    expect(other!.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(podSpec(m).securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(m.namespace.metadata!.labels!['pod-security.kubernetes.io/enforce']).toBeUndefined();
    expect(m.namespace.metadata!.labels!['pod-security.kubernetes.io/warn']).toBe('restricted');
  });

  it('drains before a pod stops: preStop sleep 20 s, grace 60 s, outlasting the 30 s deregistration delay', () => {
    for (const [, app] of EXAMPLES) {
      const m = render(app);
      expect(podSpec(m).terminationGracePeriodSeconds).toBe(60);
      for (const c of podSpec(m).containers) expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 20 } } });
      expect(ann(m)[`${LB}target-group-attributes`]).toBe('deregistration_delay.timeout_seconds=30');
    }
  });

  it('keeps one pod at most out in voluntary disruptions, and spreads pods across zones without blocking on it', () => {
    const m = render(searchSvc);
    expect(m.podDisruptionBudget).toMatchObject({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'search-svc', namespace: 'search-svc' },
      spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'search-svc' } } },
    });
    expect(podSpec(m).topologySpreadConstraints).toEqual([
      expect.objectContaining({ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'search-svc' } } }),
    ]);
  });

  it("runs the pods as the app's ServiceAccount (the Pod Identity association's target)", () => {
    const m = render(searchSvc);
    expect(m.serviceAccount).toMatchObject({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'search-svc', namespace: 'search-svc' } });
    expect(podSpec(m).serviceAccountName).toBe('search-svc');
  });

  it('pins arm64 apps to arm64 nodes (node group or Auto Mode); amd64 and Fargate get no node selector', () => {
    expect(podSpec(render(webFrontend)).nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    expect(podSpec(render(searchSvc)).nodeSelector).toBeUndefined();
    expect(podSpec(render(cacheWorker)).nodeSelector).toBeUndefined();
    const autoArm = defineKubeApp({ ...base, hardware: { arch: 'arm64' } });
    expect(podSpec(render(autoArm)).nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
  });

  it('labels everything app.kubernetes.io/*, with the installation, the version as label and annotation; selects pods by app only', () => {
    const { namespace, deployment, service, serviceAccount, podDisruptionBudget } = render(searchSvc, '3.1.0');
    const owned = {
      'app.kubernetes.io/name': 'search-svc',
      'app.kubernetes.io/instance': 'search-svc',
      'app.kubernetes.io/managed-by': 'kubecontrol',
      'kubecontrol/installation': 'inst-a1',
    };
    expect(namespace.metadata!.labels).toMatchObject(owned);
    for (const o of [service, serviceAccount, podDisruptionBudget]) expect(o.metadata!.labels).toEqual(owned);
    expect(deployment.metadata).toMatchObject({ namespace: 'search-svc', labels: { ...owned, 'app.kubernetes.io/version': '3.1.0' }, annotations: { [ANNOTATION_VERSION]: '3.1.0' } });
    // The pod template does not carry the installation: adding it would restart every running pod once.
    expect(deployment.spec!.template.metadata).toEqual({
      labels: { 'app.kubernetes.io/name': 'search-svc', 'app.kubernetes.io/instance': 'search-svc', 'app.kubernetes.io/managed-by': 'kubecontrol', 'app.kubernetes.io/version': '3.1.0' },
      annotations: { 'kubecontrol/version': '3.1.0' },
    });
    // The selector must not change between versions (it is immutable).
    expect(deployment.spec!.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'search-svc' });
    expect(service.spec!.selector).toEqual({ 'app.kubernetes.io/name': 'search-svc' });
    expect(versionOf(deployment)).toBe('3.1.0');
  });

  it('keeps the pod template the same across versions but for the version and the images', () => {
    const strip = (m: AppManifests) => {
      const t = JSON.parse(JSON.stringify(m.deployment.spec!.template)) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { containers: { image: string }[] } };
      delete t.metadata.labels['app.kubernetes.io/version'];
      delete t.metadata.annotations['kubecontrol/version'];
      for (const c of t.spec.containers) c.image = '';
      return t;
    };
    expect(strip(render(searchSvc, 'v1'))).toEqual(strip(render(searchSvc, `v2-${'y'.repeat(80)}`)));
  });

  it.each([
    ['a version of 100 characters', `1.0.0-${'a'.repeat(94)}`],
    ['a version ending in -', 'v1-'],
    ['a version ending in .', 'v1.'],
    ['a version ending in _', 'v1_'],
  ])('keeps %s as an annotation only (a label would be refused)', (_what, version) => {
    expect(isLabelValue(version)).toBe(false);
    const { deployment } = render(searchSvc, version);
    expect(deployment.metadata!.labels!['app.kubernetes.io/version']).toBeUndefined();
    expect(deployment.spec!.template.metadata!.labels!['app.kubernetes.io/version']).toBeUndefined();
    expect(deployment.metadata!.annotations![ANNOTATION_VERSION]).toBe(version);
    expect(deployment.spec!.template.metadata!.annotations![ANNOTATION_VERSION]).toBe(version);
    expect(versionOf(deployment)).toBe(version);
    expect(containers(searchSvc)[0]!.image).toBe(`${REGISTRY}/search-svc:2.0.1`);
    expect(podSpec(render(searchSvc, version)).containers[0]!.image).toBe(`${REGISTRY}/search-svc:${version}`);
  });

  it('reads the version of a Deployment rendered before the annotation (its kubecontrol/version label)', () => {
    expect(versionOf({ metadata: { labels: { 'kubecontrol/version': 'v7' } } })).toBe('v7');
    expect(versionOf({ metadata: {} })).toBeUndefined();
  });

  it('asks EKS Auto Mode for an internet-facing or internal NLB to the pod IPs, health-checked on the pods, tagged', () => {
    const web = render(webFrontend, 'v1', { loadBalancerTags: { 'kubecontrol:app': 'web-frontend', 'kubecontrol:deploy': '12', 'kubecontrol:installation': 'inst-a1', 'kubecontrol:managed-by': 'kubecontrol' } });
    expect(web.service.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerClass: 'eks.amazonaws.com/nlb', ports: [{ name: 'https', port: 443, targetPort: 3000, protocol: 'TCP' }] });
    expect(ann(web)).toEqual({
      [`${LB}scheme`]: 'internet-facing',
      [`${LB}nlb-target-type`]: 'ip',
      [`${LB}healthcheck-protocol`]: 'http',
      [`${LB}healthcheck-path`]: '/health',
      [`${LB}healthcheck-port`]: '3000',
      [`${LB}target-group-attributes`]: 'deregistration_delay.timeout_seconds=30',
      [`${LB}additional-resource-tags`]: 'kubecontrol:app=web-frontend,kubecontrol:installation=inst-a1,kubecontrol:managed-by=kubecontrol,kubecontrol:deploy=12',
      [`${LB}ssl-cert`]: webFrontend.service.certificateArn,
      [`${LB}ssl-ports`]: '443',
    });
    // The AWS Load Balancer Controller's annotation is gone: no cluster kubecontrol creates runs it.
    expect(ann(web)[`${LB}type`]).toBeUndefined();
    const cache = render(cacheWorker);
    expect(ann(cache)[`${LB}scheme`]).toBe('internal');
    expect(ann(cache)[`${LB}additional-resource-tags`]).toBe('kubecontrol:app=cache-worker,kubecontrol:installation=inst-a1,kubecontrol:managed-by=kubecontrol');
    // Without a certificate: plain TCP, no TLS annotations.
    expect(ann(render(searchSvc))[`${LB}ssl-cert`]).toBeUndefined();
    expect(render(searchSvc).service.spec!.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
  });

  it('renders a plain ClusterIP Service without AWS annotations for a laptop cluster, in the namespace asked', () => {
    const m = render(webFrontend, 'v1', { serviceType: 'ClusterIP', namespace: 'web-frontend-7' });
    expect(m.service.metadata!.annotations).toBeUndefined();
    expect(m.service.spec).toEqual({ type: 'ClusterIP', selector: { 'app.kubernetes.io/name': 'web-frontend' }, ports: [{ name: 'http', port: 443, targetPort: 3000, protocol: 'TCP' }] });
    for (const o of [m.namespace, m.serviceAccount, m.deployment, m.service, m.podDisruptionBudget]) {
      expect(o.metadata!.name === 'web-frontend-7' || o.metadata!.namespace === 'web-frontend-7').toBe(true);
    }
  });

  it("delivers secrets as files in memory, fetched by a restricted init container with the pod's role, mounted read-only", () => {
    const app = defineKubeApp({
      ...base,
      pods: { ...base.pods, sidecars: [{ name: 'envoy', image: 'envoyproxy/envoy', tag: 'v1.31.0' }] },
      aws: { podRoleArn: 'arn:aws:iam::123456789012:role/tool' },
      secrets: [
        { name: 'db-password', secretId: 'prod/db-password' },
        { name: 'api-key', secretId: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:api-key-AbCdEf' },
      ],
    });
    const m = render(app, 'v1', { region: 'eu-west-1' });
    const spec = podSpec(m);
    expect(spec.volumes).toEqual([{ name: 'kubecontrol-secrets', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]);
    const [init] = spec.initContainers!;
    expect(init).toMatchObject({
      name: 'fetch-secrets',
      image: expect.stringMatching(/^public\.ecr\.aws\/aws-cli\/aws-cli:\d+\.\d+\.\d+$/),
      volumeMounts: [{ name: 'kubecontrol-secrets', mountPath: '/var/run/secrets/kubecontrol' }],
      securityContext: { runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    });
    // Names, ids and regions are arguments (a secret named by ARN is read in its own region), never spliced into the script.
    expect(init!.args).toEqual(['db-password', 'prod/db-password', 'eu-west-1', 'api-key', 'arn:aws:secretsmanager:us-west-2:123456789012:secret:api-key-AbCdEf', 'us-west-2']);
    expect(init!.command![2]).not.toMatch(/prod\/db|api-key/);
    expect(init!.env).toEqual(expect.arrayContaining([{ name: 'AWS_REGION', value: 'eu-west-1' }]));
    const [main, envoy] = spec.containers;
    expect(main!.volumeMounts).toEqual([{ name: 'kubecontrol-secrets', mountPath: '/var/run/secrets/kubecontrol', readOnly: true }]);
    expect(envoy!.volumeMounts).toBeUndefined();
    // The fetcher's files are group-readable by the app's containers whatever user they run as.
    expect(spec.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' }, fsGroup: 65532 });
    // No secret value anywhere: kubecontrol never has one.
    expect(JSON.stringify(m)).not.toMatch(/SecretString"?:/);
  });

  it('passes env, command and args through', () => {
    const app = defineKubeApp({
      name: 'tool',
      image: { repository: 'tool' },
      pods: { containers: [{ name: 'main', command: ['/bin/tool'], args: ['serve', '--port=8080'], env: { MODE: 'fast' } }] },
      owners: ['alice'],
    });
    expect(containers(app)).toEqual([
      expect.objectContaining({ name: 'main', command: ['/bin/tool'], args: ['serve', '--port=8080'], env: [{ name: 'MODE', value: 'fast' }] }),
    ]);
  });
});
