/**
 * `kubecontrol aws check`: what a first deploy on AWS needs, checked against
 * the account before anything is created — the settings, the credentials and
 * their account, the regions, the roles (trust and managed policies), what
 * kubecontrol's own identity may do (IAM's policy simulator on the actions of
 * deployer/aws/iam.ts), EKS's service-linked roles, the subnets and their
 * load-balancer tags, the Fargate subnets, the hosted zone, the ECR registry,
 * each app's Kubernetes version, builder, certificate and pod role; with an
 * observability role, that role and (Fargate apps) that the pod execution role
 * may write the log router's CloudWatch Logs.
 *
 * One line per check (✓ ✗ ⚠ ℹ), a ✗ with what to do. It runs in the CLI
 * process with the environment the server would get, reads only, and never
 * prints a secret: values shown are ids, ARNs and names.
 */
import { BatchGetProjectsCommand } from '@aws-sdk/client-codebuild';
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, type DescribeRouteTablesCommandOutput, type DescribeSubnetsCommandOutput, type RouteTable, type Subnet } from '@aws-sdk/client-ec2';
import { DescribeRegistryCommand } from '@aws-sdk/client-ecr';
import { GetRoleCommand, ListAttachedRolePoliciesCommand, SimulatePrincipalPolicyCommand, type ContextEntry } from '@aws-sdk/client-iam';
import { GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { ClusterSpec, DnsRecord, WorkloadSpec } from '../ports.js';
import { awsErrorCode, createAwsClientsFor, type AwsClientsFor } from './clients.js';
import { FARGATE_LOG_STREAM_PREFIX, fargateLogGroup } from '../kube/fargate-logging.js';
import {
  INCLUDED_IN,
  KUBECONTROL_ACTIONS,
  NODE_GROUP_POLICIES,
  ROLES,
  SERVICE_LINKED_ROLES,
  fargateLoggingPolicy,
  managedPolicyArn,
  trustPolicy,
  type RoleFacts,
} from './iam.js';
import { placement, type AwsPlacement } from './placement.js';
import { ECR_HOST, loadAwsSettings } from './settings.js';
import { checkVersion as versionCheck, describeEksVersions, type EksVersion } from './versions.js';

/** ✓ passed · ✗ a deploy would fail · ⚠ works, but look · ℹ not checked, or for information. */
export type CheckStatus = 'ok' | 'fail' | 'warn' | 'info';

/** One line of the report. */
export interface CheckLine {
  /** Stable id of the check, e.g. `role:cluster`, `version:search-svc`. */
  readonly check: string;
  readonly status: CheckStatus;
  readonly message: string;
  /** What to do (✗ and ⚠ only). */
  readonly fix?: string;
}

/** What `checkAws` found. */
export interface AwsCheckReport {
  /** True when nothing failed (warnings allowed): a deploy can work. */
  readonly ok: boolean;
  readonly lines: readonly CheckLine[];
}

/** What the check is told of an app: its specs, as the pipeline builds them (deployer/specs.ts). */
export interface CheckedApp {
  readonly app: string;
  readonly cluster: ClusterSpec;
  readonly workload: WorkloadSpec;
  readonly record: DnsRecord;
}

/** What `checkAws` reads, and what tests give instead of the defaults. */
export interface AwsCheckOptions {
  /** The environment the server would get (settings are read from it). */
  readonly env: NodeJS.ProcessEnv;
  readonly apps: readonly CheckedApp[];
  /** KubeApps that did not load: each problem is a ✗ line. @default none */
  readonly appProblems?: readonly { readonly file: string; readonly app: string; readonly problems: readonly string[] }[];
  /** @default createAwsClientsFor() with 3 attempts per call (a preflight should answer quickly) */
  readonly clients?: AwsClientsFor;
  /** Today, for support dates. @default Date.now */
  readonly now?: () => number;
  /** Whether a build command's program can be run. @default looks it up on env.PATH */
  readonly canRun?: (program: string) => boolean;
  readonly signal?: AbortSignal;
}


const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedAccess', 'AuthorizationError']);
/** Errors of the network, not of AWS. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);
const isDenied = (err: unknown): boolean => DENIED.has(awsErrorCode(err));
const describe = (err: unknown): string => `${awsErrorCode(err)}: ${errorMessage(err)}`;
const list = (items: readonly string[], max = 8): string =>
  items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} (+${items.length - max} more)`;

/** Runs every check; never throws for what it finds (an unexpected SDK error is a ✗ line of its check). */
export async function checkAws(opts: AwsCheckOptions): Promise<AwsCheckReport> {
  const lines: CheckLine[] = [];
  const add = (check: string, status: CheckStatus, message: string, fix?: string): void => {
    lines.push(fix && (status === 'fail' || status === 'warn') ? { check, status, message, fix } : { check, status, message });
  };
  const done = (): AwsCheckReport => ({ ok: !lines.some((l) => l.status === 'fail'), lines });
  const signal = opts.signal;
  const now = opts.now ?? Date.now;

  // --- settings and KubeApps: what the server would refuse at start ---
  const loaded = loadAwsSettings(opts.env);
  if (loaded.ok) add('settings', 'ok', 'AWS settings are valid');
  else for (const p of loaded.problems) add('settings', 'fail', p, 'set it in the environment kubecontrol runs with (the server reads the same variables)');
  for (const p of opts.appProblems ?? []) for (const line of p.problems) add(`app:${p.app}`, 'fail', `KubeApp ${p.app} (${p.file}): ${line}`, 'fix the KubeApp (`kubecontrol apps validate` lists every problem)');

  const region = loaded.ok ? loaded.settings.region : (opts.env.AWS_REGION?.trim() || opts.env.AWS_DEFAULT_REGION?.trim());
  const clientsFor = opts.clients ?? createAwsClientsFor({ maxAttempts: 3, retryMode: 'standard' });

  // --- credentials: everything else needs them ---
  if (!region) {
    add('credentials', 'info', 'credentials not checked: no region (set AWS_REGION)');
    return done();
  }
  let account: string;
  let callerArn: string;
  try {
    const id = await clientsFor(region).sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
    account = id.Account ?? '';
    callerArn = id.Arn ?? '';
    add('credentials', 'ok', `credentials work: account ${account}, identity ${callerArn}`);
  } catch (err) {
    if (UNREACHABLE.has(awsErrorCode(err))) {
      add('credentials', 'fail', `AWS STS in ${region} is unreachable from this host: ${describe(err)}`, 'check the network, proxy (HTTPS_PROXY) and any AWS_ENDPOINT_URL* variables');
      add('skipped', 'info', 'the other AWS checks need AWS to answer');
      return done();
    }
    add(
      'credentials',
      'fail',
      `AWS credentials do not work in ${region}: ${describe(err)}`,
      "give kubecontrol's identity credentials the SDK finds (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, or an instance/pod role) in the environment the server runs with",
    );
    add('skipped', 'info', 'the other AWS checks need working credentials');
    return done();
  }
  if (!loaded.ok) {
    add('skipped', 'info', 'the account checks need valid settings: fix the settings above and run again');
    return done();
  }
  const settings = loaded.settings;
  const ctx: Ctx = { clientsFor, signal, account, home: settings.region, add };

  const apps = opts.apps.map((a) => ({ ...a, placed: placement(a.cluster.placement, settings) }));
  const defaults = placement(undefined, settings);

  // --- regions ---
  const regions = new Map<string, string[]>([[settings.region, []]]);
  for (const a of apps) regions.set(a.placed.region, [...(regions.get(a.placed.region) ?? []), a.app]);
  for (const [r, names] of regions) {
    const who = names.length ? ` (apps: ${names.join(', ')})` : ' (no app runs here)';
    if (r === settings.region) {
      add(`region:${r}`, 'ok', `region ${r}${who}`);
      continue;
    }
    try {
      await clientsFor(r).sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
      add(`region:${r}`, 'ok', `region ${r}${who}`);
    } catch (err) {
      add(`region:${r}`, 'fail', `region ${r}${who} is not usable: ${describe(err)}`, `enable the region for the account, or set aws.region of ${names.join(', ')} to an enabled one`);
    }
  }

  // --- roles kubecontrol hands to EKS ---
  const targets = apps.length ? apps.map((a) => a.placed) : [defaults];
  const fargateApps = apps.filter((a) => a.cluster.capacity.kind === 'fargate');
  const clusterRoles = unique(targets.map((p) => p.clusterRoleArn));
  const nodeRoles = unique(apps.length ? apps.filter((a) => a.cluster.capacity.kind !== 'fargate').map((a) => a.placed.nodeRoleArn) : [defaults.nodeRoleArn]);
  for (const arn of clusterRoles) await checkRole(ctx, 'role:cluster', arn, ROLES.cluster, nodeRoles.includes(arn) ? ['it is also the node role: Auto Mode needs two different roles'] : []);
  for (const arn of nodeRoles) {
    const nodeGroups = apps.filter((a) => a.cluster.capacity.kind === 'nodes' && a.placed.nodeRoleArn === arn).map((a) => a.app);
    const facts: RoleFacts = nodeGroups.length ? { ...ROLES.node, managedPolicies: [...ROLES.node.managedPolicies, ...NODE_GROUP_POLICIES] } : ROLES.node;
    await checkRole(ctx, 'role:node', arn, facts, [], nodeGroups.length ? `node role (also of the managed node groups of ${nodeGroups.join(', ')})` : undefined);
  }
  const podExecutionRoles = unique([...fargateApps.map((a) => a.placed.podExecutionRoleArn), ...(fargateApps.length ? [] : [settings.podExecutionRoleArn])].filter((r): r is string => !!r));
  for (const a of fargateApps) {
    if (!a.placed.podExecutionRoleArn) {
      add(`role:pod-execution`, 'fail', `${a.app} runs on Fargate but no pod execution role is configured`, 'set KUBECONTROL_POD_EXECUTION_ROLE_ARN (or the app\'s aws.podExecutionRoleArn)');
    }
  }
  for (const arn of podExecutionRoles) await checkRole(ctx, 'role:pod-execution', arn, ROLES.podExecution, nodeRoles.includes(arn) ? ['it is also the node role: Fargate needs its own role'] : []);
  const observabilityRole = settings.observabilityRoleArn;
  if (observabilityRole) {
    await checkRole(ctx, 'role:observability', observabilityRole, ROLES.observability, []);
    // Fargate's log router writes as the pod execution role, not as the observability role.
    for (const a of fargateApps) if (a.placed.podExecutionRoleArn) await checkFargateLogging(ctx, a.app, a.placed.region, a.placed.podExecutionRoleArn);
  } else {
    add(
      'observability',
      'info',
      'no observability agent on new clusters (container logs stay on the nodes): set KUBECONTROL_OBSERVABILITY_ROLE_ARN for CloudWatch Container Insights and the Fargate log router',
    );
  }
  if (settings.accessRoleArn) await checkAccessRole(ctx, settings.accessRoleArn, await principalOf(ctx, callerArn));
  else {
    add(
      'role:access',
      'warn',
      'no stable access role: each cluster is reachable only by the identity that created it',
      'set KUBECONTROL_ACCESS_ROLE_ARN to a role kubecontrol may assume; every cluster gets an admin access entry for it',
    );
  }

  // --- what kubecontrol's identity may do ---
  const passRoles = unique([...clusterRoles, ...nodeRoles, ...podExecutionRoles, ...(observabilityRole ? [observabilityRole] : []), ...apps.map((a) => a.workload.podRoleArn ?? a.cluster.podIdentity?.roleArn).filter((r): r is string => !!r)]);
  await checkPermissions(ctx, callerArn, passRoles, settings.accessRoleArn);
  await checkServiceLinkedRoles(ctx);
  const spot = apps.filter((a) => a.cluster.capacity.kind !== 'fargate' && a.cluster.capacity.spot).map((a) => a.app);
  if (spot.length) await checkSpotRole(ctx, spot);

  // --- network ---
  const bySubnets = new Map<string, { region: string; subnetIds: readonly string[]; apps: typeof apps }>();
  for (const p of targets) {
    const key = `${p.region}:${[...p.subnetIds].sort().join(',')}`;
    if (!bySubnets.has(key)) bySubnets.set(key, { region: p.region, subnetIds: p.subnetIds, apps: [] });
  }
  for (const a of apps) bySubnets.get(`${a.placed.region}:${[...a.placed.subnetIds].sort().join(',')}`)!.apps.push(a);
  for (const group of bySubnets.values()) {
    const vpc = await checkSubnets(ctx, group.region, group.subnetIds);
    if (!vpc) continue;
    const external = group.apps.filter((a) => a.workload.service.loadBalancer === 'external').map((a) => a.app);
    const internal = group.apps.filter((a) => a.workload.service.loadBalancer === 'internal').map((a) => a.app);
    await checkLoadBalancerSubnets(ctx, group.region, vpc, external, internal);
    const fargate = group.apps.filter((a) => a.cluster.capacity.kind === 'fargate');
    if (fargate.length) {
      await checkFargateSubnets(ctx, group.region, vpc, fargate[0]!.placed.fargateSubnetIds, fargate.map((a) => a.app));
    }
  }

  // --- DNS ---
  const zones = new Map<string, typeof apps>();
  for (const p of targets) if (!zones.has(p.hostedZoneId)) zones.set(p.hostedZoneId, []);
  for (const a of apps) zones.get(a.placed.hostedZoneId)!.push(a);
  for (const [zoneId, zoneApps] of zones) await checkHostedZone(ctx, zoneId, zoneApps);

  // --- registry ---
  for (const host of unique(targets.map((p) => p.ecrRegistry))) {
    const users = apps.filter((a) => a.placed.ecrRegistry === host);
    await checkRegistry(ctx, host, unique(users.length ? users.map((a) => a.placed.region) : [settings.region]));
  }

  // --- per app: Kubernetes version, builder, certificate, pod role ---
  const versions = new Map<string, Promise<EksVersion[] | Error>>();
  const versionsIn = (r: string) => {
    let v = versions.get(r);
    if (!v) versions.set(r, (v = describeEksVersions(clientsFor(r).eks, now(), signal).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
    return v;
  };
  for (const a of apps) checkAppVersion(ctx, a.app, a.cluster, await versionsIn(a.placed.region), now());
  const canRun = opts.canRun ?? ((program: string) => onPath(program, opts.env.PATH));
  // One line per builder, naming the apps that use it.
  const builders = new Map<string, { apps: string[]; placed: AwsPlacement }>();
  for (const t of apps.length ? apps.map((a) => ({ name: a.app, placed: a.placed })) : [{ name: '', placed: defaults }]) {
    const p = t.placed;
    const key = p.builder === 'codebuild' ? `codebuild:${p.region}:${p.codeBuildProject}` : p.builder === 'command' ? `command:${p.buildCommand[0]}` : 'none';
    const b = builders.get(key) ?? { apps: [], placed: p };
    if (t.name) b.apps.push(t.name);
    builders.set(key, b);
  }
  for (const b of builders.values()) await checkBuilder(ctx, b.apps, b.placed, canRun);
  for (const a of apps) {
    if (a.workload.service.certificateArn) checkCertificate(ctx, a.app, a.placed.region, a.workload.service.certificateArn);
    const podRole = a.workload.podRoleArn ?? a.cluster.podIdentity?.roleArn;
    if (podRole) await checkRole(ctx, `pod-role:${a.app}`, podRole, ROLES.appPod, [], `${a.app}'s pod role`);
  }
  return done();
}

/** What the checks share. */
interface Ctx {
  readonly clientsFor: AwsClientsFor;
  readonly signal: AbortSignal | undefined;
  readonly account: string;
  /** The settings' region: where the global services (IAM, Route 53) are asked. */
  readonly home: string;
  readonly add: (check: string, status: CheckStatus, message: string, fix?: string) => void;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/** The role name of a role ARN (the last segment: roles may have a path). */
const roleName = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);
/** The account of an ARN (its fifth field). */
const accountOf = (arn: string): string => arn.split(':')[4] ?? '';

/**
 * Reads a role: undefined when it cannot be read (the line is added);
 * `what` names it in messages.
 */
async function readRole(ctx: Ctx, check: string, arn: string, what: string, setting: string) {
  try {
    const role = (await ctx.clientsFor(ctx.home).iam.send(new GetRoleCommand({ RoleName: roleName(arn) }), { abortSignal: ctx.signal })).Role;
    if (!role) throw new Error('GetRole returned no role');
    return role;
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'NoSuchEntity' || code === 'NoSuchEntityException') ctx.add(check, 'fail', `${what} ${arn} does not exist`, `create it, or set ${setting} to an existing role (README: AWS roles)`);
    else if (isDenied(err)) ctx.add(check, 'warn', `${what} ${arn} could not be read (${code}); not verified`, 'allow kubecontrol iam:GetRole and iam:ListAttachedRolePolicies (the Preflight statement of `kubecontrol aws policy`)');
    else ctx.add(check, 'fail', `${what} ${arn} could not be read: ${describe(err)}`);
    return undefined;
  }
}

/** A role exists, in this account, with the trust and managed policies `facts` names. */
async function checkRole(ctx: Ctx, check: string, arn: string, facts: RoleFacts, extra: readonly string[], label?: string): Promise<void> {
  const what = label ?? facts.label;
  if (accountOf(arn) !== ctx.account) {
    ctx.add(check, 'fail', `${what} ${arn} is in account ${accountOf(arn)}, not ${ctx.account}: EKS takes roles of its own account only`, `use a role of account ${ctx.account} (${facts.setting})`);
    return;
  }
  const role = await readRole(ctx, check, arn, what, facts.setting);
  if (!role) return;
  const problems = [...extra];
  const fixes: string[] = [];
  if (role.Arn && role.Arn !== arn) problems.push(`its ARN is ${role.Arn} (the configured ARN has another path)`);
  const name = role.RoleName ?? roleName(arn);
  const missingTrust = missingTrustActions(role.AssumeRolePolicyDocument, facts.trustedService, facts.trustActions);
  if (missingTrust.length) {
    problems.push(`its trust policy does not let ${facts.trustedService} ${missingTrust.join(' and ')}`);
    fixes.push(`aws iam update-assume-role-policy --role-name ${name} --policy-document '${JSON.stringify(trustPolicy(facts))}'`);
  }
  if (facts.managedPolicies.length) {
    try {
      const attached = new Set<string>();
      let marker: string | undefined;
      do {
        const page = await ctx.clientsFor(ctx.home).iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name, Marker: marker }), { abortSignal: ctx.signal });
        for (const p of page.AttachedPolicies ?? []) if (p.PolicyName) attached.add(p.PolicyName);
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      const missing = facts.managedPolicies.filter((p) => !attached.has(p) && !(INCLUDED_IN[p] ?? []).some((q) => attached.has(q)));
      if (missing.length) {
        problems.push(`it lacks ${missing.join(', ')}`);
        for (const p of missing) fixes.push(`aws iam attach-role-policy --role-name ${name} --policy-arn ${managedPolicyArn(p, arn.split(':')[1])}`);
      }
    } catch (err) {
      if (isDenied(err)) problems.push(`its policies could not be listed (${awsErrorCode(err)})`);
      else problems.push(`its policies could not be listed: ${describe(err)}`);
    }
  }
  if (problems.length) ctx.add(check, 'fail', `${what} ${arn}: ${problems.join('; ')}`, fixes.join('\n') || `fix the role, or set ${facts.setting} to another (README: AWS roles)`);
  else {
    const policies = facts.managedPolicies.length ? `, ${facts.managedPolicies.join(' + ')}` : '';
    ctx.add(check, 'ok', `${what} ${name}: trusts ${facts.trustedService}${policies}`);
  }
}

