/**
 * The console's reads (console/model.ts `ConsoleReads`) over the store's indexed queries
 * (store/console.ts), the KubeApps, and the command core: a deploy is shown as the core's
 * `view` shows it, and what serves each app (live, draining, lock) is what `status` computes —
 * read through the core, never worked out a second time here.
 */
import type { CommandCore } from '../commands/core.js';
import type { AppStatus, DeployView } from '../commands/results.js';
import type { KubeApp } from '../kubeapps/index.js';
import type { Schedules } from '../schedules/index.js';
import type { DeployRecord, EventRecord, Store } from '../store/index.js';
import type { SlackThreadRecord } from '../store/slack.js';
import { doraReport } from './dora.js';
import type { ConsoleReads, DeployPage, FleetRow, HistoryPage, HistoryQuery } from './model.js';
import { search, vocabularyOf } from './search.js';

/** What the console's reads are built on. */
export interface ConsoleReadsDeps {
  readonly store: Store;
  readonly apps: ReadonlyMap<string, KubeApp>;
  /** The command core: its `view` of a deploy (steps, approval, place in line). */
  readonly core: Pick<CommandCore, 'view'>;
  /**
   * Every app's `status` as the command core computes it (live, draining, lock), read without
   * recording a command: `() => core.statuses()`.
   */
  readonly status: () => readonly AppStatus[];
  /** The next scheduled refresh of an app, if it has one (`nextRefreshFrom(schedules)`). */
  readonly nextRefresh?: (app: string) => FleetRow['nextRefresh'];
}

