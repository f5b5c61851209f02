import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defineKubeApp, KubeAppError, loadKubeApps, type KubeAppProps } from '../kubeapps/index.js';

const run = promisify(execFile);
const KUBEAPPS = new URL('../kubeapps/', import.meta.url).pathname;
const base: KubeAppProps = {
  name: 'demo',
  image: { repository: 'demo' },
  pods: { containers: [{ name: 'app', ports: [{ containerPort: 9090 }] }] },
  owners: ['alice'],
};

function problemsOf(props: unknown): readonly string[] {
  try {
    defineKubeApp(props as KubeAppProps);
  } catch (err) {
    expect(err).toBeInstanceOf(KubeAppError);
    expect((err as KubeAppError).message).toContain('KubeApp');
    return (err as KubeAppError).problems;
  }
  throw new Error('expected the definition to be rejected');
}

describe('KubeApps as code', () => {
  it('applies the shared defaults field by field', () => {
    const app = defineKubeApp(base);
    expect(app.hardware).toEqual({ instanceTypes: ['m6i.large'], minNodes: 2, maxNodes: 6, desiredNodes: 2, spot: false, arch: 'amd64', capacity: 'nodes' });
    expect(app.pods.containers.map((c) => [c.name, c.role])).toEqual([
      ['app', 'app'],
      ['metrics', 'metrics'],
      ['logging', 'logging'],
    ]);
    expect(app.pods.containers[0]).toMatchObject({ image: 'demo', tag: undefined, resources: { cpu: '250m', memory: '256Mi', cpuLimit: '250m', memoryLimit: '256Mi' } });
    expect(app.service).toEqual({ port: 80, targetPort: 9090, loadBalancer: 'internal', healthCheckPath: '/healthz' });
    expect(app.dns).toEqual({ zone: 'example.com', name: 'demo.example.com', ttlSeconds: 60 });
    expect(app.approvers).toEqual(['alice']); // owners approve unless approvers are named
    expect(app.strategy).toBe('blue-green');
  });

  it('lets an app remove or replace a default sidecar, and picks arm64 instance types for arm64', () => {
    const app = defineKubeApp({
      ...base,
      hardware: { arch: 'arm64' },
      pods: { ...base.pods, sidecars: { metrics: false, logging: { name: 'vector', image: 'timberio/vector', tag: '0.40.0' } } },
    });
    expect(app.pods.containers.map((c) => `${c.name}:${c.role}`)).toEqual(['app:app', 'vector:logging']);
    expect(app.hardware.instanceTypes).toEqual(['m7g.large']);
  });

  it.each([
    [{ ...base, name: 'Search_Svc' }, /^name must be a lowercase DNS label .*\(got: "Search_Svc"\)/],
    [{ ...base, hardware: { minNodes: 5, maxNodes: 2 } }, /^hardware\.minNodes must be at most hardware\.maxNodes \(got: minNodes=5, maxNodes=2\)/],
    [{ ...base, hardware: { arch: 'arm64', instanceTypes: ['m6i.large'] } }, /^hardware\.instanceTypes must match arch 'arm64' \(got: m6i\.large\)/],
    [{ ...base, hardware: { capacity: 'fargate', spot: true } }, /^hardware\.spot cannot be set with capacity 'fargate' \(got: true\)/],
    [{ ...base, hardware: { arch: 'x86' } }, /^hardware\.arch .*\(got: "x86"\)/],
    [{ ...base, pods: { containers: [] } }, /^pods\.containers needs at least one container \(got: \[\]\)/],
    [{ ...base, pods: { containers: [{ name: 'app', resources: { cpu: 'lots', memory: '1Gi' } }] } }, /^pods\.containers\[0\]\.resources\.cpu must be a Kubernetes quantity .*\(got: "lots"\)/],
    [{ ...base, service: { port: 70000 } }, /^service\.port .*\(got: 70000\)/],
    [{ ...base, service: { healthCheckPath: 'healthz' } }, /^service\.healthCheckPath must be a path starting with '\/' \(got: "healthz"\)/],
    [{ ...base, dns: { name: 'demo.other.org' } }, /^dns\.name must be inside zone example\.com \(got: demo\.other\.org\)/],
    [{ ...base, owners: [] }, /^owners needs at least one owner/],
    [{ ...base, refresh: { schedule: 'every night' } }, /^refresh\.schedule must be a cron expression .*\(got: "every night"\)/],
    [{ ...base, replicas: 3 }, /^\(root\): unknown field 'replicas'/],
    [{ ...base, aws: { region: 'europe' } }, /^aws\.region must be an AWS region like eu-west-1 \(got: "europe"\)/],
    [{ ...base, aws: { ecrRegistry: '' } }, /^aws\.ecrRegistry .*\(got: ""\)/],
  ])('rejects a broken definition naming the field and the value (%#)', (props, message) => {
    const problems = problemsOf(props);
    expect(problems.some((p) => message.test(p))).toBe(true);
  });

  it("resolves the KubeApp's own AWS values and leaves account placement to the aws provider", () => {
    expect(defineKubeApp(base).aws).toEqual({
      region: 'us-east-1',
      kubernetesVersion: '1.31',
      builder: 'none',
      buildCommand: [],
      createRepository: true,
      defaulted: { region: true, builder: true },
    });
    const own = defineKubeApp({ ...base, aws: { region: 'eu-west-1', codeBuildProject: 'demo-image', subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'] } }).aws;
    expect(own).toEqual({
      region: 'eu-west-1',
      kubernetesVersion: '1.31',
      builder: 'codebuild',
      buildCommand: [],
      createRepository: true,
      codeBuildProject: 'demo-image',
      subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
      defaulted: { region: false, builder: false },
    });
    // An explicit builder without its own project is not a definition problem: the provider's settings may have one.
    expect(defineKubeApp({ ...base, aws: { builder: 'codebuild' } }).aws).toMatchObject({ builder: 'codebuild', defaulted: { builder: false } });
  });

  it('reads nothing from the environment', async () => {
    const before = { ...process.env };
    process.env.KUBECONTROL_DNS_ZONE = 'corp.example';
    process.env.AWS_REGION = 'ap-south-1';
    process.env.KUBECONTROL_SUBNET_IDS = 'subnet-aaaa,subnet-bbbb';
    try {
      // Evaluated afresh with the variables set: the shared defaults do not change.
      const fresh = (await import(`../kubeapps/defaults.js?env=${Date.now()}`)) as typeof import('../kubeapps/defaults.js');
      expect(fresh.DEFAULTS.dnsZone).toBe('example.com');
      expect(fresh.DEFAULTS.aws.region).toBe('us-east-1');
      expect(defineKubeApp(base).dns.zone).toBe('example.com');
      expect(defineKubeApp(base).aws.subnetIds).toBeUndefined();
      // And no KubeApp module looks at process.env at all.
      for (const file of readdirSync(KUBEAPPS)) {
        if (file.endsWith('.ts')) expect([file, readFileSync(join(KUBEAPPS, file), 'utf8').includes('process.env')]).toEqual([file, false]);
      }
    } finally {
      process.env = before;
    }
  });

  it('names the app in the error', () => {
    expect(() => defineKubeApp({ ...base, name: 'payments', owners: [] })).toThrow(/KubeApp payments is invalid/);
  });

  it('loads the example apps: one arm64, one on Fargate', async () => {
    const { apps, problems } = await loadKubeApps();
    expect(problems).toEqual([]);
    expect(apps.map((a) => a.name).sort()).toEqual(['cache-worker', 'search-svc', 'web-frontend']);
    expect(apps.find((a) => a.hardware.arch === 'arm64')?.name).toBe('web-frontend');
    expect(apps.find((a) => a.hardware.capacity === 'fargate')?.name).toBe('cache-worker');
  });

  it('collects every problem of every app in a folder, without one broken file hiding the others', async () => {
    const { apps, problems } = await loadKubeApps(new URL('./fixtures/broken-kubeapps/', import.meta.url).pathname);
    expect(apps.map((a) => a.name)).toEqual(['good-svc', 'good-svc']);
    const bad = problems.find((p) => p.app === 'bad-svc');
    expect(bad?.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pods\.containers\[0\]\.resources\.cpu .*"lots"/),
        expect.stringMatching(/^service\.port .*70000/),
        expect.stringMatching(/^owners needs at least one owner/),
      ]),
    );
    expect(problems.some((p) => p.problems.some((l) => l === 'name good-svc is also used by good-svc'))).toBe(true);
  });

  it('`kubecontrol apps validate` prints every problem and exits 2', async () => {
    const dir = new URL('./fixtures/broken-kubeapps/', import.meta.url).pathname;
    const cli = new URL('../cli/bin.js', import.meta.url).pathname;
    const err = await run(process.execPath, [cli, 'apps', 'validate', '--dir', dir]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/bad-svc \(bad-svc\.ts\)/);
    expect(err?.stderr).toMatch(/hardware\.minNodes must be at most hardware\.maxNodes|resources\.cpu/);
    const ok = await run(process.execPath, [cli, 'apps', 'validate']);
    expect(ok.stdout).toMatch(/✓ search-svc/);
  }, 30_000);
});
