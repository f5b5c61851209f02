/** EcrRegistry with a real ECRClient mocked at `send`. */
import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  ImageNotFoundException,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  ServerException,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { EcrRegistry } from '../deployer/aws/ecr-registry.js';
import { repositorySpec } from '../deployer/specs.js';
import { ACCOUNT_ID, REGISTRY, SETTINGS, imageOf, withAws } from './fakes/aws-apps.js';

const ecr = mockClient(ECRClient);
const registry = new EcrRegistry(createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } }), SETTINGS);
const app = searchSvc;
const meta = { $metadata: {} };

beforeEach(() => {
  ecr.reset();
});

describe('EcrRegistry', () => {
  it('builds the image URI from the registry, the repository and the tag', () => {
    expect(registry.imageUri(imageOf(app, '1.4.2'))).toBe(`${REGISTRY}/search-svc:1.4.2`);
    // The app's own registry wins over the settings'.
    expect(registry.imageUri(imageOf(withAws(searchSvc, { ecrRegistry: '210987654321.dkr.ecr.us-east-1.amazonaws.com' }), '1'))).toBe(
      '210987654321.dkr.ecr.us-east-1.amazonaws.com/search-svc:1',
    );
    expect(() => registry.imageUri(imageOf(withAws(searchSvc, { ecrRegistry: '' }), '1'))).toThrow(
      'no ECR registry configured for search-svc: set aws.ecrRegistry or KUBECONTROL_ECR_REGISTRY',
    );
  });

  it('finds an image by tag in the registry account', async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.4.2', 'latest'] }] });
    await expect(registry.hasImage(imageOf(app, '1.4.2'))).resolves.toBe(true);
    expect(ecr.commandCalls(DescribeImagesCommand)[0]!.args[0].input).toEqual({
      registryId: ACCOUNT_ID,
      repositoryName: 'search-svc',
      imageIds: [{ imageTag: '1.4.2' }],
    });
  });

  it('says no when the tag or the whole repository is missing', async () => {
    ecr
      .on(DescribeImagesCommand)
      .rejectsOnce(new ImageNotFoundException({ message: 'The image with imageId {imageTag:9.9.9} does not exist', ...meta }))
      .rejectsOnce(new RepositoryNotFoundException({ message: 'The repository does not exist', ...meta }));
    await expect(registry.hasImage(imageOf(app, '9.9.9'))).resolves.toBe(false);
    await expect(registry.hasImage(imageOf(app, '1.0.0'))).resolves.toBe(false);
  });

  it('reports other failures with the AWS code', async () => {
    ecr.on(DescribeImagesCommand).rejects(new ServerException({ message: 'internal error', ...meta }));
    await expect(registry.hasImage(imageOf(app, '1'))).rejects.toMatchObject({ code: 'provider_failed', message: 'ECR DescribeImages failed: ServerException: internal error' });
  });

  it('creates a missing repository with scan on push and immutable tags', async () => {
    ecr.on(DescribeRepositoriesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', ...meta }));
    ecr.on(CreateRepositoryCommand).resolves({});
    const lines: string[] = [];
    await registry.ensureRepository({ repository: repositorySpec(app), progress: (m) => void lines.push(m) });
    expect(ecr.commandCalls(CreateRepositoryCommand).map((c) => c.args[0].input)).toEqual([
      {
        registryId: ACCOUNT_ID,
        repositoryName: 'search-svc',
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        tags: [
          { Key: 'kubecontrol:app', Value: 'search-svc' },
          { Key: 'kubecontrol:managed-by', Value: 'kubecontrol' },
        ],
      },
    ]);
    expect(lines).toEqual(['created ECR repository search-svc (scan on push, immutable tags)']);
  });

  it('leaves an existing repository alone, and accepts one created concurrently', async () => {
    ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'search-svc' }] });
    await registry.ensureRepository({ repository: repositorySpec(app), progress: () => undefined });
    expect(ecr.commandCalls(CreateRepositoryCommand)).toHaveLength(0);

    ecr.on(DescribeRepositoriesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', ...meta }));
    ecr.on(CreateRepositoryCommand).rejects(new RepositoryAlreadyExistsException({ message: 'exists', ...meta }));
    await expect(registry.ensureRepository({ repository: repositorySpec(app), progress: () => undefined })).resolves.toBeUndefined();
  });

  it('does not create a repository when the app says not to', async () => {
    ecr.on(DescribeRepositoriesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', ...meta }));
    await expect(registry.ensureRepository({ repository: repositorySpec(withAws(searchSvc, { createRepository: false })), progress: () => undefined })).rejects.toThrow(
      `ECR repository search-svc does not exist in registry ${ACCOUNT_ID} and aws.createRepository is false for search-svc`,
    );
    expect(ecr.commandCalls(CreateRepositoryCommand)).toHaveLength(0);
  });
});
