/**
 * Images for a laptop cluster. There is no registry kubecontrol can ask: kind
 * and minikube load images from the host (`kind load docker-image`,
 * `minikube image load`) or pull them from wherever the tag says. So:
 * - an app without a build command is not built: its image counts as present,
 *   and the build step says plainly that the cluster must be able to get it;
 * - an app with `aws.buildCommand` is built with that command on this host
 *   (the aws provider's CommandBuilder), and its image counts as present once
 *   the command succeeded in this process.
 */
import type { KubeApp } from '../../kubeapps/index.js';
import { InfraError, asInfraError } from '../errors.js';
import type { AwsSettings } from '../aws/settings.js';
import type { Builder, Progress, Registry, StepContext } from '../ports.js';

/** How local images are named and built. */
export interface LocalImagesOptions {
  /** Registry host (and path) image names start with, e.g. `localhost:5001` (kind's local registry). @default none: `<repository>:<tag>` */
  readonly registryPrefix?: string;
  /** A build command for apps that have none (argv; `{image}` and `{version}` are substituted). @default none */
  readonly buildCommand?: readonly string[];
  /** Environment of the build command: passed in by the composition root, never read here. */
  readonly env: NodeJS.ProcessEnv;
  /** Working directory of the build command. @default the process's working directory */
  readonly cwd?: string;
}

/** The build command of `app` on this host, if any: its own, else the provider's. */
export function localBuildCommand(app: KubeApp, fallback: readonly string[] = []): readonly string[] {
  return app.aws.buildCommand.length ? app.aws.buildCommand : fallback;
}

/**
 * What the aws command builder reads from its settings, on a laptop: nothing
 * but the build command, which `build` puts on the app itself. (A host-command
 * runner shared by both providers would not need this.)
 */
function hostBuildSettings(): AwsSettings {
  return {
    region: '',
    subnetIds: [],
    securityGroupIds: [],
    clusterRoleArn: '',
    nodeRoleArn: '',
    hostedZoneId: '',
    ecrRegistry: '',
    buildCommand: [],
    maxAttempts: 1,
    retryMode: 'standard',
  };
}

/** Registry port for a laptop cluster: image names, and what this process has built. */
export class LocalRegistry implements Registry {
  private readonly built = new Set<string>();

  constructor(private readonly opts: Omit<LocalImagesOptions, 'env' | 'cwd'>) {}

  imageUri({ app, tag }: { app: KubeApp; tag: string }): string {
    const prefix = this.opts.registryPrefix?.replace(/\/+$/, '');
    return `${prefix ? `${prefix}/` : ''}${app.image.repository}:${tag}`;
  }

  async hasImage({ app, tag }: { app: KubeApp; tag: string; signal?: AbortSignal }): Promise<boolean> {
    // Without a build command there is nothing kubecontrol could do about a missing image: use the tag as it is.
    if (!localBuildCommand(app, this.opts.buildCommand).length) return true;
    return this.built.has(this.imageUri({ app, tag }));
  }

  async ensureRepository({ app, progress }: { app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void> {
    if (localBuildCommand(app, this.opts.buildCommand).length) return;
    progress(
      `no build command for ${app.name} (aws.buildCommand): kubecontrol does not build its image locally; ` +
        `${this.imageUri({ app, tag: '<version>' })} must be loadable by the cluster (e.g. \`kind load docker-image\`, \`minikube image load\`, or a registry it pulls from)`,
      { repository: app.image.repository },
    );
  }

  /** Notes that `app:tag` was built (the build command succeeded). */
  markBuilt(app: KubeApp, tag: string): void {
    this.built.add(this.imageUri({ app, tag }));
  }
}

/** Builder port: runs the app's build command on this host, then counts the image as present. */
export class LocalBuilder implements Builder {
  private command?: Builder;

  constructor(
    private readonly registry: LocalRegistry,
    private readonly opts: LocalImagesOptions,
  ) {}

  async build({ ctx, tag }: { ctx: StepContext; tag: string }): Promise<void> {
    const argv = localBuildCommand(ctx.app, this.opts.buildCommand);
    if (!argv.length) throw new InfraError('misconfigured', `no build command configured for ${ctx.app.name}: set aws.buildCommand or KUBECONTROL_LOCAL_BUILD_COMMAND`);
    // Loaded on first use: the command builder lives with the aws adapters (and their SDK imports).
    if (!this.command) {
      const { CommandBuilder } = await import('../aws/command-builder.js');
      this.command = new CommandBuilder({ registry: this.registry, settings: hostBuildSettings(), env: this.opts.env, ...(this.opts.cwd !== undefined ? { cwd: this.opts.cwd } : {}) });
    }
    const app: KubeApp = argv === ctx.app.aws.buildCommand ? ctx.app : { ...ctx.app, aws: { ...ctx.app.aws, buildCommand: [...argv] } };
    try {
      await this.command.build({ ctx: app === ctx.app ? ctx : { ...ctx, app }, tag });
    } catch (err) {
      // The command builder's own message (exit code, last output) is kept; only its type is made ours.
      throw asInfraError(err, ctx.signal.aborted ? 'aborted' : 'provider_failed');
    }
    this.registry.markBuilt(ctx.app, tag);
    ctx.progress(`built ${this.registry.imageUri({ app: ctx.app, tag })} on this host; the build command must also make it loadable by the cluster (kind load / minikube image load / push)`);
  }
}
