/**
 * `kubecontrol aws check` against a fake account (real SDK clients, mocked at
 * `send`): a healthy account passes; each prerequisite broken in turn gives
 * exactly its ✗ line, with what to do, and the check fails. Then once through
 * the real commander program in-process (exit codes, --json), and the IAM
 * facts: kubecontrol's policy lists every SDK command the adapters import.
 */
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { CommanderError } from 'commander';
import { buildProgram } from '../cli/program.js';
import type { LoadResult } from '../kubeapps/index.js';
import { readdirSync, readFileSync } from 'node:fs';
import { checkAws, missingTrustActions, renderReport, trustsPrincipal, type AwsCheckReport, type CheckedApp } from '../deployer/aws/check.js';
import { FARGATE_LOGGING_ACTIONS, KUBECONTROL_ACTIONS, PREFLIGHT_ACTIONS, ROLES, SERVICE_LINKED_ROLES, allActions, kubecontrolPolicy } from '../deployer/aws/iam.js';
import { ACCOUNT, FakeAwsAccount, REGION, ZONE_ID, exampleApps } from './fakes/aws-prereqs.js';

const TODAY = Date.parse('2026-11-30T12:00:00Z');
let fake: FakeAwsAccount;
let env: NodeJS.ProcessEnv;
/** The apps of one test, which a test may change. */
let apps: { -readonly [K in keyof CheckedApp]: CheckedApp[K] }[];

beforeEach(() => {
  fake = new FakeAwsAccount(new Date(TODAY));
  env = fake.env();
  apps = exampleApps();
});
afterAll(() => fake.restore());

const run = (extra: Partial<Parameters<typeof checkAws>[0]> = {}): Promise<AwsCheckReport> =>
  checkAws({ env, apps, now: () => TODAY, canRun: (p) => p === 'docker', ...extra });
const failed = (r: AwsCheckReport) => r.lines.filter((l) => l.status === 'fail');
const failedIds = (r: AwsCheckReport) => failed(r).map((l) => l.check);
const line = (r: AwsCheckReport, check: string) => r.lines.find((l) => l.check === check);
const app = (name: string) => apps.find((a) => a.app === name)!;

describe('aws check: a healthy account', () => {
  it('passes every check: one line each, warnings allowed, nothing failed', async () => {
    const r = await run();
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines.map((l) => `${l.status} ${l.check}`)).toEqual([
      'ok settings',
      'ok credentials',
      `ok region:${REGION}`,
      'ok role:cluster',
      'ok role:node',
      'ok role:pod-execution',
      'ok role:observability',
      'ok fargate-logging:cache-worker',
      'ok role:access',
      'ok permissions',
      'ok service-linked-roles',
      'ok spot-service-linked-role',
      'ok subnets',
      'ok load-balancer-subnets:internet-facing',
      'ok load-balancer-subnets:internal',
      'ok fargate-subnets',
      'ok hosted-zone',
      'ok registry',
      'ok version:search-svc',
      'ok version:web-frontend',
      'ok version:cache-worker',
      'ok builder',
      'ok pod-role:search-svc',
      'info certificate:web-frontend',
    ]);
    expect(line(r, 'credentials')!.message).toBe(`credentials work: account ${ACCOUNT}, identity arn:aws:sts::${ACCOUNT}:assumed-role/kubecontrol/cli`);
    // The simulator is asked for the caller's role, never its session (and for the Fargate log router's role).
    const sources = fake.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input.PolicySourceArn);
    expect(new Set(sources)).toEqual(new Set([`arn:aws:iam::${ACCOUNT}:role/kubecontrol`, `arn:aws:iam::${ACCOUNT}:role/kubecontrol-fargate-pods`]));
    expect(line(r, 'version:search-svc')!.message).toBe('search-svc: Kubernetes 1.35 (the newest in standard support, until 2027-03-27)');
    expect(line(r, 'version:web-frontend')!.message).toBe('web-frontend: Kubernetes 1.35 (standard support until 2027-03-27)');
    expect(line(r, 'service-linked-roles')!.message).toContain('AWSServiceRoleForAmazonEKSNodegroup, AWSServiceRoleForAmazonEKSForFargate will be created by EKS on first use');
    expect(renderReport(r)).toMatch(/All checks passed: a deploy can work\.$/);
  });

  it('never prints a secret: credentials in the environment are not in the report', async () => {
    env = { ...env, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY123456', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', KUBECONTROL_TOKEN: 'tok-secret-value' };
    const text = JSON.stringify(await run()) + renderReport(await run());
    for (const secret of ['AKIAEXAMPLEKEY123456', 'wJalrXUtnFEMI', 'tok-secret-value']) expect(text).not.toContain(secret);
  });

  it('warns (and still passes) when a version leaves standard support within 60 days, runs on extended support, or no access role is set', async () => {
    app('web-frontend').cluster = { ...app('web-frontend').cluster, kubernetesVersion: '1.34' };
    app('cache-worker').cluster = { ...app('cache-worker').cluster, kubernetesVersion: '1.33', supportType: 'EXTENDED' };
    delete env.KUBECONTROL_ACCESS_ROLE_ARN;
    const r = await run();
    expect(r.ok).toBe(true);
    expect(r.lines.filter((l) => l.status === 'warn').map((l) => [l.check, l.message])).toEqual([
      ['role:access', 'no stable access role: each cluster is reachable only by the identity that created it'],
      ['version:web-frontend', expect.stringMatching(/^web-frontend: aws\.kubernetesVersion 1\.34 leaves standard support on 2026-12-02 \(in 3 days; /)],
      ['version:cache-worker', expect.stringMatching(/^cache-worker: aws\.kubernetesVersion 1\.33 is in extended support \(billed at the extended-support rate\) until 2027-07-29/)],
    ]);
    expect(renderReport(r)).toMatch(/All checks passed \(3 warnings\): a deploy can work\.$/);
  });
});

