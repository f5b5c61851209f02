/** Company defaults as code: `withDefaults` from the package `kubecontrol`, as a KubeApps repository imports it. */
import { describe, expect, it } from '@jest/globals';
import { KubeAppError, withDefaults } from 'kubecontrol';

const defineApp = withDefaults({
  owners: ['alice'],
  approvers: ['@platform'],
  hardware: { spot: true, maxNodes: 8 },
  dns: { zone: 'corp.example' },
  refresh: { timezone: 'Europe/Dublin' },
});
const pods = { containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] };

describe('withDefaults', () => {
  it('puts the company defaults under the app, merging groups field by field', () => {
    const app = defineApp({ name: 'orders', image: { repository: 'orders' }, pods, hardware: { maxNodes: 3, minNodes: 1 } });
    expect(app.owners).toEqual(['alice']);
    expect(app.approvers).toEqual(['@platform']);
    expect(app.hardware).toEqual(expect.objectContaining({ spot: true, maxNodes: 3, minNodes: 1 }));
    expect(app.dns.name).toBe('orders.corp.example');
    // A default refresh time zone never schedules a refresh by itself.
    expect(app.refresh).toBeUndefined();
  });

  it('lets the app win, replaces lists whole, and applies refresh defaults to an app that has one', () => {
    const app = defineApp({ name: 'orders', image: { repository: 'orders' }, pods, owners: ['dave'], approvers: undefined, refresh: { schedule: '0 3 * * *' } });
    expect(app.owners).toEqual(['dave']);
    // undefined is unset: the default stays.
    expect(app.approvers).toEqual(['@platform']);
    expect(app.refresh).toEqual(expect.objectContaining({ schedule: '0 3 * * *', timezone: 'Europe/Dublin' }));
  });

  it('reports a problem against the app that has it, defaults included', () => {
    const bad = withDefaults({ owners: ['alice'], hardware: { minNodes: 5 } });
    expect(() => bad({ name: 'orders', image: { repository: 'orders' }, pods, hardware: { maxNodes: 2 } })).toThrow(KubeAppError);
    try {
      bad({ name: 'orders', image: { repository: 'orders' }, pods, hardware: { maxNodes: 2 } });
    } catch (err) {
      expect((err as KubeAppError).app).toBe('orders');
      expect((err as KubeAppError).problems.join('\n')).toMatch(/minNodes.*5.*maxNodes.*2|maxNodes.*2.*minNodes.*5/);
    }
  });
});
