/**
 * A fake AWS account behind aws-sdk-client-mock, for `kubecontrol aws check`:
 * the real SDK clients of STS, IAM, EC2, Route 53, ECR, EKS and CodeBuild,
 * answering from a small account that starts healthy (everything a first
 * deploy needs is there) and that a test breaks one prerequisite at a time.
 *
 * As strict as the services where the check relies on it: IAM returns trust
 * policies URL-encoded and answers NoSuchEntity / AccessDenied as IAM does,
 * its policy simulator refuses a session (assumed-role) ARN; EC2 refuses
 * unknown subnet ids; Route 53 answers NoSuchHostedZone; EKS lists only the
 * versions it can create, their status computed from the fake's today;
 * CodeBuild lists projects it does not know in `projectsNotFound`. A command
 * the fake does not know is refused, so a new call cannot pass unnoticed.
 */
import { BatchGetProjectsCommand, CodeBuildClient } from '@aws-sdk/client-codebuild';
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, EC2Client, EC2ServiceException, type Filter } from '@aws-sdk/client-ec2';
import { DescribeRegistryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeClusterVersionsCommand, EKSClient, type ClusterVersionInformation } from '@aws-sdk/client-eks';
import {
  GetRoleCommand,
  IAMClient,
  IAMServiceException,
  InvalidInputException,
  ListAttachedRolePoliciesCommand,
  NoSuchEntityException,
  SimulatePrincipalPolicyCommand,
  type SimulatePrincipalPolicyCommandInput,
} from '@aws-sdk/client-iam';
import { GetHostedZoneCommand, NoSuchHostedZone, Route53Client } from '@aws-sdk/client-route-53';
import { GetCallerIdentityCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { FARGATE_LOGGING_ACTIONS, ROLES, trustPolicy, type RoleFacts } from '../../deployer/aws/iam.js';
import type { CheckedApp } from '../../deployer/aws/check.js';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const ZONE_ID = 'Z0123456789ABCDEFGHIJ';
export const CALLER_ROLE = 'kubecontrol';
const meta = { $metadata: { httpStatusCode: 400 } };
const roleArn = (name: string, path = '/') => `arn:aws:iam::${ACCOUNT}:role${path}${name}`;

export interface FakeRole {
  readonly name: string;
  readonly path: string;
  /** The trust policy as JSON (IAM returns it URL-encoded). */
  trust: string;
  /** Names of the AWS managed policies attached. */
  attached: string[];
  /**
   * The actions its own policies allow, as IAM's simulator answers for this role as the
   * source (the Fargate pod execution role's CloudWatch Logs actions). @default as the caller
   */
  allowed?: string[];
}

export interface FakeSubnet {
  readonly id: string;
  readonly vpc: string;
  readonly az: string;
  tags: Record<string, string>;
}

export interface FakeRouteTable {
  readonly id: string;
  readonly vpc: string;
  main: boolean;
  subnets: string[];
  /** Destination 0.0.0.0/0 goes to this gateway (igw-… public, nat-… private), or nowhere. */
  defaultRoute?: string;
}

/** One EKS Kubernetes version: its support dates (status follows from today). */
export interface FakeVersion {
  readonly version: string;
  readonly endOfStandard: string;
  readonly endOfExtended: string;
}

/** EKS's calendar as the contract states it (2026-11-30). */
export const EKS_VERSIONS: readonly FakeVersion[] = [
  { version: '1.35', endOfStandard: '2027-03-27', endOfExtended: '2028-03-27' },
  { version: '1.34', endOfStandard: '2026-12-02', endOfExtended: '2027-12-02' },
  { version: '1.33', endOfStandard: '2026-07-29', endOfExtended: '2027-07-29' },
  { version: '1.32', endOfStandard: '2026-03-23', endOfExtended: '2027-03-23' },
  { version: '1.31', endOfStandard: '2025-11-26', endOfExtended: '2026-11-26' },
];

const denied = (action: string, resource: string) =>
  new IAMServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/${CALLER_ROLE}/cli is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    ...meta,
  });

/** What every client stub has. */
type AnyStub = { reset(): void; restore(): void; onAnyCommand(): { callsFake(fn: (input: unknown) => unknown): unknown } };

