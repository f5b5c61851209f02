/**
 * `npm run bench`: the figures of issue 15, each beside its target and its floor, written to
 * BENCHMARKS.md with the machine they were measured on.
 *
 *  1. ack latency of `/kubeapp`, open loop from a separate process, beside a minimal Bolt app (bench/ack-latency.ts)
 *  2. reads at 60 apps / 100k deploys / 1M events, through the repositories and the console's reads (bench/reads.ts)
 *  3. deployer throughput: 200 sandbox deploys across 50 apps at zero simulated delay (bench/throughput.ts)
 *  4. the critical path of a blue/green with calibrated delays, sandbox and aws fakes (bench/critical-path.ts)
 *  5. cloud calls per deploy by operation, and Slack Web API calls (bench/cloud-calls.ts)
 *  and the fault matrix the reliability suite wrote (test-artifacts/fault-matrix.md), if it is there.
 *
 * Timings are reported, never asserted. BENCH_QUICK=1: short runs (one ack run of 3 s per case, a
 * tenth of the data). BENCH_ONLY=ack,reads,throughput,path,calls: only those sections, printed and
 * not written to BENCHMARKS.md. BENCH_CPU_PROF=DIR: a --cpu-prof of every kubecontrol ack server.
 */
import './env.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CASE_LABEL, measureAck, summarise } from './ack-latency.js';
import { countAwsCalls, countSlackCalls, type CallCounts } from './cloud-calls.js';
import { awsPath, IDEAL_SECONDS, sandboxPath, type PathResult } from './critical-path.js';
import { machine, mib, ms, quick, ratio, verdict } from './lib.js';
import { measureReads } from './reads.js';
import { ACK_ANALYSIS, READS_ANALYSIS, RSS_ANALYSIS } from './analysis.js';
import { CALIBRATED } from './timed-aws.js';
import { measureThroughputInChild } from './throughput.js';
import { REAL_SECONDS } from '../deployer/sandbox/index.js';
import { WAIT_POLLING } from '../deployer/aws/clients.js';

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const want = (section: string): boolean => !only || only.includes(section);
const out: string[] = [];
const summary: string[] = [];
const log = (line = ''): void => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const target = (what: string, figure: string, goal: string, floor: string, ok: boolean | undefined): void =>
  void summary.push(`| ${what} | ${figure} | ${goal} | ${floor} | ${verdict(ok)} |`);

const started = performance.now();
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const header = [
  '# kubecontrol benchmarks',
  '',
  `Written by \`npm run bench\`${quick ? ' with `BENCH_QUICK=1` (short runs, a tenth of the data: for trying, not for quoting)' : ''} on ${date} UTC.`,
  '',
  `**Machine:** ${machine()}.`,
  '',
  'Targets are goals, not test assertions. Latency percentiles on a shared 2-core machine move between runs (±40% at p99 here): compare a figure with its floor from the same run, not with another run.',
  '',
];