/** Each prerequisite broken in turn: exactly its ✗ line (id, message, fix). */
const BROKEN: readonly { name: string; breakIt: () => void; check: string; also?: string[]; message: RegExp; fix?: RegExp }[] = [
  {
    name: 'credentials that do not work',
    breakIt: () => void (fake.credentials = 'invalid'),
    check: 'credentials',
    message: /AWS credentials do not work in eu-west-1: InvalidClientTokenId: The security token included in the request is invalid\./,
    fix: /AWS_PROFILE/,
  },
  { name: 'a missing setting', breakIt: () => void delete env.KUBECONTROL_CLUSTER_ROLE_ARN, check: 'settings', message: /^KUBECONTROL_CLUSTER_ROLE_ARN: required/ },
  { name: 'a cluster role that does not exist', breakIt: () => void fake.roles.delete('kubecontrol-cluster'), check: 'role:cluster', message: /cluster role arn:aws:iam::123456789012:role\/kubecontrol-cluster does not exist/ },
  {
    name: 'a cluster role without the Auto Mode policies',
    breakIt: () => void (fake.role('kubecontrol-cluster').attached = ['AmazonEKSClusterPolicy']),
    check: 'role:cluster',
    message: /it lacks AmazonEKSComputePolicy, AmazonEKSBlockStoragePolicy, AmazonEKSLoadBalancingPolicy, AmazonEKSNetworkingPolicy$/,
    fix: /aws iam attach-role-policy --role-name kubecontrol-cluster --policy-arn arn:aws:iam::aws:policy\/AmazonEKSComputePolicy/,
  },
  {
    name: 'a cluster role whose trust lacks sts:TagSession',
    breakIt: () => void (fake.role('kubecontrol-cluster').trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' }] })),
    check: 'role:cluster',
    message: /its trust policy does not let eks\.amazonaws\.com sts:TagSession/,
    fix: /aws iam update-assume-role-policy --role-name kubecontrol-cluster --policy-document '\{"Version":"2012-10-17","Statement":\[\{"Effect":"Allow","Principal":\{"Service":"eks.amazonaws.com"\},"Action":\["sts:AssumeRole","sts:TagSession"\]\}\]\}'/,
  },
  {
    name: 'a node role that trusts the wrong service',
    breakIt: () => void (fake.role('kubecontrol-node').trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' }] })),
    check: 'role:node',
    message: /node role .*kubecontrol-node: its trust policy does not let ec2\.amazonaws\.com sts:AssumeRole/,
  },
  {
    // Two lines: the role cannot be both, and as the node role it trusts the wrong service.
    name: 'the cluster role used as the node role',
    breakIt: () => void (env.KUBECONTROL_NODE_ROLE_ARN = env.KUBECONTROL_CLUSTER_ROLE_ARN),
    check: 'role:cluster',
    also: ['role:node'],
    message: /it is also the node role: Auto Mode needs two different roles/,
  },
  {
    name: 'a node role without the VPC CNI policy its managed node group needs',
    breakIt: () => void (fake.role('kubecontrol-node').attached = ['AmazonEKSWorkerNodeMinimalPolicy', 'AmazonEC2ContainerRegistryPullOnly']),
    check: 'role:node',
    message: /^node role \(also of the managed node groups of web-frontend\) arn:aws:iam::123456789012:role\/kubecontrol-node: it lacks AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy$/,
  },
  {
    name: 'a Fargate pod execution role without its policy',
    breakIt: () => void (fake.role('kubecontrol-fargate-pods').attached = []),
    check: 'role:pod-execution',
    message: /Fargate pod execution role .*: it lacks AmazonEKSFargatePodExecutionRolePolicy/,
  },
  {
    name: "an access role that does not trust kubecontrol's identity",
    breakIt: () => void (fake.role('kubecontrol-access').trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/someone-else' }, Action: 'sts:AssumeRole' }] })),
    check: 'role:access',
    message: /^access role kubecontrol-access: its trust policy does not let arn:aws:iam::123456789012:role\/kubecontrol assume it/,
    fix: /aws iam update-assume-role-policy --role-name kubecontrol-access/,
  },
  {
    name: 'an observability role without the CloudWatch agent policy',
    breakIt: () => void (fake.role('kubecontrol-observability').attached = ['AWSXrayWriteOnlyAccess']),
    check: 'role:observability',
    message: /^observability role arn:aws:iam::123456789012:role\/kubecontrol-observability: it lacks CloudWatchAgentServerPolicy$/,
    fix: /aws iam attach-role-policy --role-name kubecontrol-observability --policy-arn arn:aws:iam::aws:policy\/CloudWatchAgentServerPolicy/,
  },
  {
    name: 'an observability role EKS Pod Identity cannot assume',
    breakIt: () => void (fake.role('kubecontrol-observability').trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] })),
    check: 'role:observability',
    message: /its trust policy does not let pods\.eks\.amazonaws\.com sts:AssumeRole and sts:TagSession/,
  },
  { name: 'an observability role that does not exist', breakIt: () => void fake.roles.delete('kubecontrol-observability'), check: 'role:observability', message: /observability role .*kubecontrol-observability does not exist/ },
  {
    name: 'a Fargate pod execution role that may not write CloudWatch Logs (the log router)',
    breakIt: () => void (fake.role('kubecontrol-fargate-pods').allowed = ['logs:PutLogEvents']),
    check: 'fargate-logging:cache-worker',
    message: /^cache-worker: Fargate pod execution role kubecontrol-fargate-pods may not logs:CreateLogGroup, logs:DescribeLogStreams, logs:CreateLogStream on \/kubecontrol\/cache-worker/,
    fix: /aws iam put-role-policy --role-name kubecontrol-fargate-pods --policy-name kubecontrol-fargate-logging --policy-document '\{"Version":"2012-10-17","Statement":\[\{"Sid":"FargateLogRouter","Effect":"Allow","Action":\["logs:CreateLogStream","logs:CreateLogGroup","logs:DescribeLogStreams","logs:PutLogEvents"\],"Resource":"arn:aws:logs:\*:\*:log-group:\/kubecontrol\/\*"\}\]\}'/,
  },
  {
    name: 'an identity that may not pass the observability role (CreateAddon passes it)',
    breakIt: () => void fake.deniedActions.add(`iam:PassRole@arn:aws:iam::${ACCOUNT}:role/kubecontrol-observability`),
    check: 'permissions',
    message: /may not: iam:PassRole on arn:aws:iam::123456789012:role\/kubecontrol-observability$/,
  },
  { name: 'an access role that does not exist', breakIt: () => void fake.roles.delete('kubecontrol-access'), check: 'role:access', message: /access role .*kubecontrol-access does not exist/ },
  {
    name: 'an identity that may not create add-ons or pass the node role',
    breakIt: () => {
      fake.deniedActions.add('eks:CreateAddon');
      fake.deniedActions.add(`iam:PassRole@arn:aws:iam::${ACCOUNT}:role/kubecontrol-node`);
    },
    check: 'permissions',
    message: /^arn:aws:iam::123456789012:role\/kubecontrol may not: eks:CreateAddon, iam:PassRole on arn:aws:iam::123456789012:role\/kubecontrol-node$/,
    fix: /kubecontrol aws policy/,
  },
  {
    name: "EKS's service-linked roles unreadable (the issue's \"Failed to validate if SLR\")",
    breakIt: () => {
      fake.unreadableRoles.add('AWSServiceRoleForAmazonEKSNodegroup');
      fake.unreadableRoles.add('AWSServiceRoleForAmazonEKSForFargate');
    },
    check: 'service-linked-roles',
    message: /AWSServiceRoleForAmazonEKSNodegroup \(CreateNodegroup, capacity 'nodes'\), AWSServiceRoleForAmazonEKSForFargate .*Failed to validate if SLR/,
    fix: /iam:GetRole on arn:aws:iam::123456789012:role\/aws-service-role\/\*/,
  },
  { name: 'a subnet that does not exist', breakIt: () => void (env.KUBECONTROL_SUBNET_IDS = 'subnet-0a000001,subnet-0fffffff'), check: 'subnets', message: /The subnet ID 'subnet-0fffffff' does not exist/ },
  { name: 'subnets in one zone', breakIt: () => void (env.KUBECONTROL_SUBNET_IDS = 'subnet-0a000001,subnet-0a000003'), check: 'subnets', message: /are all in eu-west-1a: EKS needs subnets in at least two availability zones/ },
  { name: 'subnets of two VPCs', breakIt: () => void (env.KUBECONTROL_SUBNET_IDS = 'subnet-0a000001,subnet-0e000099'), check: 'subnets', message: /are in different VPCs/ },
  {
    name: 'public subnets not tagged for internet-facing load balancers',
    breakIt: () => {
      fake.subnets.get('subnet-0c000011')!.tags = {};
      fake.subnets.get('subnet-0d000012')!.tags = { 'kubernetes.io/role/elb': '0' };
    },
    check: 'load-balancer-subnets:internet-facing',
    message: /no public subnet of vpc-0f00000001 is tagged kubernetes\.io\/role\/elb=1: the internet-facing load balancers of search-svc, web-frontend would get no address/,
    fix: /aws ec2 create-tags --region eu-west-1 --resources subnet-0c000011 subnet-0d000012 --tags Key=kubernetes.io\/role\/elb,Value=1/,
  },
  {
    name: 'private subnets not tagged for internal load balancers',
    breakIt: () => {
      fake.subnets.get('subnet-0a000001')!.tags = {};
      fake.subnets.get('subnet-0b000002')!.tags = {};
    },
    check: 'load-balancer-subnets:internal',
    message: /no private subnet of vpc-0f00000001 is tagged kubernetes\.io\/role\/internal-elb=1: the internal load balancers of cache-worker/,
  },
  {
    name: 'a public Fargate subnet',
    breakIt: () => void (env.KUBECONTROL_FARGATE_SUBNET_IDS = 'subnet-0a000001,subnet-0c000011'),
    check: 'fargate-subnets',
    message: /subnet-0c000011 is public \(0\.0\.0\.0\/0 via rtb-0public → igw-0f00000001\); Fargate takes private subnets only/,
  },
  {
    name: 'a Fargate subnet public through the main route table (no table of its own)',
    breakIt: () => {
      // subnet-0a000001 gets a private table of its own; subnet-0b000002 keeps the main one, which now goes to the internet gateway.
      fake.routeTables.push({ id: 'rtb-0private', vpc: 'vpc-0f00000001', main: false, subnets: ['subnet-0a000001'], defaultRoute: 'nat-0f00000001' });
      fake.routeTables.find((t) => t.id === 'rtb-0main')!.defaultRoute = 'igw-0f00000001';
    },
    check: 'fargate-subnets',
    message: /subnet-0b000002 is public \(0\.0\.0\.0\/0 via rtb-0main → igw-0f00000001\)/,
  },
  { name: 'no Fargate subnets', breakIt: () => void delete env.KUBECONTROL_FARGATE_SUBNET_IDS, check: 'fargate-subnets', message: /cache-worker run on Fargate but no Fargate subnets are configured/, fix: /KUBECONTROL_FARGATE_SUBNET_IDS/ },
  { name: 'a hosted zone that does not exist', breakIt: () => void fake.zones.delete(ZONE_ID), check: 'hosted-zone', message: /hosted zone Z0123456789ABCDEFGHIJ does not exist/ },
  {
    name: "an app whose dns.zone is not the hosted zone's",
    breakIt: () => void (app('search-svc').record = { ...app('search-svc').record, name: 'search-svc.example.org', zone: 'example.org' }),
    check: 'dns:search-svc',
    message: /search-svc: dns\.zone is example\.org, the hosted zone is example\.com; search-svc\.example\.org is not in example\.com/,
  },
  {
    name: "another account's registry",
    breakIt: () => void (env.KUBECONTROL_ECR_REGISTRY = `999999999999.dkr.ecr.${REGION}.amazonaws.com`),
    check: 'registry',
    message: /registry 999999999999\.dkr\.ecr\.eu-west-1\.amazonaws\.com is account 999999999999's, not 123456789012's/,
  },
  { name: 'a registry in another region', breakIt: () => void (env.KUBECONTROL_ECR_REGISTRY = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`), check: 'registry', message: /is in us-east-1, apps run in eu-west-1/ },
  {
    name: 'a Kubernetes version EKS can no longer create',
    breakIt: () => void (app('web-frontend').cluster = { ...app('web-frontend').cluster, kubernetesVersion: '1.31' }),
    check: 'version:web-frontend',
    message: /^web-frontend: aws\.kubernetesVersion 1\.31 cannot be created on EKS: its extended support ended 2026-11-26; use 1\.35/,
  },
  {
    name: 'a version in extended support without opting in',
    breakIt: () => void (app('cache-worker').cluster = { ...app('cache-worker').cluster, kubernetesVersion: '1.33' }),
    check: 'version:cache-worker',
    message: /^cache-worker: aws\.kubernetesVersion 1\.33 left standard support on 2026-07-29: set aws\.supportType 'EXTENDED'/,
  },
  { name: 'a CodeBuild project that does not exist', breakIt: () => void fake.projects.clear(), check: 'builder', message: /^search-svc, web-frontend, cache-worker: CodeBuild project kubecontrol-images does not exist in eu-west-1$/ },
  {
    name: 'a build command that is not on PATH',
    breakIt: () => {
      delete env.KUBECONTROL_CODEBUILD_PROJECT;
      env.KUBECONTROL_BUILD_COMMAND = 'podman,build,.';
    },
    check: 'builder',
    message: /build command podman is not on PATH/,
  },
  {
    name: "a certificate in another region than the app's load balancer",
    breakIt: () =>
      void (app('web-frontend').workload = { ...app('web-frontend').workload, service: { ...app('web-frontend').workload.service, certificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b` } }),
    check: 'certificate:web-frontend',
    message: /is in us-east-1, the app's load balancer in eu-west-1/,
  },
  {
    name: 'an app pod role that EKS Pod Identity cannot assume',
    breakIt: () => void (fake.role('search-svc-pods').trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole'] }] })),
    check: 'pod-role:search-svc',
    message: /search-svc's pod role .*: its trust policy does not let pods\.eks\.amazonaws\.com sts:TagSession/,
  },
];