/**
 * With an observability role, Fargate's log router sends an app's container logs to
 * CloudWatch Logs (`/kubecontrol/<app>`) as the Fargate pod execution role: IAM's
 * policy simulator on that role, for the log group and its streams.
 */
async function checkFargateLogging(ctx: Ctx, app: string, region: string, roleArn: string): Promise<void> {
  const check = `fargate-logging:${app}`;
  const partition = roleArn.split(':')[1] ?? 'aws';
  const group = `arn:${partition}:logs:${region}:${ctx.account}:log-group:${fargateLogGroup(app)}`;
  // The group's actions on the group, the streams' on a stream (the simulator evaluates every action on every resource given).
  const asks = [
    { actions: ['logs:CreateLogGroup', 'logs:DescribeLogStreams'], resource: group },
    { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resource: `${group}:log-stream:${FARGATE_LOG_STREAM_PREFIX}kube.var.log.containers.${app}` },
  ];
  const denied: string[] = [];
  try {
    for (const ask of asks) {
      const out = await ctx.clientsFor(ctx.home).iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ask.actions, ResourceArns: [ask.resource] }), {
        abortSignal: ctx.signal,
      });
      for (const r of out.EvaluationResults ?? []) if (r.EvalDecision !== 'allowed' && r.EvalActionName) denied.push(r.EvalActionName);
    }
  } catch (err) {
    if (isDenied(err)) ctx.add(check, 'warn', `${app}: whether the Fargate pod execution role may write CloudWatch Logs was not verified (${awsErrorCode(err)})`, 'allow kubecontrol iam:SimulatePrincipalPolicy (the Preflight statement of `kubecontrol aws policy`)');
    else ctx.add(check, 'fail', `${app}: the Fargate pod execution role's CloudWatch Logs permissions could not be simulated: ${describe(err)}`);
    return;
  }
  const name = roleName(roleArn);
  if (denied.length) {
    ctx.add(
      check,
      'fail',
      `${app}: Fargate pod execution role ${name} may not ${denied.join(', ')} on ${fargateLogGroup(app)}: Fargate's log router could not ship the app's container logs`,
      `aws iam put-role-policy --role-name ${name} --policy-name kubecontrol-fargate-logging --policy-document '${JSON.stringify(fargateLoggingPolicy(partition))}'`,
    );
  } else ctx.add(check, 'ok', `${app}: Fargate's log router may write container logs to CloudWatch Logs ${fargateLogGroup(app)} as ${name}`);
}

