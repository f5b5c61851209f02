/**
 * The real pipeline, unchanged, on the aws provider, through the real server:
 * build → provision → deploy → approval → cutover → teardown of each example
 * app — search-svc on EKS Auto Mode nodes, web-frontend on an arm64 spot node
 * group behind TLS, cache-worker on Fargate behind an internal load balancer —
 * through the real SDK clients (answered at `send` by a stateful fake account
 * that refuses what AWS refuses) and the real Kubernetes client against one
 * fake API server per cluster, whose load balancers exist only because Auto
 * Mode's controller runs in it. Every run ends with nothing tagged left in the
 * account but what serves the apps.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateClusterCommand, CreateNodegroupCommand } from '@aws-sdk/client-eks';
import { InvalidChangeBatch } from '@aws-sdk/client-route-53';
import type { KubeApp } from '../kubeapps/index.js';
import cacheWorker from '../kubeapps/examples/cache-worker.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import webFrontend from '../kubeapps/examples/web-frontend.js';
import { fastAwsProvider, OTHER_INSTALLATION, withAws } from './fakes/aws-apps.js';
import { FakeAwsAccount, ZONE_ID } from './fakes/aws-account.js';
import { startHarness, undeleted, type Harness } from './helpers/harness.js';

const built = (app: KubeApp): KubeApp => withAws(app, { builder: 'codebuild', codeBuildProject: `${app.image.repository}-image` });
const apps = [built(searchSvc), built(webFrontend), built(cacheWorker)];

type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };

describe('the pipeline on the aws provider', () => {
  let aws: FakeAwsAccount;
  let h: Harness;
  const health: string[] = [];
  beforeAll(async () => {
    aws = new FakeAwsAccount();
    // Everything real but the drain before the old cluster goes (2 minutes at TTL 60 s).
    const provider = fastAwsProvider({
      fetch: async (url: string) => {
        health.push(url);
        return { status: 200, statusText: 'OK' };
      },
    });
    h = await startHarness({ provider: 'aws' }, { provider, apps });
  });
  afterAll(async () => {
    await h.close();
    await aws.close();
  });

  /** Deploys, approves (by `approver`) and waits for the end; a rolling update needs no approval. */
  const deploy = (as: string, approver: string, ...args: string[]): Promise<number> => h.runToEnd(as, approver, 'deploy', ...args);
  const live = (app: string): string => h.k.store.environments.live(app)!.name;
  const recordOf = (name: string) => aws.route53.at(ZONE_ID, name);
  const lbOf = (cluster: string) => [...aws.lbs.loadBalancers.values()].find((lb) => lb.cluster === cluster);

  it('search-svc on EKS Auto Mode: a first blue/green builds, provisions, deploys, waits for approval and points an alias at the new load balancer', async () => {
    const id = await deploy('carol', 'bob', 'search-svc', '1.5.0');
    const d = h.k.core.view(id);
    expect(d.state).toBe('succeeded');
    expect(d.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['build:succeeded', 'provision:succeeded', 'deploy:succeeded', 'approval:succeeded', 'cutover:succeeded', 'teardown:skipped']);
    const cluster = `search-svc-${id}-${h.k.installation}`;
    expect(live('search-svc')).toBe(cluster);

    // The cluster: Auto Mode with everything it needs to serve, a supported version, no extended-support bill.
    expect(aws.mocks.eks.commandCalls(CreateClusterCommand)[0]!.args[0].input).toMatchObject({
      name: cluster,
      version: '1.35',
      upgradePolicy: { supportType: 'STANDARD' },
      computeConfig: { enabled: true, nodePools: ['system'] },
      kubernetesNetworkConfig: { elasticLoadBalancing: { enabled: true } },
      storageConfig: { blockStorage: { enabled: true } },
      accessConfig: { authenticationMode: 'API' },
      tags: { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': String(id), 'kubecontrol:installation': h.k.installation },
    });
    expect(aws.mocks.eks.commandCalls(CreateNodegroupCommand)).toHaveLength(0);

    // On the cluster: the app's NodePool from its hardware, and a Deployment that runs as Pod Security "restricted" asks.
    const kube = aws.kubes.get(cluster)!;
    expect(kube.requests.every((r) => /^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/.test(String(r.headers.authorization)))).toBe(true);
    const pool = kube.get('nodepools', undefined, 'kubecontrol-search-svc') as unknown as Obj;
    expect(pool.spec).toMatchObject({ limits: { nodes: '12' } });
    const deployment = kube.get('deployments', 'search-svc', 'search-svc') as unknown as {
      spec: { template: { spec: { serviceAccountName: string; containers: { name: string; image: string; securityContext: Record<string, unknown> }[] } } };
    };
    expect(deployment.spec.template.spec.containers.map((c) => c.name)).toEqual(['api']);
    expect(deployment.spec.template.spec.containers[0]!.image).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/search-svc:1.5.0');
    expect(deployment.spec.template.spec.containers[0]!.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });

    // The load balancer Auto Mode made, tagged as ours; health checked through it; Route 53 aliased to it.
    const lb = lbOf(cluster)!;
    expect(lb).toMatchObject({ scheme: 'internet-facing', state: 'active' });
    expect(lb.tags).toMatchObject({ 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': String(id), 'kubecontrol:installation': h.k.installation });
    expect(health).toEqual([`http://${lb.dnsName}/healthz`]);
    expect(recordOf('search-svc.example.com')).toEqual([
      // Route 53 answers names fully qualified.
      expect.objectContaining({ Type: 'A', AliasTarget: { DNSName: `dualstack.${lb.dnsName}.`, HostedZoneId: lb.canonicalHostedZoneId, EvaluateTargetHealth: true } }),
    ]);
    expect(h.k.store.resources.forDeploy(id).map((r) => `${r.kind}:${r.state}`)).toEqual(['cluster:created', 'namespace:created']);
  }, 60_000);

  it('search-svc: a second blue/green moves traffic and tears the first cluster down with its load balancer; a rolling update changes images in place', async () => {
    const first = live('search-svc');
    const firstLb = lbOf(first)!;
    const id = await deploy('carol', 'bob', 'search-svc', '1.6.0');
    expect(h.k.store.deploys.get(id)!.state).toBe('succeeded');
    const second = live('search-svc');
    expect(second).toBe(`search-svc-${id}-${h.k.installation}`);
    // The old cluster, its load balancer, target group and security group are gone: nothing orphaned.
    expect(aws.eks.clusters.has(first)).toBe(false);
    expect(aws.lbs.deleted).toContain(firstLb.arn);
    expect(aws.tagged().filter((t) => t.includes(first))).toEqual([]);
    expect(h.k.store.deploys.get(id)!.previousTarget).toBe(firstLb.dnsName);
    expect(recordOf('search-svc.example.com')[0]!.AliasTarget!.DNSName).toBe(`dualstack.${lbOf(second)!.dnsName}.`);

    const rolling = await deploy('carol', 'bob', 'search-svc', '1.6.1', '--strategy', 'rolling');
    expect(h.k.core.view(rolling).state).toBe('succeeded');
    expect(live('search-svc')).toBe(second);
    const deployment = aws.kubes.get(second)!.get('deployments', 'search-svc', 'search-svc') as unknown as Obj & { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(deployment.spec.template.spec.containers[0]!.image).toMatch(/search-svc:1\.6\.1$/);
    expect(deployment.metadata.annotations?.['kubecontrol/version']).toBe('1.6.1');
  }, 60_000);

  it('web-frontend on an arm64 spot node group behind TLS: blue/green, then a rolling update', async () => {
    const id = await deploy('alice', 'dave', 'web-frontend', '2.0.0', '--strategy', 'blue-green');
    expect(h.k.core.view(id).state).toBe('succeeded');
    const cluster = live('web-frontend');
    expect(aws.mocks.eks.commandCalls(CreateNodegroupCommand).map((c) => c.args[0].input).find((i) => i.clusterName === cluster)).toMatchObject({
      capacityType: 'SPOT',
      amiType: 'AL2023_ARM_64_STANDARD',
      instanceTypes: ['m7g.large', 'c7g.large'],
      scalingConfig: { minSize: 2, maxSize: 10, desiredSize: 2 },
    });
    const lb = lbOf(cluster)!;
    expect(lb.listeners).toEqual([expect.objectContaining({ port: 443, protocol: 'TLS', certificateArn: expect.stringMatching(/^arn:aws:acm:/) })]);
    expect(health).toContain(`https://${lb.dnsName}/health`);

    const rolling = await deploy('alice', 'dave', 'web-frontend', '2.0.1');
    expect(h.k.core.view(rolling)).toMatchObject({ state: 'succeeded', strategy: 'rolling' });
    expect(live('web-frontend')).toBe(cluster);
  }, 60_000);

  it('cache-worker on Fargate behind an internal load balancer: checked through the API server, never from outside the VPC', async () => {
    const before = health.length;
    const id = await deploy('erin', 'bob', 'cache-worker', '3.1.0');
    expect(h.k.core.view(id).state).toBe('succeeded');
    const cluster = live('cache-worker');
    expect(aws.eks.fargateProfiles.size).toBeGreaterThan(0);
    expect(lbOf(cluster)).toMatchObject({ scheme: 'internal' });
    // No request to the internal load balancer's address: the check went through the cluster's service proxy.
    expect(health.slice(before)).toEqual([]);
    expect(aws.kubes.get(cluster)!.requests.some((r) => r.path.startsWith('/api/v1/namespaces/cache-worker/services/cache-worker:9000/proxy/ready'))).toBe(true);

    const rolling = await deploy('erin', 'bob', 'cache-worker', '3.1.1', '--strategy', 'rolling');
    expect(h.k.core.view(rolling).state).toBe('succeeded');
  }, 60_000);

  it('a rollout whose pods crash fails with the reason and leaves nothing of its own behind; traffic stays', async () => {
    const serving = recordOf('search-svc.example.com');
    aws.nextBehaviour = { rollout: 'crashloop' };
    const id = await deploy('carol', 'bob', 'search-svc', '1.7.0-bad');
    aws.nextBehaviour = {};
    const d = h.k.core.view(id);
    expect(d.state).toBe('failed');
    expect(d.error).toMatch(/CrashLoopBackOff/);
    expect(d.cleanup).toBe('done');
    expect(undeleted(h, id)).toEqual([]);
    expect(aws.tagged().filter((t) => t.includes(`search-svc-${id}-`))).toEqual([]);
    expect(recordOf('search-svc.example.com')).toEqual(serving);
  }, 60_000);

  it('a cutover whose record change Route 53 rejects keeps traffic where it was and removes the new cluster', async () => {
    const serving = recordOf('search-svc.example.com');
    aws.route53.failNextChange(new InvalidChangeBatch({ message: 'Tried to create an alias that targets a load balancer that is being deleted', $metadata: {} }));
    const id = await deploy('carol', 'bob', 'search-svc', '1.8.0');
    const d = h.k.core.view(id);
    expect(d.state).toBe('failed');
    expect(d.steps.find((s) => s.name === 'cutover')?.state).toBe('failed');
    expect(d.error).toMatch(/InvalidChangeBatch/);
    expect(recordOf('search-svc.example.com')).toEqual(serving);
    expect(aws.tagged().filter((t) => t.includes(`search-svc-${id}-`))).toEqual([]);
  }, 60_000);

  it('leaves nothing tagged in the account but what serves the three apps', () => {
    const serving = ['search-svc', 'web-frontend', 'cache-worker'].map(live);
    const left = aws.tagged();
    for (const entry of left) expect(serving.some((c) => entry.includes(c))).toBe(true);
    // Each live cluster has its load balancer, target group and security group; nothing else is left.
    for (const c of serving) expect(left.filter((e) => e.endsWith(`of ${c}`)).map((e) => e.split(' ')[0])).toEqual(['load-balancer', 'security-group', 'target-group']);
  });

  it("gc deletes a cluster and a load balancer of ours that no deploy owns; another installation's are listed as theirs and not touched", async () => {
    const ours = { 'kubecontrol:app': 'search-svc', 'kubecontrol:deploy': '9999', 'kubecontrol:managed-by': 'kubecontrol', 'kubecontrol:installation': h.k.installation };
    const theirs = { ...ours, 'kubecontrol:deploy': '9998', 'kubecontrol:installation': OTHER_INSTALLATION.id };
    const mine = `search-svc-9999-${h.k.installation}`;
    const other = `search-svc-9998-${OTHER_INSTALLATION.id}`;
    aws.eks.seedCluster(mine, ours);
    aws.eks.seedCluster(other, theirs);
    // A load balancer left by our cluster's controller, and one of theirs.
    const leftLb = aws.lbs.provision({ cluster: mine, namespace: 'search-svc', service: 'search-svc', scheme: 'internet-facing', tags: ours, listeners: [{ port: 80, protocol: 'TCP' }], targets: [] });
    const theirLb = aws.lbs.provision({ cluster: other, namespace: 'search-svc', service: 'search-svc', scheme: 'internet-facing', tags: theirs, listeners: [{ port: 80, protocol: 'TCP' }], targets: [] });

    const listed = (await (await fetch(`${h.url}/api/gc`, { headers: { 'x-kubecontrol-user': 'alice' } })).json()) as {
      orphans: { kind: string; name: string }[];
      others: { kind: string; name: string; installation: string }[];
    };
    expect(listed.orphans.map((o) => `${o.kind} ${o.name}`).sort()).toEqual(
      [`cluster ${mine}`, `load-balancer ${leftLb.arn}`, `security-group ${leftLb.securityGroupId}`, `target-group ${leftLb.targetGroupArn}`].sort(),
    );
    expect(listed.others.map((o) => o.installation)).toEqual(expect.arrayContaining([OTHER_INSTALLATION.id]));

    const collected = (await (await fetch(`${h.url}/api/gc`, { method: 'POST', headers: { 'x-kubecontrol-user': 'alice' } })).json()) as { orphans: { outcome: string }[] };
    expect(collected.orphans.map((o) => o.outcome)).toEqual(collected.orphans.map(() => 'deleted'));
    expect(aws.eks.clusters.has(mine)).toBe(false);
    expect(aws.lbs.loadBalancers.has(leftLb.arn)).toBe(false);
    // Theirs are untouched.
    expect(aws.eks.clusters.get(other)!.tags).toEqual(theirs);
    expect(aws.lbs.loadBalancers.has(theirLb.arn)).toBe(true);
  }, 60_000);
});
