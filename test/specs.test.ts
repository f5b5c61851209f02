/** deployer/specs.ts: the small specs the ports are told, built from the example KubeApps. */
import { describe, expect, it } from '@jest/globals';
import { defineKubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/cache-worker.js';
import searchSvc from '../kubeapps/search-svc.js';
import webFrontend from '../kubeapps/web-frontend.js';
import { appImages, clusterRef, clusterSpec, dnsRecord, healthCheck, imageRef, placementOf, repositorySpec, workloadSpec } from '../deployer/specs.js';

const own = defineKubeApp({
  name: 'placed',
  image: { repository: 'placed-img' },
  pods: { containers: [{ name: 'main' }, { name: 'helper', image: 'busybox', tag: '1.36' }], sidecars: { metrics: false } },
  owners: ['alice'],
  aws: { region: 'eu-central-1', subnetIds: ['subnet-1', 'subnet-2'], hostedZoneId: 'ZOWN', buildCommand: ['make', 'image'], createRepository: false },
});

describe('placementOf', () => {
  it('is nothing for an app that sets no placement (KubeApp-level defaults are not its choice)', () => {
    expect(placementOf(searchSvc)).toBeUndefined();
    expect(clusterRef(searchSvc, 'search-svc-1')).toEqual({ name: 'search-svc-1' });
  });

  it("carries exactly what the app sets, its builder included when the app's own", () => {
    expect(placementOf(own)).toEqual({
      region: 'eu-central-1',
      subnetIds: ['subnet-1', 'subnet-2'],
      hostedZoneId: 'ZOWN',
      builder: 'command',
      buildCommand: ['make', 'image'],
    });
  });
});

describe('images and repositories', () => {
  it('names the app repository at a tag, and the repository with whether it may be created', () => {
    expect(imageRef(searchSvc, 'v3')).toEqual({ repository: 'search-svc', tag: 'v3' });
    expect(repositorySpec(searchSvc)).toEqual({ name: 'search-svc', app: 'search-svc', create: true });
    expect(repositorySpec(own)).toMatchObject({ name: 'placed-img', app: 'placed', create: false, placement: { region: 'eu-central-1' } });
  });
});

describe('clusterSpec', () => {
  it('describes node capacity from the hardware', () => {
    expect(clusterSpec(webFrontend, 'web-frontend-7')).toEqual({
      name: 'web-frontend-7',
      app: 'web-frontend',
      kubernetesVersion: '1.31',
      capacity: { kind: 'nodes', instanceTypes: ['m7g.large', 'c7g.large'], minNodes: 2, maxNodes: 10, desiredNodes: 2, spot: true, arch: 'arm64' },
    });
  });

  it("describes Fargate capacity as the app's namespace", () => {
    expect(clusterSpec(cacheWorker, 'cache-worker-2').capacity).toEqual({ kind: 'fargate', namespaces: ['cache-worker'] });
  });

  it("carries the app's placement", () => {
    expect(clusterSpec(own, 'placed-1').placement).toEqual(placementOf(own));
  });
});

describe('workloadSpec', () => {
  it('runs the app containers from its repository at the version, sidecars at their fixed tags', () => {
    const w = workloadSpec(searchSvc, '2.0.1');
    expect(w).toMatchObject({ name: 'search-svc', version: '2.0.1', replicas: searchSvc.pods.replicas });
    expect(w.containers.map((c) => [c.name, c.role, `${c.image.repository}:${c.image.tag}`, c.fromRegistry])).toEqual([
      ['api', 'app', 'search-svc:2.0.1', true],
      ['metrics', 'metrics', 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0', false],
      ['logging', 'logging', 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2', false],
    ]);
    expect(w.service).toEqual({ port: searchSvc.service.port, targetPort: searchSvc.service.targetPort, loadBalancer: 'external', healthCheckPath: '/healthz' });
  });

  it('keeps an app container of another image and pinned tag as written', () => {
    expect(workloadSpec(own, 'v9').containers.map((c) => [c.name, `${c.image.repository}:${c.image.tag}`, c.fromRegistry])).toEqual([
      ['main', 'placed-img:v9', true],
      ['helper', 'busybox:1.36', false],
      ['logging', 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2', false],
    ]);
  });

  it('pins pods to arm64 only for arm64 node groups', () => {
    expect(workloadSpec(webFrontend, 'v1').arch).toBe('arm64');
    expect(workloadSpec(searchSvc, 'v1').arch).toBeUndefined();
    expect(workloadSpec(cacheWorker, 'v1').arch).toBeUndefined();
  });

  it("gives a rolling update the app's own containers only", () => {
    expect(appImages(own, 'v10')).toEqual([
      { name: 'main', image: { repository: 'placed-img', tag: 'v10' }, fromRegistry: true },
      { name: 'helper', image: { repository: 'busybox', tag: '1.36' }, fromRegistry: false },
    ]);
  });
});

describe('dnsRecord and healthCheck', () => {
  it("name the app's record, its TTL and zone, and its health path on the service port", () => {
    expect(dnsRecord(webFrontend)).toEqual({ name: 'web-frontend.example.com', ttlSeconds: 60, zone: 'example.com', app: 'web-frontend', port: 443 });
    expect(dnsRecord(own).placement).toMatchObject({ hostedZoneId: 'ZOWN' });
    expect(healthCheck(cacheWorker)).toEqual({ app: 'cache-worker', port: 9000, path: '/ready' });
  });
});