/**
 * The access role exists and trusts kubecontrol's identity (its role or user, or
 * the whole account); that the identity's own policy allows sts:AssumeRole on it
 * is simulated in `checkPermissions`.
 */
async function checkAccessRole(ctx: Ctx, arn: string, principal: string | undefined): Promise<void> {
  const check = 'role:access';
  if (accountOf(arn) !== ctx.account) {
    ctx.add(check, 'fail', `access role ${arn} is in account ${accountOf(arn)}, not ${ctx.account}`, 'set KUBECONTROL_ACCESS_ROLE_ARN to a role of this account');
    return;
  }
  const role = await readRole(ctx, check, arn, 'access role', 'KUBECONTROL_ACCESS_ROLE_ARN');
  if (!role) return;
  if (principal && !trustsPrincipal(role.AssumeRolePolicyDocument, principal, ctx.account)) {
    const name = role.RoleName ?? roleName(arn);
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }] };
    ctx.add(check, 'fail', `access role ${name}: its trust policy does not let ${principal} assume it, so kubecontrol could not reach its clusters`, `aws iam update-assume-role-policy --role-name ${name} --policy-document '${JSON.stringify(doc)}'`);
    return;
  }
  ctx.add(check, 'ok', `access role ${role.RoleName ?? arn}: every cluster gets an admin access entry for it`);
}

