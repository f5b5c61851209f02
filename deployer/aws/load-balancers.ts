/**
 * The load balancers a cluster's load-balancing controller (EKS Auto Mode's)
 * makes for the app's LoadBalancer Service: waiting until one can take traffic
 * (before a cutover), finding what is left of them by tag (before a cluster is
 * deleted, and for `gc`), and deleting leftovers.
 *
 * kubecontrol never creates these itself: the controller does, tagged with the
 * Service's `aws-load-balancer-additional-resource-tags` (kubecontrol's tags,
 * installation included) and its own `eks:eks-cluster-name`. So ownership is
 * read from those tags, and another installation's are never deleted.
 */
import {
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  LoadBalancerNotFoundException,
  ResourceInUseException,
  TargetGroupNotFoundException,
  waitUntilLoadBalancerAvailable,
  waitUntilLoadBalancersDeleted,
  waitUntilTargetInService,
  type DescribeLoadBalancersCommandOutput,
  type DescribeTargetHealthCommandOutput,
  type ElasticLoadBalancingV2Client,
  type LoadBalancer,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { GetResourcesCommand, type ResourceTagMapping } from '@aws-sdk/client-resource-groups-tagging-api';
import { InfraError } from '../errors.js';
import type { Installation, Progress, ResourceKind, TaggedResource } from '../ports.js';
import type { ResourceRecord } from '../../store/index.js';
import { sleep } from '../time.js';
import { INSTALLATION_TAG, awsError, awsErrorCode, call, notOwned, pollingFor, waiterFailure, waiterOptions, type AwsClientsFor, type WaiterDelays, type WaitPolling } from './clients.js';

/** What an ElbLoadBalancers needs. */
export interface ElbLoadBalancersOptions {
  readonly clients: AwsClientsFor;
  /** This installation: resources tagged with another one's id are listed as theirs and never deleted. */
  readonly installation: Installation;
  /** Polling delays of the ELBv2 waiters and of the retries of a busy delete (seconds). @default the SDK's (15 s, up to 120 s) */
  readonly waiterDelays?: WaiterDelays;
  /** Each wait's polling, when `waiterDelays` does not set one for all. @default WAIT_POLLING (clients.ts) */
  readonly waitPolling?: WaitPolling;
  /**
   * Budget of each wait, in seconds: the NLB becoming active (1.5–3 minutes on
   * AWS), its targets passing health checks (registration plus 3 checks at 10 s,
   * 1–3 minutes), a deleted NLB being gone, a security group freed by its ENIs.
   * @default 600
   */
  readonly maxWaitSeconds?: number;
}

/** An NLB as the cutover needs it. */
export interface FoundLoadBalancer {
  readonly arn: string;
  readonly name: string;
  /** Its DNS name, lowercase, without a trailing dot. */
  readonly dnsName: string;
  /** Route 53 alias target zone: the NLB's per-region zone. */
  readonly canonicalHostedZoneId: string;
  /** 'internet-facing' | 'internal'. */
  readonly scheme: string;
  readonly securityGroups: readonly string[];
}

/** Resource types the tagging API is asked about, and the kind each is in the ledger. */
const RESOURCE_TYPES = ['elasticloadbalancing:loadbalancer', 'elasticloadbalancing:targetgroup', 'ec2:security-group'];
const CLUSTER_TAG = 'eks:eks-cluster-name';

/** `name.` → `name`, lowercase, without the `dualstack.` Route 53 alias prefix. */
export const bareHost = (h: string): string => h.replace(/\.$/, '').replace(/^dualstack\./i, '').toLowerCase();

/** `<name>-<id>.elb.<region>.amazonaws.com` (internal ones start `internal-`): an ELB's DNS name and its region. */
const ELB_HOST = /\.elb\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

/** The region in an ELB DNS name, or undefined when the name is not an ELB's. */
export function elbRegionOf(hostname: string): string | undefined {
  return ELB_HOST.exec(bareHost(hostname))?.[1];
}

/** The kind of a tagged ARN (`…:loadbalancer/net/…`, `…:targetgroup/…`, `…:security-group/sg-…`). */
function kindOfArn(arn: string): ResourceKind | undefined {
  if (arn.includes(':loadbalancer/')) return 'load-balancer';
  if (arn.includes(':targetgroup/')) return 'target-group';
  if (arn.includes(':security-group/')) return 'security-group';
  return undefined;
}

/** A security group's id from its id or ARN. */
const groupId = (name: string): string => name.replace(/^arn:[^:]+:ec2:[^:]*:[^:]*:security-group\//, '');

const tagMap = (tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? '']));

