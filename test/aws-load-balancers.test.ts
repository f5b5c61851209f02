/**
 * ElbLoadBalancers through the real ELBv2, EC2 and tagging SDK clients against
 * the fake account (test/fakes/aws-elbv2.ts over the shared FakeLoadBalancers):
 * waiting until an NLB can take traffic, finding what a cluster left behind by
 * tag, and deleting it without touching another installation's.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { ElbLoadBalancers } from '../deployer/aws/load-balancers.js';
import type { ResourceRecord } from '../store/index.js';
import { INSTALLATION, OTHER_INSTALLATION } from './fakes/aws-apps.js';
import { FakeElbv2 } from './fakes/aws-elbv2.js';
import { FakeLoadBalancers, type FakeLoadBalancersOptions } from './fakes/aws-load-balancers.js';

const mocks = { elbv2: mockClient(ElasticLoadBalancingV2Client), ec2: mockClient(EC2Client), tagging: mockClient(ResourceGroupsTaggingAPIClient) };
const clients = createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
const REGION = 'eu-west-1';
const CLUSTER = 'search-svc-7-inst-a1b2c3';
const fast = { minDelay: 0.001, maxDelay: 0.002 };

let account: FakeLoadBalancers;
let elb: FakeElbv2;
function setUp(opts: FakeLoadBalancersOptions = {}): void {
  for (const m of Object.values(mocks)) m.reset();
  account = new FakeLoadBalancers({ provisionLooks: 1, healthyLooks: 1, ...opts });
  elb = new FakeElbv2(account, mocks);
}
beforeEach(() => setUp());

const lbs = (extra: Partial<ConstructorParameters<typeof ElbLoadBalancers>[0]> = {}) =>
  new ElbLoadBalancers({ clients, installation: INSTALLATION, waiterDelays: fast, maxWaitSeconds: 0.5, ...extra });

const tagsOf = (installation: string, deploy = 7, app = 'search-svc') => ({
  'kubecontrol:app': app,
  'kubecontrol:deploy': String(deploy),
  'kubecontrol:installation': installation,
  'kubecontrol:managed-by': 'kubecontrol',
});

/** What the cluster's controller makes for the app's Service. */
function nlb(over: Partial<Parameters<FakeLoadBalancers['provision']>[0]> = {}) {
  return account.provision({
    cluster: CLUSTER,
    namespace: 'search-svc',
    service: 'search-svc',
    scheme: 'internet-facing',
    tags: tagsOf(INSTALLATION.id),
    listeners: [{ port: 80, protocol: 'TCP' }],
    targets: [
      { id: '10.0.1.7', port: 8080 },
      { id: '10.0.2.8', port: 8080 },
      { id: '10.0.3.9', port: 8080 },
    ],
    ...over,
  });
}

/** A ledger row as gc or teardown would hand it over. */
const row = (kind: string, name: string): ResourceRecord => ({
  id: 1,
  deployId: 7,
  envId: null,
  app: 'search-svc',
  provider: 'aws',
  kind,
  name,
  parentId: null,
  state: 'created',
  data: { region: REGION },
  error: null,
  createdAt: 0,
  updatedAt: 0,
});

