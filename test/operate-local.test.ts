/**
 * scale and restart on the local provider (a laptop cluster through the
 * kubeconfig; the real Kubernetes client against the fake API server): replicas
 * and restarts work in the deploy's namespace; node bounds and Kubernetes
 * versions are the laptop cluster's own, so `nodes=` and `upgrade` are refused
 * at the door, saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { createLocalProvider } from '../deployer/local/index.js';
import { renderResult } from '../cli/render.js';
import type { CommandResult } from '../commands/results.js';
import { FakeKubeApiServer } from './fakes/kube-apiserver.js';
import { LocalApiFront } from './fakes/local-apiserver.js';
import { startHarness, type ApiResult, type Harness } from './helpers/harness.js';

describe('operating an app on the local provider', () => {
  let fake: FakeKubeApiServer;
  let front: LocalApiFront;
  let h: Harness;
  beforeAll(async () => {
    fake = await new FakeKubeApiServer().start();
    front = await new LocalApiFront(fake).start();
    h = await startHarness(
      { provider: 'local', drainMs: 10 },
      {
        provider: (deps) =>
          createLocalProvider({
            installation: { id: deps.installation },
            settings: { kubeconfigFiles: [] },
            buildEnv: {},
            kubeConfig: front.kubeConfig(),
            rewatchDelayMs: 5,
            healthRetry: { attempts: 2, minMs: 1, maxMs: 2 },
          }),
        apps: [searchSvc],
      },
    );
  });
  afterAll(async () => {
    await h.close();
    await front.close();
    await fake.close();
  });
  const idOf = (body: ApiResult): number => (body as unknown as { deploy: { id: number } }).deploy.id;

  it('scales replicas and restarts the pods in the live namespace; refuses nodes= and upgrade', async () => {
    const first = idOf((await h.cmd('carol', 'deploy', 'search-svc', 'v1')).body);
    await h.waitState(first, 'awaiting_approval');
    await h.cmd('bob', 'approve', String(first));
    await h.waitState(first, 'succeeded');
    const ns = `search-svc-${first}`;

    const scaled = idOf((await h.cmd('alice', 'scale', 'search-svc', 'replicas=5')).body);
    expect((await h.waitState(scaled, 'succeeded', 'failed')).state).toBe('succeeded');
    expect((fake.get('deployments', ns, 'search-svc')!.spec as { replicas: number }).replicas).toBe(5);

    const restarted = idOf((await h.cmd('alice', 'restart', 'search-svc')).body);
    expect((await h.waitState(restarted, 'succeeded', 'failed')).state).toBe('succeeded');
    const template = (fake.get('deployments', ns, 'search-svc')!.spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
    expect(template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toMatch(/Z$/);

    const nodes = await h.cmd('alice', 'scale', 'search-svc', 'nodes=2..4');
    expect(nodes.body).toMatchObject({ status: 'invalid', code: 'not_supported' });
    expect(nodes.body.message).toContain("this provider's cluster has no nodes of the app's own to scale");
    const upgrade = await h.cmd('carol', 'upgrade', 'search-svc');
    expect(upgrade.body).toMatchObject({ status: 'invalid', code: 'not_supported' });
    expect(upgrade.body.message).toContain('the local provider does not choose Kubernetes versions');

    // No Kubernetes version is known of a laptop cluster: status has no such column; the scale is said.
    const status = (await h.cmd('alice', 'status')).body as unknown as CommandResult;
    const text = renderResult(status);
    expect(text).not.toContain('KUBERNETES');
    expect(text).toContain(`search-svc: scaled to replicas=5 nodes=3..12 by alice (scale #${scaled}); the KubeApp says replicas=3 nodes=3..12, which the next blue/green deploy brings back`);
  }, 60_000);
});
