/** The Registry port over Amazon ECR. */
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
} from '@aws-sdk/client-ecr';
import type { KubeApp } from '../../kubeapps/index.js';
import type { Progress, Registry } from '../ports.js';
import { awsFailure, isAwsError, type AwsClientsFor } from './clients.js';

/** `<account>.dkr.ecr.<region>.amazonaws.com[.cn]` */
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The registry's account id and region, read from `app.aws.ecrRegistry`. */
export function ecrLocation(app: KubeApp): { registryId?: string; region: string } {
  const m = ECR_HOST.exec(app.aws.ecrRegistry);
  return m ? { registryId: m[1], region: m[2]! } : { region: app.aws.region };
}

/** Registry over ECR: looks images up, creates the app's repository (scan on push, immutable tags). */
export class EcrRegistry implements Registry {
  constructor(private readonly clients: AwsClientsFor) {}

  imageUri({ app, tag }: { app: KubeApp; tag: string }): string {
    if (!app.aws.ecrRegistry) {
      throw new Error(`no ECR registry configured for ${app.name}: set aws.ecrRegistry or KUBECONTROL_ECR_REGISTRY`);
    }
    return `${app.aws.ecrRegistry}/${app.image.repository}:${tag}`;
  }

  async hasImage({ app, tag, signal }: { app: KubeApp; tag: string; signal?: AbortSignal }): Promise<boolean> {
    const { registryId, region } = ecrLocation(app);
    try {
      const out = await this.clients(region).ecr.send(
        new DescribeImagesCommand({ registryId, repositoryName: app.image.repository, imageIds: [{ imageTag: tag }] }),
        { abortSignal: signal },
      );
      return (out.imageDetails ?? []).some((d) => (d.imageTags ?? []).includes(tag));
    } catch (err) {
      // Neither the tag nor the repository: the image is simply not there (yet).
      if (isAwsError(err, 'ImageNotFoundException', 'RepositoryNotFoundException')) return false;
      throw awsFailure('ECR', 'DescribeImages', err);
    }
  }

  async ensureRepository({ app, progress, signal }: { app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { registryId, region } = ecrLocation(app);
    const ecr = this.clients(region).ecr;
    const repositoryName = app.image.repository;
    try {
      await ecr.send(new DescribeRepositoriesCommand({ registryId, repositoryNames: [repositoryName] }), { abortSignal: signal });
      return;
    } catch (err) {
      if (!isAwsError(err, 'RepositoryNotFoundException')) throw awsFailure('ECR', 'DescribeRepositories', err);
    }
    if (!app.aws.createRepository) {
      throw new Error(
        `ECR repository ${repositoryName} does not exist${registryId ? ` in registry ${registryId}` : ''} and aws.createRepository is false for ${app.name}`,
      );
    }
    try {
      await ecr.send(
        new CreateRepositoryCommand({
          registryId,
          repositoryName,
          imageTagMutability: 'IMMUTABLE',
          imageScanningConfiguration: { scanOnPush: true },
          tags: [
            { Key: 'kubecontrol:app', Value: app.name },
            { Key: 'kubecontrol:managed-by', Value: 'kubecontrol' },
          ],
        }),
        { abortSignal: signal },
      );
      progress(`created ECR repository ${repositoryName} (scan on push, immutable tags)`, { repository: repositoryName });
    } catch (err) {
      // Another deploy created it in between: that is what we wanted.
      if (isAwsError(err, 'RepositoryAlreadyExistsException')) return;
      throw awsFailure('ECR', 'CreateRepository', err);
    }
  }
}
