/**
 * Where and how the aws provider runs an app: the app's own `aws` fields,
 * else the provider's settings, field by field. Every aws adapter reads an
 * app's placement through here, never the environment.
 */
import type { KubeApp } from '../../kubeapps/index.js';
import { InfraError } from '../errors.js';
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
  readonly hostedZoneId: string;
  readonly ecrRegistry: string;
  readonly builder: 'codebuild' | 'command' | 'none';
  readonly codeBuildProject: string | undefined;
  readonly buildCommand: readonly string[];
}

/** The app's region: its own, else the provider's. */
export function regionOf(app: KubeApp, settings: Pick<AwsSettings, 'region'>): string {
  return app.aws.defaulted.region ? settings.region : app.aws.region;
}

/** `app.aws.x ?? settings.x` for every placement field; the builder as the app names it, else as the settings allow. */
export function placement(app: KubeApp, settings: AwsSettings): AwsPlacement {
  const a = app.aws;
  const codeBuildProject = a.codeBuildProject ?? settings.codeBuildProject;
  const buildCommand = a.buildCommand.length ? a.buildCommand : settings.buildCommand;
  const builder = a.defaulted.builder ? (codeBuildProject ? 'codebuild' : buildCommand.length ? 'command' : 'none') : a.builder;
  return {
    region: regionOf(app, settings),
    subnetIds: a.subnetIds ?? settings.subnetIds,
    securityGroupIds: a.securityGroupIds ?? settings.securityGroupIds,
    clusterRoleArn: a.clusterRoleArn ?? settings.clusterRoleArn,
    nodeRoleArn: a.nodeRoleArn ?? settings.nodeRoleArn,
    podExecutionRoleArn: a.podExecutionRoleArn ?? settings.podExecutionRoleArn,
    hostedZoneId: (a.hostedZoneId ?? settings.hostedZoneId).replace(/^\/?hostedzone\//, ''),
    ecrRegistry: a.ecrRegistry ?? settings.ecrRegistry,
    builder,
    codeBuildProject,
    buildCommand,
  };
}

/**
 * The app as the aws provider runs it: region, builder and placement filled in
 * from the settings, so code that reads `app.aws` (the Kubernetes adapter, a
 * plan) sees where it really goes. Idempotent.
 */
export function placeKubeApp(app: KubeApp, settings: AwsSettings): KubeApp {
  const p = placement(app, settings);
  return {
    ...app,
    aws: {
      ...app.aws,
      region: p.region,
      builder: p.builder,
      buildCommand: p.buildCommand,
      subnetIds: p.subnetIds,
      securityGroupIds: p.securityGroupIds,
      clusterRoleArn: p.clusterRoleArn,
      nodeRoleArn: p.nodeRoleArn,
      ...(p.podExecutionRoleArn ? { podExecutionRoleArn: p.podExecutionRoleArn } : {}),
      hostedZoneId: p.hostedZoneId,
      ecrRegistry: p.ecrRegistry,
      ...(p.codeBuildProject ? { codeBuildProject: p.codeBuildProject } : {}),
      defaulted: { region: false, builder: false },
    },
  };
}

/**
 * A placement value the step needs but neither the app nor the settings give:
 * misconfigured, naming both places (`what` as people say it, default the field).
 */
export function missingSetting(app: KubeApp, field: string, variable: string, what: string = field): InfraError {
  return new InfraError('misconfigured', `no ${what} configured for ${app.name}: set aws.${field} or ${variable}`);
}
