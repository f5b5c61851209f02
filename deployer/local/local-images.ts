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
import { InfraError, asInfraError } from '../errors.js';
import type { AwsSettings } from '../aws/settings.js';
import type { Builder, ImageRef, PlacementOverrides, Progress, Registry, RepositorySpec, StepContext } from '../ports.js';

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

/** The build command of an app on this host, if any: its own (`placement.buildCommand`), else the provider's. */
export function localBuildCommand(own: PlacementOverrides | undefined, fallback: readonly string[] = []): readonly string[] {
  return own?.buildCommand?.length ? own.buildCommand : fallback;
}

/**
 * What the aws command builder reads from its settings, on a laptop: nothing
 * but the build command, which `build` passes as the app's own placement.
 * (A host-command runner shared by both providers would not need this.)
 */
function hostBuildSettings(): AwsSettings {
  return {
    region: '',
    subnetIds: [],
    fargateSubnetIds: [],
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

  imageUri({ image }: { image: ImageRef; placement?: PlacementOverrides }): string {
    const prefix = this.opts.registryPrefix?.replace(/\/+$/, '');
    return `${prefix ? `${prefix}/` : ''}${image.repository}:${image.tag}`;
  }

  async hasImage({ image, placement }: { image: ImageRef; placement?: PlacementOverrides; signal?: AbortSignal }): Promise<boolean> {
    // Without a build command there is nothing kubecontrol could do about a missing image: use the tag as it is.
    if (!localBuildCommand(placement, this.opts.buildCommand).length) return true;
    return this.built.has(this.imageUri({ image }));
  }

  async ensureRepository({ repository, progress }: { repository: RepositorySpec; progress: Progress; signal?: AbortSignal }): Promise<void> {
    if (localBuildCommand(repository.placement, this.opts.buildCommand).length) return;
    progress(
      `no build command for ${repository.app} (aws.buildCommand): kubecontrol does not build its image locally; ` +
        `${this.imageUri({ image: { repository: repository.name, tag: '<version>' } })} must be loadable by the cluster (e.g. \`kind load docker-image\`, \`minikube image load\`, or a registry it pulls from)`,
      { repository: repository.name },
    );
  }

  /** Notes that `image` was built (the build command succeeded). */
  markBuilt(image: ImageRef): void {
    this.built.add(this.imageUri({ image }));
  }
}

/** Builder port: runs the app's build command on this host, then counts the image as present. */
export class LocalBuilder implements Builder {
  private command?: Builder;

  constructor(
    private readonly registry: LocalRegistry,
    private readonly opts: LocalImagesOptions,
  ) {}

  async build({ ctx, image, placement }: { ctx: StepContext; image: ImageRef; placement?: PlacementOverrides }): Promise<void> {
    const argv = localBuildCommand(placement, this.opts.buildCommand);
    if (!argv.length) throw new InfraError('misconfigured', `no build command configured for ${ctx.app}: set aws.buildCommand or KUBECONTROL_LOCAL_BUILD_COMMAND`);
    // Loaded on first use: the command builder lives with the aws adapters (and their SDK imports).
    if (!this.command) {
      const { CommandBuilder } = await import('../aws/command-builder.js');
      this.command = new CommandBuilder({ registry: this.registry, settings: hostBuildSettings(), env: this.opts.env, ...(this.opts.cwd !== undefined ? { cwd: this.opts.cwd } : {}) });
    }
    try {
      // The command as this provider resolved it, given as the app's own: the command builder runs exactly it.
      await this.command.build({ ctx, image, placement: { buildCommand: argv } });
    } catch (err) {
      // The command builder's own message (exit code, last output) is kept; only its type is made ours.
      throw asInfraError(err, ctx.signal.aborted ? 'aborted' : 'provider_failed');
    }
    this.registry.markBuilt(image);
    ctx.progress(`built ${this.registry.imageUri({ image })} on this host; the build command must also make it loadable by the cluster (kind load / minikube image load / push)`);
  }
}
