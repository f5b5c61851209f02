/**
 * The deployer's ports: what the pipeline needs from infrastructure. Adapters
 * (`aws/`, `kube/`, `sandbox/`) implement them; the composition root
 * (`deployer/providers.ts`) picks one set once. Every method takes one command
 * object and returns a Promise; every method is idempotent, so a resumed or
 * retried step is safe.
 */
import type { KubeApp } from '../kubeapps/index.js';
import type { ResourceRecord, StepName } from '../store/index.js';

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
export type ResourceKind = 'cluster' | 'nodegroup' | 'fargate-profile' | 'namespace';

/** What a step's adapter call gets: the deploy, a progress sink, the ledger and a cancel signal. */
export interface StepContext {
  readonly deployId: number;
  readonly app: KubeApp;
  /** The version (image tag) being deployed. */
  readonly version: string;
  readonly step: StepName;
  readonly progress: Progress;
  readonly ledger: DeployLedger;
  /** Aborted when the deploy is cancelled or the step runs past its timeout. */
  readonly signal: AbortSignal;
}

/** Image registry (ECR). */
export interface Registry {
  /** Whether `repository:tag` exists. */
  hasImage(cmd: { app: KubeApp; tag: string; signal?: AbortSignal }): Promise<boolean>;
  /** Makes sure the app's repository exists, creating it when the app allows. */
  ensureRepository(cmd: { app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** The full image reference of `app:tag`. */
  imageUri(cmd: { app: KubeApp; tag: string }): string;
}

/** Builds an image and pushes it to the registry. */
export interface Builder {
  /** Resolves once `app:tag` is in the registry; rejects with the build's own error. */
  build(cmd: { ctx: StepContext; tag: string }): Promise<void>;
}

/** A cluster as the pipeline knows it. */
export interface ClusterInfo {
  readonly name: string;
  /** Provider status, e.g. ACTIVE, CREATING. */
  readonly status: string;
  /** Kubernetes API endpoint, when known. */
  readonly endpoint?: string;
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

/** A kubecontrol-tagged resource found in the cloud (for `gc`): always one of this installation's. */
export interface TaggedResource {
  readonly kind: ResourceKind;
  readonly name: string;
  /** The cluster a node group or Fargate profile belongs to. */
  readonly cluster?: string;
  readonly app?: string;
  readonly deployId?: number;
}

/** Clusters and their capacity (EKS + node groups / Fargate). */
export interface Clusters {
  /**
   * Creates the cluster `clusterName` and its capacity from the app's hardware,
   * recording every resource in `ctx.ledger` first, and waits until they are
   * ready. Adopts whatever already exists (resume).
   */
  provision(cmd: { ctx: StepContext; clusterName: string }): Promise<ClusterInfo>;
  /** Looks a cluster up; undefined when it does not exist. */
  describe(cmd: { name: string; app: KubeApp; signal?: AbortSignal }): Promise<ClusterInfo | undefined>;
  /**
   * Deletes one ledger resource (node group, Fargate profile, cluster) and waits
   * until it is gone. A resource that no longer exists counts as deleted.
   */
  destroy(cmd: { resource: ResourceRecord; app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** Every resource tagged by kubecontrol (for `gc`). */
  listTagged(cmd: { signal?: AbortSignal }): Promise<TaggedResource[]>;
}

/** Kubernetes workloads on a cluster. */
export interface Workloads {
  /**
   * Applies the app's namespace, Deployment (containers + sidecars) and Service
   * at `version` on `cluster`, waits for a healthy rollout and returns the
   * Service's load-balancer hostname.
   */
  deploy(cmd: { ctx: StepContext; cluster: string }): Promise<{ endpoint: string }>;
  /** Rolling update: patches the app's images to `ctx.version` only and waits the same way. */
  updateImages(cmd: { ctx: StepContext; cluster: string }): Promise<{ endpoint: string }>;
}

/** DNS (Route 53). */
export interface Dns {
  /** Where the app's record points now; undefined when it does not exist. */
  current(cmd: { app: KubeApp; signal?: AbortSignal }): Promise<string | undefined>;
  /** Checks the app's health path through `target`; rejects with what was wrong. */
  checkHealth(cmd: { app: KubeApp; target: string; progress: Progress; signal?: AbortSignal }): Promise<void>;
  /** Points the app's record at `target` and waits until the change is in sync. */
  pointRecord(cmd: { app: KubeApp; target: string; progress: Progress; signal?: AbortSignal }): Promise<{ previous: string | undefined }>;
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
  /** Step time limits in milliseconds. */
  readonly timeouts: StepTimeouts;
  /** How long old traffic drains after cutover before the old cluster is torn down (≥ the record's TTL), ms. */
  drainMs(app: KubeApp): number;
}
