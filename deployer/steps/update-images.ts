/**
 * A rolling update's deploy step: new images inside the live environment. It
 * owns nothing new; what it changes is undone by putting the previous images
 * back, an entry appended BEFORE the change (a crash mid-rollout must undo it too).
 */
import { appImages, clusterRef } from '../specs.js';
import type { Step } from './step.js';

export const updateImages: Step = {
  name: 'deploy',
  async run({ store, provider, deploy: d, app, ctx }) {
    const env = d.toEnvId ? store.environments.get(d.toEnvId) : undefined;
    const from = env?.version ?? d.fromVersion;
    if (env && from && !store.undo.forDeploy(d.id).some((u) => u.kind === 'images')) {
      store.tx(() => store.undo.append(d.id, { kind: 'images', envId: env.id, cluster: env.name, fromVersion: from, toVersion: d.version }));
    }
    const { endpoint } = await provider.workloads.updateImages({ ctx, cluster: clusterRef(app, d.toCluster!), images: appImages(app, d.version) });
    return {
      detail: `images updated to ${d.version} on ${d.toCluster}`,
      commit: () => {
        store.deploys.patch(d.id, { endpoint });
        if (env) store.environments.serving(env.id, { endpoint });
      },
    };
  },
};
