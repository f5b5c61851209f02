/** deploy: the app's workloads on the new environment, until the rollout is healthy. */
import type { Step } from './step.js';

export const deploy: Step = {
  name: 'deploy',
  async run({ store, provider, deploy: d, app, ctx }) {
    const { endpoint } = await provider.workloads.deploy({ ctx, cluster: d.toCluster! });
    return {
      detail: `${app.pods.replicas} replicas healthy on ${d.toCluster}; serving at ${endpoint}`,
      commit: () => {
        store.deploys.patch(d.id, { endpoint });
        if (d.toEnvId) store.environments.serving(d.toEnvId, { endpoint });
      },
    };
  },
};
