/**
 * Route53Dns through the real Route 53, ELBv2, EC2 and tagging SDK clients
 * against a fake account (test/fakes/aws-route53.ts: a hosted zone that refuses
 * what Route 53 refuses; test/fakes/aws-elbv2.ts over FakeLoadBalancers): the
 * alias record to the NLB replacing whatever would conflict, restoring the
 * previous target, every cutover failure leaving the record where it was, and
 * the health check (load balancer ready first; through the API server when internal).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client, ThrottlingException, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { ElbLoadBalancers } from '../deployer/aws/load-balancers.js';
import { Route53Dns } from '../deployer/aws/route53-dns.js';
import type { DnsRecord, HealthCheckSpec } from '../deployer/ports.js';
import { dnsRecord, healthCheck } from '../deployer/specs.js';
import { INSTALLATION, SETTINGS, withAws } from './fakes/aws-apps.js';
import { FakeElbv2 } from './fakes/aws-elbv2.js';
import { FakeLoadBalancers, type FakeLoadBalancer, type FakeLoadBalancersOptions } from './fakes/aws-load-balancers.js';
import { FakeRoute53 } from './fakes/aws-route53.js';

const mocks = {
  route53: mockClient(Route53Client),
  elbv2: mockClient(ElasticLoadBalancingV2Client),
  ec2: mockClient(EC2Client),
  tagging: mockClient(ResourceGroupsTaggingAPIClient),
};
const clients = createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
const app = searchSvc;
const ZONE = 'Z0123456789ABCDEFGHIJ';
const NAME = 'search-svc.example.com';
const record: DnsRecord = dnsRecord(app);
const fast = { minDelay: 0.001, maxDelay: 0.002 };

let account: FakeLoadBalancers;
let zone: FakeRoute53;
let blue: FakeLoadBalancer;
let green: FakeLoadBalancer;

function setUp(opts: FakeLoadBalancersOptions = {}): void {
  for (const m of Object.values(mocks)) m.reset();
  account = new FakeLoadBalancers({ provisionLooks: 1, healthyLooks: 1, ...opts });
  new FakeElbv2(account, mocks);
  zone = new FakeRoute53(mocks.route53, { loadBalancers: account });
  zone.addZone(ZONE, 'example.com');
  const provision = (cluster: string) =>
    account.provision({
      cluster,
      namespace: 'search-svc',
      service: 'search-svc',
      scheme: 'internet-facing',
      tags: { 'kubecontrol:installation': INSTALLATION.id, 'kubecontrol:managed-by': 'kubecontrol' },
      listeners: [{ port: 80, protocol: 'TCP' }],
      targets: [{ id: '10.0.1.7', port: 8080 }],
    });
  blue = provision('search-svc-6-inst-a1b2c3');
  green = provision('search-svc-7-inst-a1b2c3');
}
beforeEach(() => setUp());

const dns = (extra: Partial<ConstructorParameters<typeof Route53Dns>[0]> = {}) =>
  new Route53Dns({
    clients,
    settings: SETTINGS,
    loadBalancers: new ElbLoadBalancers({ clients, installation: INSTALLATION, waiterDelays: fast, maxWaitSeconds: 0.5 }),
    waiterDelays: fast,
    healthRetry: { attempts: 3, minMs: 1, maxMs: 2, timeoutMs: 2000 },
    ...extra,
  });

const alias = (lb: FakeLoadBalancer, extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet => ({
  Name: `${NAME}.`,
  Type: 'A',
  AliasTarget: { DNSName: `dualstack.${lb.dnsName}.`, HostedZoneId: 'Z2IFOLAFXWLO4F', EvaluateTargetHealth: true },
  ...extra,
});
const cname = (target: string): ResourceRecordSet => ({ Name: `${NAME}.`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: target }] });
const txt: ResourceRecordSet = { Name: `${NAME}.`, Type: 'TXT', TTL: 300, ResourceRecords: [{ Value: '"google-site-verification=abc"' }] };
/** The record sets at the app's name, without the trailing dots' noise. */
const atName = () => zone.at(ZONE, NAME);
const quiet = () => undefined;

