/**
 * The deployer's ports: what the pipeline needs from infrastructure. Adapters
 * (`aws/`, `kube/`, `sandbox/`) implement them; the composition root
 * (`deployer/providers.ts`) picks one set once. Every method takes one command
 * object and returns a Promise (`imageUri` and `drainMs` answer at once); every
 * method is idempotent, so a resumed or retried step is safe.
 *
 * Ports speak in small specs (a DNS record, a cluster spec with its capacity,
 * a workload), never the whole KubeApp: `deployer/specs.ts` builds them from
 * one, so an adapter sees only what it needs and a test can state it directly.
 */
import type { ResourceRecord, StepName } from '../store/index.js';
import type { KubernetesVersion } from './kubernetes-versions.js';

/** Writes a progress line into the deploy's events (never a secret). */
export type Progress = (message: string, data?: Record<string, unknown>) => void;

/**
 * The resources ledger of one deploy. An adapter calls `intend` BEFORE it
 * creates a cloud resource and `created` after, so a crash in between still
 * leaves a row that teardown and `gc` will find.
 */
export interface DeployLedger {
  /** Records the intent to create; returns the existing row when a resumed step asks again. */
  intend(r: { kind: ResourceKind; name: string; parentId?: number | null; data?: Record<string, unknown> }): ResourceRecord;
  created(id: number, data?: Record<string, unknown>): void;
  deleting(id: number): void;
  deleted(id: number): void;
  failed(id: number, error: string): void;
}

/** Kinds of resources in the ledger. */
export type ResourceKind =
  | 'cluster'
  | 'nodegroup'
  | 'fargate-profile'
  | 'namespace'
  /** Made by a cluster's load-balancing controller for a LoadBalancer Service, tagged by kubecontrol (found by `gc`, verified gone by teardown). */
  | 'load-balancer'
  | 'target-group'
  | 'security-group';

/**
 * What a step's adapter call gets: the deploy, a progress sink, the ledger and
 * a cancel signal. It names the app but does not carry it: what an adapter
 * needs of the app travels as a spec in the command (deployer/specs.ts builds them).
 */
export interface StepContext {
  readonly deployId: number;
  /** The app's name: for tags, labels and messages (and the sandbox's injected faults). */
  readonly app: string;
  /** The version (image tag) being deployed. */
  readonly version: string;
  readonly step: StepName;
  readonly progress: Progress;
  readonly ledger: DeployLedger;
  /** Aborted when the deploy is cancelled or the step runs past its timeout. */
  readonly signal: AbortSignal;
}

// --- specs: what the ports are told, built from a KubeApp by deployer/specs.ts ---

/**
 * Per-app placement a KubeApp may set (its `aws` block): where its resources
 * go and how its image is built. Only what the app itself sets is present;
 * each provider reads what applies to it and fills the rest from its own
 * settings (the aws provider: `deployer/aws/placement.ts`; the local provider
 * reads `buildCommand` only; the sandbox reads nothing).
 */
export interface PlacementOverrides {
  /** @default the provider's region */
  readonly region?: string;
  readonly subnetIds?: readonly string[];
  /** Private subnets for a Fargate profile (Fargate refuses public ones). */
  readonly fargateSubnetIds?: readonly string[];
  readonly securityGroupIds?: readonly string[];
  readonly clusterRoleArn?: string;
  readonly nodeRoleArn?: string;
  /** Needed by Fargate capacity only. */
  readonly podExecutionRoleArn?: string;
  /** The Route 53 hosted zone of the app's record. */
  readonly hostedZoneId?: string;
  /** The registry host of the app's images, e.g. `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly ecrRegistry?: string;
  /** The app's own builder choice. @default the provider's (from its settings) */
  readonly builder?: 'codebuild' | 'command' | 'none';
  readonly codeBuildProject?: string;
  /** Argument vector of a host build command (`{version}`, `{image}` substituted). */
  readonly buildCommand?: readonly string[];
}

/** An image of an app's repository: `repository:tag`, its registry host being the provider's (or `placement.ecrRegistry`). */
export interface ImageRef {
  readonly repository: string;
  readonly tag: string;
}

