/**
 * The local fake AWS account (test/fakes/aws-account.ts) with real-world
 * durations, scaled: the fakes answer by "looks" (a resource is ready after N
 * describes), which says nothing about time; this wraps the SDK clients the aws
 * provider is given, so that each resource becomes ready a calibrated time
 * after it was asked for, whoever polls it and however often:
 *
 *   CodeBuild build 4 min · EKS cluster 12 min · node group 4 min ·
 *   Deployment rollout 2 min (the fake API server's controller starts late) ·
 *   NLB 2 min from the moment its Service exists · Route 53 change 1 min.
 *
 * Until then, a describe answers what AWS answers meanwhile (IN_PROGRESS,
 * CREATING, provisioning, PENDING). Each wait is recorded: when the resource
 * became ready and when kubecontrol first saw it ready.
 */
import { BatchGetBuildsCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CreateClusterCommand, CreateNodegroupCommand, DescribeClusterCommand, DescribeNodegroupCommand } from '@aws-sdk/client-eks';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ChangeResourceRecordSetsCommand, GetChangeCommand } from '@aws-sdk/client-route-53';
import { performance } from 'node:perf_hooks';
import { createAwsClientsFor, type AwsClients, type AwsClientsFor } from '../deployer/aws/clients.js';
import type { FakeAwsAccount } from '../test/fakes/aws-account.js';

/** Real-world seconds, before scaling (the calibration). */
export const CALIBRATED = { build: 240, clusterCreate: 720, capacity: 240, rollout: 120, loadBalancer: 120, dnsSync: 60 } as const;

export interface TimedWait {
  readonly what: string;
  readonly name: string;
  /** ms (performance.now) the resource was asked for, became ready, and was first seen ready. */
  readonly askedAt: number;
  readonly readyAt: number;
  seenAt?: number;
}

type Send = (command: unknown, options?: unknown) => Promise<unknown>;

export class TimedAws {
  readonly waits: TimedWait[] = [];
  readonly clients: AwsClientsFor;
  private readonly byKey = new Map<string, TimedWait>();
  private readonly wrapped = new WeakSet<object>();

