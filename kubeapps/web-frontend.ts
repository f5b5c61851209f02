import { defineKubeApp } from './define.js';

/** The public web front end: Graviton (arm64) spot nodes, rolling updates by default. */
export default defineKubeApp({
  name: 'web-frontend',
  description: 'Server-rendered web front end',
  image: { repository: 'web-frontend' },
  hardware: { arch: 'arm64', instanceTypes: ['m7g.large', 'c7g.large'], spot: true, minNodes: 2, maxNodes: 10 },
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
  service: { port: 443, targetPort: 3000, loadBalancer: 'external', healthCheckPath: '/health' },
  strategy: 'rolling',
  owners: ['dave', 'U0DAVE001'],
  deployers: ['alice', 'carol', '@web-team'],
  approvers: ['dave', 'bob'],
  channel: '#web-team',
});