describe('ElbLoadBalancers.waitReady', () => {
  it('finds the NLB by DNS name across pages, waits until it is active and every target healthy, and says so', async () => {
    setUp({ provisionLooks: 2, healthyLooks: 2 });
    nlb({ cluster: 'web-frontend-3-inst-a1b2c3', namespace: 'web-frontend', service: 'web-frontend' });
    nlb({ cluster: 'cache-worker-2-inst-a1b2c3', namespace: 'cache-worker', service: 'cache-worker' });
    const lb = nlb();
    const lines: string[] = [];

    await expect(lbs().waitReady({ hostname: `${lb.dnsName}.`, region: REGION, progress: (m) => void lines.push(m) })).resolves.toEqual({
      arn: lb.arn,
      canonicalHostedZoneId: 'Z2IFOLAFXWLO4F',
      scheme: 'internet-facing',
    });
    expect(lines).toEqual([
      `load balancer ${lb.name} is provisioning`,
      `load balancer ${lb.name} is active`,
      `load balancer ${lb.name} is active; 0/3 targets healthy`,
      `load balancer ${lb.name} is active; 3/3 targets healthy`,
    ]);
    expect(elb.targetHealthLooks).toBeGreaterThanOrEqual(3);
  });

  it('times out naming the targets that never passed their health checks', async () => {
    setUp({ targetHealth: 'unhealthy' });
    const lb = nlb();
    const lines: string[] = [];
    await expect(lbs({ maxWaitSeconds: 0.05 }).waitReady({ hostname: lb.dnsName, region: REGION, progress: (m) => void lines.push(m) })).rejects.toMatchObject({
      code: 'timed_out',
      message:
        `timed out waiting for the targets of load balancer ${lb.name} to be healthy; 0/3 targets healthy ` +
        '(10.0.1.7: unhealthy Target.FailedHealthChecks, 10.0.2.8: unhealthy Target.FailedHealthChecks, 10.0.3.9: unhealthy Target.FailedHealthChecks)',
    });
    expect(lines.at(-1)).toBe(`load balancer ${lb.name} is active; 0/3 targets healthy`);
  });

  it('stops at once when the load balancer fails', async () => {
    const lb = nlb();
    lb.state = 'failed';
    await expect(lbs({ maxWaitSeconds: 60 }).waitReady({ hostname: lb.dnsName, region: REGION, progress: () => undefined })).rejects.toMatchObject({
      code: 'provider_failed',
      message: `load balancer ${lb.name} failed: insufficient capacity in the subnets`,
    });
  });

  it('is not_found for a hostname no load balancer has', async () => {
    nlb();
    await expect(lbs().waitReady({ hostname: 'k8s-gone-gone-0000000000.elb.eu-west-1.amazonaws.com', region: REGION, progress: () => undefined })).rejects.toMatchObject({
      code: 'not_found',
      message: 'no load balancer with DNS name k8s-gone-gone-0000000000.elb.eu-west-1.amazonaws.com in eu-west-1',
    });
  });
});

describe('ElbLoadBalancers.remaining and listTagged', () => {
  it("lists what still carries the cluster's tag, and nothing of other clusters", async () => {
    const lb = nlb();
    nlb({ cluster: 'web-frontend-3-inst-a1b2c3', namespace: 'web-frontend', service: 'web-frontend', tags: tagsOf(INSTALLATION.id, 3, 'web-frontend') });
    const found = await lbs().remaining({ cluster: CLUSTER, region: REGION });
    expect(found).toEqual([
      { kind: 'load-balancer', name: lb.arn, cluster: CLUSTER, app: 'search-svc', deployId: 7 },
      { kind: 'target-group', name: lb.targetGroupArn, cluster: CLUSTER, app: 'search-svc', deployId: 7 },
      { kind: 'security-group', name: lb.securityGroupId, cluster: CLUSTER, app: 'search-svc', deployId: 7 },
    ]);
    // Three resources, two per page: the tagging API was paged.
    expect(mocks.tagging.commandCalls(GetResourcesCommand).map((c) => c.args[0].input)).toEqual([
      { TagFilters: [{ Key: 'eks:eks-cluster-name', Values: [CLUSTER] }], ResourceTypeFilters: ['elasticloadbalancing:loadbalancer', 'elasticloadbalancing:targetgroup', 'ec2:security-group'] },
      expect.objectContaining({ PaginationToken: expect.any(String) }),
    ]);
  });

  it('does not count what the tagging API still lists after it was deleted', async () => {
    const lb = nlb();
    await lbs().destroy({ resource: row('load-balancer', lb.arn), region: REGION, progress: () => undefined });
    const raw = await clients(REGION).tagging.send(new GetResourcesCommand({ TagFilters: [{ Key: 'eks:eks-cluster-name', Values: [CLUSTER] }] }));
    expect(raw.ResourceTagMappingList?.length).toBeGreaterThan(0); // eventually consistent: still listed
    await expect(lbs().remaining({ cluster: CLUSTER, region: REGION })).resolves.toEqual([]);
  });

  it("lists kubecontrol's load balancers, another installation's marked as theirs, and nothing untagged", async () => {
    const ours = nlb();
    const theirs = nlb({ cluster: 'search-svc-2-inst-other9', tags: tagsOf(OTHER_INSTALLATION.id, 2) });
    nlb({ cluster: 'someone-else', namespace: 'shop', service: 'shop', tags: { team: 'shop' } });
    const found = await lbs().listTagged({ region: REGION });
    expect(found.filter((r) => r.kind === 'load-balancer')).toEqual([
      { kind: 'load-balancer', name: ours.arn, cluster: CLUSTER, app: 'search-svc', deployId: 7 },
      { kind: 'load-balancer', name: theirs.arn, cluster: 'search-svc-2-inst-other9', app: 'search-svc', deployId: 2, installation: OTHER_INSTALLATION.id },
    ]);
    expect(found).toHaveLength(6);
  });
});

