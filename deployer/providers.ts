/** The composition root's one choice of adapters: sandbox, aws or local. */
import type { KubeApp } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from './clock.js';
import type { Provider } from './ports.js';
import { createSandboxProvider } from './sandbox/index.js';

export interface ProviderChoice {
  readonly provider: 'sandbox' | 'aws' | 'local';
  readonly sandboxScale: number;
  /** Where the aws and local providers read their settings (validated here, at start) and build commands' environment. */
  readonly env: NodeJS.ProcessEnv;
}

/** Provider settings that cannot work: one line per problem. */
export class ProviderSettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ProviderSettingsError';
  }
}

/** What every provider is built with. */
export interface ProviderDeps {
  readonly store: Store;
  readonly apps: readonly KubeApp[];
  readonly clock: Clock;
  /** This installation's identity, carried by every resource the provider creates. */
  readonly installation: string;
}

export async function createProvider(choice: ProviderChoice, deps: ProviderDeps): Promise<Provider> {
  const { store, apps, clock, installation } = deps;
  switch (choice.provider) {
    case 'sandbox':
      return createSandboxProvider(store, { scale: choice.sandboxScale, clock, installation });
    case 'aws': {
      // Loaded only when asked for, so local mode does not load the AWS SDK.
      const { createAwsProvider, loadAwsSettings } = await import('./aws/index.js');
      const loaded = loadAwsSettings(choice.env);
      if (!loaded.ok) throw new ProviderSettingsError(loaded.problems);
      // gc looks for tagged clusters in every region an app deploys to.
      return createAwsProvider({
        installation: { id: installation },
        settings: loaded.settings,
        buildEnv: choice.env,
        now: () => clock.now(),
        regions: () => [...new Set(apps.filter((a) => !a.aws.defaulted.region).map((a) => a.aws.region))],
      });
    }
    case 'local': {
      // Loaded only when asked for, like aws: the current kubeconfig context (kind, minikube).
      const { createLocalProvider, loadLocalSettings } = await import('./local/index.js');
      const loaded = loadLocalSettings(choice.env);
      if (!loaded.ok) throw new ProviderSettingsError(loaded.problems);
      return createLocalProvider({ installation: { id: installation }, settings: loaded.settings, buildEnv: choice.env });
    }
  }
}