/** Waits, ELBv2 teardown and tag look-ups for the controller's load balancers. */
export class ElbLoadBalancers {
  constructor(private readonly opts: ElbLoadBalancersOptions) {}

  private get maxWait(): number {
    return this.opts.maxWaitSeconds ?? 600;
  }

  /**
   * The load balancer whose DNS name is `hostname` (the Service's status gives
   * only that), or undefined. ELBv2 has no DNS-name filter: the region's load
   * balancers are listed, page by page.
   */
  async find(cmd: { hostname: string; region: string; signal?: AbortSignal }): Promise<FoundLoadBalancer | undefined> {
    const { elbv2 } = this.opts.clients(cmd.region);
    const want = bareHost(cmd.hostname);
    let marker: string | undefined;
    do {
      const page: DescribeLoadBalancersCommandOutput = await call(
        'ELBv2',
        'DescribeLoadBalancers',
        () => elbv2.send(new DescribeLoadBalancersCommand({ PageSize: 400, ...(marker ? { Marker: marker } : {}) }), { abortSignal: cmd.signal }),
        cmd.signal,
      );
      const lb = (page.LoadBalancers ?? []).find((l) => bareHost(l.DNSName ?? '') === want);
      if (lb) return found(lb);
      marker = page.NextMarker || undefined;
    } while (marker);
    return undefined;
  }

