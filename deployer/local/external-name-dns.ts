/**
 * The Dns port on a laptop cluster: the app's stable name is a Service of type
 * ExternalName, `<app>` in the routing namespace `kubecontrol`, whose
 * `externalName` is the live deploy's Service
 * (`<app>.<app>-<deployId>.svc.cluster.local`). Cluster DNS answers
 * `<app>.kubecontrol.svc.cluster.local` with a CNAME to it, so the cutover is
 * one patch of that Service. The health check goes through the API server's
 * service proxy, so it works from the laptop without a port-forward.
 * The Service carries the installation's label: a routing Service of another
 * installation is never switched.
 */
import { apiGet } from '../kube/api-get.js';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Namespace, type V1Service } from '@kubernetes/client-node';
import { InfraError, errorMessage, isInfraError } from '../errors.js';
import { isConflict, isNotFound, kubeFailure } from '../kube/api-errors.js';
import { LABEL_INSTALLATION, assertOwned, installationLabel, ownerOf } from '../kube/installation.js';
import { LABEL_MANAGED_BY, LABEL_NAME, MANAGER } from '../kube/manifests.js';
import type { Dns, DnsRecord, HealthCheckSpec, Installation, Progress } from '../ports.js';
import { checkUntilHealthy, type HealthRetry as LocalHealthRetry } from '../health.js';
import { LABEL_APP, LOCAL_MANAGER } from './namespace-clusters.js';

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** The routing namespace's role label. */
export const LABEL_ROLE = 'kubecontrol/role';

/** How the health check retries (pods just became ready; their endpoints may lag a moment). @default 5 attempts, 1 s doubling to 8 s */
export type { HealthRetry as LocalHealthRetry } from '../health.js';

/** What ExternalNameDns needs. */
export interface ExternalNameDnsOptions {
  readonly kubeConfig: KubeConfig;
  /** Whose routing Services these are: another installation's is never switched. */
  readonly installation: Installation;
  /** Namespace of the apps' stable Services. @default 'kubecontrol' */
  readonly routingNamespace?: string;
  readonly healthRetry?: LocalHealthRetry;
}

/** `<service>.<namespace>.svc[.cluster.local]` → its parts; anything else is not a Service of this cluster. */
export function parseServiceHost(target: string): { service: string; namespace: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?\.?$/.exec(target);
  return m ? { service: m[1]!, namespace: m[3]! } : undefined;
}


/** The message of a Kubernetes Status body, else the body's first line. */
function detailOf(body: string): string {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string };
    if (s.kind === 'Status' && s.message) return s.message;
  } catch {
    // not JSON: the app's own answer
  }
  return body.split('\n')[0]!.trim().slice(0, 200);
}

/** How often pointRecord starts over when the Service changed under it (409) before it gives up. */
const ROUNDS = 3;

/** Stable names as ExternalName Services. */
export class ExternalNameDns implements Dns {
  private readonly installationId: string;

  /** Throws `misconfigured` when the installation id cannot be a label value. */
  constructor(private readonly opts: ExternalNameDnsOptions) {
    this.installationId = installationLabel(opts.installation);
  }

  private get ns(): string {
    return this.opts.routingNamespace ?? 'kubecontrol';
  }

