/**
 * The load balancers of a fake AWS account, shared by the fakes that touch
 * them: a fake cluster's load-balancing controller (EKS Auto Mode's, driven by
 * `FakeKubeApiServer` when a Service of class `eks.amazonaws.com/nlb` appears)
 * creates them; the ELBv2, EC2 and tagging fakes answer from them; deleting a
 * cluster leaves them where they are (as real EKS does, orphaning whatever a
 * Service still held).
 *
 * What real AWS does and this state keeps: a new NLB is `provisioning` for a
 * while (1.5–3 minutes on AWS: `provisionLooks` describes here), its targets
 * are `initial` until they pass health checks (`healthyLooks`), the controller
 * creates a target group and a security group for it, and every one of the
 * three carries the tags the Service asked for (`aws-load-balancer-additional-resource-tags`)
 * and the controller's own (`eks:eks-cluster-name`, `service.eks.amazonaws.com/stack`).
 */

/** NLB canonical hosted zone ids per region (Route 53 alias targets), as AWS publishes them. */
export const NLB_ZONE_IDS: Readonly<Record<string, string>> = {
  'eu-west-1': 'Z2IFOLAFXWLO4F',
  'us-east-1': 'Z26RNL4JYFTOTI',
  'us-west-2': 'Z18D5FSROUN65G',
};

export type LbState = 'provisioning' | 'active' | 'failed';
export type TargetHealth = 'initial' | 'healthy' | 'unhealthy';

export interface FakeLoadBalancer {
  readonly arn: string;
  readonly name: string;
  readonly dnsName: string;
  readonly canonicalHostedZoneId: string;
  readonly scheme: 'internet-facing' | 'internal';
  readonly region: string;
  /** The EKS cluster whose controller made it. */
  readonly cluster: string;
  /** `<namespace>/<service>`. */
  readonly service: string;
  readonly tags: Record<string, string>;
  state: LbState;
  /** Describes left before `provisioning` turns `active`. */
  looksLeft: number;
  readonly targetGroupArn: string;
  readonly securityGroupId: string;
  /** Listener ports and protocols (TLS when a certificate was asked for). */
  readonly listeners: { port: number; protocol: 'TCP' | 'TLS'; certificateArn?: string }[];
  /** One target per ready pod: its IP and health. */
  targets: { id: string; port: number; health: TargetHealth; looksLeft: number }[];
}

export interface FakeTargetGroup {
  readonly arn: string;
  readonly loadBalancerArn: string;
  readonly tags: Record<string, string>;
}

export interface FakeSecurityGroup {
  readonly id: string;
  readonly tags: Record<string, string>;
  readonly vpcId: string;
}

/** What a test can tune. */
export interface FakeLoadBalancersOptions {
  /** Describes a new NLB answers `provisioning` before `active`. @default 1 */
  readonly provisionLooks?: number;
  /** Target-health reads a new target answers `initial` before its final health. @default 1 */
  readonly healthyLooks?: number;
  /** The final health of new targets. @default 'healthy' */
  readonly targetHealth?: TargetHealth;
  /** The account's region. @default 'eu-west-1' */
  readonly region?: string;
}

let seq = 0;
const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** The account's load balancers, target groups and security groups. */
export class FakeLoadBalancers {
  readonly loadBalancers = new Map<string, FakeLoadBalancer>();
  readonly targetGroups = new Map<string, FakeTargetGroup>();
  readonly securityGroups = new Map<string, FakeSecurityGroup>();
  /** Every load balancer ever deleted, by ARN (tests assert what went). */
  readonly deleted: string[] = [];

  constructor(readonly options: FakeLoadBalancersOptions = {}) {}

  get region(): string {
    return this.options.region ?? 'eu-west-1';
  }