  constructor(
    readonly aws: FakeAwsAccount,
    /** Real seconds → ms of this run. */
    readonly factor: number,
  ) {
    const base = createAwsClientsFor({ credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' } });
    this.clients = (region) => this.wrap(base(region));
    // The NLB exists (provisioning) from the moment the cluster's controller makes it for the Service.
    const provision = aws.lbs.provision.bind(aws.lbs);
    aws.lbs.provision = (cmd) => {
      const lb = provision(cmd);
      this.start('load balancer', lb.arn, CALIBRATED.loadBalancer);
      return lb;
    };
  }

  private ms(seconds: number): number {
    return seconds * 1000 * this.factor;
  }

  private start(what: string, name: string, seconds: number): TimedWait {
    const key = `${what}/${name}`;
    const existing = this.byKey.get(key);
    if (existing) return existing;
    const now = performance.now();
    const w: TimedWait = { what, name, askedAt: now, readyAt: now + this.ms(seconds) };
    this.byKey.set(key, w);
    this.waits.push(w);
    return w;
  }

  /** Whether `what/name` is ready now; the first time it is, that moment is recorded as seen. */
  private ready(what: string, name: string): boolean {
    const w = this.byKey.get(`${what}/${name}`);
    if (!w) return true;
    const now = performance.now();
    if (now < w.readyAt) return false;
    w.seenAt ??= now;
    return true;
  }

  private wrap(c: AwsClients): AwsClients {
    const on = (client: object, fn: (command: unknown, send: Send, options?: unknown) => Promise<unknown>): void => {
      if (this.wrapped.has(client)) return;
      this.wrapped.add(client);
      const target = client as { send: Send };
      const send = target.send.bind(client) as Send;
      target.send = (command: unknown, options?: unknown) => fn(command, send, options);
    };
    on(c.codebuild, async (cmd, send, o) => {
      const out = (await send(cmd, o)) as { build?: { id?: string }; builds?: { id?: string; buildComplete?: boolean; buildStatus?: string; currentPhase?: string }[] };
      if (cmd instanceof StartBuildCommand) this.start('build', out.build!.id!, CALIBRATED.build);
      if (cmd instanceof BatchGetBuildsCommand) {
        return { ...out, builds: out.builds?.map((b) => (this.ready('build', b.id!) ? b : { ...b, buildComplete: false, buildStatus: 'IN_PROGRESS', currentPhase: 'BUILD' })) };
      }
      return out;
    });
    on(c.eks, async (cmd, send, o) => {
      const out = (await send(cmd, o)) as { cluster?: { name?: string; status?: string }; nodegroup?: { nodegroupName?: string; clusterName?: string; status?: string } };
      if (cmd instanceof CreateClusterCommand) {
        const name = cmd.input.name!;
        this.start('cluster', name, CALIBRATED.clusterCreate);
        this.slowRollouts(name);
      }
      if (cmd instanceof CreateNodegroupCommand) this.start('node group', `${cmd.input.clusterName}/${cmd.input.nodegroupName}`, CALIBRATED.capacity);
      if (cmd instanceof DescribeClusterCommand && out.cluster?.status === 'ACTIVE' && !this.ready('cluster', out.cluster.name!)) {
        return { ...out, cluster: { ...out.cluster, status: 'CREATING', endpoint: undefined, certificateAuthority: undefined } };
      }
      if (cmd instanceof DescribeNodegroupCommand && out.nodegroup?.status === 'ACTIVE' && !this.ready('node group', `${out.nodegroup.clusterName}/${out.nodegroup.nodegroupName}`)) {
        return { ...out, nodegroup: { ...out.nodegroup, status: 'CREATING' } };
      }
      return out;
    });
    on(c.elbv2, async (cmd, send, o) => {
      const out = (await send(cmd, o)) as { LoadBalancers?: { LoadBalancerArn?: string; State?: { Code?: string } }[] };
      if (cmd instanceof DescribeLoadBalancersCommand) {
        return {
          ...out,
          LoadBalancers: out.LoadBalancers?.map((lb) => (lb.State?.Code === 'active' && !this.ready('load balancer', lb.LoadBalancerArn!) ? { ...lb, State: { Code: 'provisioning' } } : lb)),
        };
      }
      return out;
    });
    on(c.route53, async (cmd, send, o) => {
      const out = (await send(cmd, o)) as { ChangeInfo?: { Id?: string; Status?: string } };
      if (cmd instanceof ChangeResourceRecordSetsCommand && out.ChangeInfo?.Id) this.start('DNS change', out.ChangeInfo.Id, CALIBRATED.dnsSync);
      if (cmd instanceof GetChangeCommand && out.ChangeInfo?.Id) {
        return this.ready('DNS change', out.ChangeInfo.Id) ? { ...out, ChangeInfo: { ...out.ChangeInfo, Status: 'INSYNC' } } : { ...out, ChangeInfo: { ...out.ChangeInfo, Status: 'PENDING' } };
      }
      return out;
    });
    return c;
  }

  /** The cluster's deployment controller starts each rollout `rollout` late (its pods take that long to be ready). */
  private slowRollouts(cluster: string): void {
    const kube = this.aws.kubes.get(cluster) as unknown as { reconcileDeployment(ns: string, name: string): void } | undefined;
    if (!kube) return;
    const reconcile = kube.reconcileDeployment.bind(kube);
    const pending = new Set<string>();
    kube.reconcileDeployment = (ns: string, name: string) => {
      const key = `${ns}/${name}`;
      if (pending.has(key)) return;
      pending.add(key);
      const w = { what: 'rollout', name: `${cluster}:${key}`, askedAt: performance.now(), readyAt: performance.now() + this.ms(CALIBRATED.rollout) } as TimedWait;
      this.waits.push(w);
      setTimeout(() => {
        pending.delete(key);
        reconcile(ns, name);
        // The watch tells kubecontrol at once: seen when the controller has made the pods ready (a few ms).
        w.seenAt = performance.now();
      }, this.ms(CALIBRATED.rollout)).unref();
    };
  }
}
