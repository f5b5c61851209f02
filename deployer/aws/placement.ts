/**
 * Where and how the aws provider runs an app: the app's own placement
 * (`PlacementOverrides`, from its `aws` block through deployer/specs.ts), else
 * the provider's settings, field by field. Every aws adapter reads placement
 * through here, never the environment.
 */
import { InfraError } from '../errors.js';
import type { PlacementOverrides } from '../ports.js';
import type { AwsSettings } from './settings.js';

/** An app's AWS placement with every field resolved. */
export interface AwsPlacement {
  readonly region: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly clusterRoleArn: string;
  readonly nodeRoleArn: string;
  /** Only Fargate apps need one. */
  readonly podExecutionRoleArn: string | undefined;
  /** The private subnets of a Fargate profile; only Fargate apps need them. */
  readonly fargateSubnetIds: readonly string[];
  readonly hostedZoneId: string;
  readonly ecrRegistry: string;
  readonly builder: 'codebuild' | 'command' | 'none';
  readonly codeBuildProject: string | undefined;
  readonly buildCommand: readonly string[];
}

/** The app's region: its own, else the provider's. */
export function regionOf(own: PlacementOverrides | undefined, settings: Pick<AwsSettings, 'region'>): string {
  return own?.region ?? settings.region;
}

/** `own.x ?? settings.x` for every placement field; the builder as the app names it, else as the settings allow. */
export function placement(own: PlacementOverrides | undefined, settings: AwsSettings): AwsPlacement {
  const a = own ?? {};
  const codeBuildProject = a.codeBuildProject ?? settings.codeBuildProject;
  const buildCommand = a.buildCommand?.length ? a.buildCommand : settings.buildCommand;
  const builder = a.builder ?? (codeBuildProject ? 'codebuild' : buildCommand.length ? 'command' : 'none');
  return {
    region: regionOf(own, settings),
    subnetIds: a.subnetIds ?? settings.subnetIds,
    securityGroupIds: a.securityGroupIds ?? settings.securityGroupIds,
    clusterRoleArn: a.clusterRoleArn ?? settings.clusterRoleArn,
    nodeRoleArn: a.nodeRoleArn ?? settings.nodeRoleArn,
    podExecutionRoleArn: a.podExecutionRoleArn ?? settings.podExecutionRoleArn,
    fargateSubnetIds: a.fargateSubnetIds ?? settings.fargateSubnetIds,
    hostedZoneId: (a.hostedZoneId ?? settings.hostedZoneId).replace(/^\/?hostedzone\//, ''),
    ecrRegistry: a.ecrRegistry ?? settings.ecrRegistry,
    builder,
    codeBuildProject,
    buildCommand,
  };
}

/**
 * The overrides with the region filled in from the settings: what the
 * Kubernetes adapter (credentials, ledger rows) reads, so that an app that
 * names no region is looked for in the settings' one. Idempotent.
 */
export function withRegion(own: PlacementOverrides | undefined, settings: Pick<AwsSettings, 'region'>): PlacementOverrides {
  return { ...own, region: regionOf(own, settings) };
}

/**
 * A placement value the step needs but neither the app nor the settings give:
 * misconfigured, naming both places (`what` as people say it, default the field).
 */
export function missingSetting(app: string, field: string, variable: string, what: string = field): InfraError {
  return new InfraError('misconfigured', `no ${what} configured for ${app}: set aws.${field} or ${variable}`);
}
