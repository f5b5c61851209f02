/** The Kubernetes objects rendered from the example KubeApps' workload specs: snapshots plus the facts that matter. */
import { describe, expect, it } from '@jest/globals';
import type { V1Container } from '@kubernetes/client-node';
import { defineKubeApp, type KubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/cache-worker.js';
import searchSvc from '../kubeapps/search-svc.js';
import webFrontend from '../kubeapps/web-frontend.js';
import { renderManifests } from '../deployer/kube/manifests.js';
import { workloadSpec } from '../deployer/specs.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
// The app as the ports see it (deployer/specs.ts), rendered with an ECR-like registry.
const render = (app: KubeApp, version = '2.0.1') =>
  renderManifests(workloadSpec(app, version), { imageUri: (image) => `${REGISTRY}/${image.repository}:${image.tag}`, installation: 'inst-a1' });
const containers = (app: KubeApp): V1Container[] => render(app).deployment.spec!.template.spec!.containers;

describe('renderManifests', () => {
  it.each([
    ['search-svc', searchSvc],
    ['web-frontend', webFrontend],
    ['cache-worker', cacheWorker],
  ])('renders %s', (_name, app) => {
    expect(render(app)).toMatchSnapshot();
  });

  it('runs the app containers at the deployed version and the sidecars at their fixed tags', () => {
    expect(containers(searchSvc).map((c) => `${c.name}=${c.image}`)).toEqual([
      `api=${REGISTRY}/search-svc:2.0.1`,
      'metrics=public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
      'logging=public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2',
    ]);
  });

  it('leaves out a removed sidecar', () => {
    expect(containers(cacheWorker).map((c) => c.name)).toEqual(['worker', 'logging']);
  });

  it('sets requests and limits on every container', () => {
    const [api, metrics] = containers(searchSvc);
    expect(api!.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '2Gi' } });
    expect(metrics!.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '50m', memory: '64Mi' } });
    for (const app of [searchSvc, webFrontend, cacheWorker]) {
      for (const c of containers(app)) expect(c.resources?.requests && c.resources.limits).toBeTruthy();
    }
  });

  it('probes the first app container on the health path and target port, and no sidecar', () => {
    const [web, ...sidecars] = containers(webFrontend);
    expect(web!.readinessProbe?.httpGet).toEqual({ path: '/health', port: 3000 });
    expect(web!.livenessProbe?.httpGet).toEqual({ path: '/health', port: 3000 });
    for (const s of sidecars) expect([s.readinessProbe, s.livenessProbe]).toEqual([undefined, undefined]);
    expect(containers(cacheWorker)[0]!.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 9000 });
  });

  it('pins arm64 apps on nodes to arm64 nodes; amd64 and Fargate get no node selector', () => {
    expect(render(webFrontend).deployment.spec!.template.spec!.nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    expect(render(searchSvc).deployment.spec!.template.spec!.nodeSelector).toBeUndefined();
    expect(render(cacheWorker).deployment.spec!.template.spec!.nodeSelector).toBeUndefined();
  });

  it('labels everything with the app, the manager, the installation and the version, and selects pods by app only', () => {
    const { namespace, deployment, service } = render(searchSvc, '3.1.0');
    const labels = { 'app.kubernetes.io/name': 'search-svc', 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/version': '3.1.0' };
    const owned = { 'app.kubernetes.io/name': 'search-svc', 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/installation': 'inst-a1' };
    expect(namespace.metadata).toEqual({ name: 'search-svc', labels: owned });
    expect(deployment.metadata).toMatchObject({ namespace: 'search-svc', labels: { ...owned, ...labels } });
    expect(service.metadata!.labels).toEqual(owned);
    // The pod template does not carry the installation: adding it would restart every running pod once.
    expect(deployment.spec!.template.metadata!.labels).toEqual(labels);
    // The selector must not change between versions (it is immutable).
    expect(deployment.spec!.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'search-svc' });
    expect(service.spec!.selector).toEqual({ 'app.kubernetes.io/name': 'search-svc' });
  });

  it('asks for an internet-facing or internal NLB to the pod IPs, port to target port', () => {
    const web = render(webFrontend).service;
    expect(web.spec).toMatchObject({ type: 'LoadBalancer', ports: [{ name: 'http', port: 443, targetPort: 3000, protocol: 'TCP' }] });
    expect(web.metadata!.annotations).toMatchObject({
      'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
      'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
      'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
    });
    expect(render(cacheWorker).service.metadata!.annotations!['service.beta.kubernetes.io/aws-load-balancer-scheme']).toBe('internal');
  });

  it('passes env, command and args through', () => {
    const app = defineKubeApp({
      name: 'tool',
      image: { repository: 'tool' },
      pods: { containers: [{ name: 'main', command: ['/bin/tool'], args: ['serve', '--port=8080'], env: { MODE: 'fast' } }], sidecars: { metrics: false, logging: false } },
      owners: ['alice'],
    });
    expect(containers(app)).toEqual([
      expect.objectContaining({ name: 'main', command: ['/bin/tool'], args: ['serve', '--port=8080'], env: [{ name: 'MODE', value: 'fast' }] }),
    ]);
  });
});