// ───────────────────────────── 1. ack latency ─────────────────────────────
if (want('ack')) {
  const runs = quick ? 1 : 3;
  const seconds = quick ? 3 : 15;
  const rates = [100, 400];
  progress(`ack latency: ${runs} run(s) × ${rates.join(' and ')} commands/s × ${seconds} s per case`);
  const samples = await measureAck({ runs, rates, seconds, warmupSeconds: quick ? 1 : 3, cpuProfDir: process.env.BENCH_CPU_PROF, log: progress });
  const rows = summarise(samples);
  log('## 1. Slack: ack latency of `/kubeapp`, open loop');
  log('');
  log(
    `Signed slash commands (form bodies as Slack sends them, a unique trigger_id each) from a load generator in its own process (bench/ack-load.ts), at a fixed schedule over keep-alive connections, ${seconds} s per case after a warm-up at the same rate; latency from each request's *scheduled* send time to the whole answer. ` +
      'The server runs in a process of its own (bench/ack-server.ts): the real kubecontrol (`startKubecontrol` as `npm start` builds it, info logs to its stdout, the real Bolt app mounted on `/slack/events`, the fake Slack Web API of test/fakes/slack-api.ts in the bench process), started afresh for each case. ' +
      'The **floor** is a minimal Bolt app on its own HTTPReceiver whose only listener inserts one row into a better-sqlite3 WAL database and acks, measured the same way in the same runs. ' +
      `Server CPU is the server process's own \`process.cpuUsage()\` over the measured period, read over IPC, and *event loop blocked* the longest delay its event loop saw then (\`monitorEventLoopDelay\`): what a request arriving at the worst moment waited before any of its own work. ${runs > 1 ? `Each figure is the median of ${runs} runs that alternate the order of the cases (floor first, then last); ratios are taken per run against that run's floor, then their median.` : 'One run (BENCH_QUICK).'} ` +
      'An error is an answer other than HTTP 200 with the expected text, a failed connection, or an answer after Slack\'s 3-second deadline.',
  );
  log('');
  for (const rate of rates) {
    log(`**${rate} commands/s**`);
    log('');
    log('| case | p50 | p99 | p99.9 | max | errors | server CPU | CPU per command | event loop blocked (max) | p50 ÷ floor | p99 ÷ floor |');
    log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows.filter((x) => x.rate === rate)) {
      log(
        `| ${CASE_LABEL[r.case]} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${ms(r.max)} | ${r.errors} | ${r.cpu.toFixed(0)}% of a core | ${ms(r.cpuPerRequest)} | ${ms(r.loopMax)} | ${r.case === 'floor' ? '1' : ratio(r.p50Ratio)} | ${r.case === 'floor' ? '1' : ratio(r.p99Ratio)} |`,
      );
    }
    log('');
  }
  if (runs > 1) {
    log(`p99 of each run (ms): ${rows.map((r) => `${r.rate}/s ${r.case} ${r.p99s.map((v) => v.toFixed(1)).join(' / ')}`).join('; ')}.`);
    log('');
  }
  const errorsAt400 = samples.filter((s) => s.rate === 400 && s.errors).map((s) => `run ${s.run} ${s.case}: ${s.errors} (${s.examples.join('; ')})`);
  if (errorsAt400.length) {
    log(`Errors at 400/s: ${errorsAt400.join(' · ')}.`);
    log('');
  }
  const acc400 = rows.find((r) => r.rate === 400 && r.case === 'accepted');
  const floor400 = rows.find((r) => r.rate === 400 && r.case === 'floor');
  if (acc400 && floor400) {
    const ok = acc400.p99Ratio <= 1.2 && acc400.errors === 0;
    target('ack p99 of an accepted deploy at 400/s', `${ms(acc400.p99)} (${ratio(acc400.p99Ratio)} the floor), ${acc400.errors} errors`, '≤ 1.2 × floor, 0 errors', `${ms(floor400.p99)}, ${floor400.errors} errors`, ok);
    if (!ok) {
      log('**Target missed.** What the numbers and `--cpu-prof` of the server show (profiles of the accepted case, `BENCH_CPU_PROF=DIR`):');
      log('');
      for (const line of ACK_ANALYSIS) log(line);
      log('');
    }
  }
}

// ───────────────────────────── 2. reads ─────────────────────────────
if (want('reads')) {
  progress('reads at scale');
  const r = await measureReads({ quick, log: progress });
  log(`## 2. Reads on ${r.apps} apps, ${r.deploys.toLocaleString('en')} deploys, ${r.events.toLocaleString('en')} events (${r.steps.toLocaleString('en')} steps; ${r.fileMiB.toFixed(0)} MiB file)`);
  log('');
  log(
    `Seeded with plain INSERTs in one transaction in ${(r.seedMs / 1000).toFixed(1)} s (two years of deploys, each of a random app, person and outcome from a fixed seed, versions 1.0.0, 1.0.1, … per app, 12 people, the usual mix of outcomes, a few still running), then read through the real server (\`startKubecontrol\` on that file, a ManualClock so nothing moves) by the repositories' and the console's own functions — \`DeploysRepo\`, \`EventsRepo\`, \`CommandCore\`, \`ConsoleRepo\` (store/console.ts) and \`createConsoleReads\` (console/reads.ts) — never copies of their SQL. No ANALYZE (a production database has none). ${quick ? 300 : 2000} calls each after 200 warm-up calls, parameters varied across apps and deploys. The plan is EXPLAIN QUERY PLAN of the statement the function runs (test/console-query-plans.test.ts checks that none scans a table).`,
  );
  log('');
  log('| read | called | p50 | p99 | target (p99) | | rows | plan |');
  log('|---|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    log(`| ${row.label} | \`${row.what}\` | ${ms(row.lat.p50)} | ${ms(row.lat.p99)} | ≤ ${row.target} ms | ${verdict(row.lat.p99 <= row.target)} | ${row.rows ?? '–'} | ${row.plan.replaceAll('|', '\\|')} |`);
  }
  log('');
  const missed = r.rows.filter((x) => x.lat.p99 > x.target);
  target(`reads at ${r.deploys.toLocaleString('en')} deploys / ${r.events.toLocaleString('en')} events, p99 per query`, `${r.rows.length - missed.length} of ${r.rows.length} within target`, '≤ 1 ms (prefix ≤ 2 ms)', '–', missed.length === 0);
  if (missed.length) {
    log(`**Missed:** ${missed.map((m) => `${m.label} (p99 ${ms(m.lat.p99)}, p50 ${ms(m.lat.p50)})`).join('; ')}.`);
    log('');
    for (const line of READS_ANALYSIS) log(line);
    log('');
  }
}