/** Whether a trust policy (URL-encoded JSON) lets `principal` (or its whole account) sts:AssumeRole. */
export function trustsPrincipal(document: string | undefined, principal: string, account: string): boolean {
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(decodeURIComponent(document ?? '')) as { Statement?: unknown };
  } catch {
    return false;
  }
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as { Effect?: string; Principal?: { AWS?: string | string[] } | string; Action?: string | string[] }[];
  const partition = principal.split(':')[1] ?? 'aws';
  const accepted = new Set([principal, account, `arn:${partition}:iam::${account}:root`, '*']);
  return statements.some((s) => {
    if (!s || s.Effect !== 'Allow') return false;
    const aws = s.Principal === '*' ? ['*'] : typeof s.Principal === 'object' ? ([] as string[]).concat(s.Principal.AWS ?? []) : [];
    const actions = ([] as string[]).concat(s.Action ?? []);
    return aws.some((p) => accepted.has(p)) && actions.some((a) => a === 'sts:AssumeRole' || a === 'sts:*' || a === '*');
  });
}

/**
 * The actions its trust policy does not allow `service`: the document as IAM
 * returns it (URL-encoded JSON). Wildcards in actions are honoured; conditions are
 * not evaluated (EKS's documented conditions only narrow the source).
 */
export function missingTrustActions(document: string | undefined, service: string, actions: readonly string[]): string[] {
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(decodeURIComponent(document ?? '')) as { Statement?: unknown };
  } catch {
    return [...actions];
  }
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as {
    Effect?: string;
    Principal?: { Service?: string | string[] } | string;
    Action?: string | string[];
  }[];
  const allowed = new Set<string>();
  for (const s of statements) {
    if (!s || s.Effect !== 'Allow' || typeof s.Principal !== 'object') continue;
    const services = ([] as string[]).concat(s.Principal.Service ?? []);
    if (!services.includes(service)) continue;
    for (const pattern of ([] as string[]).concat(s.Action ?? [])) {
      const re = new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
      for (const a of actions) if (re.test(a)) allowed.add(a);
    }
  }
  return actions.filter((a) => !allowed.has(a));
}

/**
 * The IAM principal to simulate for the caller: a user's ARN as is; an assumed
 * role's role ARN (IAM's simulator refuses session ARNs; the role's path comes
 * from GetRole when readable). Undefined for the root user and federated users.
 */
