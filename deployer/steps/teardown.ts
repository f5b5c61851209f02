/**
 * teardown: after the drain, delete the environment that retired at cutover —
 * whatever deploy built it, read from ownership (environments), never from the
 * deploy that ran last. Traffic is already on the new environment, so a
 * teardown that cannot finish does not fail the deploy: what is left stays
 * `retiring` and `gc` lists it.
 *
 * The drain's deadline is recorded (in the event that announces it) when the
 * drain starts: a teardown resumed after a restart waits only what is left of
 * it, not a whole new drain.
 */
import type { Store } from '../../store/index.js';
import { destroyEnvironment } from '../destroy.js';
import { InfraError } from '../errors.js';
import type { DnsRecord, Provider } from '../ports.js';
import { dnsRecord, placementOf } from '../specs.js';
import { formatDuration } from '../time.js';
import type { Step, StepEnv } from './step.js';

/**
 * A drain as people read it, comparing like with like: on a provider that simulates time
 * (`Provider.timeScale`) the simulated duration it stands for, with the real one, against the
 * record's TTL in the same simulated time — `2m 00s (sandbox time; 600ms real)`; on a real
 * provider the real duration against the real TTL. `ttl` says how it compares with the record's
 * TTL; the local provider's switch is not that record (an ExternalName Service), so it has none.
 */
export function describeDrain(provider: Pick<Provider, 'name' | 'timeScale'>, drainMs: number, record: DnsRecord): { duration: string; ttl?: string } {
  const scale = provider.timeScale;
  const scaled = scale !== undefined && scale > 0 && scale !== 1;
  const worldMs = scaled ? drainMs / scale : drainMs;
  const duration = scaled ? `${formatDuration(worldMs)} (${provider.name} time; ${formatDuration(drainMs)} real)` : formatDuration(drainMs);
  if (provider.name === 'local') return { duration };
  const ttl = worldMs >= record.ttlSeconds * 1000 ? `at least the DNS TTL of ${record.ttlSeconds}s` : `shorter than the DNS TTL of ${record.ttlSeconds}s`;
  return { duration, ttl };
}

/** The `data` key of the event that records when the drain of a deploy's teardown ends (ms since the epoch). */
export const DRAIN_UNTIL = 'drainUntil';

/** When the drain of deploy `deployId`'s teardown ends, if one was started (read back after a restart). */
export function drainDeadline(store: Store, deployId: number): number | undefined {
  let until: number | undefined;
  for (let after = 0; ; ) {
    const page = store.events.after(deployId, after, 1000);
    for (const e of page) {
      const v = e.step === 'teardown' ? e.data?.[DRAIN_UNTIL] : undefined;
      if (typeof v === 'number') until = v;
    }
    if (page.length < 1000) return until;
    after = page[page.length - 1]!.id;
  }
}

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
    // Like with like: the sandbox's drain is scaled like every duration of its world, its TTL is not
    // (describeDrain); the local provider's switch is not this record.
    const said = describeDrain(provider, drain, record);
    const recorded = drainDeadline(store, d.id);
    if (recorded === undefined) {
      const until = clock.now() + drain;
      ctx.progress(`draining ${retiring.name} for ${said.duration} before teardown${said.ttl ? ` — ${said.ttl}` : ''}`, { [DRAIN_UNTIL]: until, drainMs: drain });
      await clock.sleep(drain, ctx.signal);
    } else {
      const left = Math.max(0, recorded - clock.now());
      ctx.progress(
        left > 0
          ? `resumed: the drain of ${retiring.name} started before the restart; waiting the ${formatDuration(left)} left of it`
          : `resumed: the drain of ${retiring.name} ended during the restart; tearing down now`,
        { drainLeftMs: left },
      );
      if (left > 0) await clock.sleep(left, ctx.signal);
    }
    const left = await destroyEnvironment(
      { store, provider, clock, attempts: env.teardownAttempts },
      { envId: retiring.id, app: app.name, placement: placementOf(app), eventsTo: d.id, progress: ctx.progress, signal: ctx.signal },
    );
    if (left) {
      // Not a success: the step fails (the phase tolerates it, traffic has moved), so every surface shows it as a problem.
      throw new InfraError('provider_failed', `${left} resource(s) of the old cluster ${retiring.name} could not be deleted; \`kubecontrol gc\` lists and retries them`);
    }
    return { detail: `old cluster ${retiring.name} torn down` };
  },
};
