/**
 * The composition root: the one module that imports every folder. It builds the
 * running system from validated configuration — store, clock, provider (picked
 * once), deployer, command core, schedules and the HTTP server — and hands each
 * surface only what it needs. `npm start` (system/main.ts), the tests and the
 * bench all call `startKubecontrol`.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SlackSurfaceDeps } from '../bot/index.js';
import { CommandCore, type GroupResolver } from '../commands/core.js';
import { registerApi, streamEvents, type Faults } from '../console/api.js';
import { doraCharts } from '../console/charts.js';
import { createCsrf } from '../console/csrf.js';
import { createHttpServer, sendJson, type Mount } from '../console/http.js';
import { createIdentify } from '../console/identity.js';
import { createPages } from '../console/pages/index.js';
import type { RenderedManifest } from '../console/pages/app.js';
import { createConsoleReads, nextRefreshFrom } from '../console/reads.js';
import { renderManifests } from '../deployer/kube/manifests.js';
import { systemClock, type Clock } from '../deployer/clock.js';
import { Deployer } from '../deployer/driver.js';
import { collectGarbage } from '../deployer/gc.js';
import { AbortReason, errorMessage } from '../deployer/errors.js';
import type { PreflightReport, Provider } from '../deployer/ports.js';
import { createProvider, ProviderSettingsError } from '../deployer/providers.js';
import { FAULT_KINDS, FAULT_STEPS } from '../deployer/sandbox/index.js';
import { clusterSpec, placementOf, workloadSpec } from '../deployer/specs.js';
import { abortable, formatDuration } from '../deployer/time.js';
import { loadKubeApps, type KubeApp } from '../kubeapps/index.js';
import { scheduleWarnings, startSchedules, type Schedules } from '../schedules/index.js';
import { startCheckpointer } from '../store/checkpointer.js';
import { Store } from '../store/index.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';

/** A request handler a surface mounts on the server; returns false if the request is not its own. */
export type { Mount } from '../console/http.js';

/** The running system. Surfaces get narrow parts of it (see bot/index.ts, console/api.ts). */
export interface Kubecontrol {
  readonly config: Config;
  readonly store: Store;
  readonly clock: Clock;
  /** This database's installation identity, carried by every resource it creates. */
  readonly installation: string;
  readonly provider: Provider;
  /** What the provider's preflight warned about at start (e.g. a Kubernetes version leaving standard support soon), and schedules whose next run is more than a year away: logged, in the banner and /api/info. */
  readonly warnings: readonly string[];
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly deployer: Deployer;
  readonly core: CommandCore;
  readonly logger: Logger;
  readonly schedules: Schedules;
  /** The underlying Node server (Fastify's). */
  readonly server: Server;
  /** The server's base URL, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  /** Adds a handler tried before the API (e.g. Slack's /slack/events). */
  mount(handler: Mount): void;
  /** A surface started after the server (Slack) says where it stands: shown by /api/info under `surfaces`. */
  reportStatus(surface: string, line: () => string): void;
  /** Stops taking requests and work; running deploys keep their state for the next start. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** Replaces the provider the config names (tests). Gets the store, clock and installation it must use. */
  readonly provider?: Provider | ((deps: { store: Store; clock: Clock; installation: string }) => Provider);
  /** Replaces the KubeApps loaded from kubeapps/ (tests). */
  readonly apps?: readonly KubeApp[];
  readonly groups?: GroupResolver;
  /** Time for the deployer, the sandbox, approval deadlines and the store. @default systemClock */
  readonly clock?: Clock;
  /** Attempts per resource when tearing down. @default 3 */
  readonly teardownAttempts?: number;
  /** Where provider settings are read, once, at start. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Problems that stop the server from starting, one line each. */
export class StartupError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'StartupError';
  }
}

