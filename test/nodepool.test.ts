/** deployer/kube/nodepool.ts: the app's own EKS Auto Mode NodePool, from its hardware. */
import { describe, expect, it } from '@jest/globals';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { defineKubeApp } from '../kubeapps/index.js';
import { METAL_VCPUS, renderNodePool, vcpusOf } from '../deployer/kube/nodepool.js';
import { clusterSpec } from '../deployer/specs.js';
import type { Capacity } from '../deployer/ports.js';

type Auto = Extract<Capacity, { kind: 'auto' }>;
const autoOf = (c: Capacity): Auto => {
  if (c.kind !== 'auto') throw new Error(`expected auto capacity, got ${c.kind}`);
  return c;
};

describe('renderNodePool', () => {
  it("renders search-svc's NodePool: its instance types, on-demand, amd64, at most 12 nodes and 12 × 4 vCPUs", () => {
    const pool = renderNodePool({ capacity: autoOf(clusterSpec(searchSvc, 'search-svc-3').capacity), app: 'search-svc', installation: 'inst-a1' });
    expect(pool).toEqual({
      apiVersion: 'karpenter.sh/v1',
      kind: 'NodePool',
      metadata: {
        name: 'kubecontrol-search-svc',
        labels: { 'app.kubernetes.io/name': 'search-svc', 'app.kubernetes.io/managed-by': 'kubecontrol', 'kubecontrol/installation': 'inst-a1', 'kubecontrol/app': 'search-svc' },
      },
      spec: {
        template: {
          metadata: { labels: { 'kubecontrol/app': 'search-svc' } },
          spec: {
            nodeClassRef: { group: 'eks.amazonaws.com', kind: 'NodeClass', name: 'default' },
            requirements: [
              { key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['m6i.large', 'm6i.xlarge'] },
              { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
              { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
            ],
          },
        },
        limits: { cpu: '48', nodes: '12' },
        disruption: { consolidationPolicy: 'WhenEmptyOrUnderutilized', consolidateAfter: '30s' },
      },
    });
  });

  it('asks for spot arm64 nodes when the app does', () => {
    const app = defineKubeApp({
      name: 'graviton',
      image: { repository: 'graviton' },
      hardware: { arch: 'arm64', spot: true, instanceTypes: ['c7g.2xlarge', 'm7g.large'], maxNodes: 3 },
      pods: { containers: [{ name: 'main' }] },
      owners: ['alice'],
    });
    const pool = renderNodePool({ capacity: autoOf(clusterSpec(app, 'graviton-1').capacity), app: 'graviton', installation: 'i' });
    const spec = pool.spec as { template: { spec: { requirements: { key: string; values: string[] }[] } }; limits: unknown };
    expect(spec.template.spec.requirements.map((r) => [r.key, r.values])).toEqual([
      ['node.kubernetes.io/instance-type', ['c7g.2xlarge', 'm7g.large']],
      ['karpenter.sh/capacity-type', ['spot']],
      ['kubernetes.io/arch', ['arm64']],
    ]);
    // The largest listed type (8 vCPUs) times maxNodes.
    expect(spec.limits).toEqual({ cpu: '24', nodes: '3' });
  });
});

describe('vcpusOf (an estimate from the size suffix)', () => {
  it.each([
    ['t3.nano', 2],
    ['t4g.micro', 2],
    ['t3a.medium', 2],
    ['m6i.large', 2],
    ['c7g.medium', 1],
    ['m6i.xlarge', 4],
    ['m6i.2xlarge', 8],
    ['r7g.16xlarge', 64],
    ['c6gn.12xlarge', 48],
    ['m5.metal', METAL_VCPUS],
    ['m7i.metal-48xl', METAL_VCPUS],
    ['x1.odd', 2],
  ])('%s → %d', (type, vcpus) => {
    expect(vcpusOf(type)).toBe(vcpus);
  });
});