/** The fake account. Construct in `beforeEach` (it resets the mocks and starts healthy). */
export class FakeAwsAccount {
  readonly sts: AwsClientStub<STSClient> = mockClient(STSClient);
  readonly iam: AwsClientStub<IAMClient> = mockClient(IAMClient);
  readonly ec2: AwsClientStub<EC2Client> = mockClient(EC2Client);
  readonly route53: AwsClientStub<Route53Client> = mockClient(Route53Client);
  readonly ecr: AwsClientStub<ECRClient> = mockClient(ECRClient);
  readonly eks: AwsClientStub<EKSClient> = mockClient(EKSClient);
  readonly codebuild: AwsClientStub<CodeBuildClient> = mockClient(CodeBuildClient);

  /** Whether the caller's credentials are valid. */
  credentials: 'valid' | 'invalid' = 'valid';
  /** The caller, as STS names it. */
  callerArn = `arn:aws:sts::${ACCOUNT}:assumed-role/${CALLER_ROLE}/cli`;
  readonly roles = new Map<string, FakeRole>();
  /** Roles the caller may not GetRole (AccessDenied). */
  readonly unreadableRoles = new Set<string>();
  /** Actions (`svc:Action`, or `svc:Action@resource`) the caller's policies do not allow. */
  readonly deniedActions = new Set<string>();
  readonly subnets = new Map<string, FakeSubnet>();
  readonly routeTables: FakeRouteTable[] = [];
  readonly zones = new Map<string, { name: string; private: boolean }>();
  /** The registry ECR answers for (this account's). */
  registryId = ACCOUNT;
  versions: FakeVersion[] = [...EKS_VERSIONS];
  readonly projects = new Set<string>(['kubecontrol-images']);

  constructor(private readonly today: Date = new Date('2026-11-30T12:00:00Z')) {
    for (const m of this.stubs) m.reset();
    this.seed();
    this.install();
  }

  /** Undoes the mocks (afterAll). */
  restore(): void {
    for (const m of this.stubs) m.restore();
  }

  /** The seven stubs, as what they have in common (their union's methods are not callable). */
  private get stubs(): AnyStub[] {
    return [this.sts, this.iam, this.ec2, this.route53, this.ecr, this.eks, this.codebuild] as unknown as AnyStub[];
  }

  /** The environment of a healthy installation in this account. */
  env(): NodeJS.ProcessEnv {
    return {
      AWS_REGION: REGION,
      KUBECONTROL_SUBNET_IDS: 'subnet-0a000001,subnet-0b000002',
      KUBECONTROL_FARGATE_SUBNET_IDS: 'subnet-0a000001,subnet-0b000002',
      KUBECONTROL_CLUSTER_ROLE_ARN: roleArn('kubecontrol-cluster'),
      KUBECONTROL_NODE_ROLE_ARN: roleArn('kubecontrol-node'),
      KUBECONTROL_POD_EXECUTION_ROLE_ARN: roleArn('kubecontrol-fargate-pods'),
      KUBECONTROL_ACCESS_ROLE_ARN: roleArn('kubecontrol-access'),
      KUBECONTROL_OBSERVABILITY_ROLE_ARN: roleArn('kubecontrol-observability'),
      KUBECONTROL_HOSTED_ZONE_ID: ZONE_ID,
      KUBECONTROL_ECR_REGISTRY: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
      KUBECONTROL_CODEBUILD_PROJECT: 'kubecontrol-images',
    };
  }

  role(name: string): FakeRole {
    const r = this.roles.get(name);
    if (!r) throw new Error(`no fake role ${name}`);
    return r;
  }

  private addRole(name: string, trust: object, attached: string[] = [], path = '/'): void {
    this.roles.set(name, { name, path, trust: JSON.stringify(trust), attached });
  }

  private addServiceRole(name: string, facts: RoleFacts): void {
    this.addRole(name, trustPolicy(facts), [...facts.managedPolicies]);
  }

