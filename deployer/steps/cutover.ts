/**
 * cutover: health check through the new load balancer, then DNS moves to it,
 * then ownership of the app's traffic passes to the new environment.
 *
 * The DNS undo entry ("pointed from X to Y") is appended BEFORE the record
 * changes: a crash right after the change must still point it back. Its undo
 * is idempotent (only when the record still points at Y). The ownership
 * handoff is recorded, with its own undo entry, in the transaction that
 * records the step's success.
 *
 * A cutover resumed after a restart runs pointRecord again even when the
 * record already points at the new target: the change may not have been in
 * sync when the process stopped, and pointRecord waits for that (the port's
 * promise: idempotent, and it returns only once the change is in sync).
 */
import { clusterRef, dnsRecord, healthCheck } from '../specs.js';
import type { Step } from './step.js';

export const cutover: Step = {
  name: 'cutover',
  async run({ store, provider, deploy: d, app, ctx }) {
    const endpoint = d.endpoint!;
    const record = dnsRecord(app);
    await provider.dns.checkHealth({ ...healthCheck(app, d.toCluster ? clusterRef(app, d.toCluster) : undefined), target: endpoint, progress: ctx.progress, signal: ctx.signal });
    const before = await provider.dns.current({ record, signal: ctx.signal });
    const logged = store.undo.forDeploy(d.id).some((u) => u.kind === 'dns');
    if (!logged && before !== endpoint) {
      store.tx(() => {
        store.undo.append(d.id, { kind: 'dns', name: record.name, from: before ?? null, to: endpoint });
        if (before !== undefined) store.deploys.patch(d.id, { previousTarget: before });
      });
    }
    if (logged && before === endpoint) ctx.progress(`resumed: ${record.name} already points at ${endpoint}; making sure the change is in sync`);
    const { previous } = await provider.dns.pointRecord({ record, target: endpoint, progress: ctx.progress, signal: ctx.signal });
    return {
      detail: `${record.name} → ${endpoint}${previous && previous !== endpoint ? ` (was ${previous})` : ''}`,
      commit: () => handOver(store, d.id, d.app, d.toEnvId!),
    };
  },
};

/**
 * The new environment takes the app's traffic: the live one (if any) starts
 * retiring, owed to this deploy's teardown. Recorded with its undo entry.
 */
export function handOver(store: Parameters<Step['run']>[0]['store'], deployId: number, app: string, to: number): void {
  const live = store.environments.live(app);
  if (live?.id === to) return; // a resumed cutover that already handed over
  if (live) store.environments.setState(live.id, 'retiring', { retiringBy: deployId });
  store.environments.setState(to, 'live');
  store.undo.append(deployId, { kind: 'ownership', app, from: live?.id ?? null, to });
  const name = (id: number): string => store.environments.get(id)?.name ?? `#${id}`;
  store.events.append({
    deployId,
    kind: 'progress',
    step: 'cutover',
    message: `ownership of ${app} handed ${live ? `from ${live.name} ` : ''}to ${name(to)}`,
    data: { ownership: { from: live?.id ?? null, to } },
  });
}