// ───────────────────────────── 3. throughput ─────────────────────────────
if (want('throughput')) {
  progress('deployer throughput');
  const t = await measureThroughputInChild();
  log('## 3. Deployer throughput (sandbox, zero simulated delay)');
  log('');
  log(
    `${t.deploys} blue/green deploys of ${t.apps} apps (4 each, accepted interleaved and all at once through the command core, each approved the moment it asks), on the sandbox at scale 0, in a server process of its own (KubeApps generated in memory, \`startKubecontrol(config, { apps })\`, concurrency ${t.concurrency}).`,
  );
  log('');
  log('| figure | value | target |');
  log('|---|---|---|');
  log(`| deploys per second (first accept → last deploy ended, ${(t.wallMs / 1000).toFixed(2)} s) | ${t.perSecond.toFixed(1)} | – |`);
  log(`| outcomes | ${Object.entries(t.outcomes).map(([k, v]) => `${v} ${k}`).join(', ')} | all succeeded |`);
  log(`| most phases running at once (sampled ${t.samples.toLocaleString('en')} times: every event and every ms) | ${t.maxRunning} | ≤ ${t.concurrency} (KUBECONTROL_CONCURRENCY): ${verdict(t.maxRunning <= t.concurrency)} |`);
  log(`| per-app order (each app's deploys leave \`queued\` in the order accepted, none before the previous one ended) | ${t.orderKept ? 'kept' : `broken: ${t.orderProblems.join('; ')}`} | kept: ${verdict(t.orderKept)} |`);
  log(`| peak RSS of the server process | ${mib(t.peakRss)} (${mib(t.rssBefore)} once started, before any deploy) | ≤ 200 MB: ${verdict(t.peakRss <= 200 * 1e6)} |`);
  log(`| events written | ${t.events.toLocaleString('en')} | – |`);
  log('');
  target('deployer: concurrency cap, per-app order', `max ${t.maxRunning} of ${t.concurrency}; order ${t.orderKept ? 'kept' : 'broken'}; ${t.perSecond.toFixed(1)} deploys/s`, 'cap never exceeded, order kept', '–', t.maxRunning <= t.concurrency && t.orderKept);
  target('deployer: peak RSS, 200 deploys', `${mib(t.peakRss)} (${mib(t.rssBefore)} at start)`, '≤ 200 MB', '–', t.peakRss <= 200 * 1e6);
  if (t.peakRss > 200 * 1e6) for (const line of RSS_ANALYSIS) log(line);
  log('');
}