async function principalOf(ctx: Ctx, callerArn: string): Promise<string | undefined> {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(callerArn);
  if (m) {
    try {
      const role = (await ctx.clientsFor(ctx.home).iam.send(new GetRoleCommand({ RoleName: m[3] }), { abortSignal: ctx.signal })).Role;
      if (role?.Arn) return role.Arn;
    } catch {
      // No iam:GetRole on itself: the role has no path, most often.
    }
    return `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
  }
  if (/^arn:[\w-]+:iam::\d{12}:(user|role)\//.test(callerArn)) return callerArn;
  return undefined;
}

/** IAM's policy simulator on kubecontrol's actions for the caller (SCPs and permission boundaries included). */
async function checkPermissions(ctx: Ctx, callerArn: string, passRoles: readonly string[], accessRoleArn: string | undefined): Promise<void> {
  if (/:root$/.test(callerArn)) {
    ctx.add('permissions', 'warn', 'running as the account root user: everything is allowed, and nothing should run so', "run kubecontrol as a role with the policy of `kubecontrol aws policy`");
    return;
  }
  const principal = await principalOf(ctx, callerArn);
  if (!principal) {
    ctx.add('permissions', 'warn', `cannot simulate the permissions of ${callerArn} (not an IAM user or role)`, 'run kubecontrol as an IAM role with the policy of `kubecontrol aws policy`');
    return;
  }
  type Ask = { actions: string[]; resources?: string[]; context?: ContextEntry[] };
  const asks: Ask[] = [];
  for (const g of KUBECONTROL_ACTIONS) {
    // EKS's service-linked roles are read for real in `checkServiceLinkedRoles`.
    if (g.scope === 'service-linked-roles') continue;
    if (g.scope === 'pass-roles') {
      if (passRoles.length) asks.push({ actions: [...g.actions], resources: [...passRoles] });
    } else if (g.scope === 'access-role') {
      if (accessRoleArn) asks.push({ actions: [...g.actions], resources: [accessRoleArn] });
    } else if (g.condition) {
      for (const value of g.condition.values) asks.push({ actions: [...g.actions], context: [{ ContextKeyName: g.condition.key, ContextKeyType: 'string', ContextKeyValues: [value] }] });
    } else asks.push({ actions: [...g.actions] });
  }
  const denied = new Set<string>();
  try {
    for (const ask of asks) {
      let marker: string | undefined;
      do {
        const page = await ctx.clientsFor(ctx.home).iam.send(
          new SimulatePrincipalPolicyCommand({ PolicySourceArn: principal, ActionNames: ask.actions, ResourceArns: ask.resources, ContextEntries: ask.context, Marker: marker }),
          { abortSignal: ctx.signal },
        );
        for (const r of page.EvaluationResults ?? []) {
          if (r.EvalDecision === 'allowed') continue;
          const on = r.EvalResourceName && r.EvalResourceName !== '*' ? ` on ${r.EvalResourceName}` : '';
          const context = ask.context?.[0]?.ContextKeyValues?.[0];
          denied.add(`${r.EvalActionName}${on}${context ? ` (${context})` : ''}`);
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    }
  } catch (err) {
    if (isDenied(err)) {
      ctx.add('permissions', 'warn', `kubecontrol's permissions not verified: ${principal} may not simulate its own policy (${awsErrorCode(err)})`, 'allow it iam:SimulatePrincipalPolicy on itself (the Preflight statement of `kubecontrol aws policy`)');
    } else ctx.add('permissions', 'fail', `kubecontrol's permissions could not be simulated: ${describe(err)}`);
    return;
  }
  const count = asks.reduce((n, a) => n + a.actions.length, 0);
  if (denied.size) {
    ctx.add('permissions', 'fail', `${principal} may not: ${list([...denied].sort())}`, 'attach the policy `npx kubecontrol aws policy` prints (README: AWS IAM) to it');
  } else ctx.add('permissions', 'ok', `${principal} may call everything kubecontrol calls (${count} actions simulated)`);
}

/**
 * EKS reads its service-linked roles with the caller's permissions before it
 * creates a cluster, node group or Fargate profile: a role that is not there
 * is fine (EKS creates it), one the caller may not read is the issue's
 * "Failed to validate if SLR … already exists".
 */
async function checkServiceLinkedRoles(ctx: Ctx): Promise<void> {
  const exist: string[] = [];
  const absent: string[] = [];
  const denied: string[] = [];
  for (const r of SERVICE_LINKED_ROLES) {
    try {
      await ctx.clientsFor(ctx.home).iam.send(new GetRoleCommand({ RoleName: r.name }), { abortSignal: ctx.signal });
      exist.push(r.name);
    } catch (err) {
      const code = awsErrorCode(err);
      if (code === 'NoSuchEntity' || code === 'NoSuchEntityException') absent.push(r.name);
      else if (isDenied(err)) denied.push(`${r.name} (${r.usedBy})`);
      else {
        ctx.add('service-linked-roles', 'fail', `EKS service-linked role ${r.name} could not be read: ${describe(err)}`);
        return;
      }
    }
  }
  if (denied.length) {
    ctx.add(
      'service-linked-roles',
      'fail',
      `kubecontrol may not read EKS's service-linked roles ${denied.join(', ')}: EKS would answer "Failed to validate if SLR … already exists due to missing permissions for 'iam:GetRole'"`,
      `allow iam:GetRole on arn:aws:iam::${ctx.account}:role/aws-service-role/* (the EksServiceLinkedRoles statement of \`kubecontrol aws policy\`)`,
    );
    return;
  }
  const parts = [exist.length ? `${exist.join(', ')} exist` : '', absent.length ? `${absent.join(', ')} will be created by EKS on first use` : ''].filter(Boolean);
  ctx.add('service-linked-roles', 'ok', `EKS service-linked roles readable: ${parts.join('; ')}`);
}

/**
 * Spot instances need EC2's service-linked role AWSServiceRoleForEC2Spot. A node
 * group's Auto Scaling group creates it; Auto Mode launches spot as the cluster
 * role, which may not (Karpenter users meet "ServiceLinkedRoleCreationNotPermitted").
 * Missing is a warning: creating it once settles it.
 */
