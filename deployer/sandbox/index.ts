/**
 * The sandbox provider: simulated registry, builder, clusters, workloads and
 * DNS. Real-world durations (an EKS cluster takes ~12 minutes) are multiplied
 * by `scale`; the world lives in SQLite (store.sandbox) so a restarted server
 * sees the same clusters, images and records. Faults can be injected per step
 * for demos and tests. Everything it reports is labelled "[sandbox]".
 */
import type { Store } from '../../store/index.js';
import type { Builder, ClusterInfo, Clusters, Dns, PlanRequest, Progress, Provider, ProviderPlan, Registry, StepContext, TaggedResource, Workloads } from '../ports.js';
import { systemClock, type Clock } from '../clock.js';
import { InfraError } from '../errors.js';
import { capacityLine, deploymentLine, liveLine, portsOf, rollingLine, versionLine } from '../plan-lines.js';
import { calendarVersions, EKS_CALENDAR, newestStandard } from '../kubernetes-versions.js';
import { abortable } from '../time.js';

/** Real-world durations in seconds, before scaling. */
export const REAL_SECONDS = {
  registryLookup: 0.4,
  build: 180,
  clusterCreate: 720,
  nodegroupCreate: 240,
  fargateProfileCreate: 120,
  rollout: 90,
  loadBalancer: 60,
  healthCheck: 2,
  dnsSync: 45,
  nodegroupDelete: 300,
  fargateProfileDelete: 120,
  clusterDelete: 540,
  /** UpdateNodegroupConfig until its update is Successful. */
  nodegroupUpdate: 120,
  /** A NodePool's new limits until it is Ready again. */
  nodePoolUpdate: 5,
  /** Kubernetes' default progress deadline: how long an unhealthy rollout takes to be declared failed. */
  progressDeadline: 600,
} as const;

/** Steps a fault can be injected into. */
export const FAULT_STEPS = ['build', 'provision', 'deploy', 'cutover', 'teardown'] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];
/**
 * `fail`: the cloud call errors; `timeout`: it never finishes; `unhealthy`: the rollout or health check never gets healthy;
 * `throttle`: the cloud call is refused with ThrottlingException once per use of the fault (`times`), retried with
 * backoff as the AWS SDK does, and goes through after (it fails once the SDK's attempts are spent).
 */
