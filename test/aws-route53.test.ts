/** Route53Dns: the record change and INSYNC wait (client mocked at `send`), the health check against a real local HTTP server. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import searchSvc from '../kubeapps/search-svc.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { Route53Dns } from '../deployer/aws/route53-dns.js';
import { dnsRecord, healthCheck } from '../deployer/specs.js';
import { SETTINGS, withAws } from './fakes/aws-apps.js';

const r53 = mockClient(Route53Client);
const clients = createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
const app = searchSvc;
const NAME = 'search-svc.example.com';
const BLUE = 'k8s-searchsv-searchsv-1111.elb.eu-west-1.amazonaws.com';
const GREEN = 'k8s-searchsv-searchsv-2222.elb.eu-west-1.amazonaws.com';
const fast = { minDelay: 0.001, maxDelay: 0.002 };
const dns = (extra: Partial<ConstructorParameters<typeof Route53Dns>[0]> = {}) =>
  new Route53Dns({ clients, settings: SETTINGS, waiterDelays: fast, healthRetry: { attempts: 3, minMs: 1, maxMs: 2, timeoutMs: 2000 }, ...extra });

const cname = (target: string) => ({ Name: `${NAME}.`, Type: 'CNAME' as const, TTL: 60, ResourceRecords: [{ Value: target }] });

beforeEach(() => {
  r53.reset();
});

describe('Route53Dns.current', () => {
  it('reads the CNAME at the name', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [cname(BLUE), { Name: 'tail.example.com.', Type: 'A' }] });
    await expect(dns().current({ record: dnsRecord(app) })).resolves.toBe(BLUE);
    expect(r53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input).toEqual({ HostedZoneId: 'Z0123456789ABCDEFGHIJ', StartRecordName: NAME, MaxItems: 5 });
  });

  it('reads an alias A record', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [{ Name: `${NAME}.`, Type: 'A', AliasTarget: { DNSName: `dualstack.${BLUE}.`, HostedZoneId: 'Z2IFOLAFXWLO4F', EvaluateTargetHealth: false } }],
    });
    await expect(dns().current({ record: dnsRecord(app) })).resolves.toBe(BLUE);
  });

  it('is undefined when the next record is another name', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [{ Name: 'web.example.com.', Type: 'CNAME', ResourceRecords: [{ Value: 'x' }] }] });
    await expect(dns().current({ record: dnsRecord(app) })).resolves.toBeUndefined();
  });
});

describe('Route53Dns.pointRecord', () => {
  it('UPSERTs the CNAME with the app TTL, waits until INSYNC and returns the previous target', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [cname(BLUE)] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/C2682N5HXP0BZ4', Status: 'PENDING', SubmittedAt: new Date() } });
    r53.on(GetChangeCommand).resolvesOnce({ ChangeInfo: { Id: '/change/C2682N5HXP0BZ4', Status: 'PENDING', SubmittedAt: new Date() } }).resolves({ ChangeInfo: { Id: '/change/C2682N5HXP0BZ4', Status: 'INSYNC', SubmittedAt: new Date() } });
    const lines: string[] = [];

    await expect(dns().pointRecord({ record: dnsRecord(app), target: GREEN, progress: (m) => void lines.push(m) })).resolves.toEqual({ previous: BLUE });

    expect(r53.commandCalls(ChangeResourceRecordSetsCommand).map((c) => c.args[0].input)).toEqual([
      {
        HostedZoneId: 'Z0123456789ABCDEFGHIJ',
        ChangeBatch: {
          Comment: `kubecontrol: search-svc -> ${GREEN}`,
          Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: NAME, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: GREEN }] } }],
        },
      },
    ]);
    expect(r53.commandCalls(GetChangeCommand).map((c) => c.args[0].input)).toEqual([{ Id: '/change/C2682N5HXP0BZ4' }, { Id: '/change/C2682N5HXP0BZ4' }]);
    expect(lines.at(-1)).toBe(`${NAME} → ${GREEN} is INSYNC`);
  });

  it('replaces an alias A record in the same change batch', async () => {
    const alias = { Name: `${NAME}.`, Type: 'A' as const, AliasTarget: { DNSName: `${BLUE}.`, HostedZoneId: 'Z2IFOLAFXWLO4F', EvaluateTargetHealth: false } };
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [alias] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/1', Status: 'INSYNC', SubmittedAt: new Date() } });
    await expect(dns().pointRecord({ record: dnsRecord(app), target: GREEN, progress: () => undefined })).resolves.toEqual({ previous: BLUE });
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes!.map((c) => `${c.Action} ${c.ResourceRecordSet!.Type}`)).toEqual(['DELETE A', 'UPSERT CNAME']);
  });

  it('does nothing when the record already points there (resumed cutover)', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [cname(GREEN)] });
    await expect(dns().pointRecord({ record: dnsRecord(app), target: GREEN, progress: () => undefined })).resolves.toEqual({ previous: GREEN });
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
  });

  it('reports a rejected change with its code', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).rejects(new InvalidChangeBatch({ message: 'RRSet of type CNAME with DNS name search-svc.example.com. is not permitted', $metadata: {} }));
    await expect(dns().pointRecord({ record: dnsRecord(app), target: GREEN, progress: () => undefined })).rejects.toThrow(
      'Route53 ChangeResourceRecordSets failed: InvalidChangeBatch: RRSet of type CNAME with DNS name search-svc.example.com. is not permitted',
    );
  });

  it('times out when the change never gets INSYNC', async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: '/change/9', Status: 'PENDING', SubmittedAt: new Date() } });
    r53.on(GetChangeCommand).resolves({ ChangeInfo: { Id: '/change/9', Status: 'PENDING', SubmittedAt: new Date() } });
    await expect(dns({ maxWaitSeconds: 0.05 }).pointRecord({ record: dnsRecord(app), target: GREEN, progress: () => undefined })).rejects.toThrow(
      `timed out waiting for Route 53 change /change/9 of ${NAME} to be INSYNC`,
    );
  });

  it('needs a hosted zone', async () => {
    await expect(dns().pointRecord({ record: dnsRecord(withAws(searchSvc, { hostedZoneId: '' })), target: GREEN, progress: () => undefined })).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'no Route 53 hosted zone configured for search-svc: set aws.hostedZoneId or KUBECONTROL_HOSTED_ZONE_ID',
    });
  });

  it("uses the app's own hosted zone over the settings'", async () => {
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [cname(BLUE)] });
    await dns().current({ record: dnsRecord(withAws(searchSvc, { hostedZoneId: '/hostedzone/ZAPPOWN0001' })) });
    expect(r53.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input.HostedZoneId).toBe('ZAPPOWN0001');
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

  it('GETs the health path through the target, retrying until it answers 2xx', async () => {
    answers = [503, 200];
    paths.length = 0;
    const lines: string[] = [];
    await dns().checkHealth({ ...healthCheck(app), target, progress: (m) => void lines.push(m) });
    expect(paths).toEqual(['/healthz', '/healthz']);
    expect(lines).toEqual([`health check GET http://${target}/healthz: HTTP 503 Service Unavailable (attempt 1/3)`, `health check GET http://${target}/healthz: 200`]);
  });

  it('fails with the last status after its attempts', async () => {
    answers = [500, 500, 502];
    await expect(dns().checkHealth({ ...healthCheck(app), target, progress: () => undefined })).rejects.toMatchObject({
      code: 'unhealthy',
      message: `health check GET http://${target}/healthz failed after 3 attempts: HTTP 502 Bad Gateway`,
    });
  });

  it('fails with the cause when nothing answers', async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    await expect(dns().checkHealth({ ...healthCheck(app), target: dead, progress: () => undefined })).rejects.toThrow(
      `health check GET http://${dead}/healthz failed after 3 attempts: ECONNREFUSED`,
    );
  });

  it('uses the injected fetch and the service port for a load balancer hostname', async () => {
    const urls: string[] = [];
    const web = withAws({ ...searchSvc, service: { ...searchSvc.service, port: 443, healthCheckPath: '/health' } });
    await dns({ fetch: async (url) => (urls.push(url), { status: 204, statusText: 'No Content' }) }).checkHealth({ ...healthCheck(web), target: GREEN, progress: () => undefined });
    expect(urls).toEqual([`http://${GREEN}:443/health`]);
  });

  it('stops when the step is cancelled', async () => {
    const c = new AbortController();
    const check = dns({ healthRetry: { attempts: 5, minMs: 60_000 }, fetch: async () => ({ status: 503, statusText: '' }) }).checkHealth({
      ...healthCheck(app),
      target: GREEN,
      progress: () => c.abort(new Error('cutover cancelled')),
      signal: c.signal,
    });
    await expect(check).rejects.toMatchObject({ code: 'aborted', message: `health check of http://${GREEN}/healthz aborted: cutover cancelled` });
  });
});
