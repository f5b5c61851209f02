/**
 * What stops the start, and what it only warns about: a KUBECONTROL_DRAIN
 * shorter than an app's DNS TTL, and the provider's preflight (its problems
 * stop the start one line each; its warnings are logged and shown by
 * /api/info; a preflight that cannot reach the cloud is a problem, not a crash).
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ManualClock } from '../deployer/clock.js';
import type { PreflightApp, PreflightReport, Provider } from '../deployer/ports.js';
import { createSandboxProvider } from '../deployer/sandbox/index.js';
import { loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import { createLogger } from '../system/logger.js';
import { startKubecontrol, StartupError, type StartOptions } from '../system/compose.js';
import { testConfig } from './helpers/harness.js';
import { logChunks } from './helpers/log-sink.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

async function apps(): Promise<KubeApp[]> {
  return [...(await loadKubeApps(undefined)).apps];
}

/** The sandbox with a preflight. */
function withPreflight(preflight: (cmd: { apps: readonly PreflightApp[]; signal?: AbortSignal }) => Promise<PreflightReport>): StartOptions['provider'] {
  return ({ store, clock, installation }) => ({ ...createSandboxProvider(store, { scale: 1, clock, installation }), preflight }) satisfies Provider;
}

/** Starts, expecting a StartupError; returns its lines. */
async function refused(options: StartOptions, drainMs?: number): Promise<readonly string[]> {
  const err = await startKubecontrol(testConfig(drainMs !== undefined ? { drainMs } : {}), { logger: createLogger('silent'), clock: new ManualClock(), ...options }).then(
    async (k) => {
      await k.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StartupError);
  return (err as StartupError).problems;
}

describe('KUBECONTROL_DRAIN and the records’ TTL', () => {
  it('a drain shorter than the longest TTL of the apps is refused at start, naming the variable, the value and the app', async () => {
    const list = (await apps()).map((a) => (a.name === 'web-frontend' ? { ...a, dns: { ...a.dns, ttlSeconds: 300 } } : a));
    expect(await refused({ apps: list }, 120_000)).toEqual([
      'KUBECONTROL_DRAIN: 2m 00s is shorter than the DNS TTL of web-frontend (web-frontend.example.com, 300s): ' +
        "resolvers could still send traffic to an old cluster after it is deleted; set it to at least 300s, or leave it unset for the provider's drain",
    ]);
    // As long as the longest TTL: the start goes on, and the teardown's "≥ DNS TTL" is true.
    const k = await startKubecontrol(testConfig({ drainMs: 300_000 }), { logger: createLogger('silent'), clock: new ManualClock(), apps: list });
    expect(k.provider.drainMs({ record: { name: 'x', ttlSeconds: 300, app: 'web-frontend', port: 443 } })).toBe(300_000);
    await k.close();
  });

  it('`npm start` with KUBECONTROL_DRAIN=30s exits 2 with that one line and no stack trace', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'system/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, KUBECONTROL_PORT: '0', KUBECONTROL_DRAIN: '30s', KUBECONTROL_DB: ':memory:', KUBECONTROL_LOG_LEVEL: 'silent' },
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/^kubecontrol cannot start:\n {2}- KUBECONTROL_DRAIN: 30\.0s is shorter than the DNS TTL of \S+ \(\S+, 60s\): .*set it to at least 60s/);
    expect(err?.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});

describe('the provider’s preflight at start', () => {
  it('is told each app with its cluster spec; its problems stop the start, one line each', async () => {
    let told: readonly PreflightApp[] = [];
    const problems = await refused({
      provider: withPreflight(async ({ apps: list }) => {
        told = list;
        return {
          problems: ['search-svc: aws.kubernetesVersion "1.31" cannot be created by EKS any more (extended support ended 2026-11-26); the newest in standard support is 1.35'],
          warnings: ['web-frontend: Kubernetes 1.34 leaves standard support on 2026-12-02'],
        };
      }),
    });
    expect(problems).toEqual([
      'sandbox provider: search-svc: aws.kubernetesVersion "1.31" cannot be created by EKS any more (extended support ended 2026-11-26); the newest in standard support is 1.35',
    ]);
    expect(told.map((a) => a.app).sort()).toEqual((await apps()).map((a) => a.name).sort());
    expect(told.find((a) => a.app === 'web-frontend')!.cluster).toMatchObject({ name: '<preflight>', app: 'web-frontend', capacity: { kind: 'nodes', arch: 'arm64' } });
  });

  it('its warnings are logged, kept with the running system and shown by /api/info', async () => {
    const lines: string[] = [];
    const sink = logChunks(lines);
    const warning = 'web-frontend: Kubernetes 1.34 leaves standard support on 2026-12-02 (in 2 days); set aws.kubernetesVersion to 1.35';
    const k = await startKubecontrol(testConfig(), {
      logger: createLogger('warn', sink),
      clock: new ManualClock(),
      provider: withPreflight(async () => ({ problems: [], warnings: [warning] })),
    });
    try {
      expect(k.warnings).toEqual([warning]);
      const info = (await (await fetch(`${k.url}/api/info`)).json()) as { warnings: string[] };
      expect(info.warnings).toEqual([warning]);
      expect(lines.map((l) => JSON.parse(l) as { level: number; msg: string; warning: string })).toContainEqual(
        expect.objectContaining({ level: 40, msg: `preflight: ${warning}`, warning }),
      );
    } finally {
      await k.close();
    }
  });

  it('without a preflight, /api/info lists no warnings', async () => {
    const k = await startKubecontrol(testConfig(), { logger: createLogger('silent'), clock: new ManualClock() });
    try {
      expect(((await (await fetch(`${k.url}/api/info`)).json()) as { warnings: string[] }).warnings).toEqual([]);
    } finally {
      await k.close();
    }
  });

  it('a preflight that cannot reach the cloud is a problem line saying so, not a crash', async () => {
    const problems = await refused({
      provider: withPreflight(async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND eks.us-east-1.amazonaws.com'), { code: 'ENOTFOUND' });
      }),
    });
    expect(problems).toEqual([
      'sandbox provider: the start-up check could not reach the cloud (getaddrinfo ENOTFOUND eks.us-east-1.amazonaws.com); check the network and the credentials, then start again',
    ]);
  });

  it('a preflight that never answers stops the start after its limit (on the clock)', async () => {
    const clock = new ManualClock();
    let asked = false;
    const starting = startKubecontrol(testConfig(), {
      logger: createLogger('silent'),
      clock,
      provider: withPreflight(() => {
        asked = true;
        return new Promise<never>(() => {});
      }),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await clock.runUntil(() => asked);
    await clock.advance(2 * 60_000);
    const err = await starting;
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).problems).toEqual([
      'sandbox provider: the start-up check could not reach the cloud (no answer within 2m 00s); check the network and the credentials, then start again',
    ]);
  });
});
