/**
 * restart: a rolling restart of the live pods, as `kubectl rollout restart`
 * does it (the pod template's restartedAt annotation), waited for like a rolling
 * update. The annotation it replaces is appended to the undo log BEFORE the
 * change: a restart whose rollout fails puts the template back as it was (its
 * pods roll back to it), and a resumed restart sets the same value again.
 */
import type { UndoEntry } from '../../store/index.js';
import { InfraError } from '../errors.js';
import { RESTARTED_AT, restartStamp } from '../operations.js';
import { clusterRef } from '../specs.js';
import type { Step } from './step.js';

type RestartEntry = Extract<UndoEntry, { kind: 'restart' }>;

export const restart: Step = {
  name: 'restart',
  timeout: 'deploy',
  async run({ store, provider, clock, deploy: d, app, ctx }) {
    const env = d.toEnvId ? store.environments.get(d.toEnvId) : undefined;
    if (!env) throw new InfraError('not_found', `${app.name} has no live environment to restart`);
    const cluster = clusterRef(app, env.name);
    let entry = store.undo.forDeploy(d.id).find((u) => u.kind === 'restart')?.data as RestartEntry | undefined;
    if (!entry) {
      const running = await provider.workloads.current({ cluster, app: app.name, signal: ctx.signal });
      if (!running) throw new InfraError('not_found', `deployment ${app.name} does not exist on ${env.name}: nothing to restart`);
      // To the second, as kubectl writes it; a restart within the same second as the last one would change
      // nothing (the same template: no rollout), so it takes the next second.
      let at = clock.now();
      while (restartStamp(at) === running.restartedAt) at += 1000;
      const logged: RestartEntry = { kind: 'restart', envId: env.id, cluster: env.name, from: running.restartedAt, to: restartStamp(at) };
      store.tx(() => store.undo.append(d.id, logged));
      entry = logged;
    }
    const { endpoint } = await provider.workloads.restart({ ctx, cluster, restartedAt: entry.to });
    return {
      detail: `every pod of ${app.name} on ${env.name} replaced (${RESTARTED_AT}=${entry.to})`,
      commit: () => store.environments.serving(env.id, { endpoint }),
    };
  },
};
