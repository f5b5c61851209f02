/** The aws provider's settings as an installation gives them (through loadAwsSettings), and the example KubeApps with per-app overrides. */
import { loadAwsSettings, type AwsSettings } from '../../deployer/aws/settings.js';
import { createAwsProvider, type AwsProviderOptions } from '../../deployer/aws/index.js';
import type { ImageRef, Installation, PlacementOverrides, Provider } from '../../deployer/ports.js';
import { imageRef, placementOf } from '../../deployer/specs.js';
import type { KubeApp, ResolvedAws } from '../../kubeapps/index.js';

export const ACCOUNT_ID = '123456789012';
export const REGISTRY = `${ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com`;

/** The environment of an installation in eu-west-1. */
export const AWS_ENV: NodeJS.ProcessEnv = {
  AWS_REGION: 'eu-west-1',
  KUBECONTROL_SUBNET_IDS: 'subnet-0a1b2c3d, subnet-4e5f6a7b',
  KUBECONTROL_SECURITY_GROUP_IDS: 'sg-0123abcd',
  KUBECONTROL_CLUSTER_ROLE_ARN: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-cluster`,
  KUBECONTROL_NODE_ROLE_ARN: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-node`,
  KUBECONTROL_POD_EXECUTION_ROLE_ARN: `arn:aws:iam::${ACCOUNT_ID}:role/kubecontrol-fargate`,
  KUBECONTROL_FARGATE_SUBNET_IDS: 'subnet-9f8e7d6c, subnet-5b4a3928',
  KUBECONTROL_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
  KUBECONTROL_ECR_REGISTRY: REGISTRY,
};

/** `AWS_ENV` through the real loader, changed by `extra`. */
export function awsSettings(extra: NodeJS.ProcessEnv = {}): AwsSettings {
  const r = loadAwsSettings({ ...AWS_ENV, ...extra });
  if (!r.ok) throw new Error(`test settings are invalid: ${r.problems.join('; ')}`);
  return r.settings;
}

export const SETTINGS: AwsSettings = awsSettings();

/** The public subnets of the test account (the cluster's); the Fargate ones are private. */
export const PUBLIC_SUBNETS = ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'];
/** 2026-11-30, noon UTC: the day the EKS facts of the tests hold. */
export const TODAY = Date.parse('2026-11-30T12:00:00Z');

/** This installation, and another one sharing the account. */
export const INSTALLATION: Installation = { id: 'inst-a1b2c3' };
export const OTHER_INSTALLATION: Installation = { id: 'inst-other9' };

/** `app` with its own `aws` overrides, as if its definition had set them. */
export function withAws(app: KubeApp, own: Partial<Omit<ResolvedAws, 'defaulted'>> = {}): KubeApp {
  const builderSet = own.builder !== undefined || own.codeBuildProject !== undefined || (own.buildCommand?.length ?? 0) > 0;
  return {
    ...app,
    aws: {
      ...app.aws,
      ...own,
      ...(own.builder === undefined && builderSet ? { builder: own.codeBuildProject ? 'codebuild' : 'command' } : {}),
      defaulted: {
        region: app.aws.defaulted.region && own.region === undefined,
        builder: app.aws.defaulted.builder && !builderSet,
      },
    },
  };
}

/** `{ image, placement }` of the app's image at `tag`, as the build step gives them to a registry or builder (deployer/specs.ts). */
export function imageOf(app: KubeApp, tag: string): { image: ImageRef; placement: PlacementOverrides | undefined } {
  return { image: imageRef(app, tag), placement: placementOf(app) };
}

/** The aws provider's waits and polls in milliseconds, one health check answered 200, today fixed: what tests on the fakes run with. */
export const FAST_AWS = {
  waiterDelays: { minDelay: 0.001, maxDelay: 0.002 },
  codeBuildPoll: { minMs: 1, maxMs: 2 },
  healthRetry: { attempts: 1 },
  fetch: async () => ({ status: 200, statusText: 'OK' }),
  rewatchDelayMs: 5,
  now: () => TODAY,
} satisfies Partial<AwsProviderOptions>;

/**
 * The aws provider as the server tests run it, for `startHarness`'s provider option: every wait and
 * poll in milliseconds, one health-check attempt answered 200 (unless `options.fetch` says otherwise),
 * today fixed, and a 10 ms drain instead of twice the TTL. `options` replaces any of these.
 */
export function fastAwsProvider(options: Partial<AwsProviderOptions> = {}): (deps: { installation: string }) => Provider {
  return ({ installation }) => ({
    ...createAwsProvider({
      installation: { id: installation },
      settings: SETTINGS,
      buildEnv: {},
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
      ...FAST_AWS,
      ...options,
    }),
    drainMs: () => 10,
  });
}
