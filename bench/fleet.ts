/**
 * Generated KubeApps for the benchmarks: `n` apps named app-00…, each with
 * its own channel, carol and U0CAROL01 as deployers, bob as approver (and
 * self-approval allowed so a bench can approve as the requester's colleague).
 */
import { defineKubeApp, type KubeApp } from '../kubeapps/index.js';

export const PEOPLE = ['carol', 'U0CAROL01', 'alice', 'bob', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory-not'] as const;

export function appName(i: number): string {
  return `app-${String(i).padStart(2, '0')}`;
}

export function fleetApps(n: number, opts: { strategy?: 'blue-green' | 'rolling'; capacity?: 'auto' | 'nodes' } = {}): KubeApp[] {
  return Array.from({ length: n }, (_, i) =>
    defineKubeApp({
      name: appName(i),
      image: { repository: appName(i) },
      pods: { replicas: 2, containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] },
      strategy: opts.strategy ?? 'blue-green',
      owners: ['alice'],
      deployers: ['carol', 'U0CAROL01'],
      approvers: ['bob', 'alice'],
      channel: `#team-${i}`,
      ...(opts.capacity === 'nodes' ? { hardware: { capacity: 'nodes' as const } } : {}),
    }),
  );
}
