import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../system/config.js';

const run = promisify(execFile);

function problems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a configuration error');
}

describe('server configuration', () => {
  it('defaults to local mode on the sandbox, on loopback', () => {
    expect(loadConfig({})).toMatchObject({ host: '127.0.0.1', port: 3000, provider: 'sandbox', auth: 'local', sandboxScale: 0.005, concurrency: 4, slack: undefined });
    expect(loadConfig({ KUBECONTROL_PROVIDER: 'aws' }).auth).toBe('token');
    expect(loadConfig({ KUBECONTROL_APPROVAL_TIMEOUT: '90s' }).approvalTimeoutMs).toBe(90_000);
  });

  it('names each bad variable with its value, one line each, and never echoes a secret', () => {
    const lines = problems({
      KUBECONTROL_PORT: 'eighty',
      KUBECONTROL_PROVIDER: 'gcp',
      KUBECONTROL_CONCURRENCY: '0',
      KUBECONTROL_APPROVAL_TIMEOUT: 'soon',
      SLACK_SIGNING_SECRET: 'shh-very-secret',
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^KUBECONTROL_PORT: .*\(got: "eighty"\)$/),
        expect.stringMatching(/^KUBECONTROL_PROVIDER: .*\(got: "gcp"\)$/),
        expect.stringMatching(/^KUBECONTROL_CONCURRENCY: .*\(got: "0"\)$/),
        expect.stringMatching(/^KUBECONTROL_APPROVAL_TIMEOUT: must be a duration like 90s, 10m or 2h \(got: "soon"\)$/),
        'SLACK_BOT_TOKEN: Slack is half configured: SLACK_BOT_TOKEN is missing',
      ]),
    );
    expect(lines.join('\n')).not.toContain('shh-very-secret');
  });

  it('refuses to serve the unauthenticated local mode beyond loopback', () => {
    expect(problems({ KUBECONTROL_HOST: '0.0.0.0' })).toEqual([
      'KUBECONTROL_HOST: local mode is unauthenticated and only listens on loopback (got: 0.0.0.0); set KUBECONTROL_AUTH=token to listen on other addresses',
    ]);
    expect(loadConfig({ KUBECONTROL_HOST: '0.0.0.0', KUBECONTROL_AUTH: 'token' }).auth).toBe('token');
  });

  it('`npm start` with a bad configuration exits 2 with the problems and no stack trace', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'system/main.ts'], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, KUBECONTROL_PORT: '99999', KUBECONTROL_PROVIDER: 'gcp' },
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/^kubecontrol: Bad configuration:\n {2}- KUBECONTROL_PORT: .*"99999"/);
    expect(err?.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