export const FAULT_KINDS = ['fail', 'timeout', 'unhealthy', 'throttle'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Attempts per throttled call, the first included, as kubecontrol's AWS clients make them (AwsSettings.maxAttempts). */
export const THROTTLE_ATTEMPTS = 8;

interface SandboxCluster {
  name: string;
  /** The installation that created it (see ports.ts `Installation`). */
  installation?: string;
  app: string;
  deployId: number;
  status: 'CREATING' | 'ACTIVE' | 'DELETING';
  readyAt: number;
  capacity: 'auto' | 'nodes' | 'fargate';
  /** Its Kubernetes version (absent in worlds recorded before it was kept). */
  kubernetesVersion?: string;
  /** An Auto Mode NodePool's node limit, once resized in place. */
  maxNodes?: number;
}
interface SandboxWorkload {
  cluster: string;
  app: string;
  version: string;
  replicas: number;
  /** Its containers' names (absent in worlds recorded before they were kept). */
  containers?: string[];
  endpoint: string;
  /** The pod template's kubectl.kubernetes.io/restartedAt, once restarted. */
  restartedAt?: string | null;
}

/** An error as the real service would phrase it (its code in the message), labelled as simulated. */
class SandboxError extends InfraError {
  constructor(
    readonly serviceCode: string,
    message: string,
  ) {
    super(serviceCode === 'NotFound' ? 'not_found' : serviceCode === 'ProgressDeadlineExceeded' || serviceCode === 'HealthCheckFailed' ? 'unhealthy' : 'provider_failed', `[sandbox] ${serviceCode}: ${message}`);
  }
}

export interface SandboxOptions {
  /** Multiplies every real-world duration; 1 = real time. */
  readonly scale: number;
  /** Versions treated as already in the registry, per repository (e.g. a seeded history). */
  readonly seedImages?: readonly string[];
  /** Simulated time passes on this clock. @default systemClock */
  readonly clock?: Clock;
  /** This installation's identity, carried by every simulated resource. */
  readonly installation?: string;
  /** Replaces some real-world durations (seconds, before scaling), e.g. a benchmark's calibration. @default REAL_SECONDS */
  readonly seconds?: Partial<Record<keyof typeof REAL_SECONDS, number>>;
}

const DEFAULT_SECONDS = REAL_SECONDS;

/** Builds the sandbox provider over the store's sandbox tables. */
export function createSandboxProvider(store: Store, options: SandboxOptions): Provider {
  const world = store.sandbox;
  const scale = options.scale;
  // The durations this world runs with (shadows the defaults for everything below).
  const REAL_SECONDS = { ...DEFAULT_SECONDS, ...options.seconds };
  const clock = options.clock ?? systemClock;
  const installation = options.installation ?? 'sandbox';
  const ms = (seconds: number): number => Math.round(seconds * 1000 * scale);
  const wait = (seconds: number, signal?: AbortSignal): Promise<void> => clock.sleep(ms(seconds), signal);
  const sleep = (delay: number, signal?: AbortSignal): Promise<void> => clock.sleep(delay, signal);
  for (const image of options.seedImages ?? []) world.put('image', image, { image, seeded: true });

  /**
   * A throttled cloud call: each armed `throttle` use of `step` refuses one attempt with ThrottlingException,
   * retried after the SDK's backoff for throttling (0.5 s doubling, at most 20 s; simulated time) until
   * THROTTLE_ATTEMPTS attempts are spent.
   */
  async function throttled(step: FaultStep, app: string, call: string, progress: Progress | undefined, signal: AbortSignal | undefined): Promise<void> {
    for (let attempt = 1; world.takeFault(step, app, ['throttle']); attempt++) {
      if (attempt >= THROTTLE_ATTEMPTS) throw new SandboxError('ThrottlingException', `${call}: Rate exceeded (gave up after ${attempt} attempts)`);
      const delay = Math.min(20, 0.5 * 2 ** (attempt - 1));
      progress?.(`[sandbox] ${call}: ThrottlingException: Rate exceeded; retrying in ${delay}s (attempt ${attempt}/${THROTTLE_ATTEMPTS})`, { throttled: attempt });
      await wait(delay, signal);
    }
  }

  /** Applies an injected fault for `step` of `app` (its name), if one is armed; `throttle` faults are `throttled`'s. */
  async function fault(
    step: FaultStep,
    app: string,
    signal: AbortSignal | undefined,
    failure: () => SandboxError,
    { hang = true, kinds = ['fail', 'timeout', 'unhealthy'] }: { hang?: boolean; kinds?: readonly FaultKind[] } = {},
  ): Promise<FaultKind | undefined> {
    const f = world.takeFault(step, app, kinds);
    if (!f) return undefined;
    if (f.fault === 'fail') throw failure();
    // A call that never answers: only the step's timeout or a cancel ends it.
    if (f.fault === 'timeout' && hang) await abortable(new Promise<never>(() => {}), signal);
    return f.fault as FaultKind;
  }

  const registry: Registry = {
    async hasImage({ image, signal }) {
      await wait(REAL_SECONDS.registryLookup, signal);
      return world.get('image', `${image.repository}:${image.tag}`) !== undefined;
    },
    async ensureRepository({ repository, progress, signal }) {
      if (world.get('repository', repository.name)) return;
      await wait(REAL_SECONDS.registryLookup, signal);
      world.put('repository', repository.name, { name: repository.name, scanOnPush: true, immutableTags: true });
      progress(`[sandbox] created image repository ${repository.name} (scan on push, immutable tags)`);
    },
    imageUri({ image }) {
      return `sandbox.registry.local/${image.repository}:${image.tag}`;
    },
  };

  const builder: Builder = {
    async build({ ctx, image }) {
      const { app, progress, signal } = ctx;
      const tag = image.tag;
      await throttled('build', app, `CodeBuild StartBuild ${app}:${tag}`, progress, signal);
      await fault('build', app, signal, () => new SandboxError('BuildFailed', `step "RUN npm ci" exited with code 1 while building ${app}:${tag}`));
      const phases = ['PROVISIONING', 'DOWNLOAD_SOURCE', 'BUILD', 'POST_BUILD (push)'];
      for (const phase of phases) {
        progress(`[sandbox] build ${app}:${tag} — ${phase}`, { phase });
        await wait(REAL_SECONDS.build / phases.length, signal);
      }
      world.put('image', `${image.repository}:${tag}`, { image: `${image.repository}:${tag}`, builtBy: ctx.deployId });
      progress(`[sandbox] pushed ${registry.imageUri({ image })}`);
    },
  };

  async function waitUntilReady(cluster: SandboxCluster, progress: Progress, signal?: AbortSignal): Promise<void> {
    const remaining = cluster.readyAt - clock.now();
    if (remaining > 0) await sleep(remaining, signal);
    world.put('cluster', cluster.name, { ...cluster, status: 'ACTIVE' });
    progress(`[sandbox] cluster ${cluster.name} is ACTIVE`);
  }

  const clusters: Clusters = {
    async provision({ ctx, cluster: spec }) {
      const { progress, signal, ledger } = ctx;
      const app = spec.app;
      const clusterName = spec.name;
      await throttled('provision', app, `EKS CreateCluster ${clusterName}`, progress, signal);
      const failure = await fault('provision', app, signal, () =>
        new SandboxError('ResourceLimitExceeded', `account limit of EKS clusters reached while creating ${clusterName}`),
        // A provisioning timeout is a cluster stuck in CREATING: it exists and must be cleaned up.
        { hang: false },
      );
      // Cluster: write the intent, create (or adopt after a restart), wait until ACTIVE.
      const clusterRow = ledger.intend({ kind: 'cluster', name: clusterName, data: { app } });
      let cluster = world.get<SandboxCluster>('cluster', clusterName);
      if (!cluster) {
        // The version as EKS picks it: the spec's (refused, as EKS does, when it cannot be created), else the
        // newest in standard support of the same calendar at the clock's now (its newest, once the calendar is old).
        const calendar = calendarVersions(clock.now());
        const named = spec.kubernetesVersion ? calendar.find((v) => v.version === spec.kubernetesVersion) : undefined;
        if (spec.kubernetesVersion && (!named || named.status === 'UNSUPPORTED')) {
          throw new SandboxError('InvalidParameterException', `unsupported Kubernetes version ${spec.kubernetesVersion}`);
        }
        const kubernetesVersion = named?.version ?? newestStandard(calendar)?.version ?? EKS_CALENDAR[0]!.version;
        cluster = {
          kubernetesVersion,
          name: clusterName,
          installation,
          app,
          deployId: ctx.deployId,
          status: 'CREATING',
          readyAt: clock.now() + ms(REAL_SECONDS.clusterCreate),
          capacity: spec.capacity.kind,
        };
        world.put('cluster', clusterName, cluster);
        progress(`[sandbox] creating EKS cluster ${clusterName} (${versionLine(kubernetesVersion)}); real EKS takes ~12 min`);
      } else if ((cluster.installation ?? installation) !== installation) {
        throw new InfraError('not_owned', `[sandbox] cluster ${clusterName} exists but belongs to another kubecontrol installation (${cluster.installation}); not adopting it`);
      } else {
        progress(`[sandbox] cluster ${clusterName} already exists (${cluster.status}); adopting it`);
      }
      ledger.created(clusterRow.id);
      if (failure === 'timeout') cluster = { ...cluster, readyAt: Number.MAX_SAFE_INTEGER };
      await waitUntilReady(cluster, progress, signal);

      // Capacity: an Auto Mode NodePool (a Kubernetes object, gone with the cluster: no ledger row),
      // a managed node group, or a Fargate profile.
      const capacity = spec.capacity;
      const info = { name: clusterName, status: 'ACTIVE', endpoint: `https://${clusterName}.eks.sandbox.local`, ...(cluster.kubernetesVersion ? { kubernetesVersion: cluster.kubernetesVersion } : {}) };
      if (capacity.kind === 'auto') {
        progress(`[sandbox] applying ${capacityLine(capacity)}; nodes start as the pods need them`);
        return info;
      }
      const fargate = capacity.kind === 'fargate';
      const capName = fargate ? `${clusterName}-fargate` : `${clusterName}-nodes`;
      const capRow = ledger.intend({ kind: fargate ? 'fargate-profile' : 'nodegroup', name: capName, parentId: clusterRow.id, data: { cluster: clusterName } });
      const existing = world.get<{ readyAt: number }>('capacity', capName);
      const readyAt = existing?.readyAt ?? clock.now() + ms(fargate ? REAL_SECONDS.fargateProfileCreate : REAL_SECONDS.nodegroupCreate);
      const bounds = capacity.kind === 'nodes' ? { minNodes: capacity.minNodes, maxNodes: capacity.maxNodes, desiredNodes: capacity.desiredNodes } : {};
      world.put('capacity', capName, { name: capName, cluster: clusterName, app, deployId: ctx.deployId, readyAt, fargate, ...bounds });
      ledger.created(capRow.id);
      if (capacity.kind === 'fargate') {
        progress(`[sandbox] creating Fargate profile ${capName} (namespace ${capacity.namespaces.join(', ')})`);
        const left = readyAt - clock.now();
        if (left > 0) await sleep(left, signal);
      } else {
        const hw = capacity;
        progress(
          `[sandbox] creating node group ${capName}: ${hw.desiredNodes}×${hw.instanceTypes.join('/')} (${hw.spot ? 'SPOT' : 'ON_DEMAND'}, ${hw.arch}), min ${hw.minNodes} max ${hw.maxNodes}`,
        );
        // Report instances as they come up, like the node group's Auto Scaling Group would.
        const total = Math.max(hw.desiredNodes, 1);
        for (let up = 1; up <= total; up++) {
          const at = readyAt - ((total - up) / total) * ms(REAL_SECONDS.nodegroupCreate) * 0.5;
          const left = at - clock.now();
          if (left > 0) await sleep(left, signal);
          progress(`[sandbox] ${up}/${total} nodes InService`, { nodesReady: up, nodesDesired: total });
        }
      }
      return info;
    },

    async resize({ ctx, cluster: ref, capacity }) {
      const { app, progress, signal } = ctx;
      const c = world.get<SandboxCluster>('cluster', ref.name);
      if (!c) throw new SandboxError('NotFound', `cluster ${ref.name} does not exist`);
      if ((c.installation ?? installation) !== installation) {
        throw new InfraError('not_owned', `[sandbox] cluster ${ref.name} belongs to another kubecontrol installation (${c.installation}); not changing it`);
      }
      if (capacity.kind === 'fargate') throw new InfraError('misconfigured', `[sandbox] ${app} runs on Fargate: it has no nodes to resize`);
      await fault('deploy', app, signal, () => new SandboxError('ResourceInUseException', `node capacity of ${ref.name} is being updated by another change`));
      if (capacity.kind === 'auto') {
        progress(`[sandbox] NodePool kubecontrol-${app} on ${ref.name}: limit ${c.maxNodes ?? '?'} → ${capacity.maxNodes} nodes`);
        await wait(REAL_SECONDS.nodePoolUpdate, signal);
        world.put('cluster', ref.name, { ...world.get<SandboxCluster>('cluster', ref.name)!, maxNodes: capacity.maxNodes });
        return;
      }
      const capName = `${ref.name}-nodes`;
      const ng = world.get<{ minNodes?: number; maxNodes?: number; desiredNodes?: number }>('capacity', capName);
      if (!ng) throw new SandboxError('ResourceNotFoundException', `No node group found for name: ${capName}.`);
      // EKS's rules: minSize ≤ desiredSize ≤ maxSize, maxSize ≥ 1; the desired size is kept, moved inside the new bounds.
      if (capacity.maxNodes < 1 || capacity.minNodes < 0 || capacity.minNodes > capacity.maxNodes) {
        throw new SandboxError('InvalidParameterException', `Minimum capacity ${capacity.minNodes} can't be greater than maximum capacity ${capacity.maxNodes}`);
      }
      const desiredNodes = Math.min(Math.max(ng.desiredNodes ?? capacity.minNodes, capacity.minNodes), capacity.maxNodes);
      progress(
        `[sandbox] UpdateNodegroupConfig ${capName}: min ${ng.minNodes ?? '?'} → ${capacity.minNodes}, max ${ng.maxNodes ?? '?'} → ${capacity.maxNodes}, desired ${ng.desiredNodes ?? '?'} → ${desiredNodes}`,
      );
      await wait(REAL_SECONDS.nodegroupUpdate, signal);
      world.put('capacity', capName, { ...world.get<object>('capacity', capName), minNodes: capacity.minNodes, maxNodes: capacity.maxNodes, desiredNodes });
      progress(`[sandbox] node group ${capName} update Successful`);
    },

    async describe({ cluster: { name } }): Promise<ClusterInfo | undefined> {
      const c = world.get<SandboxCluster>('cluster', name);
      return c
        ? { name: c.name, status: c.readyAt <= clock.now() ? 'ACTIVE' : c.status, endpoint: `https://${c.name}.eks.sandbox.local`, ...(c.kubernetesVersion ? { kubernetesVersion: c.kubernetesVersion } : {}) }
        : undefined;
    },

    async destroy({ resource, progress, signal }) {
      await throttled('teardown', resource.app, `delete ${resource.kind} ${resource.name}`, progress, signal);
      await fault('teardown', resource.app, signal, () => new SandboxError('ResourceInUseException', `${resource.kind} ${resource.name} is still in use; try again`));
      if (resource.kind === 'cluster') {
        const c = world.get<SandboxCluster>('cluster', resource.name);
        if (!c) return; // already gone
        if ((c.installation ?? installation) !== installation) {
          throw new InfraError('not_owned', `[sandbox] cluster ${resource.name} belongs to another kubecontrol installation (${c.installation}); not deleting it`);
        }
        world.put('cluster', resource.name, { ...c, status: 'DELETING' });
        progress(`[sandbox] deleting cluster ${resource.name}`);
        await wait(REAL_SECONDS.clusterDelete, signal);
        world.delete('cluster', resource.name);
        world.delete('workload', resource.name);
      } else if (resource.kind === 'nodegroup' || resource.kind === 'fargate-profile') {
        if (!world.get('capacity', resource.name)) return;
        progress(`[sandbox] deleting ${resource.kind} ${resource.name}`);
        await wait(resource.kind === 'nodegroup' ? REAL_SECONDS.nodegroupDelete : REAL_SECONDS.fargateProfileDelete, signal);
        world.delete('capacity', resource.name);
      }
    },

    async listTagged(): Promise<TaggedResource[]> {
      const out: TaggedResource[] = [];
      for (const c of world.list<SandboxCluster>('cluster')) if ((c.installation ?? installation) === installation) out.push({ kind: 'cluster', name: c.name, app: c.app, deployId: c.deployId });
      for (const cap of world.list<{ name: string; cluster: string; app: string; deployId: number; fargate: boolean }>('capacity')) {
        out.push({ kind: cap.fargate ? 'fargate-profile' : 'nodegroup', name: cap.name, cluster: cap.cluster, app: cap.app, deployId: cap.deployId });
      }
      return out;
    },
  };

  /**
   * A simulated rollout of the app's pods on `cluster`: `pods` are the
   * Deployment's replicas and containers (a rolling update keeps what runs),
   * `service` its load balancer.
   */
  async function rollout(
    ctx: StepContext,
    cluster: string,
    what: string,
    pods: { replicas: number; containers: readonly string[]; loadBalancer: string; restartedAt?: string | null },
  ): Promise<{ endpoint: string }> {
    const { app, progress, signal, version } = ctx;
    if (!world.get('cluster', cluster)) throw new SandboxError('NotFound', `cluster ${cluster} does not exist`);
    await throttled('deploy', app, `Kubernetes apply of ${app} on ${cluster}`, progress, signal);
    const failure = await fault('deploy', app, signal, () =>
      new SandboxError('Forbidden', `deployments.apps "${app}" is forbidden: cluster ${cluster} rejected the apply`),
    );
    const { replicas } = pods;
    const containers = pods.containers.join(', ');
    progress(`[sandbox] ${what} ${app}:${version} on ${cluster} — ${replicas} replicas (${containers})`);
    if (failure === 'unhealthy') {
      await wait(REAL_SECONDS.progressDeadline, signal);
      throw new SandboxError(
        'ProgressDeadlineExceeded',
        `rollout of ${app} did not become healthy: 0/${replicas} replicas available; pod ${app}-7d9f-x2k4 is in CrashLoopBackOff (container ${pods.containers[0]} exited 1)`,
      );
    }
    // A new Service's load balancer is provisioned from the moment it is applied, while the pods roll out.
    const existing = world.get<SandboxWorkload>('workload', cluster);
    const loadBalancerAt = clock.now() + ms(REAL_SECONDS.loadBalancer);
    for (let ready = 1; ready <= replicas; ready++) {
      await wait(REAL_SECONDS.rollout / replicas, signal);
      progress(`[sandbox] ${ready}/${replicas} replicas updated and available`, { ready, replicas });
    }
    const endpoint = existing?.endpoint ?? `${cluster}-${pods.loadBalancer}.elb.sandbox.local`;
    if (!existing) {
      progress(`[sandbox] waiting for the ${pods.loadBalancer} load balancer of service ${app}`);
      const left = loadBalancerAt - clock.now();
      if (left > 0) await sleep(left, signal);
    }
    const restartedAt = pods.restartedAt !== undefined ? pods.restartedAt : (existing?.restartedAt ?? null);
    world.put('workload', cluster, { cluster, app, version, replicas, containers: [...pods.containers], endpoint, restartedAt } satisfies SandboxWorkload);
    progress(`[sandbox] service ${app} answers at ${endpoint}`, { endpoint });
    return { endpoint };
  }

  const workloads: Workloads = {
    deploy: ({ ctx, cluster, workload }) =>
      rollout(ctx, cluster.name, 'applying namespace, deployment and service for', {
        replicas: workload.replicas,
        containers: workload.containers.map((c) => c.name),
        loadBalancer: workload.service.loadBalancer,
      }),
    updateImages: ({ ctx, cluster, images }) => {
      // A rolling update keeps the Deployment as it runs: its replicas, its sidecars, its load balancer.
      const running = world.get<SandboxWorkload>('workload', cluster.name);
      return rollout(ctx, cluster.name, 'rolling update of images to', {
        replicas: running?.replicas ?? 1,
        containers: running?.containers ?? images.map((c) => c.name),
        loadBalancer: 'internal',
      });
    },
    async current({ cluster }) {
      const w = world.get<SandboxWorkload>('workload', cluster.name);
      return w ? { replicas: w.replicas, restartedAt: w.restartedAt ?? null } : undefined;
    },
    scale: ({ ctx, cluster, replicas }) => {
      const running = world.get<SandboxWorkload>('workload', cluster.name);
      if (!running) throw new SandboxError('NotFound', `deployments.apps "${ctx.app}" not found on ${cluster.name}`);
      return rollout(ctx, cluster.name, `scaling (${running.replicas} → ${replicas} replicas)`, { replicas, containers: running.containers ?? [ctx.app], loadBalancer: 'internal' });
    },
    restart: ({ ctx, cluster, restartedAt }) => {
      const running = world.get<SandboxWorkload>('workload', cluster.name);
      if (!running) throw new SandboxError('NotFound', `deployments.apps "${ctx.app}" not found on ${cluster.name}`);
      const what = restartedAt ? `rolling restart (kubectl.kubernetes.io/restartedAt=${restartedAt}) of` : 'putting back the pod template (no restartedAt) of';
      return rollout(ctx, cluster.name, what, { replicas: running.replicas, containers: running.containers ?? [ctx.app], loadBalancer: 'internal', restartedAt });
    },
  };

  const dns: Dns = {
    async current({ record }) {
      return world.get<{ target: string }>('dns', record.name)?.target;
    },
    async checkHealth({ app, path, target, progress, signal }) {
      const f = await fault(
        'cutover',
        app,
        signal,
        () => new SandboxError('HealthCheckFailed', `GET http://${target}${path} answered 503 Service Unavailable`),
        // A cutover 'timeout' is a DNS change that never gets in sync (below), after the record moved.
        { kinds: ['fail', 'unhealthy'] },
      );
      await wait(REAL_SECONDS.healthCheck, signal);
      if (f === 'unhealthy') {
        throw new SandboxError('HealthCheckFailed', `GET http://${target}${path} timed out after 3 attempts`);
      }
      progress(`[sandbox] GET http://${target}${path} → 200 OK`);
    },
    async pointRecord({ record, target, progress, signal }) {
      const previous = world.get<{ target: string }>('dns', record.name)?.target;
      if (previous !== target) {
        await throttled('cutover', record.app, `Route 53 ChangeResourceRecordSets ${record.name}`, progress, signal);
        progress(`[sandbox] UPSERT ${record.name} CNAME ${target} (TTL ${record.ttlSeconds}s)${previous ? `, was ${previous}` : ''}`);
        world.put('dns', record.name, { name: record.name, target });
        if (world.takeFault('cutover', record.app, ['timeout'])) {
          progress(`[sandbox] ${record.name} change is PENDING and does not get in sync`);
          await abortable(new Promise<never>(() => {}), signal);
        }
        await wait(REAL_SECONDS.dnsSync, signal);
      }
      progress(`[sandbox] ${record.name} change is INSYNC`);
      return { previous };
    },
  };

  /** The dry run: what the simulated world would do, every line marked as simulated. */
  async function plan(request: PlanRequest): Promise<ProviderPlan> {
    const { image, workload, live, cluster } = request;
    const sim = (line: string): string => `[sandbox] ${line}`;
    const uri = registry.imageUri({ image });
    const exists = await registry.hasImage({ image, signal: request.signal });
    const build = exists ? [] : [sim(`build ${uri} (builder: sandbox)`)];
    if (request.strategy === 'rolling') {
      return { image: { uri, exists }, build, create: [], change: live ? [sim(rollingLine(request, `cluster ${live.cluster.name}`))] : [], delete: [] };
    }
    const found = live ? await clusters.describe({ cluster: live.cluster }) : undefined;
    const current = await dns.current({ record: request.record });
    return {
      image: { uri, exists },
      build,
      create: [
        sim(`EKS cluster ${cluster.name} (${versionLine(cluster.kubernetesVersion)})`),
        sim(capacityLine(cluster.capacity)),
        sim(`namespace ${workload.name}, ${deploymentLine(workload)}, ${workload.service.loadBalancer} load-balanced service ${portsOf(workload)}`),
      ],
      change: [sim(`DNS ${request.record.name}: ${current ?? '(no record yet)'} → the new cluster's load balancer`)],
      delete: live ? [sim(`cluster ${liveLine(live, found)} and its capacity`)] : [],
    };
  }

  return {
    name: 'sandbox',
    label: 'sandbox (simulated infrastructure)',
    registry,
    builder,
    clusters,
    workloads,
    dns,
    timeouts: {
      build: ms(3600),
      provision: ms(2400),
      deploy: ms(1200),
      cutover: ms(600),
      teardown: ms(2400),
    },
    drainMs: ({ record }) => ms(record.ttlSeconds * 2),
    timeScale: scale,
    plan,
    // The simulated EKS offers the built-in calendar's versions, as they stand at the sandbox clock's now.
    kubernetesVersions: () => calendarVersions(clock.now()),
  };
}