async function checkSpotRole(ctx: Ctx, apps: readonly string[]): Promise<void> {
  const name = 'AWSServiceRoleForEC2Spot';
  try {
    await ctx.clientsFor(ctx.home).iam.send(new GetRoleCommand({ RoleName: name }), { abortSignal: ctx.signal });
    ctx.add('spot-service-linked-role', 'ok', `${name} exists (spot capacity of ${apps.join(', ')})`);
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'NoSuchEntity' || code === 'NoSuchEntityException') {
      ctx.add('spot-service-linked-role', 'warn', `${name} does not exist yet: the first spot instance of ${apps.join(', ')} may fail with ServiceLinkedRoleCreationNotPermitted`, 'create it once: aws iam create-service-linked-role --aws-service-name spot.amazonaws.com');
    } else ctx.add('spot-service-linked-role', 'warn', `${name} could not be read (${code}); not verified`);
  }
}

/** Subnets exist, in one VPC, in at least two zones; the VPC id, or undefined when the line failed. */
async function checkSubnets(ctx: Ctx, region: string, subnetIds: readonly string[]): Promise<string | undefined> {
  let subnets: Subnet[];
  try {
    subnets = (await ctx.clientsFor(region).ec2.send(new DescribeSubnetsCommand({ SubnetIds: [...subnetIds] }), { abortSignal: ctx.signal })).Subnets ?? [];
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'InvalidSubnetID.NotFound' || code === 'InvalidSubnetID.Malformed') {
      ctx.add('subnets', 'fail', `subnets ${subnetIds.join(', ')} in ${region}: ${errorMessage(err)}`, `set KUBECONTROL_SUBNET_IDS to subnets of ${region} (two or more, in different zones)`);
    } else ctx.add('subnets', 'fail', `subnets ${subnetIds.join(', ')} could not be read in ${region}: ${describe(err)}`);
    return undefined;
  }
  const vpcs = unique(subnets.map((s) => s.VpcId ?? ''));
  const zones = unique(subnets.map((s) => s.AvailabilityZone ?? ''));
  if (vpcs.length !== 1) {
    ctx.add('subnets', 'fail', `subnets ${subnetIds.join(', ')} are in different VPCs (${vpcs.join(', ')}): a cluster's subnets share one VPC`, 'set KUBECONTROL_SUBNET_IDS to subnets of one VPC');
    return undefined;
  }
  if (zones.length < 2) {
    ctx.add('subnets', 'fail', `subnets ${subnetIds.join(', ')} are all in ${zones.join(', ')}: EKS needs subnets in at least two availability zones`, 'add a subnet of another zone to KUBECONTROL_SUBNET_IDS');
    return vpcs[0];
  }
  ctx.add('subnets', 'ok', `subnets ${subnetIds.join(', ')}: VPC ${vpcs[0]}, zones ${zones.sort().join(', ')}`);
  return vpcs[0];
}

/** Every subnet of a VPC with whether it is public (its route table sends 0.0.0.0/0 to an internet gateway). */
async function vpcSubnets(ctx: Ctx, region: string, vpc: string): Promise<{ subnet: Subnet; public: boolean; via: string }[]> {
  const { ec2 } = ctx.clientsFor(region);
  const subnets: Subnet[] = [];
  let token: string | undefined;
  do {
    const page: DescribeSubnetsCommandOutput = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc] }], NextToken: token }), { abortSignal: ctx.signal });
    subnets.push(...(page.Subnets ?? []));
    token = page.NextToken;
  } while (token);
  const tables: RouteTable[] = [];
  token = undefined;
  do {
    const page: DescribeRouteTablesCommandOutput = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc] }], NextToken: token }), { abortSignal: ctx.signal });
    tables.push(...(page.RouteTables ?? []));
    token = page.NextToken;
  } while (token);
  const main = tables.find((t) => t.Associations?.some((a) => a.Main));
  return subnets.map((subnet) => {
    // A subnet with no route table of its own uses the VPC's main route table.
    const table = tables.find((t) => t.Associations?.some((a) => a.SubnetId === subnet.SubnetId)) ?? main;
    const igw = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.GatewayId?.startsWith('igw-') && r.State !== 'blackhole');
    return { subnet, public: !!igw, via: igw ? `${table?.RouteTableId} → ${igw.GatewayId}` : '' };
  });
}

const tagged = (s: Subnet, key: string): boolean => s.Tags?.some((t) => t.Key === key && (t.Value === '1' || t.Value === '')) ?? false;
const ELB_TAG = 'kubernetes.io/role/elb';
const INTERNAL_ELB_TAG = 'kubernetes.io/role/internal-elb';

/** EKS Auto Mode places an NLB in the VPC's subnets tagged for its scheme: public ones for internet-facing, private ones for internal. */
async function checkLoadBalancerSubnets(ctx: Ctx, region: string, vpc: string, external: readonly string[], internal: readonly string[]): Promise<void> {
  if (!external.length && !internal.length) return;
  let all: Awaited<ReturnType<typeof vpcSubnets>>;
  try {
    all = await vpcSubnets(ctx, region, vpc);
  } catch (err) {
    ctx.add('load-balancer-subnets', 'fail', `the subnets of ${vpc} could not be read: ${describe(err)}`);
    return;
  }
  if (external.length) {
    const ok = all.filter((s) => s.public && tagged(s.subnet, ELB_TAG));
    const privateTagged = all.filter((s) => !s.public && tagged(s.subnet, ELB_TAG)).map((s) => s.subnet.SubnetId ?? '');
    const publicUntagged = all.filter((s) => s.public && !tagged(s.subnet, ELB_TAG)).map((s) => s.subnet.SubnetId ?? '');
    if (!ok.length) {
      ctx.add(
        'load-balancer-subnets:internet-facing',
        'fail',
        `no public subnet of ${vpc} is tagged ${ELB_TAG}=1: the internet-facing load balancers of ${external.join(', ')} would get no address`,
        publicUntagged.length
          ? `aws ec2 create-tags --region ${region} --resources ${publicUntagged.join(' ')} --tags Key=${ELB_TAG},Value=1`
          : `add public subnets (a route 0.0.0.0/0 to an internet gateway) to ${vpc} and tag them ${ELB_TAG}=1`,
      );
    } else if (privateTagged.length) {
      ctx.add('load-balancer-subnets:internet-facing', 'warn', `private subnets ${privateTagged.join(', ')} are tagged ${ELB_TAG}: an internet-facing load balancer there is unreachable`, `remove the tag: aws ec2 delete-tags --region ${region} --resources ${privateTagged.join(' ')} --tags Key=${ELB_TAG}`);
    } else {
      ctx.add('load-balancer-subnets:internet-facing', 'ok', `internet-facing load balancers (${external.join(', ')}): public subnets ${ok.map((s) => s.subnet.SubnetId).join(', ')} tagged ${ELB_TAG}`);
    }
  }
  if (internal.length) {
    const ok = all.filter((s) => !s.public && tagged(s.subnet, INTERNAL_ELB_TAG));
    const privateUntagged = all.filter((s) => !s.public && !tagged(s.subnet, INTERNAL_ELB_TAG)).map((s) => s.subnet.SubnetId ?? '');
    if (!ok.length) {
      ctx.add(
        'load-balancer-subnets:internal',
        'fail',
        `no private subnet of ${vpc} is tagged ${INTERNAL_ELB_TAG}=1: the internal load balancers of ${internal.join(', ')} would get no address`,
        privateUntagged.length
          ? `aws ec2 create-tags --region ${region} --resources ${privateUntagged.join(' ')} --tags Key=${INTERNAL_ELB_TAG},Value=1`
          : `add private subnets to ${vpc} and tag them ${INTERNAL_ELB_TAG}=1`,
      );
    } else {
      ctx.add('load-balancer-subnets:internal', 'ok', `internal load balancers (${internal.join(', ')}): private subnets ${ok.map((s) => s.subnet.SubnetId).join(', ')} tagged ${INTERNAL_ELB_TAG}`);
    }
  }
}

