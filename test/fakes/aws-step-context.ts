/** A real StepContext for adapter tests: a temp SQLite store, a real DeployLedger, recorded progress lines. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeApp } from '../../kubeapps/index.js';
import { createDeployLedger } from '../../deployer/ledger.js';
import type { ClusterRef, ContainerImage, ImageRef, PlacementOverrides, StepContext, WorkloadSpec } from '../../deployer/ports.js';
import { appImages, clusterRef, imageRef, placementOf, workloadSpec } from '../../deployer/specs.js';
import { Store, type StepName } from '../../store/index.js';

export interface TestStep {
  readonly ctx: StepContext;
  /** The app the step is for (the context only names it). */
  readonly app: KubeApp;
  /** A builder's command for the app's image at `tag` (the specs the build step gives it). */
  build(tag?: string): { ctx: StepContext; image: ImageRef; placement: PlacementOverrides | undefined };
  /** A workloads adapter's `deploy` command: the app's workload at the step's version on `cluster`. */
  deployTo(cluster: string): { ctx: StepContext; cluster: ClusterRef; workload: WorkloadSpec };
  /** A workloads adapter's `updateImages` command: the app's own images at the step's version on `cluster`. */
  updateOn(cluster: string): { ctx: StepContext; cluster: ClusterRef; images: readonly ContainerImage[] };
  readonly store: Store;
  readonly lines: string[];
  readonly controller: AbortController;
  cleanup(): void;
}

/** Opens a store in a temp dir and creates a deploy row for `app`, then a StepContext bound to it. */
export function testStep(app: KubeApp, opts: { version?: string; step?: StepName; provider?: string } = {}): TestStep {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  const store = Store.open(join(dir, 'kc.db'));
  const version = opts.version ?? '1.4.2';
  const deployId = createDeployRow(store, app.name, version);
  const lines: string[] = [];
  const controller = new AbortController();
  const ctx: StepContext = {
    deployId,
    app: app.name,
    version,
    step: opts.step ?? 'provision',
    progress: (message) => void lines.push(message),
    ledger: createDeployLedger(store, { id: deployId, app: app.name }, opts.provider ?? 'aws'),
    signal: controller.signal,
  };
  return {
    ctx,
    app,
    build: (tag = version) => ({ ctx, image: imageRef(app, tag), placement: placementOf(app) }),
    deployTo: (cluster) => ({ ctx, cluster: clusterRef(app, cluster), workload: workloadSpec(app, version) }),
    updateOn: (cluster) => ({ ctx, cluster: clusterRef(app, cluster), images: appImages(app, version) }),
    store,
    lines,
    controller,
    cleanup: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Inserts a deploy through the store's own repository. */
function createDeployRow(store: Store, app: string, version: string): number {
  return store.deploys.create({ app, version, strategy: 'blue-green', requestedBy: 'tester', surface: 'cli', provider: 'aws' }).id;
}
