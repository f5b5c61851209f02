/** Builds an app's image with an AWS CodeBuild project. */
import { BatchGetBuildsCommand, StartBuildCommand, StopBuildCommand, type Build } from '@aws-sdk/client-codebuild';
import { InfraError } from '../errors.js';
import type { Builder, ImageRef, PlacementOverrides, Registry, StepContext } from '../ports.js';
import { sleep } from '../time.js';
import { abortError, call, type AwsClientsFor } from './clients.js';
import { missingSetting, placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** How often a running build is looked at, in ms: from `minMs`, doubling up to `maxMs`. */
export interface PollDelays {
  /** @default 5000 */
  readonly minMs?: number;
  /** @default 20000 */
  readonly maxMs?: number;
}

/** What a CodeBuildBuilder needs. */
export interface CodeBuildBuilderOptions {
  readonly clients: AwsClientsFor;
  readonly registry: Registry;
  /** The account's CodeBuild project and region, for apps that name none. */
  readonly settings: AwsSettings;
  /** @default { minMs: 5000, maxMs: 20000 } */
  readonly poll?: PollDelays;
}

/**
 * Starts the app's CodeBuild project (its own, else KUBECONTROL_CODEBUILD_PROJECT) at `sourceVersion = tag` with `IMAGE_TAG`
 * and `IMAGE_REPO` overrides, follows its phases into progress and fails with
 * the build's own phase error. The buildspec is expected to push
 * `$IMAGE_REPO:$IMAGE_TAG`.
 */
export class CodeBuildBuilder implements Builder {
  constructor(private readonly opts: CodeBuildBuilderOptions) {}

  async build({ ctx, image, placement: own }: { ctx: StepContext; image: ImageRef; placement?: PlacementOverrides }): Promise<void> {
    const { app, signal } = ctx;
    const tag = image.tag;
    const where = placement(own, this.opts.settings);
    const projectName = where.codeBuildProject;
    if (!projectName) throw missingSetting(app, 'codeBuildProject', 'KUBECONTROL_CODEBUILD_PROJECT', 'CodeBuild project');
    const codebuild = this.opts.clients(where.region).codebuild;
    const imageUri = this.opts.registry.imageUri({ image, placement: own });
    const imageRepo = imageUri.slice(0, imageUri.lastIndexOf(':'));
    const started = await call('CodeBuild', 'StartBuild', () =>
      codebuild.send(
        new StartBuildCommand({
          projectName,
          sourceVersion: tag,
          // A resumed step within CodeBuild's 5-minute idempotency window gets the same build back.
          idempotencyToken: `kubecontrol-${ctx.deployId}-${tag}`.slice(0, 64),
          environmentVariablesOverride: [
            { name: 'IMAGE_TAG', value: tag, type: 'PLAINTEXT' },
            { name: 'IMAGE_REPO', value: imageRepo, type: 'PLAINTEXT' },
          ],
        }),
        { abortSignal: signal },
      ),
      signal,
    );
    const id = started.build?.id;
    if (!id) throw new InfraError('provider_failed', `CodeBuild StartBuild of ${projectName} returned no build id`);
    ctx.progress(`CodeBuild ${projectName} started build ${id} at ${tag}`, { buildId: id });

    const minMs = this.opts.poll?.minMs ?? 5000;
    const maxMs = this.opts.poll?.maxMs ?? 20000;
    let delay = minMs;
    let lastPhase: string | undefined;
    try {
      for (;;) {
        const out = await call(
          'CodeBuild',
          'BatchGetBuilds',
          () => codebuild.send(new BatchGetBuildsCommand({ ids: [id] }), { abortSignal: signal }),
          signal,
        );
        const b = out.builds?.[0];
        if (!b) throw new InfraError('not_found', `CodeBuild build ${id} not found`);
        if (b.currentPhase && b.currentPhase !== lastPhase) {
          lastPhase = b.currentPhase;
          ctx.progress(`CodeBuild phase ${b.currentPhase}`, { buildId: id, phase: b.currentPhase });
        }
        if (b.buildComplete) {
          if (b.buildStatus === 'SUCCEEDED') return;
          throw new InfraError('provider_failed', `CodeBuild build ${id} of ${projectName} ${b.buildStatus ?? 'FAILED'}${phaseError(b)}`);
        }
        await sleep(delay, signal, `CodeBuild build ${id}`);
        delay = Math.min(delay * 2, maxMs);
      }
    } catch (err) {
      if (signal.aborted) {
        // Cancelled or timed out: stop the build rather than let it push later.
        await codebuild.send(new StopBuildCommand({ id })).catch(() => undefined);
        ctx.progress(`CodeBuild build ${id} stopped`, { buildId: id });
        throw abortError(`CodeBuild build ${id}`, signal, err);
      }
      throw err;
    }
  }
}

/** ` in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: ...` */
function phaseError(b: Build): string {
  const failed = (b.phases ?? []).find((p) => p.phaseStatus && p.phaseStatus !== 'SUCCEEDED' && p.phaseType !== 'COMPLETED');
  if (!failed) return '';
  const contexts = (failed.contexts ?? [])
    .map((c) => [c.statusCode, c.message].filter(Boolean).join(': '))
    .filter(Boolean)
    .join('; ');
  return ` in phase ${failed.phaseType}${contexts ? `: ${contexts}` : ` (${failed.phaseStatus})`}`;
}