describe('ElbLoadBalancers.destroy', () => {
  it('deletes a leftover load balancer, waits until it is gone, then its target group and security group (retried while its ENIs linger)', async () => {
    const lb = nlb();
    const lines: string[] = [];
    await lbs().destroy({ resource: row('load-balancer', lb.arn), region: REGION, progress: (m) => void lines.push(m) });
    expect(elb.calls).toEqual([
      `DeleteLoadBalancer ${lb.arn}`,
      `DeleteTargetGroup ${lb.targetGroupArn}`,
      `DeleteSecurityGroup ${lb.securityGroupId}`,
      `DeleteSecurityGroup ${lb.securityGroupId}`,
    ]);
    expect(account.taggedWith('eks:eks-cluster-name', CLUSTER)).toEqual([]);
    expect(lines).toEqual([
      `deleting load balancer ${lb.name}; waiting until it is gone`,
      `load balancer ${lb.name} deleted`,
      `target group ${lb.targetGroupArn} deleted`,
      `security group ${lb.securityGroupId} is still held by the load balancer's network interfaces; trying again`,
      `security group ${lb.securityGroupId} deleted`,
    ]);
  });

  it("refuses another installation's load balancer and deletes nothing", async () => {
    const theirs = nlb({ cluster: 'search-svc-2-inst-other9', tags: tagsOf(OTHER_INSTALLATION.id, 2) });
    await expect(lbs().destroy({ resource: row('load-balancer', theirs.arn), region: REGION, progress: () => undefined })).rejects.toMatchObject({
      code: 'not_owned',
      message: `load-balancer ${theirs.arn} exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not deleting it`,
    });
    await expect(lbs().destroy({ resource: row('security-group', theirs.securityGroupId), region: REGION, progress: () => undefined })).rejects.toMatchObject({ code: 'not_owned' });
    expect(elb.calls).toEqual([]);
    expect(account.loadBalancers.has(theirs.arn)).toBe(true);
  });

  it('counts what is already gone as deleted', async () => {
    const lb = nlb();
    account.deprovision(lb.arn);
    const lines: string[] = [];
    for (const [kind, name] of [['load-balancer', lb.arn], ['target-group', lb.targetGroupArn], ['security-group', `arn:aws:ec2:${REGION}:123456789012:security-group/${lb.securityGroupId}`]] as const) {
      await lbs().destroy({ resource: row(kind, name), region: REGION, progress: (m) => void lines.push(m) });
    }
    expect(elb.calls).toEqual([]);
    expect(lines).toEqual([`load-balancer ${lb.arn} is already gone`, `target-group ${lb.targetGroupArn} is already gone`, `security-group arn:aws:ec2:${REGION}:123456789012:security-group/${lb.securityGroupId} is already gone`]);
  });

  it('gives up on a target group still used by a live load balancer after its budget, saying why', async () => {
    const lb = nlb();
    await expect(lbs({ maxWaitSeconds: 0.004 }).destroy({ resource: row('target-group', lb.targetGroupArn), region: REGION, progress: () => undefined })).rejects.toMatchObject({
      code: 'timed_out',
      message: expect.stringContaining(`timed out deleting target group ${lb.targetGroupArn}: still used by a load balancer`),
    });
    expect(account.targetGroups.has(lb.targetGroupArn)).toBe(true);
  });
});
