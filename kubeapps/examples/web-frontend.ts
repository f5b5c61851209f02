import { defineApp } from './defaults.js';

/**
 * The public web front end: a managed node group (an Auto Scaling group) of Graviton
 * (arm64) spot instances, rolling updates by default, HTTPS on 443 with an ACM
 * certificate (TLS ends at the load balancer; the pods speak HTTP on 3000).
 */
export default defineApp({
  name: 'web-frontend',
  description: 'Server-rendered web front end',
  image: { repository: 'web-frontend' },
  hardware: { capacity: 'nodes', arch: 'arm64', instanceTypes: ['m7g.large', 'c7g.large'], spot: true, minNodes: 2, maxNodes: 10 },
  pods: {
    replicas: 4,
    containers: [
      {
        name: 'web',
        ports: [{ name: 'http', containerPort: 3000 }],
        env: { NODE_ENV: 'production' },
        resources: { cpu: '250m', memory: '512Mi' },
      },
    ],
  },
  service: {
    port: 443,
    targetPort: 3000,
    loadBalancer: 'external',
    healthCheckPath: '/health',
    // An example ARN: the certificate must be issued (ACM) in the app's region for its DNS name.
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
  },
  strategy: 'rolling',
  owners: ['dave', 'U0DAVE001'],
  deployers: ['alice', 'carol', '@web-team'],
  approvers: ['dave', 'bob'],
  channel: '#web-team',
});
