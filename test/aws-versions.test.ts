/**
 * Kubernetes versions on EKS: the default (newest in standard support, asked of
 * EKS), the start-up check of each app's version with an injected time, and the
 * provider's preflight and cluster names through the real SDK against the fake EKS.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeClusterVersionsCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { createAwsProvider } from '../deployer/aws/index.js';
import { calendarVersions, checkVersion, EKS_CALENDAR, newestStandard, statusAt } from '../deployer/aws/versions.js';
import { clusterSpec } from '../deployer/specs.js';
import type { ClusterSpec } from '../deployer/ports.js';
import { INSTALLATION, SETTINGS, TODAY } from './fakes/aws-apps.js';
import { FakeEks } from './fakes/aws-eks.js';

const eks = mockClient(EKSClient);
const asg = mockClient(AutoScalingClient);
beforeEach(() => {
  eks.reset();
  asg.reset();
});

const DAY = 86_400_000;
const versions = calendarVersions(TODAY);
const spec = (kubernetesVersion?: string, supportType?: 'STANDARD' | 'EXTENDED'): Pick<ClusterSpec, 'kubernetesVersion' | 'supportType'> => ({ kubernetesVersion, supportType });
const check = (s: Pick<ClusterSpec, 'kubernetesVersion' | 'supportType'>, now = TODAY) => checkVersion({ app: 'search-svc', cluster: s, versions: calendarVersions(now), now });

describe('the EKS calendar', () => {
  it('on 2026-11-30: 1.35 and 1.34 in standard support, 1.33 and 1.32 in extended, 1.31 gone', () => {
    expect(versions.map((v) => [v.version, v.status])).toEqual([
      ['1.35', 'STANDARD_SUPPORT'],
      ['1.34', 'STANDARD_SUPPORT'],
      ['1.33', 'EXTENDED_SUPPORT'],
      ['1.32', 'EXTENDED_SUPPORT'],
      ['1.31', 'UNSUPPORTED'],
    ]);
    expect(newestStandard(versions)).toMatchObject({ version: '1.35', endOfStandardSupport: '2027-03-27' });
  });

  it('support lasts through the whole day AWS names', () => {
    const v131 = EKS_CALENDAR.find((v) => v.version === '1.31')!;
    expect(statusAt(v131, Date.parse('2026-11-26T23:59:59Z'))).toBe('EXTENDED_SUPPORT');
    expect(statusAt(v131, Date.parse('2026-11-27T00:00:00Z'))).toBe('UNSUPPORTED');
  });
});

describe('checkVersion', () => {
  it('unset: the newest in standard support, no problem', () => {
    expect(check(spec())).toEqual({ version: '1.35' });
  });

  it('a version EKS will not create: one line naming app, field, value and what to use', () => {
    expect(check(spec('1.31')).problem).toBe(
      'search-svc: aws.kubernetesVersion 1.31 cannot be created on EKS: its extended support ended 2026-11-26; use 1.35 (the newest in standard support, until 2027-03-27)',
    );
    expect(check(spec('1.19')).problem).toBe('search-svc: aws.kubernetesVersion 1.19 cannot be created on EKS: EKS does not offer it; use 1.35 (the newest in standard support, until 2027-03-27)');
  });

  it('out of standard support without supportType EXTENDED: a problem; with it: a warning about the rate', () => {
    expect(check(spec('1.33')).problem).toBe(
      "search-svc: aws.kubernetesVersion 1.33 left standard support on 2026-07-29: set aws.supportType 'EXTENDED' to run it at the extended-support rate (until 2027-07-29), or use 1.35 (the newest in standard support, until 2027-03-27)",
    );
    expect(check(spec('1.33', 'EXTENDED'))).toEqual({
      version: '1.33',
      warning: 'search-svc: aws.kubernetesVersion 1.33 is in extended support (billed at the extended-support rate) until 2027-07-29; use 1.35 (the newest in standard support, until 2027-03-27)',
    });
  });

  it('within 60 days of the end of standard support: a warning; before that, nothing', () => {
    expect(check(spec('1.34'))).toEqual({
      version: '1.34',
      warning:
        'search-svc: aws.kubernetesVersion 1.34 leaves standard support on 2026-12-02 (in 3 days; EKS then upgrades clusters still on it); use 1.35 (the newest in standard support, until 2027-03-27)',
    });
    // 61 days before the end of 2026-12-02: quiet.
    expect(check(spec('1.34'), Date.parse('2026-12-03T00:00:00Z') - 61 * DAY)).toEqual({ version: '1.34' });
    expect(check(spec('1.34'), Date.parse('2026-12-03T00:00:00Z') - 60 * DAY).warning).toMatch(/in 60 days/);
    expect(check(spec('1.35'))).toEqual({ version: '1.35' });
  });
});

describe('the aws provider at start', () => {
  const provider = (now = TODAY) =>
    createAwsProvider({ installation: INSTALLATION, settings: SETTINGS, buildEnv: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' }, now: () => now });

  it('preflight: problems stop the start, warnings are told; EKS is asked once per region', async () => {
    new FakeEks(eks, asg);
    const p = provider();
    const report = await p.preflight!({
      apps: [
        { app: 'search-svc', cluster: { ...clusterSpec(searchSvc, 'x'), kubernetesVersion: '1.31' } },
        { app: 'web-frontend', cluster: { ...clusterSpec(searchSvc, 'y'), app: 'web-frontend', kubernetesVersion: '1.34' } },
        { app: 'cache-worker', cluster: clusterSpec(cacheWorker, 'z') },
      ],
    });
    expect(report).toEqual({
      problems: [
        'search-svc: aws.kubernetesVersion 1.31 cannot be created on EKS: its extended support ended 2026-11-26; use 1.35 (the newest in standard support, until 2027-03-27)',
      ],
      warnings: [
        'web-frontend: aws.kubernetesVersion 1.34 leaves standard support on 2026-12-02 (in 3 days; EKS then upgrades clusters still on it); use 1.35 (the newest in standard support, until 2027-03-27)',
      ],
    });
    expect(eks.commandCalls(DescribeClusterVersionsCommand)).toHaveLength(1);
    expect(eks.commandCalls(DescribeClusterVersionsCommand)[0]!.args[0].input).toMatchObject({ includeAll: true });
  });

  it('preflight: a Fargate app with a pod role, and a Fargate app without private subnets', async () => {
    new FakeEks(eks, asg);
    const p = createAwsProvider({ installation: INSTALLATION, settings: { ...SETTINGS, fargateSubnetIds: [] }, buildEnv: {}, credentials: { accessKeyId: 'A', secretAccessKey: 'S' }, now: () => TODAY });
    const fargate = { ...clusterSpec(cacheWorker, 'z'), podIdentity: { namespace: 'cache-worker', serviceAccount: 'cache-worker', roleArn: 'arn:aws:iam::123456789012:role/r' } };
    await expect(p.preflight!({ apps: [{ app: 'cache-worker', cluster: fargate }] })).resolves.toEqual({
      problems: [
        "cache-worker: aws.podRoleArn cannot be used with hardware.capacity 'fargate': EKS Pod Identity does not run on Fargate",
        'cache-worker: no private Fargate subnets configured: set aws.fargateSubnetIds or KUBECONTROL_FARGATE_SUBNET_IDS',
      ],
      warnings: [],
    });
  });

  it('preflight: EKS cannot be asked: one problem per region, naming its apps and why', async () => {
    eks.on(DescribeClusterVersionsCommand).rejects(Object.assign(new Error('User is not authorized to perform: eks:DescribeClusterVersions'), { name: 'AccessDeniedException' }));
    const report = await provider().preflight!({
      apps: [
        { app: 'search-svc', cluster: clusterSpec(searchSvc, 'x') },
        { app: 'search-svc-2', cluster: clusterSpec(searchSvc, 'y') },
      ],
    });
    expect(report.problems).toEqual([
      'cannot ask EKS which Kubernetes versions it offers in eu-west-1 (apps: search-svc, search-svc-2): EKS DescribeClusterVersions failed: AccessDeniedException: User is not authorized to perform: eks:DescribeClusterVersions',
    ]);
  });

  it('names clusters with the installation, so two installations in one account never collide', () => {
    expect(provider().clusterName!({ app: 'search-svc', deployId: 12 })).toBe(`search-svc-12-${INSTALLATION.id}`);
  });
});