// ───────────────────────────── 4. critical path ─────────────────────────────
if (want('path')) {
  const factor = quick ? 0.004 : 0.01;
  progress(`critical path at factor ${factor}`);
  const sandbox = await sandboxPath(factor);
  const aws = await awsPath(factor, 'scaled');
  const before = quick || process.env.BENCH_SKIP_SDK_DEFAULTS ? [] : await awsPath(factor, 'sdk-defaults', 1);
  const C = CALIBRATED;
  log('## 4. Critical path of a blue/green deploy');
  log('');
  log(
    `web-frontend (a managed node group) deployed blue/green with the calibrated delays — build ${C.build / 60} min, EKS create ${C.clusterCreate / 60} min, capacity ${C.capacity / 60} min, rollout ${C.rollout / 60} min, load balancer ${C.loadBalancer / 60} min, DNS sync ${C.dnsSync / 60} min — all scaled by one factor (${factor}: 1 real minute = ${(60 * factor).toFixed(2)} s). ` +
      `Ideal = max(build, EKS create + capacity) + max(rollout, load balancer) + DNS sync = ${IDEAL_SECONDS / 60} min (${(IDEAL_SECONDS * factor).toFixed(2)} s here): the load balancer is provisioned from the moment its Service is applied, while the pods roll out. ` +
      'Wall = accepted → awaiting approval, plus approved → cutover done (DNS in sync); the approval wait, the drain and the teardown after it are not on the path. Two deploys in a row (the second also replaces the first cluster).',
  );
  log('');
  log("**The sandbox's own delays against the calibration** (deployer/sandbox `REAL_SECONDS`, seconds):");
  log('');
  log('| delay | calibration | sandbox default | |');
  log('|---|---|---|---|');
  const pairs: [string, number, number][] = [
    ['build', C.build, REAL_SECONDS.build],
    ['EKS create', C.clusterCreate, REAL_SECONDS.clusterCreate],
    ['capacity (node group)', C.capacity, REAL_SECONDS.nodegroupCreate],
    ['rollout', C.rollout, REAL_SECONDS.rollout],
    ['load balancer', C.loadBalancer, REAL_SECONDS.loadBalancer],
    ['DNS sync', C.dnsSync, REAL_SECONDS.dnsSync],
  ];
  for (const [name, cal, own] of pairs) log(`| ${name} | ${cal} | ${own} | ${cal === own ? 'same' : 'differs'} |`);
  log('');
  log(
    "Build, rollout, load balancer and DNS sync differ (the sandbox's defaults are shorter); the bench runs the sandbox with the calibration through `SandboxOptions.seconds`, so both providers see the same world. The sandbox used to wait for the load balancer only after the rollout (4 calibrated minutes instead of 2): it now counts the load balancer's time from the apply, as AWS provisions it.",
  );
  log('');
  const pathRow = (r: PathResult): string =>
    `| ${r.provider} | ${r.deploy} | ${r.state} | ${ms(r.toApproval)} | ${ms(r.toCutover)} | ${ms(r.wall)} | ${ms(r.ideal)} | **${ratio(r.ratio)}** | ${r.phases.map((p) => `${p.name} ${ms(p.wall)} / ${ms(p.ideal)}`).join('; ')} |`;
  log('| provider | deploy | state | → awaiting approval | approved → cutover done | wall | ideal | wall ÷ ideal | each phase, wall / ideal |');
  log('|---|---|---|---|---|---|---|---|---|');
  for (const r of [...sandbox, ...aws, ...before]) log(pathRow(r));
  log('');
  const worst = (rs: PathResult[]): number => Math.max(...rs.map((r) => r.ratio));
  target('critical path, sandbox', `${ratio(worst(sandbox))} (worst of ${sandbox.length})`, '≤ 1.05', '1 (the ideal)', worst(sandbox) <= 1.05);
  target('critical path, aws provider on the fakes', `${ratio(worst(aws))} (worst of ${aws.length})`, '≤ 1.10', '1 (the ideal)', worst(aws) <= 1.1);
  log('**Each wait on the aws provider** (the fakes record when each resource became ready and when kubecontrol first saw it so):');
  log('');
  log('| deploy | resource | ready after | seen ready after | late by | late ÷ ready-after | within 10% |');
  log('|---|---|---|---|---|---|---|');
  const lateRows: { late: number; ok: boolean }[] = [];
  for (const r of [...aws, ...before]) {
    for (const w of r.waits ?? []) {
      const dur = w.readyAt - w.askedAt;
      const late = (w.seenAt ?? NaN) - w.readyAt;
      const ok = late <= 0.1 * dur;
      if (r.provider.includes('scaled')) lateRows.push({ late: late / dur, ok });
      log(`| ${r.provider.includes('scaled') ? r.deploy : `${r.deploy} (SDK default polling)`} | ${w.what} | ${ms(dur)} | ${ms(dur + late)} | ${ms(late)} | ${(100 * (late / dur)).toFixed(1)}% | ${verdict(ok)} |`);
    }
  }
  log('');
  target('aws waits: each within 10% of the resource being ready', `${lateRows.filter((x) => x.ok).length} of ${lateRows.length} (worst ${(100 * Math.max(...lateRows.map((x) => x.late))).toFixed(1)}%)`, 'all ≤ 10%', '–', lateRows.every((x) => x.ok));
  log(
    "How the waits poll now (deployer/aws/clients.ts `WAIT_POLLING`, seconds; the SDK waiter starts at minDelay and doubles with jitter up to maxDelay, so a wait ends at most maxDelay after the resource is ready; `waitPolling` replaces it per wait, and the bench scales it by the same factor as the fakes' delays; a CodeBuild build is followed 5 s doubling to 20 s):",
  );
  log('');
  log(`| wait | minDelay | maxDelay |`);
  log('|---|---|---|');
  for (const [what, p] of Object.entries(WAIT_POLLING)) log(`| ${what} | ${p.minDelay} | ${p.maxDelay} |`);
  log('');
  log(
    "Before, every wait polled at the SDK's service defaults (EKS and Route 53 at least 30 s, ELBv2 and Auto Scaling 15 s, doubling up to 120 s), whatever it waited for: a 1-minute DNS change could take 90 s, and at this bench's scale the fixed 30-s pauses dwarf the scaled resources" +
      (before.length ? ` — the 'SDK default polling' row above is the same deploy with those defaults (unscaled, as they were).` : '.'),
  );
  log('');
}