  /** The healthy account. */
  private seed(): void {
    this.addRole(CALLER_ROLE, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    this.addServiceRole('kubecontrol-cluster', ROLES.cluster);
    // Auto Mode nodes and web-frontend's managed node group (the kubelet and the VPC CNI run with it).
    this.addRole('kubecontrol-node', trustPolicy(ROLES.node), ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryReadOnly', 'AmazonEKS_CNI_Policy']);
    this.addServiceRole('kubecontrol-fargate-pods', ROLES.podExecution);
    // Fargate's log router writes the containers' logs as the pod execution role (inline policy).
    this.role('kubecontrol-fargate-pods').allowed = [...FARGATE_LOGGING_ACTIONS];
    this.addServiceRole('kubecontrol-observability', ROLES.observability);
    this.addServiceRole('search-svc-pods', ROLES.appPod);
    this.addRole('kubecontrol-access', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: roleArn(CALLER_ROLE) }, Action: 'sts:AssumeRole' }] });
    // EKS created its own role with the first cluster; node groups and Fargate have never been used here.
    this.addRole('AWSServiceRoleForAmazonEKS', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' }] }, ['AmazonEKSServiceRolePolicy'], '/aws-service-role/eks.amazonaws.com/');

    this.addRole('AWSServiceRoleForEC2Spot', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'spot.amazonaws.com' }, Action: 'sts:AssumeRole' }] }, ['AWSEC2SpotServiceRolePolicy'], '/aws-service-role/spot.amazonaws.com/');

    // A VPC of two zones: public subnets (own route table to the internet gateway), private ones (the main table, through NAT).
    const vpc = 'vpc-0f00000001';
    this.subnets.set('subnet-0a000001', { id: 'subnet-0a000001', vpc, az: 'eu-west-1a', tags: { 'kubernetes.io/role/internal-elb': '1' } });
    this.subnets.set('subnet-0b000002', { id: 'subnet-0b000002', vpc, az: 'eu-west-1b', tags: { 'kubernetes.io/role/internal-elb': '1' } });
    this.subnets.set('subnet-0a000003', { id: 'subnet-0a000003', vpc, az: 'eu-west-1a', tags: {} });
    this.subnets.set('subnet-0c000011', { id: 'subnet-0c000011', vpc, az: 'eu-west-1a', tags: { 'kubernetes.io/role/elb': '1' } });
    this.subnets.set('subnet-0d000012', { id: 'subnet-0d000012', vpc, az: 'eu-west-1b', tags: { 'kubernetes.io/role/elb': '' } });
    this.subnets.set('subnet-0e000099', { id: 'subnet-0e000099', vpc: 'vpc-0f00000002', az: 'eu-west-1c', tags: {} });
    this.routeTables.push(
      { id: 'rtb-0main', vpc, main: true, subnets: [], defaultRoute: 'nat-0f00000001' },
      { id: 'rtb-0public', vpc, main: false, subnets: ['subnet-0c000011', 'subnet-0d000012'], defaultRoute: 'igw-0f00000001' },
      { id: 'rtb-0other', vpc: 'vpc-0f00000002', main: true, subnets: [] },
    );
    this.zones.set(ZONE_ID, { name: 'example.com.', private: false });
  }

  /** Whether the caller may call `action` on `resource`. */
  private allows(action: string, resource: string): boolean {
    return !this.deniedActions.has(action) && !this.deniedActions.has(`${action}@${resource}`);
  }

  private sessionCheck(): void {
    if (this.credentials === 'invalid') {
      throw new STSServiceException({ name: 'InvalidClientTokenId', $fault: 'client', message: 'The security token included in the request is invalid.', ...{ $metadata: { httpStatusCode: 403 } } });
    }
  }

  /** (Re)installs every answer. */
  install(): void {
    for (const m of this.stubs) {
      m.onAnyCommand().callsFake((input: unknown) => {
        throw new Error(`the fake account does not answer this command (input ${JSON.stringify(input)})`);
      });
    }
    this.sts.on(GetCallerIdentityCommand).callsFake(() => {
      this.sessionCheck();
      return { Account: ACCOUNT, Arn: this.callerArn, UserId: 'AROAEXAMPLEEXAMPLE:cli' };
    });

    this.iam.on(GetRoleCommand).callsFake((input: { RoleName?: string }) => {
      this.sessionCheck();
      const name = input.RoleName ?? '';
      const role = this.roles.get(name);
      const arn = roleArn(name, role?.path);
      if (this.unreadableRoles.has(name) || !this.allows('iam:GetRole', arn)) throw denied('iam:GetRole', arn);
      if (!role) throw new NoSuchEntityException({ message: `The role with name ${name} cannot be found.`, ...meta });
      return {
        Role: { RoleName: name, Path: role.path, Arn: roleArn(name, role.path), RoleId: `AROA${name.length}`, CreateDate: new Date('2026-01-01T00:00:00Z'), AssumeRolePolicyDocument: encodeURIComponent(role.trust) },
      };
    });
    this.iam.on(ListAttachedRolePoliciesCommand).callsFake((input: { RoleName?: string }) => {
      this.sessionCheck();
      const role = this.roles.get(input.RoleName ?? '');
      if (!role) throw new NoSuchEntityException({ message: `The role with name ${input.RoleName} cannot be found.`, ...meta });
      return { AttachedPolicies: role.attached.map((p) => ({ PolicyName: p, PolicyArn: `arn:aws:iam::aws:policy/${p}` })), IsTruncated: false };
    });
    this.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: SimulatePrincipalPolicyCommandInput) => {
      this.sessionCheck();
      const source = input.PolicySourceArn ?? '';
      // IAM's simulator takes users, groups and roles; an assumed-role session ARN is refused.
      const m = /^arn:aws:iam::(\d{12}):(user|group|role)\/(?:.*\/)?([^/]+)$/.exec(source);
      if (!m) throw new InvalidInputException({ message: `Invalid ARN: ${source}`, ...meta });
      if (m[2] === 'role' && !this.roles.has(m[3]!)) throw new NoSuchEntityException({ message: `The role with name ${m[3]} cannot be found.`, ...meta });
      if (!this.allows('iam:SimulatePrincipalPolicy', source)) throw denied('iam:SimulatePrincipalPolicy', source);
      const resources = input.ResourceArns?.length ? input.ResourceArns : ['*'];
      const own = m[2] === 'role' ? this.roles.get(m[3]!)?.allowed : undefined;
      const decide = (action: string, r: string): boolean => (own ? own.includes(action) : this.allows(action, r));
      return {
        EvaluationResults: (input.ActionNames ?? []).flatMap((action) =>
          resources.map((r) => ({ EvalActionName: action, EvalResourceName: r, EvalDecision: decide(action, r) ? ('allowed' as const) : ('implicitDeny' as const) })),
        ),
        IsTruncated: false,
      };
    });

    const matches = (filters: Filter[] | undefined, fields: Record<string, string[]>): boolean =>
      (filters ?? []).every((f) => (fields[f.Name ?? ''] ?? []).some((v) => f.Values?.includes(v)));
    this.ec2.on(DescribeSubnetsCommand).callsFake((input: { SubnetIds?: string[]; Filters?: Filter[] }) => {
      this.sessionCheck();
      for (const id of input.SubnetIds ?? []) {
        if (!this.subnets.has(id)) throw new EC2ServiceException({ name: 'InvalidSubnetID.NotFound', $fault: 'client', message: `The subnet ID '${id}' does not exist`, ...meta });
      }
      const picked = [...this.subnets.values()].filter((s) => (!input.SubnetIds?.length || input.SubnetIds.includes(s.id)) && matches(input.Filters, { 'vpc-id': [s.vpc] }));
      return {
        Subnets: picked.map((s) => ({ SubnetId: s.id, VpcId: s.vpc, AvailabilityZone: s.az, Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })) })),
      };
    });
    this.ec2.on(DescribeRouteTablesCommand).callsFake((input: { Filters?: Filter[] }) => {
      this.sessionCheck();
      const picked = this.routeTables.filter((t) => matches(input.Filters, { 'vpc-id': [t.vpc], 'association.subnet-id': t.subnets }));
      return {
        RouteTables: picked.map((t) => ({
          RouteTableId: t.id,
          VpcId: t.vpc,
          Associations: [...(t.main ? [{ Main: true, RouteTableId: t.id }] : []), ...t.subnets.map((s) => ({ Main: false, SubnetId: s, RouteTableId: t.id }))],
          Routes: [
            { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' as const },
            ...(t.defaultRoute
              ? [t.defaultRoute.startsWith('igw-') ? { DestinationCidrBlock: '0.0.0.0/0', GatewayId: t.defaultRoute, State: 'active' as const } : { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: t.defaultRoute, State: 'active' as const }]
              : []),
          ],
        })),
      };
    });

    this.route53.on(GetHostedZoneCommand).callsFake((input: { Id?: string }) => {
      this.sessionCheck();
      const id = (input.Id ?? '').replace(/^\/?hostedzone\//, '');
      const zone = this.zones.get(id);
      if (!zone) throw new NoSuchHostedZone({ message: `No hosted zone found with ID: ${id}`, ...meta });
      return { HostedZone: { Id: `/hostedzone/${id}`, Name: zone.name, CallerReference: 'seed', Config: { PrivateZone: zone.private }, ResourceRecordSetCount: 2 }, DelegationSet: { NameServers: ['ns-1.awsdns-01.org'] } };
    });

    this.ecr.on(DescribeRegistryCommand).callsFake(() => {
      this.sessionCheck();
      return { registryId: this.registryId, replicationConfiguration: { rules: [] } };
    });

    this.eks.on(DescribeClusterVersionsCommand).callsFake((input: { includeAll?: boolean }) => {
      this.sessionCheck();
      const now = this.today.getTime();
      const all: ClusterVersionInformation[] = this.versions.map((v) => {
        const std = new Date(`${v.endOfStandard}T00:00:00Z`);
        const ext = new Date(`${v.endOfExtended}T00:00:00Z`);
        // Support lasts through the whole day AWS names.
        const day = 86_400_000;
        const versionStatus = now < std.getTime() + day ? 'STANDARD_SUPPORT' : now < ext.getTime() + day ? 'EXTENDED_SUPPORT' : 'UNSUPPORTED';
        return { clusterVersion: v.version, clusterType: 'eks', endOfStandardSupportDate: std, endOfExtendedSupportDate: ext, versionStatus, status: versionStatus === 'STANDARD_SUPPORT' ? 'standard-support' : versionStatus === 'EXTENDED_SUPPORT' ? 'extended-support' : 'unsupported' } as ClusterVersionInformation;
      });
      // Without includeAll, EKS lists the versions it can still create.
      return { clusterVersions: input.includeAll ? all : all.filter((v) => v.versionStatus !== 'UNSUPPORTED') };
    });

    this.codebuild.on(BatchGetProjectsCommand).callsFake((input: { names?: string[] }) => {
      this.sessionCheck();
      const names = input.names ?? [];
      return {
        projects: names.filter((n) => this.projects.has(n)).map((n) => ({ name: n, arn: `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${n}` })),
        projectsNotFound: names.filter((n) => !this.projects.has(n)),
      };
    });
  }
}

