/** build: reuse the image if the tag exists, else build it and check that it arrived. Changes nothing to undo. */
import { InfraError } from '../errors.js';
import type { Step } from './step.js';

export const build: Step = {
  name: 'build',
  async run({ provider, ctx }) {
    const { registry, builder } = provider;
    await registry.ensureRepository({ app: ctx.app, progress: ctx.progress, signal: ctx.signal });
    const uri = registry.imageUri({ app: ctx.app, tag: ctx.version });
    if (await registry.hasImage({ app: ctx.app, tag: ctx.version, signal: ctx.signal })) {
      ctx.progress(`image ${uri} already exists; not rebuilding`);
      return { detail: `image ${uri} exists` };
    }
    ctx.progress(`image ${uri} not found; building it`);
    await builder.build({ ctx, tag: ctx.version });
    if (!(await registry.hasImage({ app: ctx.app, tag: ctx.version, signal: ctx.signal }))) {
      throw new InfraError('not_found', `the build finished but ${uri} is not in the registry`);
    }
    return { detail: `built and pushed ${uri}` };
  },
};
