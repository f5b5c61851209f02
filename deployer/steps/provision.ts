/**
 * provision: the new environment's cluster and capacity. The environment and
 * its undo entry were recorded when the deploy started; every resource the
 * adapter creates goes through the ledger, which appends its undo entry before
 * the resource exists. An upgrade names the Kubernetes version its cluster gets;
 * the version the cluster has is recorded on the environment (`status` shows it).
 */
import { clusterSpec } from '../specs.js';
import type { Step } from './step.js';

export const provision: Step = {
  name: 'provision',
  async run({ store, provider, deploy, app, ctx }) {
    const spec = clusterSpec(app, deploy.toCluster!);
    const cluster = await provider.clusters.provision({ ctx, cluster: deploy.kubernetesVersion ? { ...spec, kubernetesVersion: deploy.kubernetesVersion } : spec });
    const version = cluster.kubernetesVersion;
    return {
      detail: `cluster ${cluster.name} ${cluster.status}${version ? ` (Kubernetes ${version})` : ''}`,
      commit: () => {
        if (version && deploy.toEnvId) store.environments.kubernetes(deploy.toEnvId, version);
      },
    };
  },
};
