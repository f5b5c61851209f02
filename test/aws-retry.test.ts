/**
 * At the wire: the adapters' own SDK clients (standard endpoint resolution,
 * adaptive retry) against a local HTTP server playing the EKS REST-JSON API.
 * Throttling and transient errors are retried by the SDK; other errors are
 * not, and arrive wrapped with their code.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { EksClusters } from '../deployer/aws/eks-clusters.js';
import { ElbLoadBalancers } from '../deployer/aws/load-balancers.js';
import { Route53Dns } from '../deployer/aws/route53-dns.js';
import { clusterRef, clusterSpec, dnsRecord } from '../deployer/specs.js';
import { INSTALLATION, SETTINGS, withAws } from './fakes/aws-apps.js';
import { testStep } from './fakes/aws-step-context.js';

type Answer = { status: number; type?: string; body: unknown; xml?: string };
let server: Server;
let answers: Answer[] = [];
const seen: { method: string; path: string; auth: string; body: string }[] = [];
let url = '';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: String(req.headers.authorization ?? ''), body });
      const a = answers.shift() ?? { status: 500, type: 'ServerException', body: { message: 'no answer scripted' } };
      if (a.xml !== undefined) {
        res.writeHead(a.status, { 'content-type': 'text/xml' });
        return res.end(a.xml);
      }
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.type ? { 'x-amzn-errortype': a.type } : {}) });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  delete process.env.AWS_ENDPOINT_URL_EKS;
  delete process.env.AWS_ENDPOINT_URL_ROUTE_53;
  answers = [];
  seen.length = 0;
});

/** Clients as createAwsProvider makes them, pointed at the fake by the SDK's own AWS_ENDPOINT_URL_EKS. */
function clusters(): EksClusters {
  process.env.AWS_ENDPOINT_URL_EKS = url;
  return new EksClusters({
    clients: createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } }),
    installation: INSTALLATION,
    settings: SETTINGS,
    waiterDelays: { minDelay: 0.001, maxDelay: 0.002 },
    // Never reached here: CreateCluster is what these tests script.
    nodePools: { applyNodePool: async () => undefined },
  });
}
// A version of its own, so provision asks EKS for nothing but the cluster.
const app = withAws(searchSvc, { kubernetesVersion: '1.35' });
const ACTIVE = { cluster: { name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://abc.eks.example', tags: { 'kubecontrol:installation': INSTALLATION.id } } };

describe('AWS calls at the wire', () => {
  it('retries a throttled call and then succeeds', async () => {
    answers = [{ status: 429, type: 'ThrottlingException', body: { message: 'Rate exceeded' } }, { status: 200, body: ACTIVE }];
    await expect(clusters().describe({ cluster: clusterRef(app, 'search-svc-1') })).resolves.toEqual({ name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://abc.eks.example' });
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /clusters/search-svc-1', 'GET /clusters/search-svc-1']);
    // Signed with the configured credentials for the app's region.
    expect(seen[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/eks\/aws4_request/);
  });

  it('retries a transient server error', async () => {
    answers = [{ status: 503, type: 'ServiceUnavailableException', body: { message: 'try again' } }, { status: 200, body: ACTIVE }];
    await expect(clusters().describe({ cluster: clusterRef(app, 'search-svc-1') })).resolves.toMatchObject({ status: 'ACTIVE' });
    expect(seen).toHaveLength(2);
  });

  it('does not retry a client error, and wraps it with the operation, code and message', async () => {
    answers = [
      { status: 404, type: 'ResourceNotFoundException', body: { message: 'No cluster found for name: search-svc-2.' } },
      { status: 400, type: 'ResourceLimitExceededException', body: { message: 'Cluster limit exceeded for account.' } },
    ];
    const s = testStep(app);
    try {
      const err = (await clusters().provision({ ctx: s.ctx, cluster: clusterSpec(app, 'search-svc-2') }).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe('EKS CreateCluster failed: ResourceLimitExceededException: Cluster limit exceeded for account.');
      expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /clusters/search-svc-2', 'POST /clusters']);
    } finally {
      s.cleanup();
    }
  });
});

const NS = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"';
const xml = (status: number, body: string): Answer => ({ status, body: undefined, xml: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` });
const changeInfo = (status: string) => `<ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>${status}</Status><SubmittedAt>2026-11-24T10:00:00.000Z</SubmittedAt></ChangeInfo>`;

describe('Route 53 at the wire', () => {
  it('UPSERTs a CNAME to a target that is not a load balancer (retrying PriorRequestNotComplete) and waits for INSYNC', async () => {
    process.env.AWS_ENDPOINT_URL_ROUTE_53 = url;
    const clients = createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
    // A target that is not a load balancer (a CDN, another provider's endpoint) gets a CNAME: no ELBv2 call.
    const dns = new Route53Dns({ clients, settings: SETTINGS, loadBalancers: new ElbLoadBalancers({ clients, installation: INSTALLATION }), waiterDelays: { minDelay: 0.001, maxDelay: 0.002 } });
    answers = [
      xml(200, `<ListResourceRecordSetsResponse ${NS}><ResourceRecordSets><ResourceRecordSet><Name>search-svc.example.com.</Name><Type>CNAME</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>old.edge.example.net</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>5</MaxItems></ListResourceRecordSetsResponse>`),
      xml(400, `<ErrorResponse ${NS}><Error><Type>Sender</Type><Code>PriorRequestNotComplete</Code><Message>The request was rejected because Route 53 was still processing a prior request.</Message></Error><RequestId>r1</RequestId></ErrorResponse>`),
      xml(200, `<ChangeResourceRecordSetsResponse ${NS}>${changeInfo('PENDING')}</ChangeResourceRecordSetsResponse>`),
      xml(200, `<GetChangeResponse ${NS}>${changeInfo('PENDING')}</GetChangeResponse>`),
      xml(200, `<GetChangeResponse ${NS}>${changeInfo('INSYNC')}</GetChangeResponse>`),
    ];
    await expect(dns.pointRecord({ record: dnsRecord(app), target: 'new.edge.example.net', progress: () => undefined })).resolves.toEqual({ previous: 'old.edge.example.net' });
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /2013-04-01/hostedzone/Z0123456789ABCDEFGHIJ/rrset?maxitems=100&name=search-svc.example.com',
      'POST /2013-04-01/hostedzone/Z0123456789ABCDEFGHIJ/rrset',
      'POST /2013-04-01/hostedzone/Z0123456789ABCDEFGHIJ/rrset',
      'GET /2013-04-01/change/C2682N5HXP0BZ4',
      'GET /2013-04-01/change/C2682N5HXP0BZ4',
    ]);
    const change = seen[2]!.body;
    expect(change).toContain('<Action>UPSERT</Action>');
    expect(change).toContain('<Name>search-svc.example.com</Name><Type>CNAME</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>new.edge.example.net</Value>');
  });
});
