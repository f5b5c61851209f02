/**
 * ELBv2, the EC2 security-group calls and the Resource Groups Tagging API of a
 * fake account, answering from the shared `FakeLoadBalancers` state behind
 * aws-sdk-client-mock (the real SDK clients, waiters and exception classes).
 *
 * Strict where AWS is: DescribeLoadBalancers has no DNS-name filter (callers
 * list and page with Marker) and refuses unknown names/ARNs; a new NLB answers
 * `provisioning` before `active`; DeleteTargetGroup is refused (ResourceInUse)
 * while its load balancer exists; DeleteSecurityGroup is refused
 * (DependencyViolation) while the load balancer exists and for a few calls
 * after it is deleted (its network interfaces linger); a deleted load balancer
 * is still described for a while (deletion is asynchronous); the tagging API
 * keeps listing a deleted resource for a while (it is eventually consistent).
 */
import {
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2ServiceException,
  type EC2ClientResolvedConfig,
  type ServiceInputTypes as Ec2Input,
  type ServiceOutputTypes as Ec2Output,
} from '@aws-sdk/client-ec2';
import {
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2ServiceException,
  LoadBalancerNotFoundException,
  ResourceInUseException,
  TargetGroupNotFoundException,
  type DescribeLoadBalancersCommandInput,
  type DescribeTargetGroupsCommandInput,
  type ElasticLoadBalancingV2ClientResolvedConfig,
  type LoadBalancer,
  type ServiceInputTypes as ElbInput,
  type ServiceOutputTypes as ElbOutput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  GetResourcesCommand,
  InvalidParameterException as TaggingInvalidParameter,
  type GetResourcesCommandInput,
  type ResourceGroupsTaggingAPIClientResolvedConfig,
  type ServiceInputTypes as TagInput,
  type ServiceOutputTypes as TagOutput,
} from '@aws-sdk/client-resource-groups-tagging-api';
import type { AwsStub } from 'aws-sdk-client-mock';
import type { FakeLoadBalancer, FakeLoadBalancers } from './aws-load-balancers.js';

const meta = { $metadata: { httpStatusCode: 400 } };
const ACCOUNT = '123456789012';

/** What a test can tune. */
export interface FakeElbv2Options {
  /** Load balancers per DescribeLoadBalancers page when the caller asks for more (the real maximum is 400). @default 2 */
  readonly pageSize?: number;
  /** Resources per GetResources page (the real default is 100). @default 2 */
  readonly taggingPageSize?: number;
  /** Describes a deleted load balancer still answers (as `active`) before LoadBalancerNotFound. @default 1 */
  readonly deleteLooks?: number;
  /** DeleteSecurityGroup calls refused with DependencyViolation after its load balancer is deleted (lingering ENIs). @default 1 */
  readonly eniLingerCalls?: number;
  /** GetResources calls that still list a deleted resource (eventual consistency). @default 1 */
  readonly staleTagCalls?: number;
}

export interface FakeElbv2Mocks {
  readonly elbv2: AwsStub<ElbInput, ElbOutput, ElasticLoadBalancingV2ClientResolvedConfig>;
  readonly ec2: AwsStub<Ec2Input, Ec2Output, EC2ClientResolvedConfig>;
  readonly tagging: AwsStub<TagInput, TagOutput, ResourceGroupsTaggingAPIClientResolvedConfig>;
}

