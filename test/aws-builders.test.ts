/**
 * The builders: CodeBuild (real client mocked at `send`), a real child process
 * for the command builder, and AppBuilder's choice and ECR check.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand, StopBuildCommand, type Build } from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import searchSvc from '../kubeapps/examples/search-svc.js';
import { AppBuilder } from '../deployer/aws/app-builder.js';
import { createAwsClientsFor } from '../deployer/aws/clients.js';
import { CodeBuildBuilder } from '../deployer/aws/codebuild-builder.js';
import { CommandBuilder, secretMasker } from '../deployer/aws/command-builder.js';
import { EcrRegistry } from '../deployer/aws/ecr-registry.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { Builder } from '../deployer/ports.js';
import { InfraError } from '../deployer/errors.js';
import { REGISTRY, SETTINGS, awsSettings, withAws } from './fakes/aws-apps.js';
import { testStep, type TestStep } from './fakes/aws-step-context.js';

const codebuild = mockClient(CodeBuildClient);
const ecr = mockClient(ECRClient);
const clients = createAwsClientsFor({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
const registry = new EcrRegistry(clients, SETTINGS);
const settings = SETTINGS;
const poll = { minMs: 1, maxMs: 2 };
const cbApp = withAws(searchSvc, { codeBuildProject: 'search-svc-image', builder: 'codebuild' });
const BUILD_ID = 'search-svc-image:0f4c-11ee';
const imageMissing = () => new ImageNotFoundException({ message: 'not found', $metadata: {} });

let steps: TestStep[] = [];
function step(app: KubeApp, version = '1.4.2'): TestStep {
  const s = testStep(app, { version, step: 'build' });
  steps.push(s);
  return s;
}
beforeEach(() => {
  codebuild.reset();
  ecr.reset();
});
afterEach(() => {
  for (const s of steps) s.cleanup();
  steps = [];
});

const phase = (currentPhase: string, extra: Partial<Build> = {}) => ({ builds: [{ id: BUILD_ID, currentPhase, buildComplete: false, ...extra }] });

describe('CodeBuildBuilder', () => {
  it('starts the project at the version with IMAGE_TAG and IMAGE_REPO and reports each phase once', async () => {
    codebuild.on(StartBuildCommand).resolves({ build: { id: BUILD_ID } });
    codebuild
      .on(BatchGetBuildsCommand)
      .resolvesOnce(phase('SUBMITTED'))
      .resolvesOnce(phase('PROVISIONING'))
      .resolvesOnce(phase('BUILD'))
      .resolvesOnce(phase('BUILD'))
      .resolvesOnce(phase('POST_BUILD'))
      .resolves(phase('COMPLETED', { buildComplete: true, buildStatus: 'SUCCEEDED' }));
    const s = step(cbApp);
    await new CodeBuildBuilder({ clients, registry, settings, poll }).build(s.build('1.4.2'));

    expect(codebuild.commandCalls(StartBuildCommand).map((c) => c.args[0].input)).toEqual([
      {
        projectName: 'search-svc-image',
        sourceVersion: '1.4.2',
        idempotencyToken: `kubecontrol-${s.ctx.deployId}-1.4.2`,
        environmentVariablesOverride: [
          { name: 'IMAGE_TAG', value: '1.4.2', type: 'PLAINTEXT' },
          { name: 'IMAGE_REPO', value: `${REGISTRY}/search-svc`, type: 'PLAINTEXT' },
        ],
      },
    ]);
    expect(s.lines).toEqual([
      `CodeBuild search-svc-image started build ${BUILD_ID} at 1.4.2`,
      'CodeBuild phase SUBMITTED',
      'CodeBuild phase PROVISIONING',
      'CodeBuild phase BUILD',
      'CodeBuild phase POST_BUILD',
      'CodeBuild phase COMPLETED',
    ]);
  });

  it("fails with the build's own phase error", async () => {
    codebuild.on(StartBuildCommand).resolves({ build: { id: BUILD_ID } });
    codebuild.on(BatchGetBuildsCommand).resolves({
      builds: [
        {
          id: BUILD_ID,
          currentPhase: 'COMPLETED',
          buildComplete: true,
          buildStatus: 'FAILED',
          phases: [
            { phaseType: 'SUBMITTED', phaseStatus: 'SUCCEEDED' },
            { phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: docker buildx build --push . Reason: exit status 1' }] },
            { phaseType: 'COMPLETED' },
          ],
        },
      ],
    });
    const s = step(cbApp);
    await expect(new CodeBuildBuilder({ clients, registry, settings, poll }).build(s.build('1.4.2'))).rejects.toThrow(
      `CodeBuild build ${BUILD_ID} of search-svc-image FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker buildx build --push . Reason: exit status 1`,
    );
  });

  it('stops the build when the step is cancelled', async () => {
    codebuild.on(StartBuildCommand).resolves({ build: { id: BUILD_ID } });
    codebuild.on(StopBuildCommand).resolves({});
    const s = step(cbApp);
    codebuild.on(BatchGetBuildsCommand).callsFake(() => {
      s.controller.abort(new Error('deploy cancelled'));
      return phase('BUILD');
    });
    await expect(new CodeBuildBuilder({ clients, registry, settings, poll }).build(s.build('1.4.2'))).rejects.toMatchObject({
      code: 'aborted',
      message: `CodeBuild build ${BUILD_ID} aborted: deploy cancelled`,
    });
    expect(codebuild.commandCalls(StopBuildCommand).map((c) => c.args[0].input)).toEqual([{ id: BUILD_ID }]);
  });

  it('reports a StartBuild failure with its code', async () => {
    codebuild.on(StartBuildCommand).rejects(Object.assign(new Error('Project cannot be found: arn:aws:codebuild:eu-west-1:123456789012:project/search-svc-image'), { name: 'ResourceNotFoundException' }));
    const s = step(cbApp);
    const err = await new CodeBuildBuilder({ clients, registry, settings, poll }).build(s.build('1.4.2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as InfraError).message).toMatch(/^CodeBuild StartBuild failed: ResourceNotFoundException: Project cannot be found/);
    expect((err as InfraError).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('CommandBuilder', () => {
  const SECRET = 'ghp_s3cr3tV4lue0fTheT0ken';
  const env = { PATH: process.env.PATH, REGISTRY_TOKEN: SECRET, DOCKER_PASSWORD: 'hunter22', LOG_LEVEL: 'info' };
  const script = [
    "console.log('building ' + process.argv[1] + ' as ' + process.argv[2]);",
    "console.log('auth with ' + process.env.REGISTRY_TOKEN + ' / ' + process.env.DOCKER_PASSWORD);",
    "console.error('literal: ' + process.argv[3]);",
    "console.log('level ' + process.env.LOG_LEVEL + ', pushed ' + process.env.IMAGE);",
  ].join('\n');
  const commandApp = (argv: string[]) => withAws(searchSvc, { buildCommand: argv, builder: 'command' });

  it('runs the argument vector without a shell, substitutes {version} and {image}, streams lines with secrets masked', async () => {
    const s = step(commandApp([process.execPath, '-e', script, '{version}', '{image}', '$(echo pwned); echo $HOME']));
    await new CommandBuilder({ registry, settings, env }).build(s.build('1.4.2'));
    const out = s.lines.slice(1);
    expect(out).toEqual(
      expect.arrayContaining([
        `building 1.4.2 as ${REGISTRY}/search-svc:1.4.2`,
        'auth with *** / ***',
        // No shell: the metacharacters arrive as they were written.
        'literal: $(echo pwned); echo $HOME',
        `level info, pushed ${REGISTRY}/search-svc:1.4.2`,
      ]),
    );
    expect(out).toHaveLength(4);
    expect(s.lines.join('\n')).not.toContain(SECRET);
    expect(s.lines.join('\n')).not.toContain('hunter22');
  });

  it('fails with the exit code and the last lines of output', async () => {
    const s = step(commandApp([process.execPath, '-e', `console.log('step 1'); console.error('error: token ${SECRET} rejected'); process.exit(3)`]));
    const err = (await new CommandBuilder({ registry, settings, env }).build(s.build('1.4.2')).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/exited with code 3; last output:\n/);
    expect(err.message).toContain('error: token *** rejected');
    expect(err.message).not.toContain(SECRET);
  });

  it('fails clearly when the command does not exist', async () => {
    const s = step(commandApp(['/nonexistent/docker', 'buildx', 'build']));
    await expect(new CommandBuilder({ registry, settings, env }).build(s.build('1.4.2'))).rejects.toThrow(
      'build command /nonexistent/docker could not start: ENOENT',
    );
  });

  it('kills the build when the step is cancelled', async () => {
    const s = step(commandApp([process.execPath, '-e', "console.log('pid ' + process.pid); setInterval(() => {}, 1000)"]));
    const ctx = {
      ...s.ctx,
      progress: (m: string) => {
        s.lines.push(m);
        if (m.startsWith('pid ')) s.controller.abort(new Error('deploy cancelled by carol'));
      },
    };
    await expect(new CommandBuilder({ registry, settings, env, killGraceMs: 50 }).build({ ...s.build('1.4.2'), ctx })).rejects.toMatchObject({
      code: 'aborted',
      message: expect.stringContaining('deploy cancelled by carol'),
    });
    const pid = Number(s.lines.find((l) => l.startsWith('pid '))!.slice(4));
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('masks only values of secret-looking variables', () => {
    const mask = secretMasker({ API_KEY: 'abcd1234', GITHUB_TOKEN: 'tok-xyz', NAME: 'abcd1234-public', SHORT_SECRET: 'ab' });
    expect(mask('key=abcd1234 token=tok-xyz name=plain')).toBe('key=*** token=*** name=plain');
  });
});

describe('AppBuilder', () => {
  const recorder = (): Builder & { calls: string[] } => {
    const calls: string[] = [];
    return { calls, build: async ({ image }) => void calls.push(image.tag) };
  };

  it('fails clearly when neither the app nor the settings name a builder', async () => {
    const s = step(searchSvc);
    await expect(new AppBuilder(registry, () => recorder(), settings).build(s.build('1.4.2'))).rejects.toMatchObject({
      code: 'misconfigured',
      message: 'no builder configured for search-svc: set aws.codeBuildProject or aws.buildCommand (or KUBECONTROL_CODEBUILD_PROJECT or KUBECONTROL_BUILD_COMMAND)',
    });
    await expect(new AppBuilder(registry, () => recorder(), awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' })).build(step(withAws(searchSvc, { builder: 'none' })).build('1.4.2'))).rejects.toThrow(
      "no builder configured for search-svc: aws.builder is 'none'",
    );
  });

  it("uses the settings' CodeBuild project or build command for an app that names no builder", async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.4.2'] }] });
    const kinds: string[] = [];
    const pick = (k: string) => (kinds.push(k), recorder());
    await new AppBuilder(registry, pick, awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' })).build(step(searchSvc).build('1.4.2'));
    await new AppBuilder(registry, pick, awsSettings({ KUBECONTROL_BUILD_COMMAND: 'make,image' })).build(step(searchSvc).build('1.4.2'));
    // The app's own choice wins over the settings'.
    await new AppBuilder(registry, pick, awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' })).build(step(withAws(searchSvc, { buildCommand: ['make'] })).build('1.4.2'));
    expect(kinds).toEqual(['codebuild', 'command', 'command']);

    codebuild.on(StartBuildCommand).resolves({ build: { id: BUILD_ID } });
    codebuild.on(BatchGetBuildsCommand).resolves(phase('COMPLETED', { buildComplete: true, buildStatus: 'SUCCEEDED' }));
    const s = step(withAws(searchSvc, { builder: 'codebuild' }));
    await new CodeBuildBuilder({ clients, registry, settings: awsSettings({ KUBECONTROL_CODEBUILD_PROJECT: 'all-apps' }), poll }).build(s.build('1.4.2'));
    expect(codebuild.commandCalls(StartBuildCommand)[0]!.args[0].input.projectName).toBe('all-apps');
    await expect(new CodeBuildBuilder({ clients, registry, settings, poll }).build(s.build('1.4.2'))).rejects.toThrow(
      'no CodeBuild project configured for search-svc: set aws.codeBuildProject or KUBECONTROL_CODEBUILD_PROJECT',
    );
  });

  it("uses the app's builder and then checks that the image is in ECR", async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.4.2'] }] });
    const cb = recorder();
    const kinds: string[] = [];
    const s = step(cbApp);
    await new AppBuilder(registry, (k) => (kinds.push(k), cb), settings).build(s.build('1.4.2'));
    expect(kinds).toEqual(['codebuild']);
    expect(cb.calls).toEqual(['1.4.2']);
    expect(s.lines.at(-1)).toBe(`image ${REGISTRY}/search-svc:1.4.2 is in ECR`);
    expect(ecr.commandCalls(DescribeImagesCommand)).toHaveLength(1);
  });

  it('fails when the build did not push the tag', async () => {
    ecr.on(DescribeImagesCommand).rejects(imageMissing());
    const s = step(cbApp);
    await expect(new AppBuilder(registry, () => recorder(), settings).build(s.build('1.4.2'))).rejects.toThrow(
      `the codebuild build of search-svc finished but ${REGISTRY}/search-svc:1.4.2 is not in ECR: the build must push exactly this tag`,
    );
  });

  it('uses the image when a failed build finds it pushed by an earlier, interrupted attempt', async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['1.4.2'] }] });
    const s = step(cbApp);
    const failing: Builder = { build: async () => Promise.reject(new Error('CodeBuild build b:2 of search-svc-image FAILED in phase POST_BUILD: tag invalid')) };
    await new AppBuilder(registry, () => failing, settings).build(s.build('1.4.2'));
    expect(s.lines.at(-1)).toMatch(/^the build failed \(CodeBuild build b:2 .*\) but .*search-svc:1\.4\.2 is in ECR, pushed by an earlier attempt; using it$/);
  });

  it('fails with the build error when the image is not there', async () => {
    ecr.on(DescribeImagesCommand).rejects(imageMissing());
    const s = step(cbApp);
    const failing: Builder = { build: async () => Promise.reject(new Error('CodeBuild build b:3 of search-svc-image FAILED in phase BUILD')) };
    await expect(new AppBuilder(registry, () => failing, settings).build(s.build('1.4.2'))).rejects.toThrow('CodeBuild build b:3 of search-svc-image FAILED in phase BUILD');
  });
});
