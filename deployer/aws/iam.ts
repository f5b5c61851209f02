/**
 * The IAM facts of the aws provider, in one place: what kubecontrol's own
 * identity must be allowed to do (every AWS call the adapters make, grouped by
 * purpose), and the roles it hands to AWS — their trust principals and managed
 * policies. The README's policy, `kubecontrol aws policy` and the
 * `kubecontrol aws check` preflight all read from here, and a test checks that
 * every SDK command the adapters import is listed, so the policy cannot drift
 * from the code again (the issue: CreateNodegroup failed for want of iam:GetRole
 * on EKS's service-linked role, which no call of ours names).
 *
 * Sources (checked against AWS's documentation): the EKS User Guide pages
 * "Amazon EKS Auto Mode cluster IAM role", "Amazon EKS Auto Mode node IAM role",
 * "Amazon EKS Pod execution IAM role", "Create IAM role with trust policy required
 * by EKS Pod Identity", "Using service-linked roles for Amazon EKS", "Amazon
 * CloudWatch Observability agent" (add-on amazon-cloudwatch-observability, service
 * account cloudwatch-agent), "Start AWS Fargate logging for your cluster"; the
 * CloudWatch User Guide "Install the CloudWatch agent with the Amazon CloudWatch
 * Observability EKS add-on" (Pod Identity from add-on version 3.1.0).
 */