const ec2Error = (code: string, message: string) => new EC2ServiceException({ name: code, $fault: 'client', message, ...meta });
const sgArn = (region: string, id: string) => `arn:aws:ec2:${region}:${ACCOUNT}:security-group/${id}`;
const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** The fake: installs itself on the given mocks (call `install()` again after a mock's `reset()`). */
export class FakeElbv2 {
  /** DescribeTargetHealth calls so far (a test asserts the wait looked, and how often). */
  targetHealthLooks = 0;
  /** Every mutating call, in order: `DeleteLoadBalancer <arn>`, `DeleteTargetGroup <arn>`, `DeleteSecurityGroup <id>`. */
  readonly calls: string[] = [];
  /** Deleted load balancers still described for a while. */
  private readonly deleting = new Map<string, { lb: FakeLoadBalancer; looksLeft: number }>();
  /** Security groups of deleted load balancers: DependencyViolation calls left. */
  private readonly lingering = new Map<string, number>();
  /** Deleted resources the tagging API still lists: calls left. */
  private readonly stale = new Map<string, { arn: string; tags: Record<string, string>; callsLeft: number }>();

  constructor(
    readonly state: FakeLoadBalancers,
    private readonly mocks: FakeElbv2Mocks,
    private readonly opts: FakeElbv2Options = {},
  ) {
    this.install();
  }

  private get region(): string {
    return this.state.region;
  }

  private describe(lb: FakeLoadBalancer, look = true): LoadBalancer {
    const state = look ? this.state.look(lb) : lb.state;
    return {
      LoadBalancerArn: lb.arn,
      LoadBalancerName: lb.name,
      DNSName: lb.dnsName,
      CanonicalHostedZoneId: lb.canonicalHostedZoneId,
      Scheme: lb.scheme,
      Type: 'network',
      IpAddressType: 'ipv4',
      VpcId: 'vpc-0a1b2c3d',
      SecurityGroups: [lb.securityGroupId],
      State: { Code: state, ...(state === 'failed' ? { Reason: 'insufficient capacity in the subnets' } : {}) },
    };
  }

  /** A load balancer by ARN, including one being deleted (counting down its looks). */
  private byArn(arn: string): LoadBalancer | undefined {
    const lb = this.state.loadBalancers.get(arn);
    if (lb) return this.describe(lb);
    const d = this.deleting.get(arn);
    if (!d) return undefined;
    if (d.looksLeft-- <= 0) {
      this.deleting.delete(arn);
      return undefined;
    }
    return this.describe(d.lb, false);
  }

  /** (Re)installs every answer on the mocks. */
  install(): void {
    const { elbv2, ec2, tagging } = this.mocks;

    elbv2.on(DescribeLoadBalancersCommand).callsFake((input: DescribeLoadBalancersCommandInput) => {
      if (input.LoadBalancerArns?.length && input.Names?.length) {
        throw new LoadBalancerNotFoundException({ message: 'LoadBalancerArns and Names cannot be specified together', ...meta });
      }
      if (input.LoadBalancerArns?.length) {
        const out = input.LoadBalancerArns.map((a) => this.byArn(a));
        if (out.some((l) => !l)) throw new LoadBalancerNotFoundException({ message: 'One or more load balancers not found', ...meta });
        return { LoadBalancers: out as LoadBalancer[] };
      }
      if (input.Names?.length) {
        const all = [...this.state.loadBalancers.values()];
        const out = input.Names.map((n) => all.find((l) => l.name === n));
        if (out.some((l) => !l)) throw new LoadBalancerNotFoundException({ message: 'One or more load balancers not found', ...meta });
        return { LoadBalancers: (out as FakeLoadBalancer[]).map((l) => this.describe(l)) };
      }
      // No DNS-name filter exists: everything, in pages.
      const all = [...this.state.loadBalancers.values()];
      const size = Math.min(input.PageSize ?? 400, this.opts.pageSize ?? 2);
      const from = input.Marker ? Number(Buffer.from(input.Marker, 'base64').toString()) : 0;
      const page = all.slice(from, from + size);
      const next = from + size < all.length ? Buffer.from(String(from + size)).toString('base64') : undefined;
      return { LoadBalancers: page.map((l) => this.describe(l)), ...(next ? { NextMarker: next } : {}) };
    });

    elbv2.on(DescribeTargetGroupsCommand).callsFake((input: DescribeTargetGroupsCommandInput) => {
      const all = [...this.state.targetGroups.values()];
      let tgs = all;
      if (input.LoadBalancerArn) {
        if (!this.state.loadBalancers.has(input.LoadBalancerArn)) throw new LoadBalancerNotFoundException({ message: 'One or more load balancers not found', ...meta });
        tgs = all.filter((t) => t.loadBalancerArn === input.LoadBalancerArn);
      } else if (input.TargetGroupArns?.length) {
        tgs = input.TargetGroupArns.map((a) => all.find((t) => t.arn === a)).filter((t) => t !== undefined);
        if (tgs.length !== input.TargetGroupArns.length) throw new TargetGroupNotFoundException({ message: 'One or more target groups not found', ...meta });
      }
      return {
        TargetGroups: tgs.map((t) => ({
          TargetGroupArn: t.arn,
          TargetGroupName: t.arn.split('/')[1],
          Protocol: 'TCP',
          TargetType: 'ip',
          VpcId: 'vpc-0a1b2c3d',
          LoadBalancerArns: this.state.loadBalancers.has(t.loadBalancerArn) ? [t.loadBalancerArn] : [],
        })),
      };
    });

    elbv2.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn?: string }) => {
      this.targetHealthLooks++;
      const tg = this.state.targetGroups.get(input.TargetGroupArn ?? '');
      if (!tg) throw new TargetGroupNotFoundException({ message: `Target groups '${input.TargetGroupArn}' not found`, ...meta });
      const lb = this.state.loadBalancers.get(tg.loadBalancerArn);
      const targets = lb ? this.state.lookTargets(lb) : [];
      return {
        TargetHealthDescriptions: targets.map((t) => ({
          Target: { Id: t.id, Port: t.port },
          HealthCheckPort: String(t.port),
          TargetHealth: {
            State: t.health,
            ...(t.health === 'initial' ? { Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' } : {}),
            ...(t.health === 'unhealthy' ? { Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' } : {}),
          },
        })),
      };
    });

    elbv2.on(DescribeTagsCommand).callsFake((input: { ResourceArns?: string[] }) => {
      const arns = input.ResourceArns ?? [];
      if (arns.length > 20) throw new ElasticLoadBalancingV2ServiceException({ name: 'ValidationError', $fault: 'client', message: 'ResourceArns: at most 20', ...meta });
      return {
        TagDescriptions: arns.map((arn) => {
          const lb = this.state.loadBalancers.get(arn);
          const tg = this.state.targetGroups.get(arn);
          if (arn.includes(':loadbalancer/') && !lb) throw new LoadBalancerNotFoundException({ message: `Load balancers '[${arn}]' not found`, ...meta });
          if (arn.includes(':targetgroup/') && !tg) throw new TargetGroupNotFoundException({ message: `Target groups '[${arn}]' not found`, ...meta });
          return { ResourceArn: arn, Tags: tagList((lb ?? tg)!.tags) };
        }),
      };
    });

    elbv2.on(DeleteLoadBalancerCommand).callsFake((input: { LoadBalancerArn?: string }) => {
      const arn = input.LoadBalancerArn ?? '';
      this.calls.push(`DeleteLoadBalancer ${arn}`);
      const lb = this.state.loadBalancers.get(arn);
      // Deleting one that is already gone succeeds, as on AWS.
      if (!lb) return {};
      // The load balancer goes (its target group stays, now deletable; its security group is held by ENIs a little longer).
      this.state.loadBalancers.delete(arn);
      this.state.deleted.push(arn);
      this.deleting.set(arn, { lb, looksLeft: this.opts.deleteLooks ?? 1 });
      this.lingering.set(lb.securityGroupId, this.opts.eniLingerCalls ?? 1);
      this.staleFor(arn, lb.tags);
      return {};
    });

    elbv2.on(DeleteTargetGroupCommand).callsFake((input: { TargetGroupArn?: string }) => {
      const arn = input.TargetGroupArn ?? '';
      this.calls.push(`DeleteTargetGroup ${arn}`);
      const tg = this.state.targetGroups.get(arn);
      if (!tg) throw new TargetGroupNotFoundException({ message: `Target groups '[${arn}]' not found`, ...meta });
      if (this.state.loadBalancers.has(tg.loadBalancerArn)) {
        throw new ResourceInUseException({ message: `Target group '${arn}' is currently in use by a listener or a rule`, ...meta });
      }
      this.state.targetGroups.delete(arn);
      this.staleFor(arn, tg.tags);
      return {};
    });

    ec2.on(DeleteSecurityGroupCommand).callsFake((input: { GroupId?: string }) => {
      const id = input.GroupId ?? '';
      this.calls.push(`DeleteSecurityGroup ${id}`);
      const sg = this.state.securityGroups.get(id);
      if (!sg) throw ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
      const inUse = [...this.state.loadBalancers.values()].some((l) => l.securityGroupId === id);
      const linger = this.lingering.get(id) ?? 0;
      if (inUse || linger > 0) {
        if (linger > 0) this.lingering.set(id, linger - 1);
        throw ec2Error('DependencyViolation', `resource ${id} has a dependent object`);
      }
      this.state.securityGroups.delete(id);
      this.staleFor(sgArn(this.region, id), sg.tags);
      return {};
    });

    ec2.on(DescribeSecurityGroupsCommand).callsFake((input: { GroupIds?: string[] }) => {
      const ids = input.GroupIds ?? [...this.state.securityGroups.keys()];
      const missing = ids.find((id) => !this.state.securityGroups.has(id));
      if (missing) throw ec2Error('InvalidGroup.NotFound', `The security group '${missing}' does not exist`);
      return {
        SecurityGroups: ids.map((id) => {
          const sg = this.state.securityGroups.get(id)!;
          return { GroupId: id, GroupName: `k8s-traffic-${id.slice(3, 11)}`, VpcId: sg.vpcId, Tags: tagList(sg.tags) };
        }),
      };
    });

    tagging.on(GetResourcesCommand).callsFake((input: GetResourcesCommandInput) => {
      const filters = input.TagFilters ?? [];
      if (filters.length > 50) throw new TaggingInvalidParameter({ message: 'TagFilters: at most 50', ...meta });
      const types = input.ResourceTypeFilters ?? [];
      const typeOf = (arn: string): string => {
        const [, , service, , , resource] = arn.split(':');
        return `${service}:${(resource ?? '').split('/')[0]}`;
      };
      const matches = (tags: Record<string, string>) =>
        filters.every((f) => f.Key !== undefined && f.Key in tags && (!f.Values?.length || f.Values.includes(tags[f.Key]!)));
      const from = input.PaginationToken ? Number(Buffer.from(input.PaginationToken, 'base64').toString()) : 0;
      // Eventually consistent: what was just deleted is still listed for a while (counted per listing, at its first page).
      if (from === 0) for (const [arn, s] of this.stale) if (s.callsLeft-- <= 0) this.stale.delete(arn);
      const all: { arn: string; tags: Record<string, string> }[] = [
        ...[...this.state.loadBalancers.values()].map((l) => ({ arn: l.arn, tags: l.tags })),
        ...[...this.state.targetGroups.values()].map((t) => ({ arn: t.arn, tags: t.tags })),
        ...[...this.state.securityGroups.values()].map((g) => ({ arn: sgArn(this.region, g.id), tags: g.tags })),
        ...this.stale.values(),
      ];
      const listed = all.filter((r) => matches(r.tags) && (!types.length || types.includes(typeOf(r.arn))));
      const seen = new Set<string>();
      const unique = listed.filter((r) => !seen.has(r.arn) && seen.add(r.arn));
      const size = Math.min(input.ResourcesPerPage ?? 100, this.opts.taggingPageSize ?? 2);
      const page = unique.slice(from, from + size);
      const next = from + size < unique.length ? Buffer.from(String(from + size)).toString('base64') : '';
      // The real API ends with an empty PaginationToken, not a missing one.
      return { ResourceTagMappingList: page.map((r) => ({ ResourceARN: r.arn, Tags: tagList(r.tags) })), PaginationToken: next };
    });
  }

  private staleFor(arn: string, tags: Record<string, string>): void {
    const calls = this.opts.staleTagCalls ?? 1;
    if (calls > 0) this.stale.set(arn, { arn, tags, callsLeft: calls });
  }
}
