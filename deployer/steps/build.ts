/** build: reuse the image if the tag exists, else build it and check that it arrived. Changes nothing to undo. */
import { InfraError } from '../errors.js';
import { imageRef, placementOf, repositorySpec } from '../specs.js';
import type { Step } from './step.js';

export const build: Step = {
  name: 'build',
  async run({ provider, app, ctx }) {
    const { registry, builder } = provider;
    const image = imageRef(app, ctx.version);
    const placement = placementOf(app);
    await registry.ensureRepository({ repository: repositorySpec(app), progress: ctx.progress, signal: ctx.signal });
    const uri = registry.imageUri({ image, placement });
    if (await registry.hasImage({ image, placement, signal: ctx.signal })) {
      ctx.progress(`image ${uri} already exists; not rebuilding`);
      return { detail: `image ${uri} exists` };
    }
    ctx.progress(`image ${uri} not found; building it`);
    await builder.build({ ctx, image, placement });
    if (!(await registry.hasImage({ image, placement, signal: ctx.signal }))) {
      throw new InfraError('not_found', `the build finished but ${uri} is not in the registry`);
    }
    return { detail: `built and pushed ${uri}` };
  },
};
