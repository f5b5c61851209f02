/**
 * `kubecontrol aws …`: what a platform engineer runs on AWS before the first
 * deploy. These commands run in the CLI process, not through the server: they
 * need the operator's AWS credentials and read the environment the server
 * would get (AWS_REGION, KUBECONTROL_*) and the KubeApps it would load.
 *
 *   aws check    every prerequisite of a first deploy, one line each (exit 0 ok · 1 something fails · 2 usage)
 *   aws policy   kubecontrol's own IAM policy for these settings, as JSON
 */
import type { Command } from 'commander';
import type { AwsClientsFor } from '../deployer/aws/clients.js';
import type { LoadResult } from '../kubeapps/index.js';
import { dim, red, yellow } from './render.js';

/** What the aws commands read; tests give their own. */
export interface AwsCommandDeps {
  /** The environment the server would get. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** The KubeApps the server would load. @default loadKubeApps(--dir ?? KUBECONTROL_KUBEAPPS_DIR) */
  readonly loadApps?: (dir: string | undefined) => Promise<LoadResult>;
  /** @default the SDK's clients with the standard credential chain */
  readonly clients?: AwsClientsFor;
  /** Today, for support dates. @default Date.now */
  readonly now?: () => number;
  /** Whether a build command's program can be run. @default looked up on PATH */
  readonly canRun?: (program: string) => boolean;
  /** Where the report goes. @default process.stdout */
  readonly write?: (text: string) => void;
}

/** Adds `aws check` and `aws policy` to `program`; `json` says whether --json was given. */
export function addAwsCommands(program: Command, json: () => boolean, deps: AwsCommandDeps = {}): void {
  const write = deps.write ?? ((text: string) => void process.stdout.write(text));
  const env = (): NodeJS.ProcessEnv => deps.env ?? process.env;
  const aws = program.command('aws').description('AWS preflight: run before the first deploy, with the environment the server gets');

  aws
    .command('check')
    .description('check every AWS prerequisite of a first deploy (credentials, roles, permissions, subnets, zone, registry, versions, builders)')
    .option('--dir <dir>', 'folder of KubeApps (default: KUBECONTROL_KUBEAPPS_DIR, else kubeapps/)')
    .action(async (o: { dir?: string }) => {
      const [{ checkAws, renderReport }, { loadKubeApps }, specs] = await Promise.all([
        import('../deployer/aws/check.js'),
        import('../kubeapps/index.js'),
        import('../deployer/specs.js'),
      ]);
      const dir = o.dir ?? (env().KUBECONTROL_KUBEAPPS_DIR?.trim() || undefined);
      const loaded = await (deps.loadApps ?? loadKubeApps)(dir);
      const report = await checkAws({
        env: env(),
        // The specs the pipeline builds from each KubeApp: the check sees what the adapters will be told.
        apps: loaded.apps.map((app) => ({
          app: app.name,
          cluster: specs.clusterSpec(app, `${app.name}-check`),
          workload: specs.workloadSpec(app, 'check'),
          record: specs.dnsRecord(app),
        })),
        appProblems: loaded.problems,
        ...(deps.clients ? { clients: deps.clients } : {}),
        ...(deps.now ? { now: deps.now } : {}),
        ...(deps.canRun ? { canRun: deps.canRun } : {}),
      });
      if (json()) write(`${JSON.stringify({ ok: report.ok, checks: report.lines })}\n`);
      else write(`${renderReport(report, { red, yellow, dim })}\n`);
      process.exitCode = report.ok ? 0 : 1;
    });

  aws
    .command('policy')
    .description("print kubecontrol's own IAM policy (JSON) for these settings and KubeApps")
    .option('--dir <dir>', 'folder of KubeApps (default: KUBECONTROL_KUBEAPPS_DIR, else kubeapps/)')
    .action(async (o: { dir?: string }) => {
      const [{ kubecontrolPolicy }, { ECR_HOST, loadAwsSettings }, { loadKubeApps }] = await Promise.all([
        import('../deployer/aws/iam.js'),
        import('../deployer/aws/settings.js'),
        import('../kubeapps/index.js'),
      ]);
      const e = env();
      const loaded = loadAwsSettings(e);
      if (!loaded.ok) {
        process.stderr.write(`${loaded.problems.map((p) => `${red('✗')} ${p}`).join('\n')}\n`);
        process.exitCode = 2;
        return;
      }
      const s = loaded.settings;
      const apps = await (deps.loadApps ?? loadKubeApps)(o.dir ?? (e.KUBECONTROL_KUBEAPPS_DIR?.trim() || undefined));
      const own = (a: (typeof apps.apps)[number]) => a.aws as { podRoleArn?: string; clusterRoleArn?: string; nodeRoleArn?: string; podExecutionRoleArn?: string };
      const passRoleArns = [s.clusterRoleArn, s.nodeRoleArn, s.podExecutionRoleArn, s.observabilityRoleArn, ...apps.apps.flatMap((a) => [own(a).clusterRoleArn, own(a).nodeRoleArn, own(a).podExecutionRoleArn, own(a).podRoleArn])].filter(
        (r): r is string => !!r,
      );
      const accessRoleArn = e.KUBECONTROL_ACCESS_ROLE_ARN?.trim() || undefined;
      const account = ECR_HOST.exec(s.ecrRegistry)?.[1] ?? s.clusterRoleArn.split(':')[4] ?? '<account>';
      write(`${JSON.stringify(kubecontrolPolicy({ account, partition: s.clusterRoleArn.split(':')[1], passRoleArns, ...(accessRoleArn ? { accessRoleArn } : {}) }), null, 2)}\n`);
    });
}
