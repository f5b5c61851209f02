/** The composition root's one choice of adapters: sandbox, aws or local. */
import type { KubeApp } from '../kubeapps/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from './clock.js';
import type { Provider } from './ports.js';
import { createSandboxProvider } from './sandbox/index.js';

export interface ProviderChoice {
  readonly provider: 'sandbox' | 'aws' | 'local';
  readonly sandboxScale: number;
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
      const { createAwsProvider } = await import('./aws/index.js');
      // gc looks for tagged clusters in every region an app deploys to.
      return createAwsProvider({ regions: () => [...new Set(apps.map((a) => a.aws.region))] });
    }
    case 'local': {
      // Loaded only when asked for, like aws: the current kubeconfig context (kind, minikube).
      const { createLocalProvider } = await import('./local/index.js');
      return createLocalProvider();
    }
  }
}
