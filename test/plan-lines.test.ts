/** deployer/plan-lines.ts: how capacity and workloads read in every provider's dry-run plan. */
import { describe, expect, it } from '@jest/globals';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { defineKubeApp } from '../kubeapps/index.js';
import { capacityLine, deploymentLine, portsOf, versionLine } from '../deployer/plan-lines.js';
import { clusterSpec, workloadSpec } from '../deployer/specs.js';

describe('plan lines', () => {
  it('says what the pods run on for each kind of capacity', () => {
    expect(capacityLine(clusterSpec(searchSvc, 'x').capacity)).toBe(
      'EKS Auto Mode nodes: m6i.large|m6i.xlarge on-demand amd64, at most 12 nodes (Auto Mode keeps no minimum)',
    );
    expect(capacityLine(clusterSpec(webFrontend, 'x').capacity)).toBe('node group (Auto Scaling group): 2 (min 2, max 10) × m7g.large/c7g.large, SPOT, arm64');
    expect(capacityLine(clusterSpec(cacheWorker, 'x').capacity)).toBe('Fargate profile for namespace cache-worker');
  });

  it("names the version, or the provider's default when the app names none", () => {
    expect(versionLine(clusterSpec(searchSvc, 'x').kubernetesVersion)).toBe('the newest Kubernetes version in standard support');
    expect(versionLine('1.34')).toBe('Kubernetes 1.34');
  });

  it('names a container that opts out of Pod Security "restricted" and why, the secrets by name only, and the pod role', () => {
    const app = defineKubeApp({
      name: 'tool',
      image: { repository: 'tool' },
      pods: { containers: [{ name: 'main', unrestricted: 'binds :80 as root' }], sidecars: [{ name: 'envoy', image: 'envoyproxy/envoy', tag: 'v1' }] },
      aws: { podRoleArn: 'arn:aws:iam::123456789012:role/tool' },
      secrets: [{ name: 'db-password', secretId: 'prod/db-password' }],
      owners: ['alice'],
    });
    expect(deploymentLine(workloadSpec(app, 'v3'))).toBe(
      'deployment tool (2 replicas: main:v3, envoy); container main NOT restricted (Pod Security): binds :80 as root; secrets db-password as files; pod role arn:aws:iam::123456789012:role/tool',
    );
    expect(deploymentLine(workloadSpec(cacheWorker, 'v3'))).toBe('deployment cache-worker (2 replicas: worker:v3)');
  });

  it('marks a TLS port', () => {
    expect(portsOf(workloadSpec(webFrontend, 'v1'))).toBe(':443 (TLS)→3000');
    expect(portsOf(workloadSpec(searchSvc, 'v1'))).toBe(':80→8080');
  });
});
