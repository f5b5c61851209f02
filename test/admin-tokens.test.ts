/**
 * `npm run admin -- tokens create|revoke`: a token only for someone the server
 * knows (a person a KubeApp names, or an admin), with a specific message and
 * exit 2 otherwise; revoking what is not there is exit 4 (not found).
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { admin, type AdminIo } from '../cli/admin.js';
import { Store } from '../store/index.js';

const execFileP = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

function installation(): string {
  const db = join(mkdtempSync(join(tmpdir(), 'kubecontrol-admin-')), 'kubecontrol.db');
  Store.open(db).close();
  return db;
}

async function runAdmin(argv: string[], io: Partial<AdminIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await admin(argv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env: {}, cwd: ROOT, ...io });
  return { code, stdout, stderr };
}

const tokensOf = (db: string): string[] => {
  const store = Store.open(db);
  try {
    return store.tokens.list().map((t) => t.person);
  } finally {
    store.close();
  }
};

describe('tokens create: only for someone the server knows', () => {
  it.each([
    ['an empty name', '', '✗ a token needs a person: name them as the KubeApps do (e.g. carol, or a Slack id like U0ALICE01)\n'],
    ['a name with spaces', 'carol smith', `✗ "carol smith" is not a person's name: it has spaces; names are letters, digits and _ . @ - (as the KubeApps name people)\n`],
    ['a name with other characters', 'carol!;', `✗ "carol!;" is not a person's name: it has “!”, “;”; names are letters, digits and _ . @ - (as the KubeApps name people)\n`],
    ['a group', '@search-team', '✗ @search-team is a group, not a person: tokens are per person; create one for each member who uses the CLI or the API\n'],
  ])('refuses %s with exit 2 before opening the database', async (_, person, message) => {
    const db = installation();
    const run = await runAdmin(['tokens', 'create', person, '--db', db]);
    expect(run).toEqual({ code: 2, stdout: '', stderr: message });
    expect(tokensOf(db)).toEqual([]);
  });

  it('refuses someone no KubeApp names, with the nearest name and the groups they might act through (exit 2)', async () => {
    const db = installation();
    const run = await runAdmin(['tokens', 'create', 'carl', '--db', db]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      '✗ nobody named carl in the KubeApps (the examples: KUBECONTROL_KUBEAPPS_DIR is not set) or KUBECONTROL_ADMINS: a token for them could do nothing. ' +
        'Did you mean carol? If carl acts only as a member of a group (@search-team, @web-team), add --unlisted.\n',
    );
    expect(tokensOf(db)).toEqual([]);
  });

  it('creates one for an owner, a deployer, an approver (by Slack id too) and an admin', async () => {
    const db = installation();
    for (const person of ['alice', 'carol', 'bob', 'U0DAVE001', 'zed']) {
      const run = await runAdmin(['tokens', 'create', person, '--db', db], { env: { KUBECONTROL_ADMINS: 'root, zed' } });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^database: ${db}\\nToken for ${person} \\(shown once; only its hash is stored\\):\\nkc_\\S+\\n$`));
    }
    expect(tokensOf(db)).toEqual(['alice', 'carol', 'bob', 'U0DAVE001', 'zed']);
  });

  it('--unlisted creates one for someone who acts only through a group, but never for a name no person has', async () => {
    const db = installation();
    expect((await runAdmin(['tokens', 'create', 'frank', '--unlisted', '--db', db])).code).toBe(0);
    expect(await runAdmin(['tokens', 'create', 'fr ank', '--unlisted', '--db', db])).toMatchObject({ code: 2, stderr: expect.stringMatching(/it has spaces/) });
    expect(await runAdmin(['tokens', 'create', '@web-team', '--unlisted', '--db', db])).toMatchObject({ code: 2, stderr: expect.stringMatching(/is a group, not a person/) });
    expect(tokensOf(db)).toEqual(['frank']);
  });

  it('reads the KubeApps the server would (KUBECONTROL_KUBEAPPS_DIR, from the package root), and says when some could not be loaded', async () => {
    const db = installation();
    const env = { KUBECONTROL_KUBEAPPS_DIR: 'test/fixtures/broken-kubeapps' };
    const dir = join(ROOT, 'test/fixtures/broken-kubeapps');
    // alice owns good-svc there; carol is named only in the examples.
    expect((await runAdmin(['tokens', 'create', 'alice', '--db', db], { env })).code).toBe(0);
    const carol = await runAdmin(['tokens', 'create', 'carol', '--db', db], { env });
    expect(carol.code).toBe(2);
    expect(carol.stderr).toMatch(
      new RegExp(`^✗ cannot tell whether carol may have a token: \\d+ problem\\(s\\) loading the KubeApps \\(${dir}\\) \\(\`npx kubecontrol apps validate --dir ${dir}\` lists them\\), and none of the apps that loaded names carol\\n$`),
    );
    expect(tokensOf(db)).toEqual(['alice']);
  });
});

describe('tokens revoke: what is not there is not found (exit 4)', () => {
  it('a person with no token', async () => {
    const db = installation();
    expect(await runAdmin(['tokens', 'revoke', 'ghost', '--db', db])).toEqual({
      code: 4,
      stdout: `database: ${db}\n`,
      stderr: '✗ ghost has no token in this database: nothing to revoke (`tokens list` shows whose there are).\n',
    });
  });

  it('a person whose tokens are all revoked already', async () => {
    const db = installation();
    expect((await runAdmin(['tokens', 'create', 'carol', '--db', db])).code).toBe(0);
    expect(await runAdmin(['tokens', 'revoke', 'carol', '--db', db])).toMatchObject({ code: 0, stdout: `database: ${db}\nRevoked 1 token(s) of carol.\n` });
    expect(await runAdmin(['tokens', 'revoke', 'carol', '--db', db])).toMatchObject({
      code: 4,
      stderr: '✗ carol has no active token: their one token was revoked already (`tokens list` shows them).\n',
    });
  });
});

describe('npm run admin (tsx cli/admin.ts) exits with those codes', () => {
  it('2 for someone nobody names, 4 for nothing to revoke, no stack trace', async () => {
    const db = installation();
    const script = (args: string[]) =>
      execFileP(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'cli', 'admin.ts'), ...args], { cwd: ROOT, env: { ...process.env, KUBECONTROL_KUBEAPPS_DIR: '', KUBECONTROL_ADMINS: '' } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const unknown = await script(['tokens', 'create', 'ghost', '--db', db]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^✗ nobody named ghost in the KubeApps/);
    const revoke = await script(['tokens', 'revoke', 'ghost', '--db', db]);
    expect(revoke.code).toBe(4);
    expect(revoke.stderr).toBe('✗ ghost has no token in this database: nothing to revoke (`tokens list` shows whose there are).\n');
    expect(`${unknown.stderr}${revoke.stderr}`).not.toMatch(/\n\s+at /);
  }, 30_000);
});
