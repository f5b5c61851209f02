/**
 * provision: the new environment's cluster and capacity. The environment and
 * its undo entry were recorded when the deploy started; every resource the
 * adapter creates goes through the ledger, which appends its undo entry before
 * the resource exists.
 */
import { clusterSpec } from '../specs.js';
import type { Step } from './step.js';

export const provision: Step = {
  name: 'provision',
  async run({ provider, deploy, app, ctx }) {
    const cluster = await provider.clusters.provision({ ctx, cluster: clusterSpec(app, deploy.toCluster!) });
    return { detail: `cluster ${cluster.name} ${cluster.status}` };
  },
};
