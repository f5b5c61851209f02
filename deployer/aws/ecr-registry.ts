/** The Registry port over Amazon ECR. */
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ImageNotFoundException,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import { InfraError } from '../errors.js';
import type { ImageRef, PlacementOverrides, Progress, Registry, RepositorySpec } from '../ports.js';
import { awsError, type AwsClientsFor } from './clients.js';
import { regionOf } from './placement.js';
import { ECR_HOST, type AwsSettings } from './settings.js';

/** The settings the registry reads: the account's registry, and the region of apps that name none. */
export type RegistrySettings = Pick<AwsSettings, 'ecrRegistry' | 'region'>;

/** The registry host of an app: its own `placement.ecrRegistry`, else the settings'. */
function registryOf(own: PlacementOverrides | undefined, settings: RegistrySettings): string {
  // The app's own registry first: it needs no settings at all (the Kubernetes adapter's tests rely on that).
  return own?.ecrRegistry ?? settings.ecrRegistry;
}

/** The registry's account id and region, read from its host. */
export function ecrLocation(own: PlacementOverrides | undefined, settings: RegistrySettings): { registryId?: string; region: string } {
  const m = ECR_HOST.exec(registryOf(own, settings));
  return m ? { registryId: m[1], region: m[2]! } : { region: regionOf(own, settings) };
}

/** Registry over ECR: looks images up, creates the app's repository (scan on push, immutable tags). */
export class EcrRegistry implements Registry {
  constructor(
    private readonly clients: AwsClientsFor,
    private readonly settings: RegistrySettings,
  ) {}

  imageUri({ image, placement }: { image: ImageRef; placement?: PlacementOverrides }): string {
    const registry = registryOf(placement, this.settings);
    if (!registry) {
      throw new InfraError('misconfigured', `no ECR registry configured for ${image.repository}: set aws.ecrRegistry or KUBECONTROL_ECR_REGISTRY`);
    }
    return `${registry}/${image.repository}:${image.tag}`;
  }

  async hasImage({ image, placement, signal }: { image: ImageRef; placement?: PlacementOverrides; signal?: AbortSignal }): Promise<boolean> {
    const { registryId, region } = ecrLocation(placement, this.settings);
    const tag = image.tag;
    try {
      const out = await this.clients(region).ecr.send(
        new DescribeImagesCommand({ registryId, repositoryName: image.repository, imageIds: [{ imageTag: tag }] }),
        { abortSignal: signal },
      );
      return (out.imageDetails ?? []).some((d) => (d.imageTags ?? []).includes(tag));
    } catch (err) {
      // Neither the tag nor the repository: the image is simply not there (yet).
      if (err instanceof ImageNotFoundException || err instanceof RepositoryNotFoundException) return false;
      throw awsError('ECR', 'DescribeImages', err, signal);
    }
  }

  async ensureRepository({ repository, progress, signal }: { repository: RepositorySpec; progress: Progress; signal?: AbortSignal }): Promise<void> {
    const { registryId, region } = ecrLocation(repository.placement, this.settings);
    const ecr = this.clients(region).ecr;
    const repositoryName = repository.name;
    try {
      await ecr.send(new DescribeRepositoriesCommand({ registryId, repositoryNames: [repositoryName] }), { abortSignal: signal });
      return;
    } catch (err) {
      if (!(err instanceof RepositoryNotFoundException)) throw awsError('ECR', 'DescribeRepositories', err, signal);
    }
    if (!repository.create) {
      throw new InfraError(
        'not_found',
        `ECR repository ${repositoryName} does not exist${registryId ? ` in registry ${registryId}` : ''} and aws.createRepository is false for ${repository.app}`,
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
            { Key: 'kubecontrol:app', Value: repository.app },
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
