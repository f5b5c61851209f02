/**
 * Every statement the console runs (store/console.ts `statements()`: each combination of filters,
 * and the fixed reads), and the deploys/events repositories' history, status and feed reads, stay
 * on an index: EXPLAIN QUERY PLAN on a file with some thousands of deploys and events shows no SCAN
 * of a table — only a SEARCH, or the scan of a partial index (the handful of unfinished deploys,
 * the successes walked newest first). Checked twice: as a database is in production (nothing runs
 * ANALYZE), and after ANALYZE (the planner then weighs the statistics). The older reads keep the
 * index they had, and each index migrations 6 and 9 add is used by some plan. The reads that must stop
 * after a page (a person, an app's failures, a version prefix, a narrow time window) are checked to walk
 * an index in id order or to sort only ids, and every shape's pages against the rows filtered in JS.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existingReadStatements, type DeployFilter, type NamedStatement } from '../store/console.js';
import { MIGRATIONS } from '../store/migrations.js';
import { Store, type DeployState } from '../store/index.js';

const MIN = 60_000;
const DAY = 1440 * MIN;
const START = Date.UTC(2026, 9, 1);
const DEPLOYS = 5000;
const APPS = ['search-svc', 'web-frontend', 'cache-worker', 'billing', 'auth', 'ledger', 'mailer', 'reports'];
const PEOPLE = ['carol', 'alice', 'bob', 'dave', 'erin', 'U0ALICE01', 'frank', 'grace', 'heidi', 'ivan'];
// Mostly successes, as in life; a few unfinished ones at the end.
const ENDS: DeployState[] = ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'rejected', 'cancelled', 'succeeded', 'timed_out'];

let store: Store;
let now = START;
let statements: NamedStatement[];

beforeAll(() => {
  store = Store.open(join(mkdtempSync(join(tmpdir(), 'kubecontrol-plans-')), 'k.db'), { now: () => now });
  store.tx(() => {
    for (let i = 0; i < DEPLOYS; i++) {
      now += 10 * MIN;
      const strategy = i % 3 ? 'blue-green' : 'rolling';
      const d = store.deploys.create({
        app: APPS[i % APPS.length]!,
        version: `v${i}`,
        strategy,
        kind: i % 40 === 0 ? 'rollback' : i % 25 === 0 ? 'refresh' : 'deploy',
        requestedBy: PEOPLE[i % PEOPLE.length]!,
        requestedByName: i % 2 ? `Person ${i % PEOPLE.length}` : null,
        surface: 'cli',
        provider: 'sandbox',
      });
      store.deploys.step(d.id, 'build', 'succeeded');
      for (let e = 0; e < 4; e++) store.events.append({ deployId: d.id, kind: 'progress', message: `step ${e}`, data: e === 0 && i % 100 === 0 ? { plan: ['create cluster'] } : null });
      if (i >= DEPLOYS - 6) {
        store.deploys.transition(d.id, ['queued'], 'building');
        continue;
      }
      const end = ENDS[i % ENDS.length]!;
      const path: DeployState[] =
        end === 'failed' || end === 'cancelled' ? ['queued', 'building', end]
        : end === 'rejected' || end === 'timed_out' ? ['queued', 'building', 'deploying', 'awaiting_approval', end]
        : strategy === 'rolling' ? ['queued', 'building', 'deploying', 'succeeded']
        : ['queued', 'building', 'deploying', 'awaiting_approval', 'cutting_over', 'tearing_down', 'succeeded'];
      if (strategy === 'blue-green' && end === 'succeeded') store.deploys.step(d.id, 'cutover', 'succeeded', null, now + 5 * MIN);
      for (let s = 1; s < path.length; s++) store.deploys.transition(d.id, [path[s - 1]!], path[s]!, s === path.length - 1 ? { finishedAt: now + 8 * MIN } : {});
    }
  });
  statements = [...store.console.statements(), ...existingReadStatements(store)];
});
afterAll(() => store.close());

/** Values for the parameters, named (`@app`) or by the column before a `?` (`app = ?`). */
function valuesFor(set: 'recent' | 'old day' | 'rare'): Record<string, unknown> {
  const end = START + DEPLOYS * 10 * MIN;
  const base = { app: 'search-svc', version: 'v123', lo: 'v12', hi: 'v13', person: 'carol', state: 'failed', before: 4000, limit: 26, after: 4000, id: 4000, deploy_id: 4000, apps: JSON.stringify(APPS) };
  if (set === 'recent') return { ...base, from: end - 7 * DAY, to: end };
  if (set === 'old day') return { ...base, from: START + 10 * DAY, to: START + 11 * DAY, before: 100 };
  return { ...base, person: 'nobody', state: 'timed_out', version: 'v9999999', lo: 'zz', hi: 'z{', from: end - DAY, to: end };
}

