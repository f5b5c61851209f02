/** The example KubeApps with the account settings an installation provides through its environment. */
import type { KubeApp } from '../../kubeapps/index.js';

export const ACCOUNT_ID = '123456789012';
export const REGISTRY = `${ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com`;

/** `app` with region, network, roles, zone and registry set (as KUBECONTROL_* would). */
export function withAws(app: KubeApp, aws: Partial<KubeApp['aws']> = {}): KubeApp {
  return {
    ...app,
    aws: {
      ...app.aws,
      region: 'eu-west-1',
      subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
      securityGroupIds: ['sg-0123abcd'],
      clusterRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
      nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node`,
      podExecutionRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-fargate`,
      kubernetesVersion: '1.31',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      ecrRegistry: REGISTRY,
      ...aws,
    },
  };
}
