/**
 * EksKubeConfigSource (deployer/aws/eks-kubeconfig.ts): DescribeCluster (mocked at the SDK) gives the endpoint,
 * which is the local fake API server; the STS-presigned bearer token must
 * arrive there, and be renewed before it expires.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DescribeClusterCommand, EKSClient, ResourceNotFoundException } from '@aws-sdk/client-eks';
import { STSClient } from '@aws-sdk/client-sts';
import { CoreV1Api } from '@kubernetes/client-node';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../deployer/aws/clients.js';
import { buildKubeConfig, EksKubeConfigSource, eksToken } from '../deployer/aws/eks-kubeconfig.js';
import { InfraError } from '../deployer/errors.js';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { EcrRegistry } from '../deployer/aws/ecr-registry.js';
import { KubeWorkloads } from '../deployer/kube/kube-workloads.js';
import { clusterRef, workloadSpec } from '../deployer/specs.js';
import { INSTALLATION, OTHER_INSTALLATION, SETTINGS } from './fakes/aws-apps.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { FakeLoadBalancers } from './fakes/aws-load-balancers.js';
import { testStep } from './fakes/aws-step-context.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const eksMock = mockClient(EKSClient);
const clients = (region: string): AwsClients => ({ eks: new EKSClient({ region, credentials }) }) as unknown as AwsClients;
const source = (extra: Partial<ConstructorParameters<typeof EksKubeConfigSource>[0]> = {}) =>
  new EksKubeConfigSource({ clients, credentials, installation: INSTALLATION, defaultRegion: 'eu-west-1', ...extra });

/** The presigned URL inside a token. */
function tokenUrl(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const b64 = token.slice('k8s-aws-v1.'.length);
  expect(b64).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(b64, 'base64url').toString('utf8'));
}

let fake: FakeKubeApiServer;
beforeAll(async () => {
  fake = await new FakeKubeApiServer().start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  eksMock.reset();
  eksMock.on(DescribeClusterCommand).resolves({
    cluster: { name: 'search-svc-42', status: 'ACTIVE', endpoint: fake.url, certificateAuthority: { data: 'LS0tLS1CRUdJTi==' }, tags: { 'kubecontrol:installation': INSTALLATION.id } },
  });
  fake.requests.length = 0;
});
afterEach(() => {
  delete process.env.AWS_ENDPOINT_URL_STS;
});

describe('eksToken', () => {
  it('is a presigned STS GetCallerIdentity URL bound to the cluster, valid 60 seconds', async () => {
    const token = await eksToken({ cluster: 'search-svc-42', region: 'eu-west-1', credentials, sts: new STSClient({ region: 'eu-west-1', credentials }) });
    const url = tokenUrl(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-west-1\/sts\/aws4_request$/);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // The cluster header is signed, not sent in the URL.
    expect(url.searchParams.has('x-k8s-aws-id')).toBe(false);
  });

  it('follows the SDK endpoint settings (AWS_ENDPOINT_URL_STS) instead of a hard-coded host', async () => {
    process.env.AWS_ENDPOINT_URL_STS = 'https://sts.internal.example:8443';
    const token = await eksToken({ cluster: 'c', region: 'us-east-1', credentials, sts: new STSClient({ region: 'us-east-1', credentials }) });
    expect(tokenUrl(token).host).toBe('sts.internal.example:8443');
  });
});