function planOf(s: NamedStatement, values: Record<string, unknown>): string[] {
  const named = [...new Set([...s.sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
  const positional = [...s.sql.matchAll(/(?:(\w+)\s*(?:=|<>|<=|>=|<|>)\s*\?|LIMIT\s+\?)/gi)].map((m) => (m[1] ? m[1] : 'limit'));
  expect(positional.length).toBe((s.sql.match(/\?/g) ?? []).length); // every ? was understood
  const stmt = store.db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`);
  const args = named.length ? [Object.fromEntries(named.map((p) => [p, values[p]]))] : positional.map((col) => values[col === 'rowid' ? 'id' : col]);
  for (const a of args) expect(a).not.toBeUndefined();
  return (stmt.all(...args) as { detail: string }[]).map((r) => r.detail);
}

/** Partial indexes (with a WHERE): scanning one reads only the rows it holds. */
const partial = (): Set<string> =>
  new Set((store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'").all() as { name: string }[]).map((r) => r.name));

const plan = (name: string, set: 'recent' | 'old day' | 'rare' = 'recent'): string => planOf(statements.find((s) => s.name === name)!, valuesFor(set)).join(' | ');

describe.each([
  ['as in production, without ANALYZE', false],
  ['after ANALYZE', true],
])('the console’s statements and the history/status/feed reads stay on indexes, %s', (_, analyze) => {
  beforeAll(() => {
    if (analyze) store.db.exec('ANALYZE');
  });

  it('lists every filter combination and the fixed reads', () => {
    const names = statements.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['find app', 'find person', 'find version:prefix', 'find outcome:active', 'find from+to', 'lastEnded', 'active', 'doraRows', 'nextLive', 'deploys.historyStmt', 'events.afterStmt']));
    expect(statements.filter((s) => s.name.startsWith('find ')).length).toBeGreaterThan(250);
  });

  it.each(['recent', 'old day', 'rare'] as const)('no table scan with %s values', (set) => {
    const partials = partial();
    const scans: string[] = [];
    for (const s of statements) {
      for (const line of planOf(s, valuesFor(set))) {
        const scan = /^SCAN (\S+)(?: USING (?:COVERING )?INDEX (\S+))?/.exec(line);
        // Not a table: the page of ids a person's walk returns (a co-routine of at most @limit rows), the list of apps given (json_each).
        const notATable = /^SCAN \(subquery-\d+\)$/.test(line) || /^SCAN \S+ VIRTUAL TABLE INDEX/.test(line);
        if (scan && !notATable && !(scan[2] && partials.has(scan[2]))) scans.push(`${s.name}: ${line}`);
      }
    }
    expect(scans).toEqual([]);
  });

  it('the older reads keep their indexes', () => {
    expect(plan('deploys.historyStmt')).toMatch(/^SEARCH deploys USING INDEX deploys_app \(app=\?\)$/);
    expect(plan('deploys.lastSuccessStmt')).toMatch(/^SEARCH deploys USING INDEX deploys_last_success \(app=\?\)$/);
    expect(plan('deploys.lastSuccessOtherVersionStmt')).toMatch(/^SEARCH deploys USING INDEX deploys_last_success \(app=\?\)$/);
    expect(plan('deploys.activeStmt')).toMatch(/deploys_active$/);
    expect(plan('deploys.aheadStmt')).toMatch(/deploys_active_app \(app=\? AND id<\?\)/);
    expect(plan('events.afterStmt')).toMatch(/events_deploy \(deploy_id=\? AND id>\?\)/);
  });

  it('uses the index each read is meant for', () => {
    expect(plan('find app')).toMatch(/SEARCH deploys USING INDEX deploys_app \(app=\?\)/);
    expect(plan('find app+before')).toMatch(/deploys_app \(app=\? AND id<\?\)/);
    expect(plan('find version:exact')).toMatch(/deploys_version \(version=\?\)/);
    expect(plan('find version:prefix')).toMatch(/deploys_version \(version>\? AND version<\?\)/);
    expect(plan('find person')).toMatch(/deploys_requested_by \(requested_by=\?\).*deploys_requested_by_name \(requested_by_name=\?\)/);
    expect(plan('find outcome:unsuccessful', 'rare')).toMatch(/deploys_unsuccessful \(state=\?\)/);
    expect(plan('find outcome:succeeded')).toMatch(/deploys_succeeded$/);
    expect(plan('find app+outcome:succeeded')).toMatch(/deploys_last_success \(app=\?\)/);
    expect(plan('find outcome:unfinished')).toMatch(/deploys_active$/);
    expect(plan('find outcome:active')).toMatch(/deploys_active\b/);
    expect(plan('find app+outcome:active')).toMatch(/deploys_active_app \(app=\?\)/);
    expect(plan('find from+to', 'old day')).toMatch(/deploys_created \(created_at>\? AND created_at<\?\)/);
    expect(plan('find app+from+to', 'old day')).toMatch(/deploys_app_created \(app=\? AND created_at>\? AND created_at<\?\)/);
    expect(plan('lastEnded')).toMatch(/deploys_app_finished \(app=\? AND finished_at>\?\)/);
    // A day's window: on the finish index. (For a window that is a large part of the history the planner may
    // walk the app's deploys by id instead, which avoids the sort and is as cheap: still a SEARCH.)
    expect(plan('doraRows', 'rare')).toMatch(/deploys_app_finished \(app=\? AND finished_at>\?\).*steps/);
    expect(plan('nextLive')).toMatch(/deploys_last_success \(app=\? AND id>\?\)/);
    expect(plan('active')).toMatch(/deploys_active.*steps/);
    expect(plan('eventWithPlan')).toMatch(/events_deploy \(deploy_id=\?\)/);
  });

  it('every index migrations 6 and 9 add is used by some plan', () => {
    const added = MIGRATIONS.filter((m) => m.version === 6 || m.version === 9).flatMap((m) => [...m.sql.matchAll(/CREATE INDEX (\w+)/g)].map((x) => x[1]!));
    expect(added.length).toBeGreaterThan(0);
    const used = new Set<string>();
    for (const set of ['recent', 'old day', 'rare'] as const) {
      for (const s of statements) for (const line of planOf(s, valuesFor(set))) for (const m of line.matchAll(/INDEX (\w+)/g)) used.add(m[1]!);
    }
    expect(added.filter((i) => !used.has(i))).toEqual([]);
  });

  it('reads a page of a person, an app’s failures or versions, a narrow window, walking in id order or sorting only ids', () => {
    // A person: each column's index walked newest first (it is (column, id)), stopping after a page; the page's ids then read in order.
    for (const name of ['find person', 'find person+before']) {
      const p = plan(name);
      expect(p).toMatch(/COVERING INDEX deploys_requested_by \(requested_by=\?( AND rowid<\?)?\).*COVERING INDEX deploys_requested_by_name \(requested_by_name=\?( AND rowid<\?)?\)/);
      expect(p).toMatch(/^SEARCH deploys USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(p).not.toMatch(/TEMP B-TREE/);
    }
    expect(plan('find person+outcome:active')).toMatch(/deploys_active/);
    // A person within an app: the app's deploys, newest first.
    expect(plan('find app+person')).toBe('SEARCH deploys USING INDEX deploys_app (app=?)');
    expect(plan('find app+person+outcome:unsuccessful')).toMatch(/deploys_app_unsuccessful \(app=\? AND state=\?\)$/);
    // An app's failures: (app, state, id) backwards, no sort.
    expect(plan('find app+outcome:unsuccessful', 'rare')).toBe('SEARCH deploys USING INDEX deploys_app_unsuccessful (app=? AND state=?)');
    expect(plan('find outcome:unsuccessful', 'rare')).not.toMatch(/TEMP B-TREE/);
    // A version prefix: the page's ids sorted from a covering index, then only those rows read.
    expect(plan('find version:prefix')).toMatch(/^SEARCH deploys USING INTEGER PRIMARY KEY \(rowid=\?\).*COVERING INDEX deploys_version \(version>\? AND version<\?\)/);
    expect(plan('find app+version:prefix')).toMatch(/^SEARCH deploys USING INTEGER PRIMARY KEY \(rowid=\?\).*COVERING INDEX deploys_app_version \(app=\? AND version>\? AND version<\?\)/);
    // A narrow window, read first whatever else is asked.
    expect(plan('find person+from+to+narrow')).toMatch(/^SEARCH deploys USING INDEX deploys_created \(created_at>\? AND created_at<\?\)/);
    expect(plan('find outcome:unsuccessful+from+to+narrow')).toMatch(/^SEARCH deploys USING INDEX deploys_created \(created_at>\? AND created_at<\?\)/);
    expect(plan('find app+person+from+to+narrow')).toMatch(/^SEARCH deploys USING INDEX deploys_app_created \(app=\? AND created_at>\? AND created_at<\?\)/);
  });

  it('reads every app’s status and newest ended deploy in one statement each', () => {
    expect(plan('environments.liveWithLastSuccessStmt')).toMatch(/^SCAN e USING INDEX environments_live \| .*deploys_last_success \(app=\?\)/);
    expect(plan('lastEndedOf')).toMatch(/^SCAN a VIRTUAL TABLE .*deploys_app_finished \(app=\? AND finished_at>\?\)$/);
  });

  it('every shape answers what its filter says, page after page (checked against the rows filtered one by one)', () => {
    const all = (store.db.prepare('SELECT * FROM deploys ORDER BY id DESC').all() as Record<string, unknown>[]).map((r) => ({
      id: r.id as number, app: r.app as string, version: r.version as string, state: r.state as string, by: r.requested_by as string, name: r.requested_by_name as string | null, created: r.created_at as number,
    }));
    const end = START + DEPLOYS * 10 * MIN;
    const filters: DeployFilter[] = [
      { person: 'carol' },
      { person: 'CAROL' },
      { person: 'person 3' },
      { person: 'carol', before: 2500 },
      { app: 'auth', person: 'u0alice01' },
      { person: 'bob', outcome: 'failed' },
      { person: 'grace', outcome: 'active' },
      { person: 'person 1', created: { from: end - 2 * DAY, to: end } },
      { person: 'person 1', created: { from: end - 30 * DAY, to: end - 2 * DAY } },
      { app: 'billing', person: 'frank', created: { from: START + 5 * DAY, to: START + 9 * DAY } },
      { outcome: 'failed', created: { from: START + 3 * DAY, to: START + 4 * DAY } },
      { outcome: 'timed_out', app: 'ledger' },
      { version: { prefix: 'v12' } },
      { version: { prefix: 'v4' }, before: 4300 },
      { app: 'mailer', version: { prefix: 'v1' } },
      { app: 'reports', version: { exact: 'v4999' }, person: 'ivan' },
    ];
    for (const f of filters) {
      const want = all
        .filter((d) =>
          (f.app === undefined || d.app === f.app) &&
          (f.person === undefined || d.by.toLowerCase() === f.person.toLowerCase() || d.name?.toLowerCase() === f.person.toLowerCase()) &&
          (f.outcome === undefined || (f.outcome === 'active' ? !['succeeded', 'failed', 'rejected', 'timed_out', 'cancelled'].includes(d.state) : d.state === f.outcome)) &&
          (f.version === undefined || ('exact' in f.version ? d.version === f.version.exact : d.version.startsWith(f.version.prefix))) &&
          (f.created?.from === undefined || d.created >= f.created.from) &&
          (f.created?.to === undefined || d.created < f.created.to) &&
          (f.before === undefined || d.id < f.before))
        .map((d) => d.id)
        .slice(0, 60);
      const got: number[] = [];
      for (let before = f.before; got.length < 60; ) {
        const page = store.console.find({ ...f, before, limit: 7 });
        got.push(...page.rows.map((r) => r.id));
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
      expect({ f, ids: got.slice(0, 60) }).toEqual({ f, ids: want });
    }
  });

  it('find answers with the page the plan promises', () => {
    const first = store.console.find({ app: 'search-svc', limit: 25 });
    expect(first.rows).toHaveLength(25);
    expect(first.rows.every((d) => d.app === 'search-svc')).toBe(true);
    const second = store.console.find({ app: 'search-svc', limit: 25, before: first.nextBefore! });
    expect(second.rows[0]!.id).toBeLessThan(first.rows[24]!.id);
    expect(() => store.console.find({ before: 10 })).toThrow(RangeError);
  });
});
