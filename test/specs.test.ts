/** deployer/specs.ts: the small specs the ports are told, built from the example KubeApps. */
import { describe, expect, it } from '@jest/globals';
import { defineKubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { appImages, clusterRef, clusterSpec, dnsRecord, healthCheck, imageRef, placementOf, repositorySpec, workloadSpec } from '../deployer/specs.js';

const own = defineKubeApp({
  name: 'placed',
  image: { repository: 'placed-img' },
  pods: {
    containers: [{ name: 'main' }, { name: 'helper', image: 'busybox', tag: '1.36', unrestricted: 'runs as root to read host logs' }],
    sidecars: [{ name: 'logs', image: 'fluent/fluent-bit', tag: '3.1' }],
  },
  owners: ['alice'],
  aws: {
    region: 'eu-central-1',
    subnetIds: ['subnet-1', 'subnet-2'],
    fargateSubnetIds: ['subnet-9'],
    hostedZoneId: 'ZOWN',
    buildCommand: ['make', 'image'],
    createRepository: false,
    kubernetesVersion: '1.34',
    supportType: 'EXTENDED',
    podRoleArn: 'arn:aws:iam::123456789012:role/placed',
  },
  secrets: [{ name: 'token', secretId: 'placed/token' }],
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
      fargateSubnetIds: ['subnet-9'],
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
  it('describes an EKS Auto Mode NodePool by default, with no Kubernetes version of its own and standard support', () => {
    expect(clusterSpec(searchSvc, 'search-svc-3')).toEqual({
      name: 'search-svc-3',
      app: 'search-svc',
      supportType: 'STANDARD',
      capacity: { kind: 'auto', instanceTypes: ['m6i.large', 'm6i.xlarge'], minNodes: 3, maxNodes: 12, spot: false, arch: 'amd64' },
      podIdentity: { namespace: 'search-svc', serviceAccount: 'search-svc', roleArn: 'arn:aws:iam::123456789012:role/search-svc-pods' },
    });
    expect('kubernetesVersion' in clusterSpec(searchSvc, 'search-svc-3')).toBe(false);
  });

  it('describes a managed node group when the app asks for nodes', () => {
    expect(clusterSpec(webFrontend, 'web-frontend-7')).toEqual({
      name: 'web-frontend-7',
      app: 'web-frontend',
      supportType: 'STANDARD',
      capacity: { kind: 'nodes', instanceTypes: ['m7g.large', 'c7g.large'], minNodes: 2, maxNodes: 10, desiredNodes: 2, spot: true, arch: 'arm64' },
    });
  });

  it("describes Fargate capacity as the app's namespace", () => {
    expect(clusterSpec(cacheWorker, 'cache-worker-2').capacity).toEqual({ kind: 'fargate', namespaces: ['cache-worker'] });
  });

  it("carries the app's version, support type, pod identity and placement", () => {
    expect(clusterSpec(own, 'placed-1')).toMatchObject({
      kubernetesVersion: '1.34',
      supportType: 'EXTENDED',
      podIdentity: { namespace: 'placed', serviceAccount: 'placed', roleArn: 'arn:aws:iam::123456789012:role/placed' },
      placement: placementOf(own),
    });
  });
});

describe('workloadSpec', () => {
  it('runs the app containers from its repository at the version; no default sidecars', () => {
    const w = workloadSpec(searchSvc, '2.0.1');
    expect(w).toMatchObject({ name: 'search-svc', version: '2.0.1', replicas: searchSvc.pods.replicas, podRoleArn: 'arn:aws:iam::123456789012:role/search-svc-pods' });
    expect(w.containers.map((c) => [c.name, c.role, `${c.image.repository}:${c.image.tag}`, c.fromRegistry])).toEqual([['api', 'app', 'search-svc:2.0.1', true]]);
    expect(w.service).toEqual({ port: searchSvc.service.port, targetPort: searchSvc.service.targetPort, loadBalancer: 'external', healthCheckPath: '/healthz' });
    expect(w.secrets).toBeUndefined();
  });

  it("keeps an app container of another image and pinned tag as written, the app's sidecars, opt-outs and secrets", () => {
    const w = workloadSpec(own, 'v9');
    expect(w.containers.map((c) => [c.name, c.role, `${c.image.repository}:${c.image.tag}`, c.fromRegistry, c.unrestricted])).toEqual([
      ['main', 'app', 'placed-img:v9', true, undefined],
      ['helper', 'app', 'busybox:1.36', false, 'runs as root to read host logs'],
      ['logs', 'sidecar', 'fluent/fluent-bit:3.1', false, undefined],
    ]);
    expect(w.secrets).toEqual([{ name: 'token', secretId: 'placed/token' }]);
    expect(w.podRoleArn).toBe('arn:aws:iam::123456789012:role/placed');
  });

  it('carries the certificate of a TLS Service', () => {
    expect(workloadSpec(webFrontend, 'v1').service).toMatchObject({ port: 443, certificateArn: webFrontend.service.certificateArn });
  });

  it('pins pods to arm64 for arm64 node groups and Auto Mode NodePools, never on Fargate', () => {
    expect(workloadSpec(webFrontend, 'v1').arch).toBe('arm64');
    expect(workloadSpec(defineKubeApp({ name: 'arm', image: { repository: 'arm' }, pods: { containers: [{ name: 'a' }] }, owners: ['x'], hardware: { arch: 'arm64' } }), 'v1').arch).toBe('arm64');
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
    expect(healthCheck(cacheWorker)).toEqual({ app: 'cache-worker', port: 9000, path: '/ready', loadBalancer: 'internal', tls: false });
  });

  it('checks over https when the Service has a certificate, and names the cluster for an internal load balancer when told', () => {
    expect(healthCheck(webFrontend)).toEqual({ app: 'web-frontend', port: 443, path: '/health', loadBalancer: 'external', tls: true });
    expect(healthCheck(cacheWorker, clusterRef(cacheWorker, 'cache-worker-2'))).toEqual({
      app: 'cache-worker',
      port: 9000,
      path: '/ready',
      loadBalancer: 'internal',
      tls: false,
      cluster: { name: 'cache-worker-2' },
    });
  });
});
