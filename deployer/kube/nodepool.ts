/**
 * The app's own EKS Auto Mode NodePool (Karpenter `karpenter.sh/v1`): the nodes
 * Auto Mode starts for the app's pods are of its instance types, capacity type
 * and architecture, and never more than `maxNodes` of them. Pure: applied on a
 * new cluster during provision (KubeWorkloads.applyNodePool).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Capacity } from '../ports.js';
import { LABEL_INSTALLATION } from './installation.js';
import { LABEL_MANAGED_BY, LABEL_NAME, MANAGER } from './manifests.js';

/** Where Auto Mode's own node class lives: every NodePool of an Auto Mode cluster refers to it. */
export const AUTO_MODE_NODE_CLASS = { group: 'eks.amazonaws.com', kind: 'NodeClass', name: 'default' } as const;

/** The node label a NodePool requirement names instance types by, on EKS Auto Mode. */
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';

/** The NodePool's name for an app. */
export function nodePoolName(app: string): string {
  return `kubecontrol-${app}`;
}

/** vCPUs per size for sizes below `large`, by family kind (burstable t* families have 2 vCPUs even at nano). */
const SMALL_SIZES: Record<string, { burstable: number; other: number }> = {
  nano: { burstable: 2, other: 1 },
  micro: { burstable: 2, other: 1 },
  small: { burstable: 2, other: 1 },
  medium: { burstable: 2, other: 1 },
};

/**
 * A conservative guess for `metal` sizes, whose vCPUs vary by family (64 to 448):
 * the limit it yields errs high, so it never keeps the app from its own `maxNodes`.
 */
export const METAL_VCPUS = 192;

/**
 * An ESTIMATE of an EC2 instance type's vCPUs from its size suffix, enough to set a
 * NodePool's CPU limit: `large` 2, `xlarge` 4, `Nxlarge` 4·N, `medium` and smaller 1
 * (2 for burstable t* families), `metal` METAL_VCPUS. Exact figures are EC2's
 * (DescribeInstanceTypes); families that break the pattern (e.g. some `-flex` or
 * high-memory types) are off by a little, which only moves the limit, not the app.
 * Unknown sizes count as 2.
 */
export function vcpusOf(instanceType: string): number {
  const [family = '', size = ''] = instanceType.split('.');
  const small = SMALL_SIZES[size];
  if (small) return /^t\d/.test(family) ? small.burstable : small.other;
  if (size === 'large') return 2;
  if (size === 'xlarge') return 4;
  const n = /^(\d+)xlarge$/.exec(size);
  if (n) return 4 * Number(n[1]);
  if (size.startsWith('metal')) return METAL_VCPUS;
  return 2;
}

/**
 * The NodePool of an app on an Auto Mode cluster: its instance types, spot or
 * on-demand, its arch, and limits of `maxNodes` nodes and `maxNodes` × the vCPUs
 * of the largest listed type. Auto Mode keeps no minimum: the pods decide.
 */
export function renderNodePool(cmd: {
  capacity: Extract<Capacity, { kind: 'auto' }>;
  app: string;
  installation: string;
}): KubernetesObject & { spec: Record<string, unknown> } {
  const { capacity, app, installation } = cmd;
  const largest = Math.max(...capacity.instanceTypes.map(vcpusOf));
  const labels = { [LABEL_NAME]: app, [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: installation, 'kubecontrol/app': app };
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: { name: nodePoolName(app), labels },
    spec: {
      template: {
        // The nodes carry the app's name, so a look at a node says whose it is.
        metadata: { labels: { 'kubecontrol/app': app } },
        spec: {
          nodeClassRef: { ...AUTO_MODE_NODE_CLASS },
          requirements: [
            // Auto Mode's label for the instance type is the well-known one (eks.amazonaws.com/ has
            // instance-family, -size, -cpu..., but no instance-type): docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html
            { key: INSTANCE_TYPE_LABEL, operator: 'In', values: [...capacity.instanceTypes] },
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: [capacity.spot ? 'spot' : 'on-demand'] },
            { key: 'kubernetes.io/arch', operator: 'In', values: [capacity.arch] },
          ],
        },
      },
      limits: { cpu: String(capacity.maxNodes * largest), nodes: String(capacity.maxNodes) },
      // Auto Mode's default: replace empty or underused nodes, gently.
      disruption: { consolidationPolicy: 'WhenEmptyOrUnderutilized', consolidateAfter: '30s' },
    },
  };
}
