/**
 * Cloud calls of a deploy, by operation, counted by the fakes:
 *  - AWS (every SDK call the fake account answered, FakeAwsAccount.callCounts) and Kubernetes
 *    (every request the clusters' fake API servers received) of a first blue/green, a second one
 *    (which also drains and tears the first cluster down) and a rolling update of web-frontend,
 *    on the aws provider with the calibrated delays (bench/timed-aws.ts) and each wait's own
 *    polling scaled alike: so the number of polls is the number a real deploy makes.
 *  - Slack Web API calls of one blue/green deploy started with `/kubeapp deploy` and approved with
 *    the button (the real bot on the real server, the fake Slack), at the production card interval.
 */
import { ACTION_APPROVE } from '../bot/constants.js';
import { isTerminal } from '../store/index.js';
import { BOB, CAROL, startSlackHarness } from '../test/fakes/slack-harness.js';
import { blueGreen, startOnAws, scaledPolling } from './critical-path.js';
import { until } from './lib.js';

export interface CallCounts {
  readonly label: string;
  readonly aws: Record<string, number>;
  readonly kube: Record<string, number>;
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** `GET deployments (watch)`, `PATCH services`, … */
function kubeOp(r: { method: string; path: string; query: URLSearchParams }): string {
  const parts = r.path.split('/').filter(Boolean);
  const proxy = parts.indexOf('proxy');
  if (proxy >= 0) return `${r.method} services/proxy (health check)`;
  const ns = parts.indexOf('namespaces');
  let resource = ns >= 0 && parts.length > ns + 2 ? parts[ns + 2]! : parts[parts.length - 1]!;
  if (ns >= 0 && parts.length <= ns + 2) resource = 'namespaces';
  if (parts.length && !['namespaces', 'deployments', 'services', 'pods', 'serviceaccounts', 'poddisruptionbudgets', 'nodepools', 'events', 'configmaps'].includes(resource)) resource = parts[parts.length - 2] ?? resource;
  return `${r.method} ${resource}${r.query.get('watch') === 'true' || r.query.get('watch') === '1' ? ' (watch)' : ''}`;
}

export async function countAwsCalls(factor: number): Promise<CallCounts[]> {
  const env = await startOnAws(factor, scaledPolling(factor));
  // Requests of clusters that are gone are kept here (their fake API server is closed with them).
  const seen = new Map<object, number>();
  const kubeTotals: Record<string, number> = {};
  const collect = (): Record<string, number> => {
    for (const kube of env.aws.kubes.values()) {
      const from = seen.get(kube) ?? 0;
      for (const r of kube.requests.slice(from)) kubeTotals[kubeOp(r)] = (kubeTotals[kubeOp(r)] ?? 0) + 1;
      seen.set(kube, kube.requests.length);
    }
    return { ...kubeTotals };
  };
  const out: CallCounts[] = [];
  const timer = setInterval(collect, 5);
  try {
    for (const [label, version, strategy] of [
      ['first blue/green (no cluster before it)', '3.0.0', 'blue-green'],
      ['second blue/green (+ drain and teardown of the first cluster)', '3.1.0', 'blue-green'],
      ['rolling update', '3.1.1', 'rolling'],
    ] as const) {
      const aws0 = env.aws.callCounts();
      const kube0 = collect();
      const r = await blueGreen(env.k, 'web-frontend', version, factor, 300_000, strategy);
      if (r.state !== 'succeeded') throw new Error(`${label}: ${r.state} ${r.error ?? ''}`);
      out.push({ label, aws: diff(env.aws.callCounts(), aws0), kube: diff(collect(), kube0) });
    }
  } finally {
    clearInterval(timer);
    await env.close();
  }
  return out;
}

export interface SlackCalls {
  readonly startup: Record<string, number>;
  readonly deploy: Record<string, number>;
  readonly responses: number;
}

export async function countSlackCalls(): Promise<SlackCalls> {
  const h = await startSlackHarness({ cardIntervalMs: 1000 });
  try {
    const count = (from: number): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const call of h.fake.calls.slice(from)) c[call.method] = (c[call.method] ?? 0) + 1;
      return c;
    };
    await new Promise((r) => setTimeout(r, 300));
    const startup = count(0);
    const from = h.fake.calls.length;
    const responses0 = h.fake.responses.length;
    const reply = await h.slash('deploy search-svc v1', CAROL);
    if (reply.status !== 200) throw new Error(`deploy refused: ${reply.text}`);
    const ts = await h.fake.waitFor('the thread', () => h.k.store.deploys.get(1)?.threadTs ?? undefined);
    const approval = await h.approvalMessage(ts);
    await h.click(ACTION_APPROVE, 1, BOB, String(approval.response.ts));
    await until('the deploy to end', () => isTerminal(h.k.store.deploys.get(1)!.state), 60_000);
    // Everything the thread reporter owes Slack is delivered (final card, result, closed approval).
    await until('the reporter to catch up', () => h.bot.reporter.backlog().length === 0, 30_000, 20);
    await new Promise((r) => setTimeout(r, 1500));
    return { startup, deploy: count(from), responses: h.fake.responses.length - responses0 };
  } finally {
    await h.close();
  }
}