export async function startKubecontrol(config: Config, options: StartOptions = {}): Promise<Kubecontrol> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  let appList = options.apps;
  if (!appList) {
    const loaded = await loadKubeApps(config.kubeappsDir);
    if (loaded.problems.length) {
      throw new StartupError(loaded.problems.flatMap((p) => p.problems.map((line) => `${p.app} (${p.file}): ${line}`)));
    }
    appList = loaded.apps;
  }
  const apps = new Map(appList.map((a) => [a.name, a]));
  const store = Store.open(config.dbPath, {
    now: () => clock.now(),
    onListenerError: (err) => logger.error({ err }, 'an event listener failed'),
  });
  const installation = store.meta.installation();
  let provider: Provider;
  try {
    provider =
      typeof options.provider === 'function'
        ? options.provider({ store, clock, installation })
        : (options.provider ?? (await createProvider({ provider: config.provider, sandboxScale: config.sandboxScale, env: options.env ?? process.env }, { store, apps: appList, clock, installation })));
  } catch (err) {
    // e.g. a missing AWS setting, no kubeconfig for the local provider: one line each, not a stack trace.
    store.close();
    if (err instanceof ProviderSettingsError) throw new StartupError(err.problems.map((p) => `${config.provider} provider: ${p}`));
    throw new StartupError([`${config.provider} provider: ${err instanceof Error ? err.message : String(err)}`]);
  }
  let warnings: readonly string[];
  try {
    const problems = drainProblems(config.drainMs, provider, appList);
    const report = await runPreflight(provider, appList, clock);
    warnings = report.warnings;
    problems.push(...report.problems);
    if (problems.length) throw new StartupError(problems);
  } catch (err) {
    store.close();
    throw err;
  }
  for (const warning of warnings) logger.warn({ provider: provider.name, warning }, `preflight: ${warning}`);
  // A schedule whose next run is more than a year away: said where the preflight's warnings are (log, banner, /api/info).
  const scheduled = scheduleWarnings(appList, clock.now());
  for (const warning of scheduled) logger.warn({ warning }, `schedules: ${warning}`);
  warnings = [...warnings, ...scheduled];
  // KUBECONTROL_DRAIN replaces the provider's drain everywhere it is read (pipeline, dry runs).
  if (config.drainMs !== undefined) {
    const drainMs = config.drainMs;
    provider = { ...provider, drainMs: () => drainMs };
  }
  const deployer = new Deployer({
    store,
    provider,
    apps,
    clock,
    concurrency: config.concurrency,
    logger,
    approvalTimeoutMs: config.approvalTimeoutMs,
    teardownAttempts: options.teardownAttempts,
  });
  const core = new CommandCore({ store, deployer, provider, apps, groups: options.groups, logger: logger.child({ component: 'commands' }) });
  // The operator's log: every deploy state change, as committed (the feed announces after the commit).
  const deployLog = logger.child({ component: 'deploys' });
  store.feed.on('appended', (e) => {
    if (e.kind !== 'state') return;
    const d = store.deploys.get(e.deployId);
    deployLog[e.level === 'error' ? 'warn' : 'info'](
      { deployId: e.deployId, app: d?.app, version: d?.version, state: e.data?.state },
      `deploy #${e.deployId}${d ? ` ${d.app} ${d.version}` : ''}: ${e.message}`,
    );
  });
  // Faults exist only in the sandbox: the API is handed the capability, not the adapter.
  const faults: Faults | undefined =
    provider.name === 'sandbox'
      ? { steps: FAULT_STEPS, kinds: FAULT_KINDS, add: (f) => void store.sandbox.addFault(f), list: () => store.sandbox.faults(), clear: () => store.sandbox.clearFaults() }
      : undefined;
  const surfaceStatus = new Map<string, () => string>();
  const mounts: Mount[] = [];
  // The console (KMC): its reads over the store and the core, who is acting (by mode), its forms' CSRF secret.
  let schedules: Schedules | undefined;
  const consoleReads = createConsoleReads({
    store,
    apps,
    core,
    // Every app's status as `status` answers it, without recording a command per page view.
    status: () => core.statuses(),
    // The schedules start once the server listens; until then no refresh is armed.
    nextRefresh: (app) => (schedules ? nextRefreshFrom(schedules)(app) : null),
  });
  const consoleLog = logger.child({ component: 'console' });
  const pages = createPages({
    identify: createIdentify({ mode: config.auth, proxy: config.proxy, people: peopleOf(apps, config.admins) }),
    csrf: createCsrf(store.meta.csrfSecret(), () => clock.now()),
    reads: consoleReads,
    core,
    deploys: store.deploys,
    commands: store.commands,
    feed: store.feed,
    apps,
    groups: options.groups,
    manifests: manifestsOf(provider, installation, mounts),
    charts: (report) => {
      const c = doraCharts(report);
      return `${c.deploys}${c.leadTime}`;
    },
    now: () => clock.now(),
    provider: { name: provider.name, label: provider.label },
    logger: consoleLog,
    streamDeploy: (id, after, reply) => streamEvents({ reads: store, core, feed: store.feed }, id, after, reply),
  });
  if (config.auth === 'proxy' && config.proxy) {
    const people = new Set(peopleOf(apps, config.admins));
    const unknown = [...config.proxy.people].filter(([, person]) => !people.has(person));
    // Someone may act only through a group (a Slack user id in @search-team): a warning, not a refusal.
    for (const [identity, person] of unknown) consoleLog.warn({ identity, person }, `KUBECONTROL_PROXY_PEOPLE maps ${identity} to ${person}, whom no KubeApp names directly (fine if they act through a group)`);
  }
  // Fastify owns the socket; the surfaces' mounts (Slack) get each request first, raw and with its body unread.
  const http = createHttpServer({ logger: logger.child({ component: 'http' }), mounts, htmlError: pages.answerError });
  registerApi(http, {
    config,
    core,
    reads: store,
    feed: store.feed,
    tokens: store.tokens,
    commands: store.commands,
    logger: logger.child({ component: 'api' }),
    groups: options.groups,
    provider: { name: provider.name, label: provider.label },
    apps,
    version: VERSION,
    installation,
    warnings,
    surfaces: () => Object.fromEntries([...surfaceStatus].map(([name, line]) => [name, line()])),
    gc: (del) => collectGarbage({ store, provider, apps, delete: del }),
    faults,
    console: { reads: consoleReads, now: () => clock.now() },
  });
  pages.register(http);
  const health = { ok: true, name: 'kubecontrol', provider: provider.label, installation };
  http.get('/health', async (_request, reply) => sendJson(reply, 200, health));
  try {
    await http.listen({ port: config.port, host: config.host });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    await http.close().catch(() => undefined);
    store.close();
    throw new StartupError([
      err.code === 'EADDRINUSE'
        ? `port ${config.port} on ${config.host} is already in use: is kubecontrol already running? Set KUBECONTROL_PORT to use another port`
        : `cannot listen on ${config.host}:${config.port}: ${err.message}`,
    ]);
  }
  const server = http.server;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  // Resume what a previous process left: non-terminal deploys and unfinished undos.
  deployer.start();
  schedules = startSchedules({ apps, core, store, clock, logger });
  const armed = schedules;
  // WAL checkpoints in a worker thread, so that no commit (an accept, before its ack) pays for one.
  const checkpointer = startCheckpointer(store.db, { onError: (message) => logger.warn({ message }, `WAL checkpoint failed: ${message}`) });

  return {
    config,
    store,
    clock,
    installation,
    provider,
    warnings,
    apps,
    deployer,
    core,
    logger,
    schedules: armed,
    server,
    url,
    mount: (handler) => mounts.push(handler),
    reportStatus: (surface, line) => void surfaceStatus.set(surface, line),
    async close() {
      // Drops every connection, live event streams and Slack requests included.
      await http.close();
      await armed.stop();
      await deployer.close();
      await checkpointer?.stop();
      store.close();
    },
  };
}

