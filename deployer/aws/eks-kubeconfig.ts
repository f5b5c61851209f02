/**
 * The aws way of getting a KubeConfigSource: the cluster's endpoint and CA
 * from DescribeCluster, and a bearer token that is a presigned STS
 * GetCallerIdentity URL (what `aws eks get-token` does). The token is signed as
 * the access role (KUBECONTROL_ACCESS_ROLE_ARN, assumed through STS) when one is
 * set: every cluster has an access entry for it, so a change of the identity
 * kubecontrol runs as does not strand clusters; else as kubecontrol's own
 * principal, the cluster creator. Only clusters of this installation are handed out.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { DescribeClusterCommand, ResourceNotFoundException, type EKSClientConfig } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { formatUrl } from '@aws-sdk/util-format-url';
import { KubeConfig } from '@kubernetes/client-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { InfraError } from '../errors.js';
import type { KubeConfigSource } from '../kube/kube-workloads.js';
import type { Installation } from '../ports.js';
import { awsError, notOwned, type AwsClientsFor } from './clients.js';

/** Credentials as the SDK clients take them. */
export type AwsCredentials = NonNullable<EKSClientConfig['credentials']>;

/** The header that binds a token to one cluster. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
export const TOKEN_PREFIX = 'k8s-aws-v1.';

/**
 * The STS endpoint the SDK would call in `region` (honours AWS_ENDPOINT_URL_STS,
 * FIPS and dual-stack settings): GetCallerIdentity is serialized by a real
 * STSClient and captured before it is signed or sent.
 */
export async function stsEndpoint(sts: STSClient): Promise<{ protocol: string; hostname: string; port?: number; path: string }> {
  const cmd = new GetCallerIdentityCommand({});
  let captured: HttpRequest | undefined;
  cmd.middlewareStack.add(
    () => async (args) => {
      captured = args.request as HttpRequest;
      // Short-circuit: nothing goes on the wire.
      return { output: { $metadata: {} } as never, response: undefined };
    },
    { step: 'build', priority: 'low', name: 'kubecontrolCaptureStsEndpoint' },
  );
  await sts.send(cmd);
  if (!captured?.hostname) throw new InfraError('misconfigured', 'could not resolve the STS endpoint');
  return { protocol: captured.protocol, hostname: captured.hostname, port: captured.port, path: captured.path || '/' };
}

/** A bearer token for `cluster`: `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity URL valid 60 s. */
export async function eksToken(opts: {
  cluster: string;
  region: string;
  credentials: AwsCredentials;
  sts: STSClient;
  signingDate?: Date;
}): Promise<string> {
  const ep = await stsEndpoint(opts.sts);
  const host = ep.port ? `${ep.hostname}:${ep.port}` : ep.hostname;
  const request = new HttpRequest({
    method: 'GET',
    protocol: ep.protocol,
    hostname: ep.hostname,
    port: ep.port,
    path: ep.path,
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host, [CLUSTER_ID_HEADER]: opts.cluster },
  });
  const signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'sts', sha256: Sha256 });
  const signed = await signer.presign(request, { expiresIn: 60, signingDate: opts.signingDate });
  return TOKEN_PREFIX + Buffer.from(formatUrl(signed), 'utf8').toString('base64url').replace(/=+$/, '');
}

/** A KubeConfig for one cluster with a bearer token. An http:// server (tests, local) needs no CA. */
export function buildKubeConfig(opts: { cluster: string; server: string; caData?: string; token: string }): KubeConfig {
  const insecure = opts.server.startsWith('http://');
  if (!insecure && !opts.caData) throw new InfraError('provider_failed', `EKS cluster ${opts.cluster} has no certificate authority yet`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: opts.cluster, server: opts.server, ...(insecure ? { skipTLSVerify: true } : { caData: opts.caData, skipTLSVerify: false }) }],
    users: [{ name: 'kubecontrol', token: opts.token }],
    contexts: [{ name: opts.cluster, cluster: opts.cluster, user: 'kubecontrol' }],
    currentContext: opts.cluster,
  });
  return kc;
}