  private core(): CoreV1Api {
    return this.opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The stable name in-cluster clients use for `app` (the routing Service is named after the app, whatever its DNS name). */
  stableName(app: string): string {
    return `${app}.${this.ns}.svc.cluster.local`;
  }

  /** The routing Service of `app`, if there is one. */
  private async service(app: string): Promise<V1Service | undefined> {
    try {
      return await this.core().readNamespacedService({ name: app, namespace: this.ns });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeFailure(`read Service ${this.ns}/${app}`, err);
    }
  }

  /** Where this installation's record points; another installation's Service is not our record (undefined). */
  async current({ record }: { record: DnsRecord; signal?: AbortSignal }): Promise<string | undefined> {
    const svc = await this.service(record.app);
    if (!svc || !ownerOf(svc, this.opts.installation).mine) return undefined;
    return svc.spec?.externalName || undefined;
  }

  async pointRecord({ record, target, progress }: { record: DnsRecord; target: string; progress: Progress; signal?: AbortSignal }): Promise<{ previous: string | undefined }> {
    const app = record.app;
    const what = `service ${this.ns}/${app}`;
    const body: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: app,
        namespace: this.ns,
        labels: { [LABEL_NAME]: app, [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: this.installationId, [LABEL_APP]: app },
      },
      // ExternalName does no port mapping: clients use the app's port, which its Service exposes.
      spec: { type: 'ExternalName', externalName: target, ports: [{ name: 'http', port: record.port, protocol: 'TCP' }] },
    };
    for (let round = 1; ; round++) {
      const existing = await this.service(app);
      if (!existing) {
        await this.ensureRoutingNamespace();
        try {
          await this.core().createNamespacedService({ namespace: this.ns, body, fieldManager: LOCAL_MANAGER });
        } catch (err) {
          // Created by someone else since the read: look at it again.
          if (isConflict(err) && round < ROUNDS) continue;
          throw kubeFailure(`create Service ${this.ns}/${app}`, err);
        }
        progress(`pointed ${this.stableName(app)} at ${target} (was nothing)`, { name: this.stableName(app), target, previous: undefined });
        return { previous: undefined };
      }
      if (existing.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGER || existing.spec?.type !== 'ExternalName') {
        throw new InfraError('not_owned', `${what} exists and is not a kubecontrol ExternalName service (type ${existing.spec?.type}); delete or rename it first`);
      }
      assertOwned(existing, this.opts.installation, what, 'not switching it');
      const previous = existing.spec?.externalName || undefined;
      if (previous === target) {
        progress(`${this.stableName(app)} already points at ${target}`, { name: this.stableName(app), target });
        return { previous };
      }
      // The resourceVersion makes the switch conditional on the Service that was checked.
      const conditional: V1Service = { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } };
      try {
        await this.core().patchNamespacedService({ name: app, namespace: this.ns, body: conditional, fieldManager: LOCAL_MANAGER, force: true }, APPLY);
      } catch (err) {
        if ((isConflict(err) || isNotFound(err)) && round < ROUNDS) continue;
        throw kubeFailure(`apply Service ${this.ns}/${app}`, err);
      }
      // Cluster DNS serves the new CNAME once its cache (5 s TTL for Services) lets the old one go.
      progress(`pointed ${this.stableName(app)} at ${target} (was ${previous ?? 'nothing'})`, { name: this.stableName(app), target, previous });
      return { previous };
    }
  }

  /**
   * The routing namespace is shared (one per cluster, whatever the installation): it carries no
   * installation label, is never deleted, and is only created when missing.
   */
  private async ensureRoutingNamespace(): Promise<void> {
    const body: V1Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: this.ns, labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_ROLE]: 'routing' } },
    };
    try {
      await this.core().createNamespace({ body, fieldManager: LOCAL_MANAGER });
    } catch (err) {
      if (isConflict(err)) return;
      throw kubeFailure(`create Namespace ${this.ns}`, err);
    }
  }

  async checkHealth({ port, path: healthPath, target, progress, signal }: HealthCheckSpec & { target: string; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const svc = parseServiceHost(target);
    if (!svc) throw new InfraError('misconfigured', `health check: ${target} is not a Service of this cluster (<service>.<namespace>.svc.cluster.local)`);
    const path = `/api/v1/namespaces/${svc.namespace}/services/${svc.service}:${port}/proxy${healthPath}`;
    const checked = checkUntilHealthy({
      what: `health check GET ${target}:${port}${healthPath} (via the API server's service proxy)`,
      retry: this.opts.healthRetry,
      defaults: { attempts: 5, minMs: 1000, maxMs: 8000 },
      data: { target },
      progress,
      signal,
      probe: async (s) => {
        const res = await apiGet(this.opts.kubeConfig, path, s);
        const detail = detailOf(res.body);
        return { status: res.status, problem: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${detail ? `: ${detail}` : ''}` };
      },
      describeError: (err) => {
        const code: unknown = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
        return typeof code === 'string' ? code : errorMessage(err);
      },
    });
    try {
      await checked;
    } catch (err) {
      if (isInfraError(err)) throw err;
      // The shared check throws plain errors: told apart by the signal, not by their name.
      throw new InfraError(signal?.aborted ? 'aborted' : 'unhealthy', errorMessage(err), { cause: err });
    }
  }
}