/** The people the KubeApps name (not their @groups), and the admins: whom the local console may act as. */
function peopleOf(apps: ReadonlyMap<string, KubeApp>, admins: readonly string[]): string[] {
  const named = [...apps.values()].flatMap((a) => [...a.owners, ...a.deployers, ...a.approvers]);
  return [...new Set([...named, ...admins])].filter((p) => !p.startsWith('@'));
}

/**
 * `dumpYaml` of @kubernetes/client-node (its serializer writes each object's fields in the API's order), imported
 * on first use, not at start: the client costs ≈ 70 MB of RSS under node (≈ 130 MB under tsx), which a sandbox
 * server, never talking to Kubernetes, would otherwise carry for this one function (issue 15).
 */
let dumpYaml: typeof import('@kubernetes/client-node').dumpYaml | undefined;
let loadingYaml: Promise<void> | undefined;
function loadDumpYaml(): Promise<void> {
  loadingYaml ??= import('@kubernetes/client-node').then(
    (k) => void (dumpYaml = k.dumpYaml),
    (err: unknown) => {
      loadingYaml = undefined; // tried again at the next page
      throw err;
    },
  );
  return loadingYaml;
}

/**
 * The Kubernetes objects a deploy of `version` applies, as the kube adapter renders them (the same
 * renderer, specs and registry), for the console's app page: `console/` imports no adapter, so the
 * root hands it this function. The local provider serves through a ClusterIP in a namespace per deploy.
 */
