/** The Registry port over Amazon ECR. */
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ImageNotFoundException,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import type { KubeApp } from '../../kubeapps/index.js';
import { InfraError } from '../errors.js';
import type { Progress, Registry } from '../ports.js';
import { awsError, type AwsClientsFor } from './clients.js';
import { regionOf } from './placement.js';
import { ECR_HOST, type AwsSettings } from './settings.js';

/** The settings the registry reads: the account's registry, and the region of apps that name none. */
export type RegistrySettings = Pick<AwsSettings, 'ecrRegistry' | 'region'>;

/** The registry host of `app`: its own `aws.ecrRegistry`, else the settings'. */
function registryOf(app: KubeApp, settings: RegistrySettings): string {
  // The app's own registry first: it needs no settings at all (the Kubernetes adapter's tests rely on that).
  return app.aws.ecrRegistry ?? settings.ecrRegistry;
}

/** The registry's account id and region, read from its host. */
export function ecrLocation(app: KubeApp, settings: RegistrySettings): { registryId?: string; region: string } {
  const m = ECR_HOST.exec(registryOf(app, settings));
  return m ? { registryId: m[1], region: m[2]! } : { region: regionOf(app, settings) };
}

/** Registry over ECR: looks images up, creates the app's repository (scan on push, immutable tags). */
export class EcrRegistry implements Registry {
  constructor(
    private readonly clients: AwsClientsFor,
    private readonly settings: RegistrySettings,
  ) {}

  imageUri({ app, tag }: { app: KubeApp; tag: string }): string {
    const registry = registryOf(app, this.settings);
    if (!registry) {
      throw new InfraError('misconfigured', `no ECR registry configured for ${app.name}: set aws.ecrRegistry or KUBECONTROL_ECR_REGISTRY`);
    }
    return `${registry}/${app.image.repository}:${tag}`;
  }

  async hasImage({ app, tag, signal }: { app: KubeApp; tag: string; signal?: AbortSignal }): Promise<boolean> {
    const { registryId, region } = ecrLocation(app, this.settings);
    try {
      const out = await this.clients(region).ecr.send(
        new DescribeImagesCommand({ registryId, repositoryName: app.image.repository, imageIds: [{ imageTag: tag }] }),
        { abortSignal: signal },
      );
      return (out.imageDetails ?? []).some((d) => (d.imageTags ?? []).includes(tag));
    } catch (err) {
      // Neither the tag nor the repository: the image is simply not there (yet).
      if (err instanceof ImageNotFoundException || err instanceof RepositoryNotFoundException) return false;
      throw awsError('ECR', 'DescribeImages', err, signal);
    }
  }

  async ensureRepository({ app, progress, signal }: { app: KubeApp; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { registryId, region } = ecrLocation(app, this.settings);
    const ecr = this.clients(region).ecr;
    const repositoryName = app.image.repository;
    try {
      await ecr.send(new DescribeRepositoriesCommand({ registryId, repositoryNames: [repositoryName] }), { abortSignal: signal });
      return;
    } catch (err) {
      if (!(err instanceof RepositoryNotFoundException)) throw awsError('ECR', 'DescribeRepositories', err, signal);
    }
    if (!app.aws.createRepository) {
      throw new InfraError(
        'not_found',
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
          // No installation tag: a repository holds images, which installations may share.
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
      if (err instanceof RepositoryAlreadyExistsException) return;
      throw awsError('ECR', 'CreateRepository', err, signal);
    }
  }
}
