/** The Builder port for the aws provider: picks CodeBuild or the host command per app, then checks ECR. */
import { InfraError, errorMessage } from '../errors.js';
import type { Builder, ImageRef, PlacementOverrides, Registry, StepContext } from '../ports.js';
import { placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** Which builder an app uses (its placement's `builder`). */
export type BuilderKind = 'codebuild' | 'command';

/**
 * Dispatches to the app's builder and afterwards fails unless the image really
 * is in ECR. The pipeline's build step has already made sure the repository
 * exists and the tag is not there yet (`Registry.ensureRepository`, `hasImage`),
 * so those calls are not repeated here.
 */
export class AppBuilder implements Builder {
  constructor(
    private readonly registry: Registry,
    private readonly builders: (kind: BuilderKind) => Builder,
    private readonly settings: AwsSettings,
  ) {}

  async build(cmd: { ctx: StepContext; image: ImageRef; placement?: PlacementOverrides }): Promise<void> {
    const { ctx, image, placement: own } = cmd;
    const app = ctx.app;
    const kind = placement(own, this.settings).builder;
    if (kind === 'none') {
      throw new InfraError(
        'misconfigured',
        own?.builder === undefined
          ? `no builder configured for ${app}: set aws.codeBuildProject or aws.buildCommand (or KUBECONTROL_CODEBUILD_PROJECT or KUBECONTROL_BUILD_COMMAND)`
          : `no builder configured for ${app}: aws.builder is 'none'`,
      );
    }
    const uri = this.registry.imageUri({ image, placement: own });
    try {
      await this.builders(kind).build(cmd);
    } catch (err) {
      // A build left running by an interrupted attempt may have pushed the tag first, making
      // this one fail at its push (tags are immutable): the image is what the step needs.
      if (ctx.signal.aborted || !(await this.registry.hasImage({ image, placement: own, signal: ctx.signal }))) throw err;
      ctx.progress(`the build failed (${errorMessage(err)}) but ${uri} is in ECR, pushed by an earlier attempt; using it`, { image: uri });
      return;
    }
    if (!(await this.registry.hasImage({ image, placement: own, signal: ctx.signal }))) {
      throw new InfraError('not_found', `the ${kind} build of ${app} finished but ${uri} is not in ECR: the build must push exactly this tag`);
    }
    ctx.progress(`image ${uri} is in ECR`, { image: uri });
  }
}