/** The example apps as the check sees them (the specs deployer/specs.ts builds), independent of kubeapps/. */
export function exampleApps(): CheckedApp[] {
  const record = (app: string, zone = 'example.com') => ({ name: `${app}.${zone}`, ttlSeconds: 60, zone, app, port: 443 });
  const service = (loadBalancer: 'internal' | 'external', certificateArn?: string) => ({
    port: 443,
    targetPort: 8080,
    loadBalancer,
    healthCheckPath: '/healthz',
    ...(certificateArn ? { certificateArn } : {}),
  });
  const workload = (name: string, svc: ReturnType<typeof service>, podRoleArn?: string) => ({ name, version: 'check', replicas: 2, containers: [], service: svc, ...(podRoleArn ? { podRoleArn } : {}) });
  return [
    {
      app: 'search-svc',
      cluster: { name: 'search-svc-check', app: 'search-svc', capacity: { kind: 'auto', instanceTypes: ['m6i.large'], minNodes: 2, maxNodes: 6, spot: false, arch: 'amd64' }, podIdentity: { namespace: 'search-svc', serviceAccount: 'search-svc', roleArn: roleArn('search-svc-pods') } },
      workload: workload('search-svc', service('external'), roleArn('search-svc-pods')),
      record: record('search-svc'),
    },
    {
      app: 'web-frontend',
      cluster: { name: 'web-frontend-check', app: 'web-frontend', kubernetesVersion: '1.35', capacity: { kind: 'nodes', instanceTypes: ['m7g.large'], minNodes: 2, maxNodes: 10, desiredNodes: 2, spot: true, arch: 'arm64' } },
      workload: workload('web-frontend', service('external', `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`)),
      record: record('web-frontend'),
    },
    {
      app: 'cache-worker',
      cluster: { name: 'cache-worker-check', app: 'cache-worker', capacity: { kind: 'fargate', namespaces: ['cache-worker'] } },
      workload: workload('cache-worker', service('internal')),
      record: record('cache-worker'),
    },
  ];
}