/** Fargate takes private subnets only (no route to an internet gateway), of the cluster's VPC. */
async function checkFargateSubnets(ctx: Ctx, region: string, vpc: string, ids: readonly string[] | undefined, apps: readonly string[]): Promise<void> {
  const check = 'fargate-subnets';
  if (!ids?.length) {
    ctx.add(check, 'fail', `${apps.join(', ')} run on Fargate but no Fargate subnets are configured (Fargate takes private subnets only)`, `set KUBECONTROL_FARGATE_SUBNET_IDS to private subnets of ${vpc}`);
    return;
  }
  let all: Awaited<ReturnType<typeof vpcSubnets>>;
  try {
    all = await vpcSubnets(ctx, region, vpc);
  } catch (err) {
    ctx.add(check, 'fail', `the subnets of ${vpc} could not be read: ${describe(err)}`);
    return;
  }
  const problems: string[] = [];
  for (const id of ids) {
    const s = all.find((x) => x.subnet.SubnetId === id);
    if (!s) problems.push(`${id} is not a subnet of the cluster's VPC ${vpc}`);
    else if (s.public) problems.push(`${id} is public (0.0.0.0/0 via ${s.via})`);
  }
  if (problems.length) ctx.add(check, 'fail', `Fargate subnets of ${apps.join(', ')}: ${problems.join('; ')}; Fargate takes private subnets only`, `set KUBECONTROL_FARGATE_SUBNET_IDS to private subnets of ${vpc} (a NAT gateway route, no internet gateway)`);
  else ctx.add(check, 'ok', `Fargate subnets ${ids.join(', ')} (${apps.join(', ')}): private, in ${vpc}`);
}

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** The hosted zone exists; each app's record is in it, and its `dns.zone` names it. */
async function checkHostedZone(ctx: Ctx, zoneId: string, apps: readonly CheckedApp[]): Promise<void> {
  let zone: { Name?: string; Config?: { PrivateZone?: boolean } } | undefined;
  try {
    zone = (await ctx.clientsFor(ctx.home).route53.send(new GetHostedZoneCommand({ Id: zoneId }), { abortSignal: ctx.signal })).HostedZone;
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'NoSuchHostedZone') ctx.add('hosted-zone', 'fail', `hosted zone ${zoneId} does not exist`, "set KUBECONTROL_HOSTED_ZONE_ID to the id of the apps' zone (aws route53 list-hosted-zones)");
    else ctx.add('hosted-zone', 'fail', `hosted zone ${zoneId} could not be read: ${describe(err)}`);
    return;
  }
  const name = bare(zone?.Name ?? '');
  const external = apps.filter((a) => a.workload.service.loadBalancer === 'external').map((a) => a.app);
  if (zone?.Config?.PrivateZone && external.length) {
    ctx.add('hosted-zone', 'warn', `hosted zone ${zoneId} (${name}) is private: the names of internet-facing ${external.join(', ')} resolve only inside its VPCs`, 'use a public hosted zone for internet-facing apps');
  } else ctx.add('hosted-zone', 'ok', `hosted zone ${zoneId}: ${name}${zone?.Config?.PrivateZone ? ' (private)' : ''}`);
  for (const a of apps) {
    const record = bare(a.record.name);
    const problems: string[] = [];
    if (a.record.zone && bare(a.record.zone) !== name) problems.push(`dns.zone is ${a.record.zone}, the hosted zone is ${name}`);
    if (record !== name && !record.endsWith(`.${name}`)) problems.push(`${a.record.name} is not in ${name}`);
    if (problems.length) ctx.add(`dns:${a.app}`, 'fail', `${a.app}: ${problems.join('; ')}`, `set ${a.app}'s dns.zone and dns.name to names in ${name}, or aws.hostedZoneId to their zone`);
  }
}

/** The registry is this account's, in the apps' region, and answers. */
async function checkRegistry(ctx: Ctx, host: string, regions: readonly string[]): Promise<void> {
  const m = ECR_HOST.exec(host);
  if (!m) {
    ctx.add('registry', 'fail', `${host} is not an ECR registry host`, 'set KUBECONTROL_ECR_REGISTRY to <account>.dkr.ecr.<region>.amazonaws.com');
    return;
  }
  const [, account, region] = m as unknown as [string, string, string];
  if (account !== ctx.account) {
    ctx.add('registry', 'fail', `registry ${host} is account ${account}'s, not ${ctx.account}'s: kubecontrol creates repositories and nodes pull in its own account`, `set KUBECONTROL_ECR_REGISTRY to ${ctx.account}.dkr.ecr.${regions[0]}.amazonaws.com`);
    return;
  }
  const elsewhere = regions.filter((r) => r !== region);
  if (elsewhere.length) {
    ctx.add('registry', 'fail', `registry ${host} is in ${region}, apps run in ${elsewhere.join(', ')}`, `set KUBECONTROL_ECR_REGISTRY (or the app's aws.ecrRegistry) to ${ctx.account}.dkr.ecr.${elsewhere[0]}.amazonaws.com`);
    return;
  }
  try {
    const reg = await ctx.clientsFor(region).ecr.send(new DescribeRegistryCommand({}), { abortSignal: ctx.signal });
    if (reg.registryId && reg.registryId !== ctx.account) throw new Error(`the registry answering is ${reg.registryId}'s`);
    ctx.add('registry', 'ok', `ECR registry ${host}`);
  } catch (err) {
    ctx.add('registry', 'fail', `ECR registry ${host} does not answer: ${describe(err)}`, isDenied(err) ? 'allow kubecontrol ecr:DescribeRegistry (the Images statement of `kubecontrol aws policy`)' : undefined);
  }
}