describe('aws check: each prerequisite broken in turn', () => {
  it.each(BROKEN)('$name: exactly its ✗ line, and the check fails', async ({ breakIt, check, also, message, fix }) => {
    breakIt();
    const r = await run();
    expect(r.ok).toBe(false);
    expect(failedIds(r)).toEqual([check, ...(also ?? [])]);
    const l = failed(r)[0]!;
    expect(l.message).toMatch(message);
    if (fix) expect(l.fix).toMatch(fix);
    expect(renderReport(r)).toMatch(/\d checks? failed.*: a deploy would not work yet\.$/);
  });

  it('without an observability role: an ℹ line saying what is not installed, and no observability checks', async () => {
    delete env.KUBECONTROL_OBSERVABILITY_ROLE_ARN;
    const r = await run();
    expect(r.ok).toBe(true);
    expect(line(r, 'observability')).toEqual({
      check: 'observability',
      status: 'info',
      message: 'no observability agent on new clusters (container logs stay on the nodes): set KUBECONTROL_OBSERVABILITY_ROLE_ARN for CloudWatch Container Insights and the Fargate log router',
    });
    expect(r.lines.filter((l) => /observability|fargate-logging/.test(l.check)).map((l) => l.check)).toEqual(['observability']);
  });

  it("the Fargate log router's permissions are simulated on the pod execution role, for the app's log group and its streams", async () => {
    await run();
    const asked = fake.iam
      .commandCalls(SimulatePrincipalPolicyCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.PolicySourceArn === `arn:aws:iam::${ACCOUNT}:role/kubecontrol-fargate-pods`);
    expect(asked.map((i) => [i.ActionNames, i.ResourceArns])).toEqual([
      [['logs:CreateLogGroup', 'logs:DescribeLogStreams'], [`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/kubecontrol/cache-worker`]],
      [['logs:CreateLogStream', 'logs:PutLogEvents'], [`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/kubecontrol/cache-worker:log-stream:fargate-kube.var.log.containers.cache-worker`]],
    ]);
    expect(asked.flatMap((i) => i.ActionNames ?? []).sort()).toEqual([...FARGATE_LOGGING_ACTIONS].sort());
  });

  it('a KubeApp that does not load is a ✗ line of its own', async () => {
    const r = await run({ appProblems: [{ file: 'broken.ts', app: 'broken', problems: ['pods.replicas must be at least 1'] }] });
    expect(failedIds(r)).toEqual(['app:broken']);
    expect(failed(r)[0]!.message).toBe('KubeApp broken (broken.ts): pods.replicas must be at least 1');
  });

  it('an identity that may not read roles or simulate: warnings that say what is not verified, not failures', async () => {
    fake.unreadableRoles.add('kubecontrol-node');
    fake.deniedActions.add('iam:SimulatePrincipalPolicy');
    const r = await run();
    expect(r.ok).toBe(true);
    expect(r.lines.filter((l) => l.status === 'warn').map((l) => l.check)).toEqual(['role:node', 'fargate-logging:cache-worker', 'permissions']);
  });

  it("spot capacity without EC2's spot service-linked role: a warning with the command that creates it", async () => {
    fake.roles.delete('AWSServiceRoleForEC2Spot');
    const r = await run();
    expect(r.ok).toBe(true);
    expect(line(r, 'spot-service-linked-role')).toEqual({
      check: 'spot-service-linked-role',
      status: 'warn',
      message: 'AWSServiceRoleForEC2Spot does not exist yet: the first spot instance of web-frontend may fail with ServiceLinkedRoleCreationNotPermitted',
      fix: 'create it once: aws iam create-service-linked-role --aws-service-name spot.amazonaws.com',
    });
  });

  it('the fake account refuses what it does not know, and what IAM refuses (a session ARN in the simulator)', async () => {
    const { IAMClient, ListRolesCommand } = await import('@aws-sdk/client-iam');
    const iam = new IAMClient({ region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await expect(iam.send(new ListRolesCommand({}))).rejects.toThrow(/does not answer this command/);
    await expect(iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: fake.callerArn, ActionNames: ['eks:CreateCluster'] }))).rejects.toMatchObject({ name: 'InvalidInputException' });
  });

  it('a caller that is an IAM user is simulated as itself', async () => {
    fake.callerArn = `arn:aws:iam::${ACCOUNT}:user/deployer`;
    const r = await run();
    expect(line(r, 'permissions')!.message).toMatch(/^arn:aws:iam::123456789012:user\/deployer may call everything kubecontrol calls/);
  });
});

