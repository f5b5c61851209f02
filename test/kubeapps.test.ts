import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defineKubeApp, KubeAppError, loadKubeApps, quantityValue, type KubeAppProps } from '../kubeapps/index.js';

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
    expect(app.hardware).toEqual({ instanceTypes: ['m6i.large'], minNodes: 2, maxNodes: 6, desiredNodes: 2, spot: false, arch: 'amd64', capacity: 'auto' });
    // No default sidecars: observability is node-level, so nothing of kubecontrol's can break a rollout.
    expect(app.pods.containers.map((c) => [c.name, c.role])).toEqual([['app', 'app']]);
    expect(app.secrets).toEqual([]);
    expect(app.pods.containers[0]).toMatchObject({ image: 'demo', tag: undefined, resources: { cpu: '250m', memory: '256Mi', cpuLimit: '250m', memoryLimit: '256Mi' } });
    expect(app.service).toEqual({ port: 80, targetPort: 9090, loadBalancer: 'internal', healthCheckPath: '/healthz' });
    expect(app.dns).toEqual({ zone: 'example.com', name: 'demo.example.com', ttlSeconds: 60 });
    expect(app.approvers).toEqual(['alice']); // owners approve unless approvers are named
    expect(app.strategy).toBe('blue-green');
  });

  it('lets an app add its own sidecars, and picks arm64 instance types for arm64', () => {
    const app = defineKubeApp({
      ...base,
      hardware: { arch: 'arm64' },
      pods: { ...base.pods, sidecars: [{ name: 'vector', image: 'timberio/vector', tag: '0.40.0' }, { name: 'proxy', image: 'envoyproxy/envoy' }] },
    });
    expect(app.pods.containers.map((c) => `${c.name}:${c.role}:${c.tag}`)).toEqual(['app:app:undefined', 'vector:sidecar:0.40.0', 'proxy:sidecar:latest']);
    expect(app.hardware.instanceTypes).toEqual(['m7g.large']);
  });

  it('keeps the opt-out of Pod Security "restricted", TLS, the pod role and secrets', () => {
    const app = defineKubeApp({
      ...base,
      pods: { containers: [{ name: 'app', unrestricted: '  binds port 80 as root ' }] },
      service: { port: 443, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
      aws: { podRoleArn: 'arn:aws:iam::123456789012:role/demo', supportType: 'EXTENDED', kubernetesVersion: '1.33' },
      secrets: [{ name: 'db', secretId: 'prod/db' }],
    });
    expect(app.pods.containers[0]!.unrestricted).toBe('binds port 80 as root');
    expect(app.service.certificateArn).toBe('arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    expect(app.aws).toMatchObject({ podRoleArn: 'arn:aws:iam::123456789012:role/demo', supportType: 'EXTENDED', kubernetesVersion: '1.33' });
    expect(app.secrets).toEqual([{ name: 'db', secretId: 'prod/db' }]);
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
    // What Kubernetes or AWS would refuse, refused here.
    [{ ...base, pods: { containers: [{ name: 'app', resources: { cpu: '500m', memory: '1Gi', cpuLimit: '250m' } }] } },
      /^pods\.containers\[0\]\.resources\.cpuLimit must be at least the CPU request.*\(got: cpuLimit "250m" < cpu "500m"\)/],
    [{ ...base, pods: { containers: [{ name: 'app', resources: { cpu: '1', memory: '1Gi', cpuLimit: '900m' } }] } }, /cpuLimit "900m" < cpu "1"/],
    [{ ...base, pods: { containers: [{ name: 'app', resources: { cpu: '1', memory: '1Gi', memoryLimit: '1000Mi' } }] } },
      /^pods\.containers\[0\]\.resources\.memoryLimit must be at least the memory request.*\(got: memoryLimit "1000Mi" < memory "1Gi"\)/],
    [{ ...base, pods: { containers: [{ name: 'app', resources: { cpu: '1', memory: '1G', memoryLimit: '953Mi' } }] } }, /memoryLimit "953Mi" < memory "1G"/],
    [{ ...base, pods: { containers: [{ name: 'app', ports: [{ name: 'HTTP_API', containerPort: 80 }] }] } },
      /^pods\.containers\[0\]\.ports\[0\]\.name must be an IANA service name.*\(got: "HTTP_API"\)/],
    [{ ...base, pods: { containers: [{ name: 'app', ports: [{ name: 'grpc--api', containerPort: 80 }] }] } }, /ports\[0\]\.name must be an IANA service name.*"grpc--api"/],
    [{ ...base, pods: { containers: [{ name: 'app', ports: [{ name: '8080', containerPort: 80 }] }] } }, /ports\[0\]\.name must be an IANA service name.*"8080"/],
    [{ ...base, pods: { containers: [{ name: 'app', ports: [{ name: 'metrics-exporter', containerPort: 80 }] }] } }, /ports\[0\]\.name .*"metrics-exporter"/],
    [{ ...base, pods: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 80 }, { name: 'http', containerPort: 81 }] }] } },
      /^pods\.containers\[0\]\.ports\[1\]\.name is also the name of pods\.containers\[0\]\.ports\[0\] \(got: "http"\)/],
    [{ ...base, pods: { containers: [{ name: 'Api_Server' }] } }, /^pods\.containers\[0\]\.name must be a DNS label.*\(got: "Api_Server"\)/],
    [{ ...base, pods: { containers: [{ name: 'app' }], sidecars: [{ name: 'app', image: 'x' }] } }, /^pods\.sidecars\[0\]\.name is also the name of pods\.containers\[0\] \(got: "app"\)/],
    [{ ...base, pods: { containers: [{ name: 'app' }], sidecars: [{ name: 'proxy' }] } }, /^pods\.sidecars\[0\]\.image .*\(got: nothing\)/],
    [{ ...base, pods: { containers: [{ name: 'app', unrestricted: ' ' }] } }, /^pods\.containers\[0\]\.unrestricted must say why .*\(got: " "\)/],
    [{ ...base, pods: { sidecars: { metrics: false }, containers: [{ name: 'app' }] } }, /^pods\.sidecars .*\(got: \{"metrics":false\}\)/],
    [{ ...base, aws: { kubernetesVersion: '1.3' } }, /^aws\.kubernetesVersion must be a Kubernetes minor version like 1\.34 \(got: "1\.3"\)/],
    [{ ...base, aws: { kubernetesVersion: 'v1.34' } }, /^aws\.kubernetesVersion .*\(got: "v1\.34"\)/],
    [{ ...base, aws: { supportType: 'LONG' } }, /^aws\.supportType .*\(got: "LONG"\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:user/bob' } }, /^aws\.podRoleArn must be an IAM role ARN .*\(got: "arn:aws:iam::123456789012:user\/bob"\)/],
    [{ ...base, aws: { fargateSubnetIds: ['subnet-xyz'] } }, /^aws\.fargateSubnetIds\[0\] must be a subnet id \(got: "subnet-xyz"\)/],
    [{ ...base, service: { certificateArn: 'arn:aws:acm:us-east-1:1234:certificate/abc' } },
      /^service\.certificateArn must be an ACM certificate ARN .*\(got: "arn:aws:acm:us-east-1:1234:certificate\/abc"\)/],
    [{ ...base, service: { certificateArn: 'arn:aws:iam::123456789012:server-certificate/abc' } }, /^service\.certificateArn must be an ACM certificate ARN/],
    [{ ...base, aws: { region: 'eu-west-1' }, service: { certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' } },
      /^service\.certificateArn must be in the app's region eu-west-1.*\(got: "arn:aws:acm:us-east-1:123456789012:certificate\/abc"\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' }, secrets: [{ name: 'db', secretId: 'a' }, { name: 'db', secretId: 'b' }] },
      /^secrets\[1\]\.name is also the name of secrets\[0\] \(got: "db"\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' }, secrets: [{ name: 'DB_PASSWORD', secretId: 'a' }] }, /^secrets\[0\]\.name must be a DNS label .*\(got: "DB_PASSWORD"\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' }, secrets: [{ name: '../etc', secretId: 'a' }] }, /^secrets\[0\]\.name must be a DNS label .*\(got: "\.\.\/etc"\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' }, secrets: [{ name: 'db', secretId: 'has space' }] }, /^secrets\[0\]\.secretId must be a Secrets Manager secret name or ARN .*\(got: "has space"\)/],
    [{ ...base, secrets: [{ name: 'db', secretId: 'prod/db' }] }, /^secrets need aws\.podRoleArn.*\(got: 1 secret\(s\), no aws\.podRoleArn\)/],
    [{ ...base, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' }, pods: { containers: [{ name: 'fetch-secrets' }] }, secrets: [{ name: 'db', secretId: 'prod/db' }] },
      /^pods\.containers\[0\]\.name is reserved for the container that fetches the app's secrets \(got: "fetch-secrets"\)/],
    [{ ...base, hardware: { capacity: 'fargate', instanceTypes: ['m6i.large'] } }, /^hardware\.instanceTypes cannot be set with capacity 'fargate' \(got: \["m6i\.large"\]\)/],
    [{ ...base, hardware: { capacity: 'fargate', maxNodes: 3 } }, /^hardware\.maxNodes cannot be set with capacity 'fargate' \(got: 3\)/],
    [{ ...base, hardware: { desiredNodes: 3 } }, /^hardware\.desiredNodes applies to capacity 'nodes' only.*\(got: 3, capacity 'auto'\)/],
    [{ ...base, hardware: { capacity: 'nodes', desiredNodes: 9 } }, /^hardware\.desiredNodes must be between minNodes and maxNodes \(got: 9, range 2-6\)/],
    [{ ...base, hardware: { capacity: 'karpenter' } }, /^hardware\.capacity .*\(got: "karpenter"\)/],
    [{ ...base, hardware: { instanceTypes: ['t3.small', 'c7g.medium', 'm6i.large'] } },
      /^hardware\.instanceTypes: EKS Auto Mode launches no instance smaller than 2 vCPUs .*\(got: t3\.small, c7g\.medium\)/],
    [{ ...base, hardware: { capacity: 'fargate' }, aws: { podRoleArn: 'arn:aws:iam::123456789012:role/r' } },
      /^aws\.podRoleArn cannot be used with capacity 'fargate': EKS Pod Identity does not serve Fargate pods.*\(got: "arn:aws:iam::123456789012:role\/r"\)/],
  ])('rejects a broken definition naming the field and the value (%#)', (props, message) => {
    const problems = problemsOf(props);
    expect(problems.some((p) => message.test(p))).toBe(true);
  });

  it("resolves the KubeApp's own AWS values and leaves account placement to the aws provider", () => {
    expect(defineKubeApp(base).aws).toEqual({
      region: 'us-east-1',
      supportType: 'STANDARD',
      builder: 'none',
      buildCommand: [],
      createRepository: true,
      defaulted: { region: true, builder: true },
    });
    const own = defineKubeApp({ ...base, aws: { region: 'eu-west-1', codeBuildProject: 'demo-image', subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'] } }).aws;
    expect(own).toEqual({
      region: 'eu-west-1',
      supportType: 'STANDARD',
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

  it('accepts what the rules allow: Auto Mode hardware, 1.NN versions, any-partition ARNs, quantities in any unit', () => {
    const app = defineKubeApp({
      ...base,
      hardware: { capacity: 'auto', instanceTypes: ['c7g.xlarge'], arch: 'arm64', spot: true, minNodes: 0, maxNodes: 4 },
      pods: {
        containers: [
          { name: 'app', ports: [{ name: 'http-api', containerPort: 9090 }], resources: { cpu: '0.5', memory: '1Gi', cpuLimit: '500m', memoryLimit: '1073741824' } },
          { name: 'b', resources: { cpu: '100m', memory: '1M', cpuLimit: '1', memoryLimit: '1Mi' } },
        ],
      },
      service: { certificateArn: 'arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/0f1e2d3c-4b5a' },
      aws: { kubernetesVersion: '1.35', podRoleArn: 'arn:aws:iam::123456789012:role/path/to/role', fargateSubnetIds: ['subnet-0abc'] },
      secrets: [{ name: 'api-key', secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-key-AbCdEf' }],
    });
    expect(app.hardware).toMatchObject({ capacity: 'auto', maxNodes: 4 });
    expect(app.aws.fargateSubnetIds).toEqual(['subnet-0abc']);
  });

  it('shows every problem at once: field problems and cross-field problems together', () => {
    const problems = problemsOf({
      ...base,
      name: 'payments',
      hardware: { capacity: 'fargate', spot: true },
      pods: { containers: [{ name: 'app', ports: [{ name: 'HTTP_API', containerPort: 80 }], resources: { cpu: '1', memory: '1Gi', memoryLimit: '512Mi' } }] },
      service: { port: 70000 },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pods\.containers\[0\]\.ports\[0\]\.name .*"HTTP_API"/),
        expect.stringMatching(/^service\.port .*70000/),
        expect.stringMatching(/^hardware\.spot cannot be set with capacity 'fargate'/),
        expect.stringMatching(/^pods\.containers\[0\]\.resources\.memoryLimit must be at least the memory request/),
      ]),
    );
    expect(() => defineKubeApp({ ...base, name: 'payments', service: { port: 70000 }, hardware: { capacity: 'fargate', spot: true } })).toThrow(/KubeApp payments is invalid/);
  });

  it.each([
    ['250m', 0.25],
    ['1', 1],
    ['1.5', 1.5],
    ['1k', 1000],
    ['1Ki', 1024],
    ['512Mi', 512 * 2 ** 20],
    ['2G', 2e9],
    ['1Ti', 2 ** 40],
    ['lots', undefined],
  ])('reads the quantity %s as %s', (q, value) => {
    expect(quantityValue(q)).toBe(value);
  });

  it('names the app in the error', () => {
    expect(() => defineKubeApp({ ...base, name: 'payments', owners: [] })).toThrow(/KubeApp payments is invalid/);
  });

  it('loads the example apps: Auto Mode amd64, an arm64 spot node group with TLS, Fargate', async () => {
    const { apps, problems } = await loadKubeApps();
    expect(problems).toEqual([]);
    expect(apps.map((a) => a.name).sort()).toEqual(['cache-worker', 'search-svc', 'web-frontend']);
    const byName = Object.fromEntries(apps.map((a) => [a.name, a]));
    expect(byName['search-svc']!.hardware).toMatchObject({ capacity: 'auto', arch: 'amd64', spot: false });
    expect(byName['search-svc']!.aws.podRoleArn).toMatch(/:role\/search-svc-pods$/);
    expect(byName['web-frontend']!.hardware).toMatchObject({ capacity: 'nodes', arch: 'arm64', spot: true });
    expect(byName['web-frontend']!.service).toMatchObject({ port: 443, certificateArn: expect.stringMatching(/^arn:aws:acm:/) });
    expect(byName['cache-worker']!.hardware.capacity).toBe('fargate');
    for (const app of apps) expect(app.pods.containers.every((c) => c.role === 'app')).toBe(true);
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
    // Both files are named.
    expect(problems).toContainEqual({ file: 'good-svc.ts', app: 'good-svc', problems: ['name good-svc is also used by good-svc in clash-svc.ts'] });
  });

  it('a missing folder, a file that is not a folder and an empty folder are one problem each, not a crash or a silent start', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kubeapps-empty-'));
    expect(await loadKubeApps('/nonexistent/kubeapps')).toEqual({
      apps: [],
      problems: [{ file: '/nonexistent/kubeapps', app: 'KubeApps folder', problems: ['cannot be read: no such folder'] }],
    });
    expect((await loadKubeApps(new URL(import.meta.url).pathname)).problems[0]!.problems).toEqual([expect.stringMatching(/cannot be read: not a folder$/)]);
    expect((await loadKubeApps(empty)).problems).toEqual([
      { file: empty, app: 'KubeApps folder', problems: ['has no KubeApps (*.ts or *.js files that export default defineKubeApp({...}))'] },
    ]);
  });

  it('refuses a refresh time zone the runtime does not know, naming app, field and value', () => {
    const props: KubeAppProps = { ...base, refresh: { schedule: '0 3 * * *', timezone: 'Mars/Olympus' } };
    expect(() => defineKubeApp(props)).toThrow(/refresh\.timezone must be an IANA time zone like Europe\/Dublin or UTC \(got: "Mars\/Olympus"\)/);
    expect(defineKubeApp({ ...props, refresh: { schedule: '0 3 * * *', timezone: 'Europe/Dublin' } }).refresh?.timezone).toBe('Europe/Dublin');
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
