/** loadAwsSettings: the aws provider's configuration, validated at start with one line per problem; and placement over it. */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { placement, withRegion } from '../deployer/aws/placement.js';
import { placementOf } from '../deployer/specs.js';
import { loadAwsSettings } from '../deployer/aws/settings.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { ACCOUNT_ID, AWS_ENV, REGISTRY, SETTINGS, awsSettings, withAws } from './fakes/aws-apps.js';

const problems = (env: NodeJS.ProcessEnv): readonly string[] => {
  const r = loadAwsSettings(env);
  if (r.ok) throw new Error('expected problems');
  return r.problems;
};

describe('loadAwsSettings', () => {
  it('reads a complete environment, with the defaults of what is optional', () => {
    expect(loadAwsSettings(AWS_ENV)).toEqual({
      ok: true,
      settings: {
        region: 'eu-west-1',
        subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
        securityGroupIds: ['sg-0123abcd'],
        clusterRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
        nodeRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node`,
        podExecutionRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-fargate`,
        fargateSubnetIds: ['subnet-9f8e7d6c', 'subnet-5b4a3928'],
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        ecrRegistry: REGISTRY,
        buildCommand: [],
        maxAttempts: 8,
        retryMode: 'adaptive',
      },
    });
    const more = awsSettings({
      AWS_REGION: '',
      AWS_DEFAULT_REGION: 'us-west-2',
      KUBECONTROL_HOSTED_ZONE_ID: '/hostedzone/Z9ZONE',
      KUBECONTROL_CODEBUILD_PROJECT: 'all-apps',
      KUBECONTROL_BUILD_COMMAND: 'make, image',
      AWS_MAX_ATTEMPTS: '3',
      AWS_RETRY_MODE: 'standard',
    });
    // Optional: no Fargate subnets (only Fargate apps need them), no access role (the creator's access only).
    expect(awsSettings({ KUBECONTROL_FARGATE_SUBNET_IDS: '' })).toMatchObject({ fargateSubnetIds: [] });
    expect(awsSettings({ KUBECONTROL_ACCESS_ROLE_ARN: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-access` }).accessRoleArn).toBe(`arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-access`);
    // No observability role: no agent on new clusters; set, the role the CloudWatch add-on runs as.
    expect(awsSettings().observabilityRoleArn).toBeUndefined();
    expect(awsSettings({ KUBECONTROL_OBSERVABILITY_ROLE_ARN: ` arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-observability ` }).observabilityRoleArn).toBe(
      `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-observability`,
    );
    expect(awsSettings({ KUBECONTROL_OBSERVABILITY_ROLE_ARN: '' }).observabilityRoleArn).toBeUndefined();
    expect(more).toMatchObject({ region: 'us-west-2', hostedZoneId: 'Z9ZONE', codeBuildProject: 'all-apps', buildCommand: ['make', 'image'], maxAttempts: 3, retryMode: 'standard' });
  });

  it('names every missing required setting, one line each', () => {
    expect(problems({})).toEqual([
      'AWS_REGION: required for KUBECONTROL_PROVIDER=aws: the region new clusters go to, e.g. eu-west-1 (AWS_DEFAULT_REGION works too)',
      'KUBECONTROL_SUBNET_IDS: required for KUBECONTROL_PROVIDER=aws: comma-separated subnet ids in at least two availability zones',
      'KUBECONTROL_CLUSTER_ROLE_ARN: required for KUBECONTROL_PROVIDER=aws: the IAM role EKS clusters run as',
      'KUBECONTROL_NODE_ROLE_ARN: required for KUBECONTROL_PROVIDER=aws: the IAM role of managed nodes',
      "KUBECONTROL_HOSTED_ZONE_ID: required for KUBECONTROL_PROVIDER=aws: the Route 53 hosted zone id of the apps' DNS zone",
      'KUBECONTROL_ECR_REGISTRY: required for KUBECONTROL_PROVIDER=aws: the ECR registry host, <account>.dkr.ecr.<region>.amazonaws.com',
    ]);
  });

  it.each([
    [{ KUBECONTROL_SUBNET_IDS: 'subnet-1' }, 'KUBECONTROL_SUBNET_IDS: needs at least two subnets in different zones (got: subnet-1)'],
    [{ KUBECONTROL_SUBNET_IDS: 'subnet-1,subnet-1' }, 'KUBECONTROL_SUBNET_IDS: needs at least two subnets in different zones (got: subnet-1,subnet-1)'],
    [{ KUBECONTROL_SUBNET_IDS: 'subnet-1,vpc-2' }, 'KUBECONTROL_SUBNET_IDS: must be comma-separated subnet ids like subnet-0a1b2c3d (got: subnet-1,vpc-2)'],
    [{ AWS_REGION: 'Ireland' }, 'AWS_REGION: must be an AWS region like eu-west-1 (got: Ireland)'],
    [{ KUBECONTROL_SECURITY_GROUP_IDS: 'default' }, 'KUBECONTROL_SECURITY_GROUP_IDS: must be comma-separated security group ids like sg-0123abcd (got: default)'],
    [{ KUBECONTROL_CLUSTER_ROLE_ARN: 'kubecontrol-cluster' }, 'KUBECONTROL_CLUSTER_ROLE_ARN: must be an IAM role ARN like arn:aws:iam::123456789012:role/name (got: kubecontrol-cluster)'],
    [{ KUBECONTROL_POD_EXECUTION_ROLE_ARN: 'arn:aws:iam::1:user/x' }, 'KUBECONTROL_POD_EXECUTION_ROLE_ARN: must be an IAM role ARN like arn:aws:iam::123456789012:role/name (got: arn:aws:iam::1:user/x)'],
    [{ KUBECONTROL_HOSTED_ZONE_ID: 'example.com' }, 'KUBECONTROL_HOSTED_ZONE_ID: must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ (got: example.com)'],
    [
      { KUBECONTROL_ECR_REGISTRY: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/' },
      'KUBECONTROL_ECR_REGISTRY: must be an ECR registry host like 123456789012.dkr.ecr.eu-west-1.amazonaws.com (no scheme, no path) (got: https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/)',
    ],
    [{ AWS_MAX_ATTEMPTS: 'many' }, 'AWS_MAX_ATTEMPTS: must be a whole number of attempts (got: many)'],
    [{ AWS_RETRY_MODE: 'legacy' }, "AWS_RETRY_MODE: must be 'standard' or 'adaptive' (got: legacy)"],
    [{ KUBECONTROL_DNS_ZONE: 'corp.example' }, 'KUBECONTROL_DNS_ZONE: no longer read: the DNS zone is a KubeApp setting (dns.zone, or DEFAULTS.dnsZone in kubeapps/defaults.ts) (got: corp.example)'],
    [
      { KUBECONTROL_KUBERNETES_VERSION: '1.33' },
      'KUBECONTROL_KUBERNETES_VERSION: no longer read: the Kubernetes version is a KubeApp setting (aws.kubernetesVersion; unset: the newest version EKS has in standard support) (got: 1.33)',
    ],
    [{ KUBECONTROL_FARGATE_SUBNET_IDS: 'subnet-1,sg-2' }, 'KUBECONTROL_FARGATE_SUBNET_IDS: must be comma-separated private subnet ids like subnet-0a1b2c3d (got: subnet-1,sg-2)'],
    [{ KUBECONTROL_ACCESS_ROLE_ARN: 'kubecontrol-access' }, 'KUBECONTROL_ACCESS_ROLE_ARN: must be an IAM role ARN like arn:aws:iam::123456789012:role/name (got: kubecontrol-access)'],
    [
      { KUBECONTROL_OBSERVABILITY_ROLE_ARN: 'arn:aws:iam::123456789012:policy/CloudWatchAgentServerPolicy' },
      'KUBECONTROL_OBSERVABILITY_ROLE_ARN: must be an IAM role ARN like arn:aws:iam::123456789012:role/name (got: arn:aws:iam::123456789012:policy/CloudWatchAgentServerPolicy)',
    ],
  ])('rejects %j with one line naming the variable and the value', (extra, line) => {
    expect(problems({ ...AWS_ENV, ...extra })).toEqual([line]);
  });

  it('no file of the aws provider reads process.env', () => {
    const dir = new URL('../deployer/aws/', import.meta.url).pathname;
    const readers = readdirSync(dir).filter((f) => f.endsWith('.ts') && /process\.env\b/.test(readFileSync(join(dir, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')));
    expect(readers).toEqual([]);
  });
});

describe('placement', () => {
  it("is the app's own value, else the settings'", () => {
    expect(placement(placementOf(searchSvc), SETTINGS)).toEqual({
      region: 'eu-west-1',
      subnetIds: SETTINGS.subnetIds,
      securityGroupIds: ['sg-0123abcd'],
      clusterRoleArn: SETTINGS.clusterRoleArn,
      nodeRoleArn: SETTINGS.nodeRoleArn,
      podExecutionRoleArn: SETTINGS.podExecutionRoleArn,
      fargateSubnetIds: SETTINGS.fargateSubnetIds,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      ecrRegistry: REGISTRY,
      builder: 'none',
      codeBuildProject: undefined,
      buildCommand: [],
    });
    const own = withAws(searchSvc, { region: 'us-east-1', subnetIds: ['subnet-9'], buildCommand: ['make'] });
    expect(placement(placementOf(own), awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' }))).toMatchObject({
      region: 'us-east-1',
      subnetIds: ['subnet-9'],
      builder: 'command',
      codeBuildProject: 'all-apps',
      buildCommand: ['make'],
    });
  });

  it("resolves the builder from the settings when the app names none (a KubeApp-level default is not the app's choice)", () => {
    expect(placementOf(searchSvc)).toBeUndefined();
    expect(placement(placementOf(searchSvc), awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' }))).toMatchObject({ builder: 'codebuild', codeBuildProject: 'all-apps' });
    expect(placement(placementOf(withAws(searchSvc, { builder: 'none' })), awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' }))).toMatchObject({ builder: 'none' });
  });

  it('fills in the region for the Kubernetes adapter, idempotently', () => {
    const placed = withRegion(placementOf(searchSvc), SETTINGS);
    expect(placed).toEqual({ region: 'eu-west-1' });
    expect(withRegion(placed, awsSettings({ AWS_REGION: 'us-west-2' }))).toEqual(placed);
    expect(withRegion(placementOf(withAws(searchSvc, { region: 'ap-south-1' })), SETTINGS)).toEqual({ region: 'ap-south-1' });
    expect(searchSvc.aws.region).toBe('us-east-1');
  });
});
