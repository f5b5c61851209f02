/**
 * A GET on a cluster's API server with the kubeconfig's credentials and CA,
 * answering any status: the client's generated APIs throw on non-2xx and drop
 * the body, which a health check through the service proxy needs to read.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { InfraError } from '../errors.js';

/** The first 4 KB of the answer, and its status. */
export async function apiGet(kc: KubeConfig, path: string, signal?: AbortSignal): Promise<{ status: number; statusText: string; body: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new InfraError('misconfigured', 'the kubeconfig has no current cluster');
  // The server URL may carry a path (Rancher, proxies): the API path goes after it.
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
  const opts: https.RequestOptions = { method: 'GET', headers: { accept: '*/*' } };
  await kc.applyToHTTPSOptions(opts);
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, ...(signal ? { signal } : {}), timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end();
  });
}