/** What an EksKubeConfigSource needs. */
export interface EksKubeConfigSourceOptions {
  readonly clients: AwsClientsFor;
  /** Only clusters tagged with this installation get credentials: another installation's workloads are never changed. */
  readonly installation: Installation;
  /** Region of clusters when the caller names none (the provider's AwsSettings.region). */
  readonly defaultRegion: string;
  /** @default fromNodeProviderChain() */
  readonly credentials?: AwsCredentials;
  /**
   * A role with an access entry on every cluster: tokens are signed with its temporary
   * credentials (STS AssumeRole from `credentials`). @default none: `credentials` sign
   */
  readonly accessRoleArn?: string;
  /** Makes the access role's credentials (tests). @default fromTemporaryCredentials */
  readonly assumeRole?: (roleArn: string, masterCredentials: AwsCredentials) => AwsCredentials;
  /** The STS client that resolves the endpoint of a region. @default new STSClient({ region, credentials }) */
  readonly sts?: (region: string) => STSClient;
  /** A token is valid ~15 minutes; a new one is made after this long, ms. @default 600000 */
  readonly refreshAfterMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

interface Cached {
  readonly server: string;
  readonly caData?: string;
  readonly region: string;
  kc: KubeConfig;
  madeAt: number;
}

/** KubeConfigs for this installation's EKS clusters, cached per cluster, with the token renewed before it expires. */
export class EksKubeConfigSource implements KubeConfigSource {
  private readonly cache = new Map<string, Cached>();
  private readonly stsClients = new Map<string, STSClient>();
  private readonly credentials: AwsCredentials;

  constructor(private readonly opts: EksKubeConfigSourceOptions) {
    const own = opts.credentials ?? fromNodeProviderChain();
    // The SDK provider caches the role's credentials and renews them before they expire.
    this.credentials = opts.accessRoleArn
      ? (opts.assumeRole ?? ((RoleArn, masterCredentials) => fromTemporaryCredentials({ params: { RoleArn, RoleSessionName: 'kubecontrol' }, masterCredentials, clientConfig: { region: opts.defaultRegion } })))(
          opts.accessRoleArn,
          own,
        )
      : own;
  }

  private sts(region: string): STSClient {
    if (this.opts.sts) return this.opts.sts(region);
    let c = this.stsClients.get(region);
    if (!c) this.stsClients.set(region, (c = new STSClient({ region, credentials: this.credentials })));
    return c;
  }

  async kubeConfigFor(cluster: string, o: { region?: string; signal?: AbortSignal } = {}): Promise<KubeConfig> {
    const now = (this.opts.now ?? Date.now)();
    const hit = this.cache.get(cluster);
    if (hit && now - hit.madeAt < (this.opts.refreshAfterMs ?? 600_000)) return hit.kc;
    const info = hit ?? (await this.describe(cluster, o.region ?? this.opts.defaultRegion, o.signal));
    const token = await eksToken({
      cluster,
      region: info.region,
      credentials: this.credentials,
      sts: this.sts(info.region),
      signingDate: new Date(now),
    });
    const kc = buildKubeConfig({ cluster, server: info.server, caData: info.caData, token });
    this.cache.set(cluster, { ...info, kc, madeAt: now });
    return kc;
  }

  /** Forgets a cluster (deleted, or its credentials were refused). */
  forget(cluster: string): void {
    this.cache.delete(cluster);
  }

  private async describe(cluster: string, region: string, signal?: AbortSignal): Promise<{ server: string; caData?: string; region: string }> {
    let c;
    try {
      c = (await this.opts.clients(region).eks.send(new DescribeClusterCommand({ name: cluster }), { abortSignal: signal })).cluster;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) throw new InfraError('not_found', `EKS cluster ${cluster} does not exist`, { cause: err });
      throw awsError('EKS', 'DescribeCluster', err, signal);
    }
    const refused = notOwned(`cluster ${cluster}`, c?.tags, this.opts.installation, 'changing its workloads');
    if (refused) throw refused;
    if (!c?.endpoint) throw new InfraError('provider_failed', `EKS cluster ${cluster} has no API endpoint yet (status ${c?.status ?? 'unknown'})`);
    return { server: c.endpoint, caData: c.certificateAuthority?.data, region };
  }
}
