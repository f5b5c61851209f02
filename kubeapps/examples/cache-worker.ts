import { defineApp } from './defaults.js';

/** Cache warmer on Fargate: no nodes to manage, no load balancer traffic to speak of. */
export default defineApp({
  name: 'cache-worker',
  description: 'Warms the edge caches from the search index',
  image: { repository: 'cache-worker' },
  hardware: { capacity: 'fargate' },
  pods: {
    replicas: 2,
    containers: [
      {
        name: 'worker',
        ports: [{ name: 'admin', containerPort: 9000 }],
        resources: { cpu: '1', memory: '2Gi' },
      },
    ],
  },
  service: { port: 9000, loadBalancer: 'internal', healthCheckPath: '/ready' },
  approvalTimeoutMinutes: 15,
  // A one-person team: the owner may approve their own cutovers.
  allowSelfApproval: true,
  owners: ['erin'],
  approvers: ['erin', 'bob'],
  channel: '#platform',
  refresh: { schedule: '30 2 * * *' },
});
