/**
 * `npm run admin -- tokens …`: names the database it touches, refuses a path
 * that is not an existing database (never creates one), and acts through the
 * store's token repository.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { admin, type AdminIo } from '../cli/admin.js';
import { Store } from '../store/index.js';

const execFileP = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

/** A fresh directory holding a real kubecontrol database (migrated, as the server leaves it). */
function installation(): { dir: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-admin-'));
  const db = join(dir, 'kubecontrol.db');
  Store.open(db).close();
  return { dir, db };
}

async function runAdmin(argv: string[], io: Partial<AdminIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await admin(argv, {
    out: (t) => void (stdout += t),
    err: (t) => void (stderr += t),
    env: {},
    cwd: ROOT,
    ...io,
  });
  return { code, stdout, stderr };
}

function withStore<T>(db: string, fn: (store: Store) => T): T {
  const store = Store.open(db);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

describe('npm run admin -- tokens', () => {
  it('creates a token in the database it names first; only the hash is stored', async () => {
    const { db } = installation();
    const run = await runAdmin(['tokens', 'create', 'carol', '--label', 'laptop', '--db', db]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`database: ${db}`);
    expect(lines[1]).toBe('Token for carol (shown once; only its hash is stored):');
    const token = lines[2]!;
    expect(token).toMatch(/^kc_/);
    expect(withStore(db, (s) => s.tokens.verify(token))).toBe('carol');
  });

  it('lists tokens without the token or its hash, then revokes them', async () => {
    const { db } = installation();
    const token = withStore(db, (s) => s.tokens.create('carol', 'ci'));
    withStore(db, (s) => s.tokens.create('bob'));

    const list = await runAdmin(['tokens', 'list', '--db', db]);
    expect(list.code).toBe(0);
    const [first, header, carol, bob] = list.stdout.trim().split('\n');
    expect(first).toBe(`database: ${db}`);
    expect(header).toMatch(/^ID +PERSON +LABEL +CREATED \(UTC\) +LAST USED +STATE$/);
    expect(carol).toMatch(/^1 +carol +ci +\d{4}-\d\d-\d\d \d\d:\d\d +- +active$/);
    expect(bob).toMatch(/^2 +bob +- +.* active$/);
    expect(list.stdout).not.toContain(token);
    expect(list.stdout).not.toMatch(/[0-9a-f]{64}/);

    const revoke = await runAdmin(['tokens', 'revoke', 'carol', '--db', db]);
    expect(revoke).toMatchObject({ code: 0, stdout: `database: ${db}\nRevoked 1 token(s) of carol.\n` });
    expect(withStore(db, (s) => s.tokens.verify(token))).toBeUndefined();
    expect((await runAdmin(['tokens', 'list', '--db', db])).stdout).toMatch(/^1 +carol +ci +.* revoked \d{4}-\d\d-\d\d \d\d:\d\d$/m);
  });

  it('says so when there are no tokens', async () => {
    const { db } = installation();
    expect(await runAdmin(['tokens', 'list', '--db', db])).toMatchObject({ code: 0, stdout: `database: ${db}\nNo tokens.\n` });
  });

  it('takes the database from --db, else KUBECONTROL_DB, else ./data/kubecontrol.db, and prints it absolute', async () => {
    const { dir, db } = installation();
    // KUBECONTROL_DB and the default resolve where the server's do (the package root under npm); a typed --db where it was typed.
    const fromEnv = await runAdmin(['tokens', 'list'], { env: { KUBECONTROL_DB: 'kubecontrol.db' }, cwd: dir });
    expect(fromEnv.stdout.split('\n')[0]).toBe(`database: ${db}`);
    expect(fromEnv.code).toBe(0);
    const fromFlag = await runAdmin(['tokens', 'list', '--db', 'kubecontrol.db'], { env: { KUBECONTROL_DB: '/elsewhere.db' }, cwd: ROOT, invokedFrom: dir });
    expect(fromFlag.stdout.split('\n')[0]).toBe(`database: ${db}`);
    const byDefault = await runAdmin(['tokens', 'list'], { cwd: dir });
    expect(byDefault.stdout.split('\n')[0]).toBe(`database: ${join(dir, 'data', 'kubecontrol.db')}`);
  });

  it.each([
    ['a path with nothing there', (dir: string) => join(dir, 'typo.db'), /There is no database at .*typo\.db\. Pass --db PATH or set KUBECONTROL_DB/],
    ['a missing folder', (dir: string) => join(dir, 'data', 'kubecontrol.db'), /There is no database at /],
    ['an empty file', (dir: string) => (writeFileSync(join(dir, 'empty.db'), ''), join(dir, 'empty.db')), /empty\.db is not a SQLite database/],
    ['a file that is not SQLite', (dir: string) => (writeFileSync(join(dir, 'notes.txt'), 'hello, this is not a database'), join(dir, 'notes.txt')), /is not a SQLite database/],
    ['a folder', (dir: string) => dir, /is not a file/],
  ])('refuses %s with exit 2, and creates nothing', async (_, pathIn, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-admin-'));
    const path = pathIn(dir);
    const existed = existsSync(path);
    const run = await runAdmin(['tokens', 'create', 'carol', '--db', path]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe(`database: ${path}\n`);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path)).toBe(existed);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('answers a usage mistake with exit 2', async () => {
    const run = await runAdmin(['tokens', 'create']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing required argument 'person'/);
  });

  it('runs as a script (the `admin` npm script: tsx cli/admin.ts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecontrol-admin-'));
    const missing = join(dir, 'nope.db');
    const run = await execFileP(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'cli', 'admin.ts'), 'tokens', 'list', '--db', missing], { cwd: ROOT }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe(`database: ${missing}\n`);
    expect(run.stderr).toMatch(/There is no database at/);
    expect(existsSync(missing)).toBe(false);
  });
});