describe('Route53Dns.pointRecord', () => {
  it('replaces a CNAME with an alias A record to the NLB, waits until INSYNC and returns the previous target', async () => {
    zone.addZone(ZONE, 'example.com', [cname(blue.dnsName)]);
    const lines: string[] = [];

    await expect(dns().pointRecord({ record, target: green.dnsName, progress: (m) => void lines.push(m) })).resolves.toEqual({ previous: blue.dnsName });

    expect(atName()).toEqual([alias(green)]);
    expect(zone.batches).toEqual([[{ Action: 'DELETE', ResourceRecordSet: cname(blue.dnsName) }, { Action: 'UPSERT', ResourceRecordSet: expect.objectContaining({ Type: 'A' }) }]]);
    expect(mocks.route53.commandCalls(GetChangeCommand).length).toBeGreaterThanOrEqual(2); // PENDING, then INSYNC
    expect(lines.at(-1)).toBe(`${NAME} → ${green.dnsName} is INSYNC`);
  });

  it('replaces an AAAA and weighted A records in one batch, keeping the TXT record', async () => {
    const aaaa: ResourceRecordSet = { Name: `${NAME}.`, Type: 'AAAA', TTL: 300, ResourceRecords: [{ Value: '2001:db8::1' }] };
    const weighted = (id: string, ip: string, weight: number): ResourceRecordSet => ({ Name: `${NAME}.`, Type: 'A', SetIdentifier: id, Weight: weight, TTL: 60, ResourceRecords: [{ Value: ip }] });
    zone.addZone(ZONE, 'example.com', [aaaa, weighted('blue', '192.0.2.10', 90), weighted('green', '192.0.2.20', 10), txt]);

    await expect(dns().pointRecord({ record, target: green.dnsName, progress: quiet })).resolves.toEqual({ previous: undefined });

    expect(zone.batches).toHaveLength(1);
    expect(zone.batches[0]!.map((c) => `${c.Action} ${c.ResourceRecordSet!.Type}${c.ResourceRecordSet!.SetIdentifier ? ` ${c.ResourceRecordSet!.SetIdentifier}` : ''}`)).toEqual([
      'DELETE A blue',
      'DELETE A green',
      'DELETE AAAA',
      'UPSERT A',
    ]);
    expect(atName().map((r) => r.Type).sort()).toEqual(['A', 'TXT']);
  });

  it('writes a CNAME only for a target that is not a load balancer, replacing an alias', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue)]);
    await expect(dns().pointRecord({ record, target: 'maintenance.example.net', progress: quiet })).resolves.toEqual({ previous: blue.dnsName });
    expect(atName()).toEqual([{ Name: `${NAME}.`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: 'maintenance.example.net' }] }]);
  });

  it('refuses a CNAME at the zone apex before any call', async () => {
    const apex: DnsRecord = { name: 'example.com', ttlSeconds: 60, zone: 'example.com', app: 'search-svc', port: 80 };
    await expect(dns().pointRecord({ record: apex, target: 'maintenance.example.net', progress: quiet })).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'search-svc: dns.name example.com is the zone apex, where a CNAME is not allowed, and maintenance.example.net is not a load balancer an alias record can point at',
    });
    expect(Object.values(mocks).reduce((n, m) => n + m.calls().length, 0)).toBe(0);
  });

  it('puts an alias at the zone apex', async () => {
    const apex: DnsRecord = { name: 'example.com', ttlSeconds: 60, zone: 'example.com', app: 'search-svc', port: 80 };
    await dns().pointRecord({ record: apex, target: green.dnsName, progress: quiet });
    expect(zone.at(ZONE, 'example.com').map((r) => r.Type).sort()).toEqual(['A', 'NS', 'SOA']);
  });

  it('refuses an ELB hostname no load balancer has, changing nothing', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue)]);
    await expect(dns().pointRecord({ record, target: 'k8s-gone-gone-0000000000.elb.eu-west-1.amazonaws.com', progress: quiet })).rejects.toMatchObject({ code: 'not_found' });
    expect(atName()).toEqual([alias(blue)]);
  });

  it('a resumed cutover waits for an identical change to be INSYNC, changing nothing', async () => {
    zone.addZone(ZONE, 'example.com', [alias(green)]);
    const lines: string[] = [];
    await expect(dns().pointRecord({ record, target: green.dnsName, progress: (m) => void lines.push(m) })).resolves.toEqual({ previous: green.dnsName });
    expect(zone.batches).toEqual([[{ Action: 'UPSERT', ResourceRecordSet: expect.objectContaining({ Type: 'A' }) }]]);
    expect(mocks.route53.commandCalls(GetChangeCommand).length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toBe(`${NAME} already points at ${green.dnsName}; making sure Route 53 is in sync`);
    expect(atName()).toEqual([alias(green)]);
  });

  it('times out when the change never gets INSYNC', async () => {
    zone = new FakeRoute53(mocks.route53, { loadBalancers: account, syncLooks: 1_000_000 });
    zone.addZone(ZONE, 'example.com');
    await expect(dns({ maxWaitSeconds: 0.05 }).pointRecord({ record, target: green.dnsName, progress: quiet })).rejects.toThrow(
      /^timed out waiting for Route 53 change \/change\/C0+1 of search-svc\.example\.com to be INSYNC$/,
    );
  });

  it('needs a hosted zone, and uses the app’s own over the settings’', async () => {
    await expect(dns().pointRecord({ record: dnsRecord(withAws(searchSvc, { hostedZoneId: '' })), target: green.dnsName, progress: quiet })).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'no Route 53 hosted zone configured for search-svc: set aws.hostedZoneId or KUBECONTROL_HOSTED_ZONE_ID',
    });
    zone.addZone('ZAPPOWN0001', 'example.com', [cname('own.example.net')]);
    await expect(dns().current({ record: dnsRecord(withAws(searchSvc, { hostedZoneId: '/hostedzone/ZAPPOWN0001' })) })).resolves.toBe('own.example.net');
  });
});

