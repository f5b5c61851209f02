/**
 * The CLI's errors, through its real entry (runCli, in-process) and the real
 * server: each says what was wrong, never the API's request format; `--json`
 * prints one JSON object on stdout for errors too; an unreachable server is
 * named with how to point the CLI elsewhere; `--version` needs no server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { runCli } from '../cli/run.js';
import { startHarness, type Harness } from './helpers/harness.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

/** A loopback URL where nothing listens (a port just freed). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('kubecontrol --version', () => {
  it('prints the package version, without a server', async () => {
    const url = await deadUrl();
    for (const flag of ['--version', '-V']) {
      const run = await cli('--url', url, flag);
      expect(run).toEqual({ code: 0, stdout: `${PACKAGE_VERSION}\n`, stderr: '' });
    }
  });
});

describe('the CLI without a server', () => {
  let url: string;
  beforeAll(async () => {
    url = await deadUrl();
  });

  it('names the URL it tried and how to point it elsewhere (exit 6)', async () => {
    const run = await cli('--url', url, 'status');
    const port = Number(new URL(url).port);
    expect(run.code).toBe(6);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `✗ cannot reach the kubecontrol server at ${url} (ECONNREFUSED): start it with \`npm start\` ` +
        `or set KUBECONTROL_URL if it runs elsewhere (e.g. KUBECONTROL_URL=http://127.0.0.1:${port + 1})\n`,
    );
  });

  it('with --json prints the error as one JSON object on stdout, nothing else, same exit code', async () => {
    const run = await cli('--url', url, '--json', 'status');
    expect(run.code).toBe(6);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ status: 'error', code: 'unreachable', message: expect.stringContaining(`cannot reach the kubecontrol server at ${url}`), exitCode: 6 });
  });

  it('with --json prints usage errors as JSON too (exit 2)', async () => {
    for (const argv of [['deploy', 'search-svc'], ['bogus'], ['follow', 'abc'], ['--as', '', 'status']]) {
      const run = await cli('--url', url, '--json', ...argv);
      expect({ argv, code: run.code, stderr: run.stderr }).toEqual({ argv, code: 2, stderr: '' });
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toEqual({ status: 'error', code: 'usage', message: expect.any(String), exitCode: 2 });
    }
    const missing = await cli('--url', url, '--json', 'deploy', 'search-svc');
    expect(JSON.parse(missing.stdout).message).toBe("missing required argument 'version'");
  });

  it('refuses `--as ""` (exit 2) instead of acting as the OS user, before any request', async () => {
    const run = await cli('--url', url, '--as', '', 'status');
    expect(run).toEqual({ code: 2, stdout: '', stderr: "✗ --as needs a person's name\n" });
  });

  it('says a deploy id must be a number (exit 2), before any request', async () => {
    const run = await cli('--url', url, 'follow', 'abc');
    expect(run).toEqual({ code: 2, stdout: '', stderr: '✗ deploy id must be a number (got: abc)\n' });
  });
});

describe('the CLI against the server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('names the step it does not know, not the request format (exit 2)', async () => {
    const run = await cli('--url', h.url, 'faults', 'add', 'provison', 'fail');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('✗ step "provison" is not one of build, provision, deploy, cutover, teardown\n');
    expect(run.stderr).not.toMatch(/send \{/);
    const json = await cli('--url', h.url, '--json', 'faults', 'add', 'build', 'explode');
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({ status: 'error', code: 'bad_request', message: 'fault "explode" is not one of fail, timeout, unhealthy, throttle', exitCode: 2 });
  });

  it('says which word is too long, not the request format (exit 2)', async () => {
    const version = 'v'.repeat(3000);
    const run = await cli('--url', h.url, '--as', 'alice', 'deploy', 'search-svc', version, '--dry-run');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`✗ the version is too long: "${'v'.repeat(40)}"… (3,000 characters); at most 1,000 characters\n`);
    const json = await cli('--url', h.url, '--json', '--as', 'alice', 'deploy', 'search-svc', version, '--dry-run');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'error', code: 'bad_request', message: expect.stringMatching(/^the version is too long/), exitCode: 2 });
  });

  it('passes on the API’s own message when it has one, as JSON with --json', async () => {
    const run = await cli('--url', h.url, 'follow', '#99999');
    expect(run).toEqual({ code: 4, stdout: '', stderr: '✗ there is no deploy #99999\n' });
    const json = await cli('--url', h.url, '--json', 'follow', '99999');
    expect(json.code).toBe(4);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({ status: 'error', code: 'unknown_deploy', message: 'there is no deploy #99999', exitCode: 4 });
  });

  it('prints a command result the core refused as JSON with its exit code', async () => {
    const json = await cli('--url', h.url, '--json', '--as', 'alice', 'status', 'no-such-app');
    expect(json.stderr).toBe('');
    const body = JSON.parse(json.stdout) as { status: string; exitCode: number };
    expect(body.status).not.toBe('ok');
    expect(json.code).toBe(body.exitCode);
  });
});

describe('the CLI against a server in token mode', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'token' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('prints the API’s refusals (401, 403 for --as) as JSON with --json, exit 3', async () => {
    const none = await cli('--url', h.url, '--token', 'kc_not-a-token', '--json', 'status');
    expect(none.code).toBe(3);
    expect(none.stderr).toBe('');
    expect(JSON.parse(none.stdout)).toEqual({ status: 'error', code: 'unauthenticated', message: 'this token is unknown or revoked', exitCode: 3 });
    const token = h.k.store.tokens.create('carol');
    const as = await cli('--url', h.url, '--token', token, '--as', 'alice', '--json', 'status');
    expect(as.code).toBe(3);
    expect(JSON.parse(as.stdout)).toMatchObject({ status: 'error', code: 'as_refused', exitCode: 3 });
    const text = await cli('--url', h.url, '--token', token, '--as', 'alice', 'status');
    expect(text).toEqual({ code: 3, stdout: '', stderr: '✗ --as is only available in local mode; the server knows you by your token\n' });
  });
});