function manifestsOf(provider: Provider, installation: string, mounts: Mount[]): (app: KubeApp, version: string) => RenderedManifest[] {
  // The pages call this synchronously; the YAML comes from the Kubernetes client, loaded before an app page's route runs.
  mounts.push(async (req) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.url?.startsWith('/apps/')) await loadDumpYaml().catch(() => undefined);
    return false;
  });
  return (app, version) => {
    if (!dumpYaml) {
      void loadDumpYaml().catch(() => undefined);
      throw new Error('the Kubernetes client that writes the YAML is not loaded yet: reload the page');
    }
    const dump = dumpYaml;
    const placement = placementOf(app);
    const m = renderManifests(workloadSpec(app, version), {
      imageUri: (image) => provider.registry.imageUri({ image, placement }),
      installation,
      ...(provider.name === 'local' ? { serviceType: 'ClusterIP' as const } : {}),
    });
    return [m.namespace, m.serviceAccount, m.deployment, m.service, m.podDisruptionBudget].map((o) => ({
      title: `${o.kind ?? 'object'} ${o.metadata?.name ?? ''}`.trim(),
      text: dump(o),
    }));
  };
}

/** How long the provider's preflight may take before the start gives up on it. */
const PREFLIGHT_LIMIT_MS = 2 * 60_000;

/**
 * KUBECONTROL_DRAIN below a record's TTL would delete the old cluster while
 * resolvers may still send traffic to it. The record's TTL is what resolvers
 * honour on the aws provider (and in the sandbox, which simulates it); the
 * local provider switches an in-cluster Service whose TTL is cluster DNS's
 * (5 s), not the record's, so the check does not apply there.
 */
function drainProblems(drainMs: number | undefined, provider: Provider, apps: readonly KubeApp[]): string[] {
  if (drainMs === undefined || provider.name === 'local') return [];
  const longest = [...apps].sort((a, b) => b.dns.ttlSeconds - a.dns.ttlSeconds)[0];
  if (!longest || drainMs >= longest.dns.ttlSeconds * 1000) return [];
  return [
    `KUBECONTROL_DRAIN: ${formatDuration(drainMs)} is shorter than the DNS TTL of ${longest.name} (${longest.dns.name}, ${longest.dns.ttlSeconds}s): ` +
      `resolvers could still send traffic to an old cluster after it is deleted; set it to at least ${longest.dns.ttlSeconds}s, or leave it unset for the provider's drain`,
  ];
}

/**
 * The provider's start-up check of what only the cloud knows (e.g. that each
 * app's Kubernetes version can still be created). A preflight that cannot reach
 * the cloud (network, credentials) is a problem line saying so, not a crash.
 */
async function runPreflight(provider: Provider, apps: readonly KubeApp[], clock: Clock): Promise<PreflightReport> {
  if (!provider.preflight) return { problems: [], warnings: [] };
  const controller = new AbortController();
  const timer = clock.setTimer(() => controller.abort(new AbortReason('timeout', `no answer within ${formatDuration(PREFLIGHT_LIMIT_MS)}`)), PREFLIGHT_LIMIT_MS);
  try {
    // Raced with the limit: a check that ignores its signal still cannot hold the start forever.
    const report = await abortable(
      provider.preflight({ apps: apps.map((a) => ({ app: a.name, cluster: clusterSpec(a, '<preflight>') })), signal: controller.signal }),
      controller.signal,
    );
    return { problems: report.problems.map((p) => `${provider.name} provider: ${p}`), warnings: report.warnings };
  } catch (err) {
    const why = controller.signal.aborted ? errorMessage(controller.signal.reason) : errorMessage(err);
    return { problems: [`${provider.name} provider: the start-up check could not reach the cloud (${why}); check the network and the credentials, then start again`], warnings: [] };
  } finally {
    timer.cancel();
  }
}

/** The narrow part of the system the Slack surface gets. */
export function slackSurfaceOf(k: Kubecontrol): SlackSurfaceDeps {
  return {
    core: k.core,
    store: k.store,
    apps: k.apps,
    providerLabel: k.provider.label,
    url: k.url,
    mount: (handler) => k.mount(handler),
    reportStatus: (surface, line) => k.reportStatus(surface, line),
    platformChannel: k.config.platformChannel,
  };
}
