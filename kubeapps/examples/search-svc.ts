import { defineApp } from './defaults.js';

/**
 * Full-text search API: blue/green on on-demand amd64 nodes that EKS Auto Mode starts
 * for its pods (at most 12). Its pods read the bucket search-indexes with their own
 * IAM role (EKS Pod Identity), not the nodes'.
 */
export default defineApp({
  name: 'search-svc',
  description: 'Full-text search API behind www and the mobile apps',
  image: { repository: 'search-svc' },
  hardware: { instanceTypes: ['m6i.large', 'm6i.xlarge'], minNodes: 3, maxNodes: 12 },
  pods: {
    replicas: 3,
    containers: [
      {
        name: 'api',
        ports: [{ name: 'http', containerPort: 8080 }],
        env: { LOG_LEVEL: 'info', INDEX_BUCKET: 'search-indexes' },
        resources: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' },
      },
    ],
  },
  service: { port: 80, loadBalancer: 'external', healthCheckPath: '/healthz' },
  aws: { podRoleArn: 'arn:aws:iam::123456789012:role/search-svc-pods' },
  strategy: 'blue-green',
  owners: ['alice', 'U0ALICE01'],
  deployers: ['carol', '@search-team'],
  approvers: ['bob', 'alice', 'U0BOB0001'],
  channel: '#search-team',
  refresh: { schedule: '0 3 * * *', channel: '#search-team' },
});
