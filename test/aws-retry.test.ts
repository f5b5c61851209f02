/**
 * At the wire: the adapters' own SDK clients (standard endpoint resolution,
 * adaptive retry) against a local HTTP server playing the EKS REST-JSON API.
 * Throttling and transient errors are retried by the SDK; other errors are
 * not, and arrive wrapped with their code.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import searchSvc from '../kubeapps/search-svc.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { EksClusters } from '../deployer/aws/eks-clusters.js';
import { withAws } from './fakes/aws-apps.js';
import { testStep } from './fakes/aws-step-context.js';

type Answer = { status: number; type?: string; body: unknown };
let server: Server;
let answers: Answer[] = [];
const seen: { method: string; path: string; auth: string }[] = [];
let url = '';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: String(req.headers.authorization ?? '') });
      const a = answers.shift() ?? { status: 500, type: 'ServerException', body: { message: 'no answer scripted' } };
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
  answers = [];
  seen.length = 0;
});

/** Clients as createAwsProvider makes them, pointed at the fake by the SDK's own AWS_ENDPOINT_URL_EKS. */
function clusters(): EksClusters {
  process.env.AWS_ENDPOINT_URL_EKS = url;
  return new EksClusters({ clients: createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } }), waiterDelays: { minDelay: 0.001, maxDelay: 0.002 } });
}
const app = withAws(searchSvc);
const ACTIVE = { cluster: { name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://abc.eks.example' } };

describe('AWS calls at the wire', () => {
  it('retries a throttled call and then succeeds', async () => {
    answers = [{ status: 429, type: 'ThrottlingException', body: { message: 'Rate exceeded' } }, { status: 200, body: ACTIVE }];
    await expect(clusters().describe({ name: 'search-svc-1', app })).resolves.toEqual({ name: 'search-svc-1', status: 'ACTIVE', endpoint: 'https://abc.eks.example' });
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /clusters/search-svc-1', 'GET /clusters/search-svc-1']);
    // Signed with the configured credentials for the app's region.
    expect(seen[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/eks\/aws4_request/);
  });

  it('retries a transient server error', async () => {
    answers = [{ status: 503, type: 'ServiceUnavailableException', body: { message: 'try again' } }, { status: 200, body: ACTIVE }];
    await expect(clusters().describe({ name: 'search-svc-1', app })).resolves.toMatchObject({ status: 'ACTIVE' });
    expect(seen).toHaveLength(2);
  });

  it('does not retry a client error, and wraps it with the operation, code and message', async () => {
    answers = [
      { status: 404, type: 'ResourceNotFoundException', body: { message: 'No cluster found for name: search-svc-2.' } },
      { status: 400, type: 'ResourceLimitExceededException', body: { message: 'Cluster limit exceeded for account.' } },
    ];
    const s = testStep(app);
    try {
      const err = (await clusters().provision({ ctx: s.ctx, clusterName: 'search-svc-2' }).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe('EKS CreateCluster failed: ResourceLimitExceededException: Cluster limit exceeded for account.');
      expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /clusters/search-svc-2', 'POST /clusters']);
    } finally {
      s.cleanup();
    }
  });
});