/** One statement of an IAM policy document. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

/** A trust policy statement: which service may assume the role, with which actions. */
export interface TrustStatement {
  readonly Effect: 'Allow';
  readonly Principal: { readonly Service: string };
  readonly Action: readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * Where a group of actions applies. `any`: every resource (`*`); `pass-roles`: the
 * roles kubecontrol hands to EKS (cluster, node, pod execution, observability, app pod roles);
 * `service-linked-roles`: EKS's own roles under `role/aws-service-role/`;
 * `access-role`: KUBECONTROL_ACCESS_ROLE_ARN.
 */
export type ActionScope = 'any' | 'pass-roles' | 'service-linked-roles' | 'access-role';

/** A statement of kubecontrol's policy before the account's ARNs are filled in. */
export interface ActionGroup {
  /** The statement's Sid. */
  readonly sid: string;
  /** Why kubecontrol needs these (README, `aws check` messages). */
  readonly why: string;
  readonly actions: readonly string[];
  readonly scope: ActionScope;
  /** A condition key and the values it allows (`StringEquals`). */
  readonly condition?: { readonly key: string; readonly values: readonly string[] };
}

/**
 * The AWS services whose service-linked roles EKS creates on first use. Creating
 * a node group or Fargate profile reads the role first (`iam:GetRole`), with the
 * caller's permissions: without it EKS answers "Failed to validate if SLR …
 * already exists due to missing permissions for 'iam:GetRole'".
 */
export const SERVICE_LINKED_ROLES: readonly { readonly name: string; readonly service: string; readonly usedBy: string }[] = [
  { name: 'AWSServiceRoleForAmazonEKS', service: 'eks.amazonaws.com', usedBy: 'CreateCluster' },
  { name: 'AWSServiceRoleForAmazonEKSNodegroup', service: 'eks-nodegroup.amazonaws.com', usedBy: "CreateNodegroup, capacity 'nodes'" },
  { name: 'AWSServiceRoleForAmazonEKSForFargate', service: 'eks-fargate.amazonaws.com', usedBy: "CreateFargateProfile, capacity 'fargate'" },
];

/** Every action kubecontrol's identity calls while it deploys, tears down and collects. */
export const KUBECONTROL_ACTIONS: readonly ActionGroup[] = [
  {
    sid: 'EksClusters',
    why: 'one EKS Auto Mode cluster per deploy, its node group or Fargate profile, the add-ons it needs (CoreDNS on Fargate; networking and the Pod Identity agent for a node group; the CloudWatch Observability add-on with an observability role), the access entry of the stable access role, the app pod role association; the version check at start; the bounds of a node group changed by a scale',
    scope: 'any',
    actions: [
      'eks:CreateCluster',
      'eks:DescribeCluster',
      'eks:DeleteCluster',
      'eks:ListClusters',
      'eks:TagResource',
      'eks:DescribeClusterVersions',
      'eks:CreateNodegroup',
      'eks:DescribeNodegroup',
      'eks:DeleteNodegroup',
      'eks:ListNodegroups',
      // `scale APP nodes=MIN..MAX` of a node group, and its update followed until it is done.
      'eks:UpdateNodegroupConfig',
      'eks:DescribeUpdate',
      'eks:CreateFargateProfile',
      'eks:DescribeFargateProfile',
      'eks:DeleteFargateProfile',
      'eks:ListFargateProfiles',
      'eks:CreateAddon',
      'eks:DescribeAddon',
      'eks:CreateAccessEntry',
      'eks:AssociateAccessPolicy',
      'eks:CreatePodIdentityAssociation',
      'eks:ListPodIdentityAssociations',
      'eks:DeletePodIdentityAssociation',
    ],
  },
  {
    sid: 'NodeGroupInstances',
    why: "waits for a node group's Auto Scaling group and puts kubecontrol's tags on it (propagated to its instances)",
    scope: 'any',
    actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:CreateOrUpdateTags'],
  },
  {
    sid: 'LoadBalancers',
    why: "waits for the cluster's NLB and healthy targets before the cutover; before DeleteCluster and in gc finds (by tag) and deletes the load balancers, target groups and security groups EKS made",
    scope: 'any',
    actions: [
      'elasticloadbalancing:DescribeLoadBalancers',
      'elasticloadbalancing:DescribeTargetGroups',
      'elasticloadbalancing:DescribeTargetHealth',
      'elasticloadbalancing:DescribeListeners',
      'elasticloadbalancing:DescribeTags',
      'elasticloadbalancing:DeleteLoadBalancer',
      'elasticloadbalancing:DeleteTargetGroup',
      'ec2:DescribeSubnets',
      'ec2:DescribeRouteTables',
      'ec2:DescribeSecurityGroups',
      'ec2:DeleteSecurityGroup',
      'tag:GetResources',
    ],
  },
  {
    sid: 'Images',
    why: "makes sure each app's ECR repository exists (created with tags when the app asks) and that the image to deploy was pushed",
    scope: 'any',
    actions: ['ecr:DescribeRepositories', 'ecr:CreateRepository', 'ecr:TagResource', 'ecr:DescribeImages', 'ecr:DescribeRegistry'],
  },
  {
    sid: 'HostBuildPush',
    why: 'a build command on the kubecontrol host (KUBECONTROL_BUILD_COMMAND) pushes with the same identity (docker login via ecr get-login-password, then push)',
    scope: 'any',
    actions: [
      'ecr:GetAuthorizationToken',
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:InitiateLayerUpload',
      'ecr:UploadLayerPart',
      'ecr:CompleteLayerUpload',
      'ecr:PutImage',
    ],
  },
  {
    sid: 'Builds',
    why: 'builds images in the CodeBuild project (KUBECONTROL_CODEBUILD_PROJECT) and follows them',
    scope: 'any',
    actions: ['codebuild:StartBuild', 'codebuild:BatchGetBuilds', 'codebuild:StopBuild', 'codebuild:BatchGetProjects'],
  },
  {
    sid: 'Dns',
    why: "the cutover: reads the app's records, replaces them with an alias to the new NLB in one change, waits for INSYNC",
    scope: 'any',
    actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets', 'route53:ChangeResourceRecordSets', 'route53:GetChange'],
  },
  {
    sid: 'PassRoles',
    why: 'CreateCluster passes the cluster role and (Auto Mode) the node role, CreateNodegroup the node role, CreateFargateProfile the pod execution role, CreatePodIdentityAssociation the app pod role, CreateAddon (its Pod Identity association) the observability role',
    scope: 'pass-roles',
    actions: ['iam:PassRole'],
  },
  {
    sid: 'EksServiceLinkedRoles',
    why: "EKS checks its service-linked roles with the caller's permissions before it creates a cluster, node group or Fargate profile, and creates them on first use",
    scope: 'service-linked-roles',
    actions: ['iam:GetRole'],
  },
  {
    sid: 'CreateEksServiceLinkedRoles',
    why: 'the first cluster, node group or Fargate profile of an account creates the service-linked role',
    scope: 'any',
    actions: ['iam:CreateServiceLinkedRole'],
    condition: { key: 'iam:AWSServiceName', values: SERVICE_LINKED_ROLES.map((r) => r.service) },
  },
  {
    sid: 'Identity',
    why: "the EKS token is a presigned sts:GetCallerIdentity; the account is read at start",
    scope: 'any',
    actions: ['sts:GetCallerIdentity'],
  },
  {
    sid: 'AccessRole',
    why: 'the stable role every cluster grants admin access to (KUBECONTROL_ACCESS_ROLE_ARN), so access survives a change of the calling identity',
    scope: 'access-role',
    actions: ['sts:AssumeRole'],
  },
];

/** What `kubecontrol aws check` itself reads, besides the actions above (only the preflight needs these). */
export const PREFLIGHT_ACTIONS: ActionGroup = {
  sid: 'Preflight',
  why: '`kubecontrol aws check`: reads the roles and their policies and simulates this policy for the caller',
  scope: 'any',
  actions: ['iam:GetRole', 'iam:ListAttachedRolePolicies', 'iam:SimulatePrincipalPolicy'],
};

/** The ARN of an AWS managed policy. */
export const managedPolicyArn = (name: string, partition = 'aws'): string => `arn:${partition}:iam::aws:policy/${name}`;

/** A role kubecontrol hands to AWS: who must be able to assume it, and what it needs attached. */
export interface RoleFacts {
  /** How people call it (check lines, README). */
  readonly label: string;
  /** The setting that names it. */
  readonly setting: string;
  /** The service principal of its trust policy. */
  readonly trustedService: string;
  /** The actions its trust policy must allow that principal. */
  readonly trustActions: readonly string[];
  /** AWS managed policies it needs (or equivalent permissions). */
  readonly managedPolicies: readonly string[];
  /** What it is for. */
  readonly why: string;
}

/** The roles of an installation, as AWS documents them for EKS Auto Mode, Fargate and Pod Identity. */
export const ROLES = {
  cluster: {
    label: 'cluster role',
    setting: 'KUBECONTROL_CLUSTER_ROLE_ARN',
    trustedService: 'eks.amazonaws.com',
    trustActions: ['sts:AssumeRole', 'sts:TagSession'],
    managedPolicies: ['AmazonEKSClusterPolicy', 'AmazonEKSComputePolicy', 'AmazonEKSBlockStoragePolicy', 'AmazonEKSLoadBalancingPolicy', 'AmazonEKSNetworkingPolicy'],
    why: 'EKS runs the control plane and Auto Mode (nodes, EBS volumes, load balancers, networking) as this role',
  },
  node: {
    label: 'node role',
    setting: 'KUBECONTROL_NODE_ROLE_ARN',
    trustedService: 'ec2.amazonaws.com',
    trustActions: ['sts:AssumeRole'],
    managedPolicies: ['AmazonEKSWorkerNodeMinimalPolicy', 'AmazonEC2ContainerRegistryPullOnly'],
    why: "Auto Mode nodes and managed node groups' instances run as this role (must not be the cluster role)",
  },
  podExecution: {
    label: 'Fargate pod execution role',
    setting: 'KUBECONTROL_POD_EXECUTION_ROLE_ARN',
    trustedService: 'eks-fargate-pods.amazonaws.com',
    trustActions: ['sts:AssumeRole'],
    managedPolicies: ['AmazonEKSFargatePodExecutionRolePolicy'],
    why: "Fargate registers its nodes and pulls the apps' images as this role (must not be the node role)",
  },
  observability: {
    label: 'observability role',
    setting: 'KUBECONTROL_OBSERVABILITY_ROLE_ARN',
    trustedService: 'pods.eks.amazonaws.com',
    trustActions: ['sts:AssumeRole', 'sts:TagSession'],
    // The agent's metrics and logs; X-Ray for the traces of Application Signals, which the add-on enables by default.
    managedPolicies: ['CloudWatchAgentServerPolicy', 'AWSXrayWriteOnlyAccess'],
    why: 'the CloudWatch agent of the amazon-cloudwatch-observability add-on (service account amazon-cloudwatch/cloudwatch-agent) runs as this role through EKS Pod Identity',
  },
  appPod: {
    label: 'app pod role',
    setting: 'aws.podRoleArn (KubeApp)',
    trustedService: 'pods.eks.amazonaws.com',
    trustActions: ['sts:AssumeRole', 'sts:TagSession'],
    managedPolicies: [],
    why: "an app's own AWS identity through EKS Pod Identity (its permissions are the app's business)",
  },
} as const satisfies Record<string, RoleFacts>;

/**
 * What the node role needs besides ROLES.node's policies when it also runs a
 * managed node group (capacity 'nodes'): the kubelet describes EC2 resources, and
 * the VPC CNI add-on (installed on such clusters: Auto Mode nodes have their own
 * networking) runs with the node role.
 */
export const NODE_GROUP_POLICIES: readonly string[] = ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy'];

/**
 * What the Fargate pod execution role needs besides its managed policy when the
 * observability role is set: Fargate's log router writes the containers' logs to
 * CloudWatch Logs as that role (the group `/kubecontrol/<app>` is created on first use).
 */
export const FARGATE_LOGGING_ACTIONS: readonly string[] = ['logs:CreateLogStream', 'logs:CreateLogGroup', 'logs:DescribeLogStreams', 'logs:PutLogEvents'];

/** The inline policy that gives the Fargate pod execution role FARGATE_LOGGING_ACTIONS on kubecontrol's log groups. */
export function fargateLoggingPolicy(partition = 'aws'): PolicyDocument {
  return {
    Version: '2012-10-17',
    // The wildcard covers the groups and their streams (`…:log-group:/kubecontrol/<app>:log-stream:…`).
    Statement: [{ Sid: 'FargateLogRouter', Effect: 'Allow', Action: [...FARGATE_LOGGING_ACTIONS], Resource: `arn:${partition}:logs:*:*:log-group:/kubecontrol/*` }],
  };
}

/** AWS managed policies that include another's permissions: attached, they satisfy it. */
export const INCLUDED_IN: Readonly<Record<string, readonly string[]>> = {
  AmazonEKSWorkerNodeMinimalPolicy: ['AmazonEKSWorkerNodePolicy'],
  AmazonEC2ContainerRegistryPullOnly: ['AmazonEC2ContainerRegistryReadOnly'],
};

/** The trust policy a role of `facts` needs. */
export function trustPolicy(facts: RoleFacts): { Version: '2012-10-17'; Statement: TrustStatement[] } {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: facts.trustedService }, Action: [...facts.trustActions] }],
  };
}

