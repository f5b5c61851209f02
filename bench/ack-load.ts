/**
 * The load generator of the ack benchmark, run as its own process (forked by
 * bench/ack-latency.ts). Open loop: request i is due at start + i/rate,
 * whatever happened to the ones before; its latency is counted from that
 * scheduled time (so a stalled server or a late timer shows up as latency,
 * not as fewer requests). Real slash commands: form bodies as Slack sends
 * them, each signed (v0 HMAC-SHA256 over timestamp and body), each with a
 * unique trigger_id, over keep-alive connections.
 *
 * IPC in: {type:'job', job: LoadJob}; out: {type:'done', result: LoadResult}.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadJob {
  readonly url: string;
  readonly secret: string;
  readonly rate: number;
  readonly seconds: number;
  /** The slash command's text; `{i}` is replaced by a unique number. */
  readonly text: string;
  readonly userId: string;
  readonly responseUrl: string;
  /** A substring every answer must contain (else it counts as an error: a wrong answer). */
  readonly expect: string;
  /** Slack gives up on an ack after 3 s: a later answer counts as an error. */
  readonly deadlineMs: number;
}

export interface LoadResult {
  /** Latencies (ms from the scheduled send time to the whole answer) of the requests answered correctly in time. */
  readonly latencies: number[];
  readonly sent: number;
  readonly errors: { status: number; wrong: number; late: number; network: number };
  /** One example of each kind of error. */
  readonly examples: string[];
  /** How late the generator itself sent (ms after the scheduled time): its own share of the latency. */
  readonly sendLag: { p50: number; p99: number; max: number };
  readonly wallMs: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });
let seq = 0;
const tag = randomUUID().slice(0, 8);

function form(job: LoadJob, i: number): string {
  const n = `${tag}-${++seq}`;
  return new URLSearchParams({
    token: 'legacy-verification-token-unused',
    team_id: 'T0TEST',
    team_domain: 'kubecontrol-bench',
    channel_id: 'C0SEARCH',
    channel_name: 'search-team',
    user_id: job.userId,
    user_name: job.userId.toLowerCase(),
    command: '/kubeapp',
    text: job.text.replaceAll('{i}', `${n}`),
    api_app_id: 'A0KUBECTL',
    is_enterprise_install: 'false',
    response_url: `${job.responseUrl}-${i}`,
    trigger_id: `bench.${n}.${randomUUID()}`,
  }).toString();
}

function run(job: LoadJob): Promise<LoadResult> {
  const total = Math.round(job.rate * job.seconds);
  const interval = 1000 / job.rate;
  const target = new URL(job.url);
  const latencies: number[] = [];
  const lags: number[] = [];
  const errors = { status: 0, wrong: 0, late: 0, network: 0 };
  const examples = new Map<string, string>();
  let answered = 0;
  const start = performance.now() + 20;
  return new Promise((resolve) => {
    const finish = (): void => {
      if (++answered < total) return;
      lags.sort((a, b) => a - b);
      const q = (p: number): number => lags[Math.min(lags.length - 1, Math.ceil(p * lags.length) - 1)] ?? NaN;
      resolve({ latencies, sent: total, errors, examples: [...examples.values()], sendLag: { p50: q(0.5), p99: q(0.99), max: lags[lags.length - 1] ?? NaN }, wallMs: performance.now() - start });
    };
    const fail = (kind: keyof typeof errors, why: string): void => {
      errors[kind]++;
      if (!examples.has(kind)) examples.set(kind, `${kind}: ${why.slice(0, 300)}`);
      finish();
    };
    const send = (i: number, due: number): void => {
      const body = form(job, i);
      const ts = Math.floor(Date.now() / 1000);
      const signature = `v0=${createHmac('sha256', job.secret).update(`v0:${ts}:${body}`).digest('hex')}`;
      lags.push(performance.now() - due);
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            'x-slack-request-timestamp': String(ts),
            'x-slack-signature': signature,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const latency = performance.now() - due;
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return fail('status', `HTTP ${res.statusCode}: ${text}`);
            if (!text.includes(job.expect)) return fail('wrong', text);
            if (latency > job.deadlineMs) return fail('late', `${latency.toFixed(0)} ms`);
            latencies.push(latency);
            finish();
          });
          res.on('error', (err) => fail('network', err.message));
        },
      );
      req.setTimeout(job.deadlineMs * 3, () => req.destroy(new Error(`no answer within ${job.deadlineMs * 3} ms`)));
      req.on('error', (err) => fail('network', err.message));
      req.end(body);
    };
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        send(next, start + next * interval);
        next++;
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    setTimeout(tick, 20);
  });
}

process.on('message', (m: { type: string; job: LoadJob }) => {
  if (m.type === 'job') void run(m.job).then((result) => process.send!({ type: 'done', result }));
  if (m.type === 'stop') {
    agent.destroy();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