// ───────────────────────────── 5. cloud calls ─────────────────────────────
if (want('calls')) {
  const factor = quick ? 0.004 : 0.01;
  progress('cloud calls');
  const calls = await countAwsCalls(factor);
  const slack = await countSlackCalls();
  log('## 5. Cloud calls per deploy');
  log('');
  log(
    `web-frontend on the aws provider against the fake account, with the calibrated delays and each wait's polling scaled alike (factor ${factor}), so each poll count is what a real deploy of those durations makes. AWS: every SDK call the fake account answered (aws-sdk-client-mock at the client's \`send\`); Kubernetes: every request the clusters' fake API servers received (a watch is one request, however long it stays open).`,
  );
  log('');
  const table = (title: string, pick: (c: CallCounts) => Record<string, number>): void => {
    const ops = [...new Set(calls.flatMap((c) => Object.keys(pick(c))))].sort();
    log(`| ${title} | ${calls.map((c) => c.label).join(' | ')} |`);
    log(`|---|${calls.map(() => '---').join('|')}|`);
    for (const op of ops) log(`| ${op} | ${calls.map((c) => pick(c)[op] ?? '–').join(' | ')} |`);
    log(`| **total** | ${calls.map((c) => `**${Object.values(pick(c)).reduce((a, b) => a + b, 0)}**`).join(' | ')} |`);
    log('');
  };
  table('AWS operation', (c) => c.aws);
  table('Kubernetes request', (c) => c.kube);
  log(
    `Slack Web API, one blue/green deploy of search-svc from \`/kubeapp deploy\` to the approval button and the result (the real bot, the fake Slack, the production card interval of 1 s; sandbox scale 0.0003, so the whole deploy takes under a second and the card's heartbeat — every 30 s of a real deploy — never fires): ${Object.entries(slack.deploy).map(([m, n]) => `${m} ${n}`).join(', ')}; plus ${slack.responses} response_url post (the button's answer); the ack itself is the HTTP answer, no call. Once at start: ${Object.entries(slack.startup).map(([m, n]) => `${m} ${n}`).join(', ')}.`,
  );
  log('');
}

// ───────────────────────────── fault matrix ─────────────────────────────
const matrix = new URL('../test-artifacts/fault-matrix.md', import.meta.url);
const matrixSection: string[] = [];
if (existsSync(matrix)) {
  const text = readFileSync(matrix, 'utf8').replace(/^# .*\n+/, '');
  matrixSection.push('## Fault matrix (from test-artifacts/fault-matrix.md, written by the reliability suite)', '', text.trim(), '');
}

const took = `_The bench took ${((performance.now() - started) / 1000).toFixed(0)} s._`;
const document = [
  ...header,
  '## Summary',
  '',
  '| what | figure | target | floor | |',
  '|---|---|---|---|---|',
  ...summary,
  '',
  ...(quick || only ? [] : ['Run with nothing else on the machine: the load average at start (in the machine line) says whether something was running, or had just finished, when the bench began.', '']),
  ...out,
  ...matrixSection,
  took,
  '',
].join('\n');
if (only) {
  process.stdout.write(`\n${summary.join('\n')}\n(BENCH_ONLY: BENCHMARKS.md not written)\n`);
} else {
  writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), document);
  process.stdout.write(`\nBENCHMARKS.md written. ${took}\n`);
}
process.exit(0);