  /**
   * The controller's answer to a LoadBalancer Service: a new NLB with its target
   * group and security group, all tagged with `tags` and the controller's own.
   */
  provision(cmd: {
    cluster: string;
    namespace: string;
    service: string;
    scheme: 'internet-facing' | 'internal';
    tags: Record<string, string>;
    listeners: FakeLoadBalancer['listeners'];
    targets: readonly { id: string; port: number }[];
  }): FakeLoadBalancer {
    const n = ++seq;
    const region = this.region;
    const account = '123456789012';
    // Names as the controller makes them: k8s-<ns>-<svc>-<hash>, at most 32 characters.
    const name = `k8s-${cmd.namespace.slice(0, 8)}-${cmd.service.slice(0, 8)}-${hex(n, 10)}`.slice(0, 32);
    const id = hex(n * 7919, 16);
    const arn = `arn:aws:elasticloadbalancing:${region}:${account}:loadbalancer/net/${name}/${id}`;
    const tags = {
      ...cmd.tags,
      'eks:eks-cluster-name': cmd.cluster,
      'service.eks.amazonaws.com/stack': `${cmd.namespace}/${cmd.service}`,
    };
    const tg: FakeTargetGroup = { arn: `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/k8s-${hex(n, 8)}/${id}`, loadBalancerArn: arn, tags };
    const sg: FakeSecurityGroup = { id: `sg-${hex(n * 104729, 17)}`, tags, vpcId: 'vpc-0a1b2c3d' };
    const healthyLooks = this.options.healthyLooks ?? 1;
    const lb: FakeLoadBalancer = {
      arn,
      name,
      dnsName: `${name}-${id.slice(0, 10)}.elb.${region}.amazonaws.com`,
      canonicalHostedZoneId: NLB_ZONE_IDS[region] ?? 'Z2IFOLAFXWLO4F',
      scheme: cmd.scheme,
      region,
      cluster: cmd.cluster,
      service: `${cmd.namespace}/${cmd.service}`,
      tags,
      state: 'provisioning',
      looksLeft: this.options.provisionLooks ?? 1,
      targetGroupArn: tg.arn,
      securityGroupId: sg.id,
      listeners: cmd.listeners,
      targets: cmd.targets.map((t) => ({ ...t, health: 'initial', looksLeft: healthyLooks })),
    };
    this.loadBalancers.set(arn, lb);
    this.targetGroups.set(tg.arn, tg);
    this.securityGroups.set(sg.id, sg);
    return lb;
  }

  /** The controller removes what it made for a Service (when the Service is deleted from a live cluster). */
  deprovision(arn: string): void {
    const lb = this.loadBalancers.get(arn);
    if (!lb) return;
    this.loadBalancers.delete(arn);
    this.targetGroups.delete(lb.targetGroupArn);
    this.securityGroups.delete(lb.securityGroupId);
    this.deleted.push(arn);
  }

  /** The load balancer made for `<namespace>/<service>` on `cluster`, if any. */
  forService(cluster: string, namespace: string, service: string): FakeLoadBalancer | undefined {
    return [...this.loadBalancers.values()].find((lb) => lb.cluster === cluster && lb.service === `${namespace}/${service}`);
  }

  byDnsName(dnsName: string): FakeLoadBalancer | undefined {
    const bare = dnsName.replace(/\.$/, '').replace(/^dualstack\./, '').toLowerCase();
    return [...this.loadBalancers.values()].find((lb) => lb.dnsName.toLowerCase() === bare);
  }

  /** One look at a load balancer (DescribeLoadBalancers): `provisioning` counts down to `active`. */
  look(lb: FakeLoadBalancer): LbState {
    if (lb.state === 'provisioning' && lb.looksLeft-- <= 0) lb.state = 'active';
    return lb.state;
  }

  /** One look at its targets (DescribeTargetHealth): `initial` counts down to the final health (only once the NLB is active). */
  lookTargets(lb: FakeLoadBalancer): FakeLoadBalancer['targets'] {
    if (lb.state !== 'active') return lb.targets;
    const final = this.options.targetHealth ?? 'healthy';
    for (const t of lb.targets) if (t.health === 'initial' && t.looksLeft-- <= 0) t.health = final;
    return lb.targets;
  }

  /** Every resource still here that carries `key=value` (what the tagging API would list). */
  taggedWith(key: string, value?: string): { arn: string; kind: 'load-balancer' | 'target-group' | 'security-group'; tags: Record<string, string> }[] {
    const match = (tags: Record<string, string>) => key in tags && (value === undefined || tags[key] === value);
    const out: { arn: string; kind: 'load-balancer' | 'target-group' | 'security-group'; tags: Record<string, string> }[] = [];
    for (const lb of this.loadBalancers.values()) if (match(lb.tags)) out.push({ arn: lb.arn, kind: 'load-balancer', tags: lb.tags });
    for (const tg of this.targetGroups.values()) if (match(tg.tags)) out.push({ arn: tg.arn, kind: 'target-group', tags: tg.tags });
    for (const sg of this.securityGroups.values()) {
      if (match(sg.tags)) out.push({ arn: `arn:aws:ec2:${this.region}:123456789012:security-group/${sg.id}`, kind: 'security-group', tags: sg.tags });
    }
    return out;
  }
}