/** An app's image repository, as the build step makes sure of it. */
export interface RepositorySpec {
  /** The repository name (an ECR repository on aws). */
  readonly name: string;
  /** The app whose images it holds (tagged `kubecontrol:app`; named in messages). */
  readonly app: string;
  /** Create it (scan on push, immutable tags) when it is missing. */
  readonly create: boolean;
  readonly placement?: PlacementOverrides;
}

/**
 * What a cluster runs its pods on: EKS Auto Mode nodes chosen to the app's
 * hardware (a NodePool), a managed node group (an Auto Scaling group), or
 * Fargate for some namespaces.
 */
export type Capacity =
  | {
      /** EKS Auto Mode: nodes come and go with the pods, within these bounds (a Karpenter NodePool). */
      readonly kind: 'auto';
      readonly instanceTypes: readonly string[];
      /** Auto Mode keeps no minimum of nodes: pods decide; kept for plans and messages. */
      readonly minNodes: number;
      /** The NodePool's limit: never more nodes (and never more vCPUs than this many of the largest type). */
      readonly maxNodes: number;
      readonly spot: boolean;
      readonly arch: 'amd64' | 'arm64';
    }
  | {
      /** A managed node group (an Auto Scaling group of these instance types). */
      readonly kind: 'nodes';
      readonly instanceTypes: readonly string[];
      readonly minNodes: number;
      readonly maxNodes: number;
      readonly desiredNodes: number;
      /** Spot instances rather than on-demand. */
      readonly spot: boolean;
      readonly arch: 'amd64' | 'arm64';
    }
  | {
      readonly kind: 'fargate';
      /** The namespaces whose pods run on Fargate (the provider adds what the cluster itself needs, e.g. CoreDNS). */
      readonly namespaces: readonly string[];
    };

/** Where a cluster is: its name and the app's placement (its region on aws). */
export interface ClusterRef {
  readonly name: string;
  readonly placement?: PlacementOverrides;
}

/** A cluster to provision. */
export interface ClusterSpec extends ClusterRef {
  /** The app it serves: tagged `kubecontrol:app` (a label `kubecontrol/app` on Kubernetes objects). */
  readonly app: string;
  /** e.g. '1.35'. Unset: the provider's default, the newest version in standard support. */
  readonly kubernetesVersion?: string;
  /**
   * What EKS does when the version leaves standard support: 'STANDARD' (the cluster is
   * upgraded at the end of standard support, never billed for extended support) or 'EXTENDED'.
   * @default 'STANDARD'
   */
  readonly supportType?: 'STANDARD' | 'EXTENDED';
  readonly capacity: Capacity;
  /**
   * The IAM role the app's pods use, attached through EKS Pod Identity to the
   * app's ServiceAccount (`<namespace>/<serviceAccount>`), so it comes with every new cluster.
   */
  readonly podIdentity?: { readonly namespace: string; readonly serviceAccount: string; readonly roleArn: string };
}

