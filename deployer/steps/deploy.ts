/** deploy: the app's workloads on the new environment, until the rollout is healthy. */
import { clusterRef, workloadSpec } from '../specs.js';
import type { Step } from './step.js';

export const deploy: Step = {
  name: 'deploy',
  async run({ store, provider, deploy: d, app, ctx }) {
    const { endpoint } = await provider.workloads.deploy({ ctx, cluster: clusterRef(app, d.toCluster!), workload: workloadSpec(app, d.version) });
    return {
      detail: `${app.pods.replicas} replicas healthy on ${d.toCluster}; serving at ${endpoint}`,
      commit: () => {
        store.deploys.patch(d.id, { endpoint });
        if (d.toEnvId) store.environments.serving(d.toEnvId, { endpoint });
      },
    };
  },
};