describe('Route53Dns.current', () => {
  it('reads an alias (without dualstack.) or a CNAME, and nothing at another name', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue), { ...cname('x.example.net'), Name: 'web.example.com.' }]);
    await expect(dns().current({ record })).resolves.toBe(blue.dnsName);
    zone.addZone(ZONE, 'example.com', [cname('old.example.net')]);
    await expect(dns().current({ record })).resolves.toBe('old.example.net');
    zone.addZone(ZONE, 'example.com', [txt, { ...cname('x.example.net'), Name: 'web.example.com.' }]);
    await expect(dns().current({ record })).resolves.toBeUndefined();
  });
});

describe('restoring the previous target (the undo of a cutover)', () => {
  it('puts a previous alias back exactly', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue), txt]);
    const before = atName();
    const { previous } = await dns().pointRecord({ record, target: green.dnsName, progress: quiet });
    await expect(dns().current({ record })).resolves.toBe(green.dnsName);
    await dns().pointRecord({ record, target: previous!, progress: quiet });
    const byType = (rs: ResourceRecordSet[]) => [...rs].sort((a, b) => a.Type!.localeCompare(b.Type!));
    expect(byType(atName())).toEqual(byType(before));
  });

  it('puts a previous CNAME back', async () => {
    zone.addZone(ZONE, 'example.com', [cname('legacy.example.net')]);
    const { previous } = await dns().pointRecord({ record, target: green.dnsName, progress: quiet });
    expect(previous).toBe('legacy.example.net');
    await dns().pointRecord({ record, target: previous!, progress: quiet });
    expect(atName()).toEqual([{ Name: `${NAME}.`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: 'legacy.example.net' }] }]);
  });
});