/** CPU and memory requests and limits, in Kubernetes quantities. */
export interface ContainerResources {
  readonly cpu: string;
  readonly memory: string;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

/** A container's image as a workload names it. */
export interface ContainerImage {
  /** The container's name. */
  readonly name: string;
  readonly image: ImageRef;
  /**
   * The app's own repository: its full reference is the provider registry's
   * `imageUri`. Otherwise (sidecars, other images) `repository:tag` as written.
   */
  readonly fromRegistry: boolean;
}

/** A container of the app's pods. */
export interface WorkloadContainer extends ContainerImage {
  /** The app's own container, or a sidecar the app adds. */
  readonly role: 'app' | 'sidecar';
  /**
   * Why this container may not run under Pod Security "restricted" (runAsNonRoot,
   * no privilege escalation, drop ALL, seccomp RuntimeDefault); unset: restricted.
   * Named in plans.
   */
  readonly unrestricted?: string;
  readonly ports: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly env: Readonly<Record<string, string>>;
  readonly resources: ContainerResources;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
}

/**
 * The app's workload at one version: its pods and the Service in front of
 * them, provider-neutral. Each provider renders it its own way
 * (deployer/kube/manifests.ts: a Namespace, a Deployment and a Service, in the
 * namespace and with the Service type the provider chooses; the sandbox simulates it).
 */
export interface WorkloadSpec {
  /** The Deployment's and Service's name (the app's). */
  readonly name: string;
  /** The version the app's own containers run (their image tag, a label). */
  readonly version: string;
  readonly replicas: number;
  readonly containers: readonly WorkloadContainer[];
  readonly service: {
    readonly port: number;
    readonly targetPort: number;
    readonly loadBalancer: 'internal' | 'external';
    readonly healthCheckPath: string;
    /** TLS terminated at the load balancer on `port` with this ACM certificate; unset: plain TCP. */
    readonly certificateArn?: string;
  };
  /** Pods must run on nodes of this architecture (arm64 node groups); unset: any. */
  readonly arch?: 'arm64';
  /** The pods' ServiceAccount (named after the app) carries an IAM role through EKS Pod Identity. */
  readonly podRoleArn?: string;
  /**
   * AWS Secrets Manager secrets delivered to the app's containers as files
   * `/var/run/secrets/kubecontrol/<name>`, fetched inside the pod with the pod's role:
   * their values never pass through kubecontrol.
   */
  readonly secrets?: readonly { readonly name: string; readonly secretId: string }[];
}

/** The DNS record that carries an app's traffic. */
export interface DnsRecord {
  /** Fully qualified, e.g. search-svc.example.com. */
  readonly name: string;
  readonly ttlSeconds: number;
  /** The zone it is in, e.g. example.com (Route 53 finds it by `placement.hostedZoneId`). */
  readonly zone?: string;
  /** The app whose traffic it carries (the local provider's routing Service is named after it). */
  readonly app: string;
  /** The port clients reach the app on (a DNS record has none; the local provider's routing Service lists it). */
  readonly port: number;
  readonly placement?: PlacementOverrides;
}

/** The HTTP health check through a new target before traffic moves to it. */
export interface HealthCheckSpec {
  /** The app checked (messages, the sandbox's faults). */
  readonly app: string;
  /** The Service's port. */
  readonly port: number;
  /** e.g. '/healthz'. */
  readonly path: string;
  /** An internal load balancer cannot be reached from outside its VPC: checked through the cluster's API server instead. */
  readonly loadBalancer: 'internal' | 'external';
  /** TLS on the Service's port (https). */
  readonly tls: boolean;
  /** The Service checked when the load balancer cannot be reached: its cluster, namespace (the app's) and name (the app's). */
  readonly cluster?: ClusterRef;
}

// --- ports ---

/** Image registry (ECR). */
export interface Registry {
  /** Whether `repository:tag` exists. */
  hasImage(cmd: { image: ImageRef; placement?: PlacementOverrides; signal?: AbortSignal }): Promise<boolean>;
  /** Makes sure the app's repository exists, creating it when the spec allows. */
  ensureRepository(cmd: { repository: RepositorySpec; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** The full image reference of `repository:tag`. */
  imageUri(cmd: { image: ImageRef; placement?: PlacementOverrides }): string;
}

/** Builds an image and pushes it to the registry. */
export interface Builder {
  /** Resolves once `image` is in the registry; rejects with the build's own error. */
  build(cmd: { ctx: StepContext; image: ImageRef; placement?: PlacementOverrides }): Promise<void>;
}

/** A cluster as the pipeline knows it. */
export interface ClusterInfo {
  readonly name: string;
  /** Provider status, e.g. ACTIVE, CREATING. */
  readonly status: string;
  /** Kubernetes API endpoint, when known. */
  readonly endpoint?: string;
  /** Its Kubernetes version (e.g. '1.35'), when the provider knows it. */
  readonly kubernetesVersion?: string;
}

/**
 * Every resource a provider creates carries the installation's identity
 * (a tag `kubecontrol:installation=<id>` on AWS, a label
 * `kubecontrol/installation=<id>` on Kubernetes objects). A provider never
 * adopts, changes or deletes a resource whose installation is not its own
 * (it throws `InfraError('not_owned')`), and `listTagged` lists only its own.
 */
export interface Installation {
  /** Created once per database (store meta), shown in the banner. */
  readonly id: string;
}

/** A kubecontrol-tagged resource found in the cloud (for `gc`). */
export interface TaggedResource {
  readonly kind: ResourceKind;
  /** Its name (an ARN or id for load balancers, target groups and security groups). */
  readonly name: string;
  /** The cluster a node group, Fargate profile or load balancer belongs to. */
  readonly cluster?: string;
  readonly app?: string;
  readonly deployId?: number;
  /**
   * Another kubecontrol installation's id when the resource is theirs: listed as
   * such by `gc`, never deleted. Unset: this installation's own.
   */
  readonly installation?: string;
}

/** Clusters and their capacity (EKS + node groups / Fargate). */
export interface Clusters {
  /**
   * Creates `cluster` and its capacity, recording every resource in
   * `ctx.ledger` first, and waits until they are ready. Adopts whatever
   * already exists (resume).
   */
  provision(cmd: { ctx: StepContext; cluster: ClusterSpec }): Promise<ClusterInfo>;
  /** Looks a cluster up; undefined when it does not exist. */
  describe(cmd: { cluster: ClusterRef; signal?: AbortSignal }): Promise<ClusterInfo | undefined>;
  /**
   * Deletes one ledger resource (node group, Fargate profile, cluster,
   * namespace) and waits until it is gone. A resource that no longer exists
   * counts as deleted. `placement` says where to look when the ledger row does
   * not (a resource `gc` found in the cloud).
   */
  destroy(cmd: { resource: ResourceRecord; placement?: PlacementOverrides; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** Every resource tagged by kubecontrol (for `gc`). */
  listTagged(cmd: { signal?: AbortSignal }): Promise<TaggedResource[]>;
  /**
   * Changes the bounds of the app's capacity on a running cluster in place, and waits until the
   * change is done: a node group's minimum and maximum (its desired size kept, moved inside the new
   * bounds), an Auto Mode NodePool's limits (`maxNodes`; Auto Mode keeps no minimum). `capacity` is
   * the app's, with the new bounds. Absent on providers whose clusters have no nodes of their own
   * (the local provider's laptop cluster); Fargate capacity is refused (`misconfigured`).
   */
  resize?(cmd: { ctx: StepContext; cluster: ClusterRef; capacity: Capacity }): Promise<void>;
}

/** The app's Deployment on a cluster, as an in-place operation reads it first. */
export interface WorkloadState {
  /** `spec.replicas`. */
  readonly replicas: number;
  /** The pod template's `kubectl.kubernetes.io/restartedAt` annotation, null when it has none. */
  readonly restartedAt: string | null;
}

/** Kubernetes workloads on a cluster. */
export interface Workloads {
  /**
   * Applies the workload (its namespace, Deployment and Service) on `cluster`,
   * waits for a healthy rollout and returns where the Service is reached
   * (its load balancer's hostname).
   */
  deploy(cmd: { ctx: StepContext; cluster: ClusterRef; workload: WorkloadSpec }): Promise<{ endpoint: string }>;
  /**
   * Rolling update: sets the images of the app's Deployment (named `ctx.app`)
   * to `images` only, labels it `ctx.version`, and waits the same way.
   */
  updateImages(cmd: { ctx: StepContext; cluster: ClusterRef; images: readonly ContainerImage[] }): Promise<{ endpoint: string }>;
  /** The app's Deployment (named `app`) on `cluster`; undefined when it does not exist. */
  current(cmd: { cluster: ClusterRef; app: string; signal?: AbortSignal }): Promise<WorkloadState | undefined>;
  /**
   * Sets the replicas of the app's Deployment (named `ctx.app`) through its scale subresource and
   * waits until that many are available, as a rollout is waited for; returns where it is served, like `updateImages`.
   */
  scale(cmd: { ctx: StepContext; cluster: ClusterRef; replicas: number }): Promise<{ endpoint: string }>;
  /**
   * A rolling restart, as `kubectl rollout restart` does it: sets the pod template's
   * `kubectl.kubernetes.io/restartedAt` annotation to `restartedAt` (null removes it: the template
   * as it was before a restart) and waits for the rollout like a rolling update.
   */
  restart(cmd: { ctx: StepContext; cluster: ClusterRef; restartedAt: string | null }): Promise<{ endpoint: string }>;
}

/** DNS (Route 53). */
export interface Dns {
  /** Where the record points now; undefined when it does not exist. */
  current(cmd: { record: DnsRecord; signal?: AbortSignal }): Promise<string | undefined>;
  /** Checks the health path through `target`; rejects with what was wrong. */
  checkHealth(cmd: HealthCheckSpec & { target: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** Points the record at `target` and waits until the change is in sync. */
  pointRecord(cmd: { record: DnsRecord; target: string; progress: Progress; signal?: AbortSignal }): Promise<{ previous: string | undefined }>;
}

/**
 * What a dry run asks a provider: the specs a deploy would use, and what
 * serves the app now (read from the store's environments by deployer/plan.ts).
 */
export interface PlanRequest {
  /** The app's name. */
  readonly app: string;
  readonly version: string;
  readonly strategy: 'blue-green' | 'rolling';
  readonly image: ImageRef;
  /** The app's placement (builder, registry, region...). */
  readonly placement?: PlacementOverrides;
  /** The cluster a blue/green deploy would create (named `<app>-<deploy id>`). */
  readonly cluster: ClusterSpec;
  readonly workload: WorkloadSpec;
  readonly record: DnsRecord;
  /** The environment serving the app now, if any. */
  readonly live?: { readonly cluster: ClusterRef; readonly version: string };
  readonly signal?: AbortSignal;
}

/**
 * A provider's answer to a dry run, in its own terms (EKS cluster and node
 * group, namespaces and an ExternalName switch, simulated lines). It reads
 * the provider's real state and touches nothing.
 */
export interface ProviderPlan {
  readonly image: { readonly uri: string; readonly exists: boolean };
  /** What would be built (nothing when the image exists). */
  readonly build: readonly string[];
  /** What a blue/green deploy would create. */
  readonly create: readonly string[];
  /**
   * What would change in place: the traffic switch of a blue/green deploy (the
   * caller adds who must approve it), or a rolling update's images.
   */
  readonly change: readonly string[];
  /** What of the live environment a blue/green deploy would delete (the caller adds after which drain). */
  readonly delete: readonly string[];
}

/** Upper bounds for each step, before they are reported as timed out. */
export interface StepTimeouts {
  readonly build: number;
  readonly provision: number;
  readonly deploy: number;
  readonly cutover: number;
  readonly teardown: number;
}

/** One set of adapters, chosen once by the composition root. */
export interface Provider {
  readonly name: 'sandbox' | 'aws' | 'local';
  /** How every surface labels this provider, e.g. 'sandbox (simulated infrastructure)'. */
  readonly label: string;
  readonly registry: Registry;
  readonly builder: Builder;
  readonly clusters: Clusters;
  readonly workloads: Workloads;
  readonly dns: Dns;
  /** Step time limits in milliseconds (a scale and a restart have the deploy step's). */
  readonly timeouts: StepTimeouts;
  /**
   * The Kubernetes versions this provider creates clusters with and their support calendar, as
   * known now (synchronous: the command core reads it on the ack path; the aws provider answers
   * what EKS said at start, the sandbox its simulated calendar). Absent when the provider does not
   * choose the version (the local provider's laptop cluster): `upgrade` is refused there.
   */
  kubernetesVersions?(cmd: { placement?: PlacementOverrides }): readonly KubernetesVersion[];
  /** How long old traffic drains after cutover before the old cluster is torn down (≥ the record's TTL), ms. */
  drainMs(cmd: { record: DnsRecord }): number;
  /**
   * A provider that simulates time (the sandbox, KUBECONTROL_SANDBOX_SCALE): each real millisecond
   * stands for `1 / timeScale` of its world's, whose durations (a record's TTL among them) are in
   * simulated time. Absent for providers that act in real time.
   */
  readonly timeScale?: number;
  /** What a deploy would build, create, change and delete, in this provider's terms; touches nothing. */
  plan(request: PlanRequest): Promise<ProviderPlan>;
  /**
   * The name of the cluster a blue/green deploy creates. @default `<app>-<deployId>`
   * (the aws provider adds the installation, so two installations in one account never collide).
   */
  clusterName?(cmd: { app: string; deployId: number }): string;
  /**
   * Checks at start what the provider can only learn from the cloud (e.g. that each
   * app's Kubernetes version can still be created): problems stop the start, one line
   * each naming app, field and value; warnings are logged and shown in the banner.
   */
  preflight?(cmd: { apps: readonly PreflightApp[]; signal?: AbortSignal }): Promise<PreflightReport>;
}

/** What `Provider.preflight` is told of each app. */
export interface PreflightApp {
  readonly app: string;
  readonly cluster: ClusterSpec;
}

/** What `Provider.preflight` found. */
export interface PreflightReport {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}
