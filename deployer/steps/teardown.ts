/**
 * teardown: after the drain, delete the environment that retired at cutover —
 * whatever deploy built it, read from ownership (environments), never from the
 * deploy that ran last. Traffic is already on the new environment, so a
 * teardown that cannot finish does not fail the deploy: what is left stays
 * `retiring` and `gc` lists it.
 */
import { destroyEnvironment } from '../destroy.js';
import { dnsRecord, placementOf } from '../specs.js';
import { formatDuration } from '../time.js';
import type { Step, StepEnv } from './step.js';


export const teardown: Step = {
  name: 'teardown',
  async run(env: StepEnv) {
    const { store, provider, clock, deploy: d, app, ctx } = env;
    const retiring = d.fromEnvId ? store.environments.get(d.fromEnvId) : undefined;
    if (!retiring || retiring.id === d.toEnvId || retiring.state === 'retired' || retiring.state === 'discarded') {
      return { detail: 'no previous cluster', skipped: true };
    }
    const record = dnsRecord(app);
    const drain = provider.drainMs({ record });
    ctx.progress(`draining ${retiring.name} for ${formatDuration(drain)} (≥ DNS TTL ${record.ttlSeconds}s) before teardown`);
    await clock.sleep(drain, ctx.signal);
    const left = await destroyEnvironment(
      { store, provider, clock, attempts: env.teardownAttempts },
      { envId: retiring.id, app: app.name, placement: placementOf(app), eventsTo: d.id, progress: ctx.progress, signal: ctx.signal },
    );
    if (left) {
      ctx.progress(`${left} resource(s) of ${retiring.name} could not be deleted; \`kubecontrol gc\` will retry`, { left });
      return { detail: `old cluster ${retiring.name} partly torn down (${left} left)` };
    }
    return { detail: `old cluster ${retiring.name} torn down` };
  },
};
