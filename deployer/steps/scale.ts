/**
 * scale: the live environment's replicas and node bounds, in place. What it ran
 * with before is appended to the undo log BEFORE anything changes (a failure, a
 * cancel or a crash puts it back); room comes first (more nodes before more
 * pods, fewer pods before fewer nodes). Its success records the new values on
 * the environment, with this deploy as the scale that set them.
 */
import type { UndoEntry } from '../../store/index.js';
import { InfraError } from '../errors.js';
import { envScale, scaledTo, scaleWords } from '../operations.js';
import type { Capacity } from '../ports.js';
import { clusterRef, clusterSpec } from '../specs.js';
import type { Step } from './step.js';

type ScaleEntry = Extract<UndoEntry, { kind: 'scale' }>;

export const scale: Step = {
  name: 'scale',
  timeout: 'deploy',
  async run({ store, provider, deploy: d, app, ctx }) {
    const env = d.toEnvId ? store.environments.get(d.toEnvId) : undefined;
    if (!env) throw new InfraError('not_found', `${app.name} has no live environment to scale`);
    const cluster = clusterRef(app, env.name);
    // A resumed step goes on from what it logged before the change.
    let entry = store.undo.forDeploy(d.id).find((u) => u.kind === 'scale')?.data as ScaleEntry | undefined;
    if (!entry) {
      const recorded = envScale(env, app);
      // The replicas as they run (someone may have changed them by hand), else as recorded.
      const running = await provider.workloads.current({ cluster, app: app.name, signal: ctx.signal });
      if (running && running.replicas !== recorded.replicas) {
        ctx.progress(`${app.name} runs ${running.replicas} replicas on ${env.name}, not the ${recorded.replicas} kubecontrol recorded: scaling from what runs`);
      }
      const from = { ...recorded, replicas: running?.replicas ?? recorded.replicas };
      const to = scaledTo(from, { replicas: d.replicas ?? undefined, minNodes: d.minNodes ?? undefined, maxNodes: d.maxNodes ?? undefined });
      const logged: ScaleEntry = { kind: 'scale', envId: env.id, cluster: env.name, from, to, scaledBy: env.scaledBy };
      store.tx(() => store.undo.append(d.id, logged));
      entry = logged;
    }
    const { from, to } = entry;
    const nodes = to.minNodes !== from.minNodes || to.maxNodes !== from.maxNodes;
    const replicas = to.replicas !== from.replicas;
    ctx.progress(`scaling ${app.name} on ${env.name}: ${scaleWords(from)} → ${scaleWords(to)}`, { from, to });
    const resize = async (): Promise<void> => {
      if (!nodes) return;
      if (!provider.clusters.resize) throw new InfraError('misconfigured', `the ${provider.name} provider cannot change node bounds`);
      const capacity = { ...clusterSpec(app, env.name).capacity, minNodes: to.minNodes!, maxNodes: to.maxNodes! } as Capacity;
      await provider.clusters.resize({ ctx, cluster, capacity });
    };
    let endpoint: string | undefined;
    const pods = async (): Promise<void> => {
      if (replicas) endpoint = (await provider.workloads.scale({ ctx, cluster, replicas: to.replicas! })).endpoint;
    };
    if ((to.maxNodes ?? 0) >= (from.maxNodes ?? 0)) {
      await resize();
      await pods();
    } else {
      await pods();
      await resize();
    }
    return {
      detail: nodes || replicas ? `${app.name} on ${env.name}: ${scaleWords(from)} → ${scaleWords(to)}` : `${app.name} on ${env.name} already runs ${scaleWords(to)}`,
      commit: () => {
        store.environments.scaled(env.id, to, d.id);
        if (endpoint) store.environments.serving(env.id, { endpoint });
      },
    };
  },
};