/** An app's next refresh from the armed schedules (schedules/index.ts). */
export function nextRefreshFrom(schedules: Pick<Schedules, 'list'>): (app: string) => FleetRow['nextRefresh'] {
  return (app) => {
    const s = schedules.list().find((x) => x.app === app);
    return s ? { at: s.next ? s.next.getTime() : null, schedule: cronInWords(s.schedule), cron: s.schedule, timezone: s.timezone } : null;
  };
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const NUMBER = /^\d+$/;

/** A cron expression in words for the common shapes ("every day at 03:00"); any other is returned as written. */
export function cronInWords(cron: string): string {
  const f = cron.trim().split(/\s+/);
  const [min, hour, dom, mon, dow] = f.length === 6 && f[0] === '0' ? f.slice(1) : f;
  if (f.length < 5 || f.length > 6 || (f.length === 6 && f[0] !== '0')) return cron;
  const at = (): string => `${hour!.padStart(2, '0')}:${min!.padStart(2, '0')}`;
  if (dom !== '*' || mon !== '*') return cron;
  if (NUMBER.test(min!) && NUMBER.test(hour!)) {
    if (dow === '*') return `every day at ${at()}`;
    const day = (d: string): string | undefined => WEEKDAYS[Number(d) % 7];
    if (NUMBER.test(dow!)) return `every ${day(dow!)} at ${at()}`;
    const range = /^(\d)-(\d)$/.exec(dow!);
    if (range) return `${day(range[1]!)} to ${day(range[2]!)} at ${at()}`;
    return cron;
  }
  if (NUMBER.test(min!) && hour === '*' && dow === '*') return `every hour at :${min!.padStart(2, '0')}`;
  const every = /^\*\/(\d+)$/.exec(min!);
  if (every && hour === '*' && dow === '*') return `every ${every[1]} minutes`;
  return cron;
}

/** The hardware of a KubeApp in a few words: "auto: m6i.large|m6i.xlarge, ≤12 nodes, on-demand amd64". */
export function hardwareText(hw: KubeApp['hardware']): string {
  const buy = `${hw.spot ? 'spot' : 'on-demand'} ${hw.arch}`;
  switch (hw.capacity) {
    case 'fargate':
      return 'fargate';
    case 'nodes':
      return `nodes ${hw.minNodes}–${hw.maxNodes} × ${hw.instanceTypes.join('|')}, ${buy}`;
    case 'auto':
      return `auto: ${hw.instanceTypes.join('|')}, ≤${hw.maxNodes} nodes, ${buy}`;
  }
}

/** A link to a deploy's Slack thread: the thread Slack answered with, else what the deploy recorded; null without one. */
export function slackThreadUrl(thread: Pick<SlackThreadRecord, 'channel' | 'ts'> | undefined, d: Pick<DeployRecord, 'threadChannel' | 'threadTs'>): string | null {
  const channel = thread?.channel ?? d.threadChannel;
  const ts = thread?.ts ?? d.threadTs;
  // Nothing records the workspace's own URL (auth.test's `url` is not stored), so the link is Slack's
  // permalink form without it — the one the bot's messages use (bot/views.ts threadLink) — which needs
  // a channel id (C…, G…, D…), not a #name.
  if (!channel || !ts || !/^[CGD][A-Z0-9]+$/.test(channel) || !/^\d+\.\d+$/.test(ts)) return null;
  return `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
}

/** The plan an event carried (`data.plan`): lines as they are, or a DeployPlan's lists as lines; else null. */
export function planLines(plan: unknown): string[] | null {
  if (Array.isArray(plan)) return plan.every((l) => typeof l === 'string') ? (plan as string[]) : null;
  if (!plan || typeof plan !== 'object') return null;
  const lines: string[] = [];
  for (const key of ['build', 'create', 'change', 'delete', 'warnings'] as const) {
    const list = (plan as Record<string, unknown>)[key];
    if (Array.isArray(list)) for (const item of list) if (typeof item === 'string') lines.push(`${key}: ${item}`);
  }
  return lines.length ? lines : null;
}

/** Every event of a deploy, oldest first (paged through the events_deploy index). */
function allEvents(store: Store, deployId: number): EventRecord[] {
  const out: EventRecord[] = [];
  for (let after = 0; ; ) {
    const page = store.events.after(deployId, after, 1000);
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.id;
  }
}

export function createConsoleReads(deps: ConsoleReadsDeps): ConsoleReads {
  const { store, apps } = deps;
  const vocab = vocabularyOf(apps);

  return {
    fleet(now: number): FleetRow[] {
      const statuses = new Map(deps.status().map((s) => [s.app, s]));
      const active = store.console.active();
      const lastEnded = store.console.lastEndedOf([...apps.keys()]);
      return [...apps.values()].map((a): FleetRow => {
        const st = statuses.get(a.name);
        const last = lastEnded.get(a.name);
        return {
          app: a.name,
          description: a.description,
          strategy: a.strategy,
          hardware: hardwareText(a.hardware),
          capacity: a.hardware.capacity,
          spot: a.hardware.spot,
          arch: a.hardware.arch,
          minNodes: a.hardware.minNodes,
          maxNodes: a.hardware.maxNodes,
          live: st?.live ?? null,
          draining: st?.draining ?? null,
          kubernetes: st?.kubernetes ?? null,
          scaled: st?.scaled ?? null,
          lastDeploy: last
            ? { id: last.id, version: last.version, state: last.state, requestedBy: last.requestedBy, requestedByName: last.requestedByName, finishedAt: last.finishedAt, kind: last.kind }
            : null,
          lock: st ? st.lock : (store.locks.get(a.name) ?? null),
          active: active
            .filter((d) => d.app === a.name)
            .map((d) => ({
              id: d.id,
              version: d.version,
              state: d.state,
              step: d.runningStep,
              elapsedMs: Math.max(0, now - (d.startedAt ?? d.createdAt)),
              requestedBy: d.requestedBy,
              requestedByName: d.requestedByName,
            })),
          nextRefresh: deps.nextRefresh?.(a.name) ?? null,
        };
      });
    },

    history(q: HistoryQuery): HistoryPage {
      const v = q.version?.trim();
      const version = !v || v === '*' ? undefined : v.endsWith('*') ? { prefix: v.slice(0, -1) } : { exact: v };
      const page = store.console.find({
        app: q.app,
        version,
        person: q.person || undefined,
        outcome: q.outcome,
        created: q.from !== undefined || q.to !== undefined ? { from: q.from, to: q.to } : undefined,
        before: q.before,
        limit: q.limit,
      });
      return { rows: page.rows, nextBefore: page.nextBefore };
    },

    dora(app: string, from: number, to: number) {
      return doraReport(app, from, to, store.console.doraRows(app, from, to));
    },

    search(query: string, now: number, limit?: number) {
      return search(store.console, vocab, query, now, limit);
    },

    deployPage(id: number): DeployPage | undefined {
      const d = store.deploys.get(id);
      if (!d) return undefined;
      const deploy: DeployView = deps.core.view(id);
      return {
        deploy,
        events: allEvents(store, id),
        resources: store.resources.forDeploy(id),
        approval: deploy.approval ?? store.approvals.forDeploy(id) ?? null,
        slackUrl: slackThreadUrl(store.slack.get(id), d),
        plan: planLines(store.console.eventPlan(id)),
      };
    },
  };
}