/** The app's Kubernetes version can be created, within its support type (deployer/aws/versions.ts, as at start); a warning when support ends soon. */
function checkAppVersion(ctx: Ctx, app: string, cluster: ClusterSpec, versions: EksVersion[] | Error, now: number): void {
  const check = `version:${app}`;
  if (versions instanceof Error) {
    ctx.add(check, 'fail', `${app}: the Kubernetes versions EKS offers could not be read: ${versions.message}`, 'allow kubecontrol eks:DescribeClusterVersions (the EksClusters statement of `kubecontrol aws policy`)');
    return;
  }
  const found = versionCheck({ app, cluster, versions, now });
  const fix = `edit ${app}'s aws.kubernetesVersion (unset: the newest in standard support) or aws.supportType`;
  if (found.problem) ctx.add(check, 'fail', found.problem, fix);
  else if (found.warning) ctx.add(check, 'warn', found.warning, fix);
  else {
    const v = versions.find((x) => x.version === found.version);
    const why = cluster.kubernetesVersion ? 'standard support' : 'the newest in standard support,';
    ctx.add(check, 'ok', `${app}: Kubernetes ${found.version} (${why} until ${v?.endOfStandardSupport ?? 'unknown'})`);
  }
}

/** Whether `program` is an executable file, by path or on PATH. */
export function onPath(program: string, path: string | undefined): boolean {
  const executable = (file: string): boolean => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (isAbsolute(program) || program.includes('/')) return executable(program);
  return (path ?? '').split(delimiter).some((dir) => dir && executable(join(dir, program)));
}

/** The app's builder is there: its CodeBuild project exists, or its build command's program can be run. */
async function checkBuilder(ctx: Ctx, apps: readonly string[], p: AwsPlacement, canRun: (program: string) => boolean): Promise<void> {
  const check = 'builder';
  const who = apps.length ? `${apps.join(', ')}: ` : '';
  if (p.builder === 'none') {
    ctx.add(check, 'fail', `${who}no builder: neither a CodeBuild project nor a build command is configured`, 'set KUBECONTROL_CODEBUILD_PROJECT or KUBECONTROL_BUILD_COMMAND (or the app\'s aws.codeBuildProject / aws.buildCommand)');
    return;
  }
  if (p.builder === 'command') {
    const program = p.buildCommand[0];
    if (!program) ctx.add(check, 'fail', `${who}the build command is empty`, 'set KUBECONTROL_BUILD_COMMAND (comma-separated argument vector)');
    else if (!canRun(program)) ctx.add(check, 'fail', `${who}build command ${program} is not on PATH`, `install ${program} on the kubecontrol host, or name it by its full path`);
    else ctx.add(check, 'ok', `${who}builds with ${program} on this host`);
    return;
  }
  const project = p.codeBuildProject;
  if (!project) {
    ctx.add(check, 'fail', `${who}builder codebuild, but no CodeBuild project is configured`, 'set KUBECONTROL_CODEBUILD_PROJECT (or the app\'s aws.codeBuildProject)');
    return;
  }
  try {
    const out = await ctx.clientsFor(p.region).codebuild.send(new BatchGetProjectsCommand({ names: [project] }), { abortSignal: ctx.signal });
    if (out.projects?.some((x) => x.name === project)) ctx.add(check, 'ok', `${who}CodeBuild project ${project} (${p.region})`);
    else ctx.add(check, 'fail', `${who}CodeBuild project ${project} does not exist in ${p.region}`, `create it, or set KUBECONTROL_CODEBUILD_PROJECT to a project of ${p.region}`);
  } catch (err) {
    ctx.add(check, 'fail', `${who}CodeBuild project ${project} could not be read: ${describe(err)}`, isDenied(err) ? 'allow kubecontrol codebuild:BatchGetProjects' : undefined);
  }
}

/**
 * An app's certificate: an ACM certificate of this account, in the app's region
 * (an NLB takes certificates of its own region only). Whether it is ISSUED is not
 * read (kubecontrol has no ACM client): said in an ℹ line.
 */
function checkCertificate(ctx: Ctx, app: string, region: string, arn: string): void {
  const check = `certificate:${app}`;
  const m = /^arn:[\w-]+:acm:([a-z0-9-]+):(\d{12}):certificate\/[\w-]+$/.exec(arn);
  if (!m) {
    ctx.add(check, 'fail', `${app}: ${arn} is not an ACM certificate ARN`, `set ${app}'s service.certificateArn to arn:aws:acm:${region}:${ctx.account}:certificate/<id>`);
    return;
  }
  if (m[1] !== region) {
    ctx.add(check, 'fail', `${app}: certificate ${arn} is in ${m[1]}, the app's load balancer in ${region}`, `request or import the certificate in ${region} (aws acm request-certificate --region ${region}) and name that one`);
    return;
  }
  if (m[2] !== ctx.account) {
    ctx.add(check, 'fail', `${app}: certificate ${arn} belongs to account ${m[2]}, not ${ctx.account}`, `use a certificate of account ${ctx.account}`);
    return;
  }
  ctx.add(check, 'info', `${app}: certificate ${arn} is in the right region and account; not checked that it is ISSUED (aws acm describe-certificate --region ${region} --certificate-arn ${arn})`);
}

/** The report as text: one line per check, fixes indented under their ✗ or ⚠, and a summary. */
export function renderReport(report: AwsCheckReport, paint: { red?: (s: string) => string; yellow?: (s: string) => string; dim?: (s: string) => string } = {}): string {
  const red = paint.red ?? ((s: string) => s);
  const yellow = paint.yellow ?? ((s: string) => s);
  const dim = paint.dim ?? ((s: string) => s);
  const mark: Record<CheckStatus, string> = { ok: '✓', fail: red('✗'), warn: yellow('⚠'), info: dim('ℹ') };
  const out: string[] = [];
  for (const l of report.lines) {
    out.push(`${mark[l.status]} ${l.message}`);
    if (l.fix) for (const f of l.fix.split('\n')) out.push(dim(`    → ${f}`));
  }
  const count = (s: CheckStatus) => report.lines.filter((l) => l.status === s).length;
  const failed = count('fail');
  const warned = count('warn');
  out.push('');
  out.push(
    failed
      ? red(`${failed} check${failed === 1 ? '' : 's'} failed${warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''}: a deploy would not work yet.`)
      : `All checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}: a deploy can work.`,
  );
  return out.join('\n');
}