describe('each cutover failure leaves the record where it was', () => {
  /** What the cutover step does (deployer/steps/cutover.ts): the health check, then the record. */
  async function cutover(d: Route53Dns, target: string, spec: HealthCheckSpec = healthCheck(app)): Promise<void> {
    await d.checkHealth({ ...spec, target, progress: quiet });
    await d.pointRecord({ record, target, progress: quiet });
  }
  const ok = (extra: Parameters<typeof dns>[0] = {}) => dns({ fetch: async () => ({ status: 200, statusText: 'OK' }), ...extra });

  it('targets never healthy: timed out with a clear message', async () => {
    setUp({ targetHealth: 'unhealthy' });
    zone.addZone(ZONE, 'example.com', [alias(blue), txt]);
    const before = atName();
    await expect(cutover(ok(), green.dnsName)).rejects.toMatchObject({
      code: 'timed_out',
      message: `timed out waiting for the targets of load balancer ${green.name} to be healthy; 0/1 targets healthy (10.0.1.7: unhealthy Target.FailedHealthChecks)`,
    });
    expect(atName()).toEqual(before);
    expect(zone.batches).toEqual([]);
  });

  it('record conflict: Route 53 refuses a CNAME next to a TXT record, and nothing changes', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue), txt]);
    const before = atName();
    await expect(ok().pointRecord({ record, target: 'maintenance.example.net', progress: quiet })).rejects.toMatchObject({
      code: 'provider_failed',
      message: expect.stringContaining(`InvalidChangeBatch: [RRSet of type CNAME with DNS name ${NAME}. is not permitted as it conflicts with other records with the same DNS name in zone example.com.]`),
    });
    expect(atName()).toEqual(before);
  });

  it('change rejected: the error is reported and the record is unchanged', async () => {
    zone.addZone(ZONE, 'example.com', [alias(blue)]);
    zone.failNextChange(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(cutover(ok({ clients: createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' }, maxAttempts: 1 }) }), green.dnsName)).rejects.toMatchObject({
      code: 'provider_failed',
      message: 'Route53 ChangeResourceRecordSets failed: ThrottlingException: Rate exceeded',
    });
    expect(atName()).toEqual([alias(blue)]);
  });
});

describe('the fake hosted zone refuses what Route 53 refuses (through the real client)', () => {
  const change = (Action: 'CREATE' | 'UPSERT' | 'DELETE', ResourceRecordSet: ResourceRecordSet) =>
    clients('eu-west-1').route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: ZONE, ChangeBatch: { Changes: [{ Action, ResourceRecordSet }] } }));

  it('a CNAME where other records exist, a simple A next to weighted ones, a DELETE that does not match, an alias in the wrong zone', async () => {
    zone.addZone(ZONE, 'example.com', [txt, { Name: `${NAME}.`, Type: 'A', SetIdentifier: 'blue', Weight: 1, TTL: 60, ResourceRecords: [{ Value: '192.0.2.10' }] }]);
    await expect(change('UPSERT', cname(green.dnsName))).rejects.toThrow('is not permitted as it conflicts with other records with the same DNS name');
    await expect(change('UPSERT', { Name: NAME, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.30' }] })).rejects.toThrow('a non-weighted set cannot coexist with weighted sets');
    await expect(change('DELETE', { Name: NAME, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"google-site-verification=abc"' }] })).rejects.toThrow(
      'but the values provided do not match the current values',
    );
    // Z32O12XQLNTSW2 is eu-west-1's ALB zone, not its NLB zone.
    await expect(change('CREATE', { Name: `api.example.com`, Type: 'A', AliasTarget: { DNSName: green.dnsName, HostedZoneId: 'Z32O12XQLNTSW2', EvaluateTargetHealth: true } })).rejects.toThrow(
      'but the alias target name does not lie within the target zone',
    );
    expect(zone.batches).toEqual([]);
  });
});

describe('Route53Dns.checkHealth', () => {
  let server: Server;
  let target = '';
  let answers: number[] = [];
  const paths: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('waits until the load balancer is active and its targets healthy, then GETs the health path through it', async () => {
    setUp({ provisionLooks: 2 });
    const lines: string[] = [];
    const urls: string[] = [];
    await dns({ fetch: async (url) => (urls.push(url), { status: 204, statusText: 'No Content' }) }).checkHealth({ ...healthCheck(app), target: green.dnsName, progress: (m) => void lines.push(m) });
    expect(lines).toEqual([
      `load balancer ${green.name} is provisioning`,
      `load balancer ${green.name} is active`,
      `load balancer ${green.name} is active; 0/1 targets healthy`,
      `load balancer ${green.name} is active; 1/1 targets healthy`,
      `health check GET http://${green.dnsName}/healthz: 204`,
    ]);
    expect(urls).toEqual([`http://${green.dnsName}/healthz`]);
  });

  it('uses https on the service port when the Service has a certificate', async () => {
    const urls: string[] = [];
    const web = withAws({ ...searchSvc, service: { ...searchSvc.service, port: 8443, healthCheckPath: '/health', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' } });
    await dns({ fetch: async (url) => (urls.push(url), { status: 200, statusText: 'OK' }) }).checkHealth({ ...healthCheck(web), target: green.dnsName, progress: quiet });
    expect(urls).toEqual([`https://${green.dnsName}:8443/health`]);
  });

  it("checks an internal load balancer's app through the cluster's API server, never through its hostname", async () => {
    const internal = account.provision({
      cluster: 'search-svc-7-inst-a1b2c3',
      namespace: 'search-svc',
      service: 'search-svc',
      scheme: 'internal',
      tags: {},
      listeners: [{ port: 80, protocol: 'TCP' }],
      targets: [{ id: '10.0.1.7', port: 8080 }],
    });
    const asked: unknown[] = [];
    const fetched: string[] = [];
    const cluster = { name: 'search-svc-7-inst-a1b2c3', placement: { region: 'eu-west-1' } };
    const d = dns({
      fetch: async (url) => (fetched.push(url), { status: 200, statusText: 'OK' }),
      proxyGet: async ({ signal: _signal, ...cmd }) => (asked.push(cmd), { status: asked.length === 1 ? 503 : 200 }),
    });
    const spec = { ...healthCheck(withAws({ ...searchSvc, service: { ...searchSvc.service, loadBalancer: 'internal' } }), cluster) };
    await d.checkHealth({ ...spec, target: internal.dnsName, progress: quiet });
    expect(asked).toEqual([
      { cluster, namespace: 'search-svc', service: 'search-svc', port: 80, path: '/healthz' },
      { cluster, namespace: 'search-svc', service: 'search-svc', port: 80, path: '/healthz' },
    ]);
    expect(fetched).toEqual([]);
    await expect(dns().checkHealth({ ...spec, target: internal.dnsName, progress: quiet })).rejects.toMatchObject({ code: 'misconfigured' });
  });

  it('GETs the health path of a plain target, retrying until it answers 2xx', async () => {
    answers = [503, 200];
    paths.length = 0;
    const lines: string[] = [];
    await dns().checkHealth({ ...healthCheck(app), target, progress: (m) => void lines.push(m) });
    expect(paths).toEqual(['/healthz', '/healthz']);
    expect(lines).toEqual([`health check GET http://${target}/healthz: HTTP 503 Service Unavailable (attempt 1/3)`, `health check GET http://${target}/healthz: 200`]);
  });

  it('fails with the last status after its attempts', async () => {
    answers = [500, 500, 502];
    await expect(dns().checkHealth({ ...healthCheck(app), target, progress: quiet })).rejects.toMatchObject({
      code: 'unhealthy',
      message: `health check GET http://${target}/healthz failed after 3 attempts: HTTP 502 Bad Gateway`,
    });
  });

  it('fails with the cause when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    await expect(dns().checkHealth({ ...healthCheck(app), target: dead, progress: quiet })).rejects.toThrow(`health check GET http://${dead}/healthz failed after 3 attempts: ECONNREFUSED`);
  });

  it('stops when the step is cancelled', async () => {
    const c = new AbortController();
    const check = dns({ healthRetry: { attempts: 5, minMs: 60_000 }, fetch: async () => ({ status: 503, statusText: '' }) }).checkHealth({
      ...healthCheck(app),
      target: 'blue.example.net',
      progress: () => c.abort(new Error('cutover cancelled')),
      signal: c.signal,
    });
    await expect(check).rejects.toMatchObject({ code: 'aborted', message: 'health check of http://blue.example.net/healthz aborted: cutover cancelled' });
  });
});
