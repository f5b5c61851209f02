/**
 * The configuration of Fargate's built-in log router (EKS on Fargate runs
 * Fluent Bit for every pod itself, no sidecar): the namespace
 * `aws-observability`, labelled `aws-observability: enabled`, and in it the
 * ConfigMap `aws-logging` whose `output.conf` sends container logs to
 * CloudWatch Logs. Fargate reads it when a pod starts, so it must exist
 * before the app's pods do (kubecontrol applies it during provision). The
 * logs are written as the Fargate pod execution role, which needs
 * logs:CreateLogGroup, CreateLogStream, DescribeLogStreams and PutLogEvents.
 *
 * Fargate's own rules (EKS User Guide, "Start AWS Fargate logging for your
 * cluster"): only [FILTER], [OUTPUT] and [PARSER] sections, each under its
 * key; Name and Match required; keys indented more than the directive; no
 * environment variables; at most 5300 characters.
 */
import type { V1ConfigMap, V1Namespace } from '@kubernetes/client-node';
import { LABEL_INSTALLATION } from './installation.js';
import { LABEL_MANAGED_BY, MANAGER } from './manifests.js';

/** The namespace Fargate's log router reads its configuration from (fixed by EKS). */
export const FARGATE_LOGGING_NAMESPACE = 'aws-observability';
/** The ConfigMap it reads (fixed by EKS). */
export const FARGATE_LOGGING_CONFIGMAP = 'aws-logging';
/** The CloudWatch Logs group of an app's container logs. */
export const fargateLogGroup = (app: string): string => `/kubecontrol/${app}`;
/** The prefix of each log stream (Fluent Bit appends the tag: the container's log file). */
export const FARGATE_LOG_STREAM_PREFIX = 'fargate-';

/** The namespace and ConfigMap of the Fargate log router for `app`, labelled as kubecontrol's. */
export function renderFargateLogging(cmd: { app: string; region: string; installation: string }): { namespace: V1Namespace; configMap: V1ConfigMap } {
  const labels = { [LABEL_MANAGED_BY]: MANAGER, [LABEL_INSTALLATION]: cmd.installation };
  // Key-value pairs indented more than their directive, as Fargate validates.
  const output = [
    '[OUTPUT]',
    '    Name cloudwatch_logs',
    '    Match kube.*',
    `    region ${cmd.region}`,
    `    log_group_name ${fargateLogGroup(cmd.app)}`,
    `    log_stream_prefix ${FARGATE_LOG_STREAM_PREFIX}`,
    '    auto_create_group true',
    '',
  ].join('\n');
  return {
    namespace: {
      apiVersion: 'v1',
      kind: 'Namespace',
      // The label is how Fargate recognises the namespace: required.
      metadata: { name: FARGATE_LOGGING_NAMESPACE, labels: { 'aws-observability': 'enabled', ...labels } },
    },
    configMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: FARGATE_LOGGING_CONFIGMAP, namespace: FARGATE_LOGGING_NAMESPACE, labels },
      // The router's own process logs are not shipped (they would cost ingestion for nothing the app wrote).
      data: { flb_log_cw: 'false', 'output.conf': output },
    },
  };
}