describe('the IAM facts', () => {
  /** The IAM prefix of each SDK package the adapters import. */
  const PREFIX: Record<string, string> = {
    'client-eks': 'eks',
    'client-ec2': 'ec2',
    'client-ecr': 'ecr',
    'client-codebuild': 'codebuild',
    'client-auto-scaling': 'autoscaling',
    'client-route-53': 'route53',
    'client-elastic-load-balancing-v2': 'elasticloadbalancing',
    'client-resource-groups-tagging-api': 'tag',
    'client-iam': 'iam',
    'client-sts': 'sts',
  };
  /** SDK waiters: the operation each polls. */
  const WAITERS: Record<string, string> = {
    waitUntilClusterActive: 'DescribeCluster',
    waitUntilClusterDeleted: 'DescribeCluster',
    waitUntilNodegroupActive: 'DescribeNodegroup',
    waitUntilNodegroupDeleted: 'DescribeNodegroup',
    waitUntilFargateProfileActive: 'DescribeFargateProfile',
    waitUntilFargateProfileDeleted: 'DescribeFargateProfile',
    waitUntilAddonActive: 'DescribeAddon',
    waitUntilGroupInService: 'DescribeAutoScalingGroups',
    waitUntilGroupExists: 'DescribeAutoScalingGroups',
    waitUntilResourceRecordSetsChanged: 'GetChange',
    waitUntilLoadBalancerAvailable: 'DescribeLoadBalancers',
    waitUntilLoadBalancersDeleted: 'DescribeLoadBalancers',
    waitUntilTargetInService: 'DescribeTargetHealth',
    waitUntilTargetDeregistered: 'DescribeTargetHealth',
  };

  /** `svc:Action` of every command, paginator and waiter a source file imports from the SDK. */
  function actionsImportedBy(file: string): string[] {
    const text = readFileSync(file, 'utf8');
    const out: string[] = [];
    for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/(client-[\w-]+)'/g)) {
      const prefix = PREFIX[m[2]!];
      if (!prefix) throw new Error(`${file} imports @aws-sdk/${m[2]}: add its IAM prefix to this test (and its actions to deployer/aws/iam.ts)`);
      for (const raw of m[1]!.split(',')) {
        const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
        if (/^\w+Command$/.test(name) && !raw.trim().startsWith('type ')) out.push(`${prefix}:${name.replace(/Command$/, '')}`);
        else if (name.startsWith('paginate')) out.push(`${prefix}:${name.slice('paginate'.length)}`);
        else if (name.startsWith('waitUntil')) {
          const op = WAITERS[name];
          if (!op) throw new Error(`${file} uses the waiter ${name}: add the operation it polls to this test`);
          out.push(`${prefix}:${op}`);
        }
      }
    }
    return out;
  }
  const sources = (dir: string) =>
    readdirSync(new URL(`../${dir}/`, import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => new URL(`../${dir}/${f}`, import.meta.url).pathname);

  it('kubecontrol policy allows every AWS call of the aws and kube adapters', () => {
    const policy = new Set(allActions());
    const missing: string[] = [];
    for (const file of [...sources('deployer/aws'), ...sources('deployer/kube')].filter((f) => !f.endsWith('/check.ts'))) {
      for (const a of actionsImportedBy(file)) if (!policy.has(a)) missing.push(`${a} (${file.replace(/.*\/deployer\//, 'deployer/')})`);
    }
    expect(missing).toEqual([]);
  });

  it("what `aws check` calls is kubecontrol's policy or its Preflight statement", () => {
    const allowed = new Set([...allActions(), ...PREFLIGHT_ACTIONS.actions]);
    const checkFile = sources('deployer/aws').find((f) => f.endsWith('/check.ts'))!;
    expect(actionsImportedBy(checkFile).filter((a) => !allowed.has(a))).toEqual([]);
  });

  it('names what the issue and the contract require', () => {
    const all = allActions();
    for (const a of [
      'eks:CreateCluster',
      'eks:CreateAddon',
      'eks:DescribeAddon',
      'eks:CreateAccessEntry',
      'eks:AssociateAccessPolicy',
      'eks:CreatePodIdentityAssociation',
      'eks:ListPodIdentityAssociations',
      'eks:DeletePodIdentityAssociation',
      'eks:DescribeClusterVersions',
      'elasticloadbalancing:DescribeLoadBalancers',
      'elasticloadbalancing:DeleteLoadBalancer',
      'elasticloadbalancing:DeleteTargetGroup',
      'ec2:DescribeSubnets',
      'ec2:DescribeRouteTables',
      'ec2:DescribeSecurityGroups',
      'ec2:DeleteSecurityGroup',
      'tag:GetResources',
      'autoscaling:CreateOrUpdateTags',
      'iam:PassRole',
      'iam:GetRole',
      'iam:CreateServiceLinkedRole',
      'sts:GetCallerIdentity',
      'sts:AssumeRole',
    ]) {
      expect(all).toContain(a);
    }
    const policy = kubecontrolPolicy({ account: ACCOUNT, passRoleArns: [`arn:aws:iam::${ACCOUNT}:role/b`, `arn:aws:iam::${ACCOUNT}:role/a`], accessRoleArn: `arn:aws:iam::${ACCOUNT}:role/access` });
    const sid = (s: string) => policy.Statement.find((x) => x.Sid === s)!;
    expect(sid('PassRoles').Resource).toEqual([`arn:aws:iam::${ACCOUNT}:role/a`, `arn:aws:iam::${ACCOUNT}:role/b`]);
    expect(sid('EksServiceLinkedRoles')).toEqual({
      Sid: 'EksServiceLinkedRoles',
      Effect: 'Allow',
      Action: ['iam:GetRole'],
      Resource: SERVICE_LINKED_ROLES.map((r) => `arn:aws:iam::${ACCOUNT}:role/aws-service-role/${r.service}/${r.name}`),
    });
    expect(sid('CreateEksServiceLinkedRoles').Condition).toEqual({ StringEquals: { 'iam:AWSServiceName': ['eks.amazonaws.com', 'eks-nodegroup.amazonaws.com', 'eks-fargate.amazonaws.com'] } });
    expect(sid('AccessRole').Resource).toBe(`arn:aws:iam::${ACCOUNT}:role/access`);
    expect(kubecontrolPolicy({ account: ACCOUNT, passRoleArns: [] }).Statement.map((s) => s.Sid)).not.toContain('AccessRole');
    expect(KUBECONTROL_ACTIONS.every((g) => g.actions.every((a) => /^[a-z0-9-]+:[A-Z]\w+$/.test(a)))).toBe(true);
  });

  it("the roles' trust and managed policies, as AWS documents them for Auto Mode, Fargate and Pod Identity", () => {
    expect(ROLES.cluster).toMatchObject({ trustedService: 'eks.amazonaws.com', trustActions: ['sts:AssumeRole', 'sts:TagSession'] });
    expect(ROLES.cluster.managedPolicies).toEqual(['AmazonEKSClusterPolicy', 'AmazonEKSComputePolicy', 'AmazonEKSBlockStoragePolicy', 'AmazonEKSLoadBalancingPolicy', 'AmazonEKSNetworkingPolicy']);
    expect(ROLES.node).toMatchObject({ trustedService: 'ec2.amazonaws.com', managedPolicies: ['AmazonEKSWorkerNodeMinimalPolicy', 'AmazonEC2ContainerRegistryPullOnly'] });
    expect(ROLES.podExecution).toMatchObject({ trustedService: 'eks-fargate-pods.amazonaws.com', managedPolicies: ['AmazonEKSFargatePodExecutionRolePolicy'] });
    expect(ROLES.appPod).toMatchObject({ trustedService: 'pods.eks.amazonaws.com', trustActions: ['sts:AssumeRole', 'sts:TagSession'] });
  });

  it('reads trust policies as IAM returns them (URL-encoded), with wildcards and lists', () => {
    const doc = (statement: object) => encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: statement }));
    expect(missingTrustActions(doc([{ Effect: 'Allow', Principal: { Service: ['ec2.amazonaws.com', 'eks.amazonaws.com'] }, Action: 'sts:*' }]), 'eks.amazonaws.com', ['sts:AssumeRole', 'sts:TagSession'])).toEqual([]);
    expect(missingTrustActions(doc({ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' }), 'eks.amazonaws.com', ['sts:AssumeRole', 'sts:TagSession'])).toEqual(['sts:TagSession']);
    expect(missingTrustActions(doc([{ Effect: 'Deny', Principal: { Service: 'eks.amazonaws.com' }, Action: '*' }]), 'eks.amazonaws.com', ['sts:AssumeRole'])).toEqual(['sts:AssumeRole']);
    expect(missingTrustActions('not json', 'eks.amazonaws.com', ['sts:AssumeRole'])).toEqual(['sts:AssumeRole']);
    const me = `arn:aws:iam::${ACCOUNT}:role/kubecontrol`;
    expect(trustsPrincipal(doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }), me, ACCOUNT)).toBe(true);
    expect(trustsPrincipal(doc([{ Effect: 'Allow', Principal: { AWS: [ACCOUNT] }, Action: ['sts:AssumeRole', 'sts:TagSession'] }]), me, ACCOUNT)).toBe(true);
    expect(trustsPrincipal(doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::999999999999:root` }, Action: 'sts:AssumeRole' }), me, ACCOUNT)).toBe(false);
  });
});

describe('kubecontrol aws check, through the real commander program', () => {
  /** One KubeApp as its author writes it, loaded as the server would (defineKubeApp). */
  async function loadApps(): Promise<LoadResult> {
    const { defineKubeApp } = await import('../kubeapps/index.js');
    const hello = defineKubeApp({
      name: 'hello',
      image: { repository: 'hello' },
      pods: { replicas: 2, containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }], resources: { cpu: '500m', memory: '512Mi' } }] },
      service: { port: 80, targetPort: 8080, loadBalancer: 'external', healthCheckPath: '/healthz' },
      owners: ['alice'],
    });
    return { apps: [hello], problems: [] };
  }

  async function cli(args: string[]): Promise<{ exitCode: number | undefined; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const program = buildProgram({
      output: { writeOut: (s) => void out.push(s), writeErr: (s) => void err.push(s) },
      aws: { env, loadApps, now: () => TODAY, canRun: () => true, write: (s) => void out.push(s) },
    });
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      await program.parseAsync(args, { from: 'user' });
      return { exitCode: process.exitCode as number | undefined, out: out.join(''), err: err.join('') };
    } catch (e) {
      // What cli/main.ts does with commander's errors: usage errors exit 2.
      if (e instanceof CommanderError) return { exitCode: e.exitCode === 0 ? 0 : 2, out: out.join(''), err: err.join('') };
      throw e;
    } finally {
      process.exitCode = before;
    }
  }

  it('exits 0 on a healthy account and prints one line per check', async () => {
    const { exitCode, out } = await cli(['aws', 'check']);
    expect(exitCode).toBe(0);
    expect(out).toContain(`✓ credentials work: account ${ACCOUNT}`);
    expect(out).toContain('✓ hello: Kubernetes 1.35 (the newest in standard support, until 2027-03-27)');
    expect(out).toMatch(/All checks passed.*: a deploy can work\.\n$/);
  });

  it('exits 1 with the ✗ line and what to do when a prerequisite is missing', async () => {
    fake.unreadableRoles.add('AWSServiceRoleForAmazonEKSNodegroup');
    const { exitCode, out } = await cli(['aws', 'check']);
    expect(exitCode).toBe(1);
    expect(out).toMatch(/✗ kubecontrol may not read EKS's service-linked roles AWSServiceRoleForAmazonEKSNodegroup/);
    expect(out).toMatch(/ {4}→ allow iam:GetRole on arn:aws:iam::123456789012:role\/aws-service-role\/\*/);
    expect(out).toMatch(/1 check failed: a deploy would not work yet\.\n$/);
  });

  it('--json prints the checks as one JSON object', async () => {
    fake.zones.delete(ZONE_ID);
    const { exitCode, out } = await cli(['aws', 'check', '--json']);
    expect(exitCode).toBe(1);
    const body = JSON.parse(out) as { ok: boolean; checks: { check: string; status: string; message: string; fix?: string }[] };
    expect(body.ok).toBe(false);
    expect(body.checks.filter((c) => c.status === 'fail')).toEqual([
      { check: 'hosted-zone', status: 'fail', message: 'hosted zone Z0123456789ABCDEFGHIJ does not exist', fix: expect.stringContaining('KUBECONTROL_HOSTED_ZONE_ID') },
    ]);
  });

  it('exits 2 on a usage error', async () => {
    const { exitCode, err } = await cli(['aws', 'check', '--bogus']);
    expect(exitCode).toBe(2);
    expect(err).toContain("unknown option '--bogus'");
  });

  it("`aws policy` prints kubecontrol's policy with this installation's roles", async () => {
    const { exitCode, out } = await cli(['aws', 'policy']);
    expect(exitCode).toBeUndefined();
    const policy = JSON.parse(out) as ReturnType<typeof kubecontrolPolicy>;
    expect(policy.Statement.find((s) => s.Sid === 'PassRoles')!.Resource).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/kubecontrol-cluster`,
      `arn:aws:iam::${ACCOUNT}:role/kubecontrol-fargate-pods`,
      `arn:aws:iam::${ACCOUNT}:role/kubecontrol-node`,
      // CreateAddon passes it (the CloudWatch add-on's Pod Identity association).
      `arn:aws:iam::${ACCOUNT}:role/kubecontrol-observability`,
    ]);
    expect(policy.Statement.find((s) => s.Sid === 'AccessRole')!.Resource).toBe(`arn:aws:iam::${ACCOUNT}:role/kubecontrol-access`);
  });
});