describe('EksKubeConfigSource', () => {
  it('sends the EKS token to the cluster endpoint from DescribeCluster', async () => {
    const kc = await source().kubeConfigFor('search-svc-42', { region: 'eu-west-1' });
    await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'default' }).catch(() => undefined);

    expect(eksMock.commandCalls(DescribeClusterCommand).map((c) => c.args[0].input)).toEqual([{ name: 'search-svc-42' }]);
    const auth = fake.requests.at(-1)?.headers.authorization ?? '';
    expect(auth).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(tokenUrl(auth.slice('Bearer '.length)).searchParams.get('X-Amz-Credential')).toContain('/eu-west-1/sts/');
  });

  it('deploys through KubeWorkloads with the token accepted by the API server of an Auto Mode cluster', async () => {
    // A cluster with Auto Mode load balancing: its controller gives the Service an NLB.
    const lbs = new FakeLoadBalancers();
    const auto = await new FakeKubeApiServer({ loadBalancing: { loadBalancers: lbs, cluster: 'search-svc-42' } }).start();
    eksMock.on(DescribeClusterCommand).resolves({
      cluster: { name: 'search-svc-42', status: 'ACTIVE', endpoint: auto.url, certificateAuthority: { data: 'LS0tLS1CRUdJTi==' }, tags: { 'kubecontrol:installation': INSTALLATION.id } },
    });
    auto.behaviour.acceptToken = (a) => /^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/.test(a ?? '');
    const app = searchSvc;
    const s = testStep(app, { step: 'deploy' });
    try {
      const workloads = new KubeWorkloads({ source: source(), installation: INSTALLATION, registry: new EcrRegistry(clients, SETTINGS), rewatchDelayMs: 5 });
      const { endpoint } = await workloads.deploy({ ctx: s.ctx, cluster: clusterRef(app, 'search-svc-42'), workload: workloadSpec(app, s.ctx.version) });
      expect(endpoint).toBe(lbs.forService('search-svc-42', 'search-svc', 'search-svc')!.dnsName);
      expect(auto.requests.every((r) => r.headers.authorization?.startsWith('Bearer k8s-aws-v1.'))).toBe(true);
    } finally {
      s.cleanup();
      await auto.close();
    }
  });

  it('signs as the access role when one is set, so a change of the calling identity does not strand clusters', async () => {
    const role = 'arn:aws:iam::123456789012:role/kubecontrol-access';
    const assumed: [string, unknown][] = [];
    const s = source({
      accessRoleArn: role,
      assumeRole: (roleArn, master) => (assumed.push([roleArn, master]), { accessKeyId: 'ASIAACCESSROLE', secretAccessKey: 'secret', sessionToken: 'session' }),
    });
    const kc = await s.kubeConfigFor('search-svc-42', { region: 'eu-west-1' });
    const url = tokenUrl(kc.getCurrentUser()!.token!);
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^ASIAACCESSROLE\//);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session');
    // Assumed from kubecontrol's own credentials.
    expect(assumed).toEqual([[role, credentials]]);
  });

  it('caches the kubeconfig and renews the token after 10 minutes, describing the cluster once', async () => {
    let now = Date.parse('2026-11-24T10:00:00Z');
    const s = source({ now: () => now });
    const first = await s.kubeConfigFor('search-svc-42', { region: 'eu-west-1' });
    now += 9 * 60_000;
    expect(await s.kubeConfigFor('search-svc-42', { region: 'eu-west-1' })).toBe(first);
    now += 2 * 60_000;
    const renewed = await s.kubeConfigFor('search-svc-42', { region: 'eu-west-1' });
    expect(renewed).not.toBe(first);
    expect(renewed.getCurrentUser()?.token).not.toBe(first.getCurrentUser()?.token);
    expect(tokenUrl(renewed.getCurrentUser()!.token!).searchParams.get('X-Amz-Date')).toBe('20261124T101100Z');
    expect(eksMock.commandCalls(DescribeClusterCommand)).toHaveLength(1);
  });

  it('says so when the cluster does not exist, looking in the default region', async () => {
    eksMock.on(DescribeClusterCommand).rejects(new ResourceNotFoundException({ message: 'No cluster found for name: gone-1.', $metadata: {} }));
    const err = await source().kubeConfigFor('gone-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'not_found', message: 'EKS cluster gone-1 does not exist' });
    expect((err as InfraError).cause).toBeInstanceOf(ResourceNotFoundException);
    expect(await eksMock.commandCalls(DescribeClusterCommand)[0]!.thisValue.config.region()).toBe('eu-west-1');
  });

  it("gives no credentials for another installation's cluster", async () => {
    eksMock.on(DescribeClusterCommand).resolves({ cluster: { name: 'search-svc-42', status: 'ACTIVE', endpoint: fake.url, tags: { 'kubecontrol:installation': OTHER_INSTALLATION.id } } });
    await expect(source().kubeConfigFor('search-svc-42', { region: 'eu-west-1' })).rejects.toMatchObject({
      code: 'not_owned',
      message: `cluster search-svc-42 exists but belongs to another kubecontrol installation (${OTHER_INSTALLATION.id}); not changing its workloads`,
    });
    expect(fake.requests).toEqual([]);
  });

  it('refuses an https endpoint without a certificate authority', () => {
    expect(() => buildKubeConfig({ cluster: 'c', server: 'https://abc.gr7.eu-west-1.eks.amazonaws.com', token: 't' })).toThrow(
      'EKS cluster c has no certificate authority yet',
    );
    const kc = buildKubeConfig({ cluster: 'c', server: 'https://abc.gr7.eu-west-1.eks.amazonaws.com', caData: 'Q0E=', token: 't' });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://abc.gr7.eu-west-1.eks.amazonaws.com', caData: 'Q0E=', skipTLSVerify: false });
  });
});