/** What the policy's ARNs are made of. */
export interface PolicyTarget {
  readonly account: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** The roles kubecontrol passes to EKS; unknown ones are left out (a placeholder when none). */
  readonly passRoleArns: readonly string[];
  /** KUBECONTROL_ACCESS_ROLE_ARN; its statement is left out when unset. */
  readonly accessRoleArn?: string;
  /** Add the statement `kubecontrol aws check` needs. @default true */
  readonly preflight?: boolean;
}

/** The resources of a scope, for `target`. */
export function resourcesOf(scope: ActionScope, target: PolicyTarget): readonly string[] {
  const p = target.partition ?? 'aws';
  switch (scope) {
    case 'any':
      return ['*'];
    case 'pass-roles':
      return target.passRoleArns.length ? [...new Set(target.passRoleArns)].sort() : [`arn:${p}:iam::${target.account}:role/<cluster, node, pod execution, observability and app pod roles>`];
    case 'service-linked-roles':
      return SERVICE_LINKED_ROLES.map((r) => serviceLinkedRoleArn(r.name, r.service, target.account, p));
    case 'access-role':
      return target.accessRoleArn ? [target.accessRoleArn] : [];
  }
}

/** `arn:aws:iam::<account>:role/aws-service-role/<service>/<name>`. */
export function serviceLinkedRoleArn(name: string, service: string, account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:role/aws-service-role/${service}/${name}`;
}

/** kubecontrol's own IAM policy for `target`: every action the adapters call, on the narrowest resources that work. */
export function kubecontrolPolicy(target: PolicyTarget): PolicyDocument {
  const groups = target.preflight === false ? KUBECONTROL_ACTIONS : [...KUBECONTROL_ACTIONS, PREFLIGHT_ACTIONS];
  const Statement: PolicyStatement[] = [];
  for (const g of groups) {
    const resources = resourcesOf(g.scope, target);
    if (!resources.length) continue;
    Statement.push({
      Sid: g.sid,
      Effect: 'Allow',
      Action: [...g.actions],
      Resource: resources.length === 1 ? resources[0]! : resources,
      ...(g.condition ? { Condition: { StringEquals: { [g.condition.key]: [...g.condition.values] } } } : {}),
    });
  }
  return { Version: '2012-10-17', Statement };
}

/** Every action of kubecontrol's policy (not the preflight's), sorted. */
export function allActions(): string[] {
  return [...new Set(KUBECONTROL_ACTIONS.flatMap((g) => g.actions))].sort();
}