  /**
   * Waits until the load balancer at `hostname` is `active` and every target of
   * each of its target groups is `healthy`, reporting as it goes ("load balancer
   * k8s-… is active; 2/3 targets healthy"). A load balancer that turns `failed`
   * stops the wait at once; one whose targets never pass their health checks
   * fails after `maxWaitSeconds` naming how many did and why the others did not.
   */
  async waitReady(cmd: { hostname: string; region: string; progress: Progress; signal?: AbortSignal }): Promise<{ arn: string; canonicalHostedZoneId: string; scheme: string }> {
    const { hostname, region, progress, signal } = cmd;
    const { elbv2 } = this.opts.clients(region);
    const lb = await this.find({ hostname, region, signal });
    if (!lb) throw new InfraError('not_found', `no load balancer with DNS name ${bareHost(hostname)} in ${region}`);

    // The SDK waiter retries a `failed` load balancer until its budget runs out
    // (its acceptors know only active and provisioning): a client that watches
    // each answer ends the wait as soon as AWS says failed, and reports progress.
    const stop = new AbortController();
    let failure: string | undefined;
    let lastState = '';
    const watching = {
      send: async (c: DescribeLoadBalancersCommand): Promise<DescribeLoadBalancersCommandOutput> => {
        const out = await elbv2.send(c, { abortSignal: signal });
        const state = out.LoadBalancers?.[0]?.State;
        if (state?.Code && state.Code !== lastState) {
          lastState = state.Code;
          progress(`load balancer ${lb.name} is ${state.Code}${state.Reason ? ` (${state.Reason})` : ''}`, { loadBalancer: lb.arn, state: state.Code });
        }
        if (state?.Code === 'failed') {
          failure = `load balancer ${lb.name} failed${state.Reason ? `: ${state.Reason}` : ''}`;
          stop.abort(new InfraError('provider_failed', failure));
        }
        return out;
      },
    };
    const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    try {
      await waitUntilLoadBalancerAvailable(
        waiterOptions(watching as unknown as ElasticLoadBalancingV2Client, pollingFor('load-balancer', this.opts), this.maxWait, both),
        { LoadBalancerArns: [lb.arn] },
      );
    } catch (err) {
      if (failure) throw new InfraError('provider_failed', failure, { cause: err });
      throw waiterFailure(`load balancer ${lb.name} to be active`, err, signal);
    }

    const groups = await call(
      'ELBv2',
      'DescribeTargetGroups',
      () => elbv2.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: lb.arn }), { abortSignal: signal }),
      signal,
    );
    for (const tg of groups.TargetGroups ?? []) {
      const tgArn = tg.TargetGroupArn!;
      let last: DescribeTargetHealthCommandOutput | undefined;
      let reported = '';
      const counting = {
        send: async (c: DescribeTargetHealthCommand): Promise<DescribeTargetHealthCommandOutput> => {
          const out = await elbv2.send(c, { abortSignal: signal });
          last = out;
          const all = out.TargetHealthDescriptions ?? [];
          const healthy = all.filter((t) => t.TargetHealth?.State === 'healthy').length;
          const line = `load balancer ${lb.name} is active; ${healthy}/${all.length} targets healthy`;
          if (line !== reported) {
            reported = line;
            progress(line, { loadBalancer: lb.arn, targetGroup: tgArn, healthy, targets: all.length });
          }
          return out;
        },
      };
      try {
        await waitUntilTargetInService(
          waiterOptions(counting as unknown as ElasticLoadBalancingV2Client, pollingFor('targets', this.opts), this.maxWait, signal),
          { TargetGroupArn: tgArn },
        );
      } catch (err) {
        const e = waiterFailure(`the targets of load balancer ${lb.name} to be healthy`, err, signal);
        throw new InfraError(e.code, `${e.message}${describeTargets(last)}`, { cause: err });
      }
    }
    return { arn: lb.arn, canonicalHostedZoneId: lb.canonicalHostedZoneId, scheme: lb.scheme };
  }

  /**
   * What still carries `eks:eks-cluster-name=<cluster>`: the load balancers,
   * target groups and security groups the cluster's controller made. Checked
   * before a cluster is deleted: anything here would be orphaned.
   */
  async remaining(cmd: { cluster: string; region: string; signal?: AbortSignal }): Promise<TaggedResource[]> {
    return this.tagged(cmd.region, { Key: CLUSTER_TAG, Values: [cmd.cluster] }, cmd.signal);
  }

  /** Every load balancer, target group and security group tagged `kubecontrol:managed-by=kubecontrol` (for `gc`), another installation's marked as theirs. */
  async listTagged(cmd: { region: string; signal?: AbortSignal }): Promise<TaggedResource[]> {
    return this.tagged(cmd.region, { Key: 'kubecontrol:managed-by', Values: ['kubecontrol'] }, cmd.signal);
  }

  private async tagged(region: string, filter: { Key: string; Values: string[] }, signal?: AbortSignal): Promise<TaggedResource[]> {
    const { tagging } = this.opts.clients(region);
    const mappings: ResourceTagMapping[] = [];
    let token: string | undefined;
    do {
      const page = await call(
        'Resource Groups Tagging',
        'GetResources',
        () =>
          tagging.send(new GetResourcesCommand({ TagFilters: [filter], ResourceTypeFilters: RESOURCE_TYPES, ...(token ? { PaginationToken: token } : {}) }), {
            abortSignal: signal,
          }),
        signal,
      );
      mappings.push(...(page.ResourceTagMappingList ?? []));
      token = page.PaginationToken || undefined;
    } while (token);

    const out: TaggedResource[] = [];
    for (const m of mappings) {
      const arn = m.ResourceARN ?? '';
      const kind = kindOfArn(arn);
      if (!kind) continue;
      // The tagging API is eventually consistent: it lists a resource for a while
      // after it is deleted. Each is confirmed with its own service before it counts.
      if (!(await this.exists(kind, arn, region, signal))) continue;
      const tags = tagMap(m.Tags);
      const deployId = Number(tags['kubecontrol:deploy']);
      const owner = tags[INSTALLATION_TAG];
      out.push({
        kind,
        name: kind === 'security-group' ? groupId(arn) : arn,
        ...(tags[CLUSTER_TAG] ? { cluster: tags[CLUSTER_TAG] } : {}),
        ...(tags['kubecontrol:app'] ? { app: tags['kubecontrol:app'] } : {}),
        ...(Number.isInteger(deployId) && deployId > 0 ? { deployId } : {}),
        ...(owner !== this.opts.installation.id ? { installation: owner ?? '(none)' } : {}),
      });
    }
    return out;
  }

  /** Whether a resource still exists, asked of its own service. */
  private async exists(kind: ResourceKind, name: string, region: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.tagsOf(kind, name, region, signal)) !== undefined;
  }

  /** A resource's tags, or undefined when it does not exist. */
  private async tagsOf(kind: ResourceKind, name: string, region: string, signal?: AbortSignal): Promise<Record<string, string> | undefined> {
    const { elbv2, ec2 } = this.opts.clients(region);
    if (kind === 'security-group') {
      const id = groupId(name);
      try {
        const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }), { abortSignal: signal });
        const sg = out.SecurityGroups?.[0];
        return sg ? tagMap(sg.Tags) : undefined;
      } catch (err) {
        if (awsErrorCode(err) === 'InvalidGroup.NotFound') return undefined;
        throw awsError('EC2', 'DescribeSecurityGroups', err, signal);
      }
    }
    try {
      const out = await elbv2.send(new DescribeTagsCommand({ ResourceArns: [name] }), { abortSignal: signal });
      const d = out.TagDescriptions?.find((t) => t.ResourceArn === name);
      return d ? tagMap(d.Tags) : undefined;
    } catch (err) {
      if (err instanceof LoadBalancerNotFoundException || err instanceof TargetGroupNotFoundException) return undefined;
      throw awsError('ELBv2', 'DescribeTags', err, signal);
    }
  }

  /**
   * Deletes a load balancer, target group or security group the controller
   * left behind, and waits until it is gone. One that no longer exists counts
   * as deleted; another installation's (or an untagged one) is refused
   * (`not_owned`). Deleting a load balancer also deletes its target groups and
   * security groups (they cannot go before it). A target group still used by a
   * load balancer, and a security group still held by a deleted NLB's network
   * interfaces (they linger for minutes), are retried within `maxWaitSeconds`.
   */
  async destroy(cmd: { resource: ResourceRecord; region: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { resource, region, progress, signal } = cmd;
    const kind = resource.kind as ResourceKind;
    if (kind !== 'load-balancer' && kind !== 'target-group' && kind !== 'security-group') {
      throw new InfraError('provider_failed', `ElbLoadBalancers cannot delete a ${resource.kind} (${resource.name})`);
    }
    const tags = await this.tagsOf(kind, resource.name, region, signal);
    if (!tags) {
      progress(`${kind} ${resource.name} is already gone`, { resource: resource.name });
      return;
    }
    const refused = notOwned(`${kind} ${resource.name}`, tags, this.opts.installation, 'deleting it');
    if (refused) throw refused;
    if (kind === 'load-balancer') await this.deleteLoadBalancer(resource.name, region, progress, signal);
    else if (kind === 'target-group') await this.deleteTargetGroup(resource.name, region, progress, signal);
    else await this.deleteSecurityGroup(groupId(resource.name), region, progress, signal);
  }

  private async deleteLoadBalancer(arn: string, region: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const { elbv2 } = this.opts.clients(region);
    // What goes with it, read before it goes (afterwards ELBv2 no longer says which are its).
    let lb: LoadBalancer | undefined;
    try {
      lb = (await elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }), { abortSignal: signal })).LoadBalancers?.[0];
    } catch (err) {
      if (!(err instanceof LoadBalancerNotFoundException)) throw awsError('ELBv2', 'DescribeLoadBalancers', err, signal);
    }
    const groups = lb
      ? (await call('ELBv2', 'DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: arn }), { abortSignal: signal }), signal))
          .TargetGroups ?? []
      : [];
    const name = lb?.LoadBalancerName ?? arn;
    await call('ELBv2', 'DeleteLoadBalancer', () => elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }), { abortSignal: signal }), signal);
    progress(`deleting load balancer ${name}; waiting until it is gone`, { loadBalancer: arn });
    try {
      await waitUntilLoadBalancersDeleted(waiterOptions(elbv2, pollingFor('load-balancer-deleted', this.opts), this.maxWait, signal), { LoadBalancerArns: [arn] });
    } catch (err) {
      throw waiterFailure(`load balancer ${name} to be deleted`, err, signal);
    }
    progress(`load balancer ${name} deleted`, { loadBalancer: arn });
    for (const tg of groups) await this.destroyOwned('target-group', tg.TargetGroupArn!, region, progress, signal);
    for (const sg of lb?.SecurityGroups ?? []) await this.destroyOwned('security-group', sg, region, progress, signal);
  }

  /** Deletes what went with a load balancer, when it is ours (the controller may share a security group it did not make). */
  private async destroyOwned(kind: 'target-group' | 'security-group', name: string, region: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const tags = await this.tagsOf(kind, name, region, signal);
    if (!tags || notOwned(kind, tags, this.opts.installation, 'deleting it')) return;
    if (kind === 'target-group') await this.deleteTargetGroup(name, region, progress, signal);
    else await this.deleteSecurityGroup(name, region, progress, signal);
  }

  private async deleteTargetGroup(arn: string, region: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const { elbv2 } = this.opts.clients(region);
    await this.retryWhileBusy(`target group ${arn}`, 'still used by a load balancer', progress, signal, async () => {
      try {
        await elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn }), { abortSignal: signal });
        return 'done';
      } catch (err) {
        if (err instanceof TargetGroupNotFoundException) return 'done';
        if (err instanceof ResourceInUseException) return err;
        throw awsError('ELBv2', 'DeleteTargetGroup', err, signal);
      }
    });
    progress(`target group ${arn} deleted`, { targetGroup: arn });
  }

  private async deleteSecurityGroup(id: string, region: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const { ec2 } = this.opts.clients(region);
    await this.retryWhileBusy(`security group ${id}`, "still held by the load balancer's network interfaces", progress, signal, async () => {
      try {
        await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }), { abortSignal: signal });
        return 'done';
      } catch (err) {
        const code = awsErrorCode(err);
        if (code === 'InvalidGroup.NotFound') return 'done';
        if (code === 'DependencyViolation') return err;
        throw awsError('EC2', 'DeleteSecurityGroup', err, signal);
      }
    });
    progress(`security group ${id} deleted`, { securityGroup: id });
  }

  /**
   * Runs `attempt` until it is done, pausing between tries (the waiter delays,
   * doubling) while it answers "busy", for at most `maxWaitSeconds` of pauses.
   */
  private async retryWhileBusy(what: string, busy: string, progress: Progress, signal: AbortSignal | undefined, attempt: () => Promise<'done' | unknown>): Promise<void> {
    const maxDelayMs = (this.opts.waiterDelays?.maxDelay ?? 120) * 1000;
    let delayMs = (this.opts.waiterDelays?.minDelay ?? 15) * 1000;
    let waitedMs = 0;
    for (;;) {
      const result = await attempt();
      if (result === 'done') return;
      if (waitedMs >= this.maxWait * 1000) {
        throw new InfraError('timed_out', `timed out deleting ${what}: ${busy} after ${this.maxWait} s (${awsErrorCode(result)})`, { cause: result });
      }
      progress(`${what} is ${busy}; trying again`, { resource: what });
      await sleep(delayMs, signal, `deleting ${what}`);
      waitedMs += delayMs;
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}

function found(lb: LoadBalancer): FoundLoadBalancer {
  return {
    arn: lb.LoadBalancerArn!,
    name: lb.LoadBalancerName ?? lb.LoadBalancerArn!,
    dnsName: bareHost(lb.DNSName ?? ''),
    canonicalHostedZoneId: lb.CanonicalHostedZoneId ?? '',
    scheme: lb.Scheme ?? 'internet-facing',
    securityGroups: lb.SecurityGroups ?? [],
  };
}

/** "; 2/3 targets healthy (10.0.1.7: Target.FailedHealthChecks)" from the last target-health answer. */
function describeTargets(out: DescribeTargetHealthCommandOutput | undefined): string {
  const all = out?.TargetHealthDescriptions ?? [];
  if (!all.length) return '; no targets registered';
  const bad = all.filter((t) => t.TargetHealth?.State !== 'healthy');
  const why = bad.map((t) => `${t.Target?.Id}: ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` ${t.TargetHealth.Reason}` : ''}`).join(', ');
  return `; ${all.length - bad.length}/${all.length} targets healthy${why ? ` (${why})` : ''}`;
}
