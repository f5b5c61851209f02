/**
 * `npm run admin -- …`: administration on the server host, against the
 * installation's SQLite file. It is the one module in cli/ that imports the
 * store for more than types: the `kubecontrol` CLI is a client of the server's
 * API and never opens the database; this tool exists because tokens are how
 * one gets into that API in the first place.
 *
 *   npm run admin -- tokens create PERSON [--label L] [--db PATH] [--unlisted]
 *   npm run admin -- tokens revoke PERSON [--db PATH]
 *   npm run admin -- tokens list [--db PATH]
 *
 * It says first which database it touches (`--db`, else KUBECONTROL_DB, else
 * ./data/kubecontrol.db, made absolute), and refuses a path that is not an
 * existing SQLite file rather than create an empty database by mistake.
 *
 * A token is created only for someone the server knows: a person a KubeApp
 * names (owner, deployer or approver; the KubeApps are loaded as the server
 * loads them, from KUBECONTROL_KUBEAPPS_DIR) or an admin (KUBECONTROL_ADMINS).
 * `--unlisted` creates one for someone who acts only through a group.
 *
 * Exit codes: 0 ok · 1 the database could not be opened · 2 invalid input
 * (a name no person has, someone nobody names) or no database at that path ·
 * 4 not found (no token to revoke).
 */
import { Command, CommanderError, Option } from 'commander';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nearest } from '../commands/grammar.js';
import { loadKubeApps, type LoadResult } from '../kubeapps/index.js';
import { Store } from '../store/index.js';
import { personNameProblem } from '../store/tokens.js';
import { table } from './render.js';

/** Where the admin tool writes and what it reads instead of the process globals (tests pass their own). */
export interface AdminIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The package root under `npm run`, as for `npm start`: KUBECONTROL_DB and the default resolve here, as the server's do. */
  readonly cwd: string;
  /** Where the person typed the command (npm's INIT_CWD): a `--db` they typed resolves here. @default cwd */
  readonly invokedFrom?: string;
  /** Loads the KubeApps of a folder (undefined: the server's default). @default loadKubeApps */
  readonly loadApps?: (dir: string | undefined) => Promise<LoadResult>;
}

/** The default database, as the server's configuration has it (KUBECONTROL_DB). */
export const DEFAULT_DB = './data/kubecontrol.db';

const EXIT_CANNOT_OPEN = 1;
const EXIT_INVALID = 2;
const EXIT_NOT_FOUND = 4;

/** Every SQLite 3 file starts with these 16 bytes. */
const SQLITE_HEADER = 'SQLite format 3\0';

/** The database path from `--db`, else KUBECONTROL_DB, else the default; absolute. */
export function databasePath(flag: string | undefined, io: Pick<AdminIo, 'env' | 'cwd' | 'invokedFrom'>): string {
  if (flag !== undefined) return resolve(io.invokedFrom ?? io.cwd, flag);
  return resolve(io.cwd, io.env.KUBECONTROL_DB ?? DEFAULT_DB);
}

/** Why `path` is not a database to open, or undefined when it is one. */
function notADatabase(path: string): string | undefined {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return `${path} is not a file.`;
    size = stat.size;
  } catch {
    return `There is no database at ${path}. Pass --db PATH or set KUBECONTROL_DB to the server's database; this tool never creates one.`;
  }
  // An empty or foreign file would be turned into a fresh, empty database by opening it.
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (size < SQLITE_HEADER.length || header.toString('latin1') !== SQLITE_HEADER) return `${path} is not a SQLite database.`;
  return undefined;
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

/** Why `person` cannot be anyone's name (empty, spaces, other characters, a group's `@handle`), or undefined. */
function notAPerson(person: string): string | undefined {
  const shape = personNameProblem(person);
  if (shape) return shape;
  if (person.startsWith('@')) return `${person} is a group, not a person: tokens are per person; create one for each member who uses the CLI or the API`;
  return undefined;
}

/**
 * Why no token should be made for `person`, or undefined when the server knows them: someone a
 * KubeApp names directly (owners, deployers, approvers), or an admin. The KubeApps are loaded
 * from KUBECONTROL_KUBEAPPS_DIR (relative to `cwd`, as the server resolves it), else the default.
 */
export async function unknownPerson(person: string, io: Pick<AdminIo, 'env' | 'cwd' | 'loadApps'>): Promise<string | undefined> {
  const shape = notAPerson(person);
  if (shape) return shape;
  const admins = (io.env.KUBECONTROL_ADMINS ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (admins.includes(person)) return undefined;
  const configured = io.env.KUBECONTROL_KUBEAPPS_DIR?.trim();
  const dir = configured ? resolve(io.cwd, configured) : undefined;
  const loaded = await (io.loadApps ?? loadKubeApps)(dir);
  const named = new Set<string>();
  const groups = new Set<string>();
  for (const app of loaded.apps) {
    for (const p of [...app.owners, ...app.deployers, ...app.approvers]) (p.startsWith('@') ? groups : named).add(p);
  }
  if (named.has(person)) return undefined;
  const where = `the KubeApps (${dir ?? 'the examples: KUBECONTROL_KUBEAPPS_DIR is not set'})`;
  if (loaded.problems.length) {
    return (
      `cannot tell whether ${person} may have a token: ${loaded.problems.length} problem(s) loading ${where} ` +
      `(\`npx kubecontrol apps validate${dir ? ` --dir ${dir}` : ''}\` lists them), and none of the apps that loaded names ${person}`
    );
  }
  const people = [...named, ...admins].sort();
  const suggestion = nearest(person, people);
  return (
    `nobody named ${person} in ${where} or KUBECONTROL_ADMINS: a token for them could do nothing` +
    (suggestion ? `. Did you mean ${suggestion}?` : people.length ? `. People named: ${people.join(', ')}.` : '.') +
    (groups.size ? ` If ${person} acts only as a member of a group (${[...groups].sort().join(', ')}), add --unlisted.` : '')
  );
}

/** Runs the admin tool on `argv` (without node and the script); resolves to the exit code. */
export async function admin(argv: readonly string[], io: AdminIo): Promise<number> {
  let exitCode = 0;

  /** Names the database, checks it exists, and runs `act` on it; the store is always closed. */
  const withStore = (flag: string | undefined, act: (store: Store) => void): void => {
    const path = databasePath(flag, io);
    io.out(`database: ${path}\n`);
    const problem = notADatabase(path);
    if (problem) {
      io.err(`✗ ${problem}\n`);
      exitCode = EXIT_INVALID;
      return;
    }
    let store: Store;
    try {
      store = Store.open(path);
    } catch (err) {
      io.err(`✗ cannot open ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
      exitCode = EXIT_CANNOT_OPEN;
      return;
    }
    try {
      act(store);
    } finally {
      store.close();
    }
  };
  const db = (): Option => new Option('--db <path>', `the SQLite file (default: KUBECONTROL_DB, else ${DEFAULT_DB})`);

  const program = new Command('admin')
    .usage('<command> (run as: npm run admin -- <command>)')
    .description('Administer a kubecontrol installation on its server host, through its SQLite database')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showSuggestionAfterError(true);

  const tokens = program.command('tokens').description('per-person API tokens for the kubecontrol CLI and API (stored hashed)');
  tokens
    .command('create')
    .description('create a token for PERSON; it is shown once')
    .argument('<person>', 'the person, as the KubeApps (owners, deployers, approvers) or KUBECONTROL_ADMINS name them')
    .option('--label <label>', 'what the token is for')
    .option('--unlisted', 'create it although no KubeApp names PERSON (someone who acts only through a group)')
    .addOption(db())
    .action(async (person: string, o: { label?: string; db?: string; unlisted?: boolean }) => {
      // Checked before the database is opened: a name no person has is refused even with --unlisted.
      const problem = o.unlisted ? notAPerson(person) : await unknownPerson(person, io);
      if (problem) {
        io.err(`✗ ${problem}\n`);
        exitCode = EXIT_INVALID;
        return;
      }
      withStore(o.db, (store) => {
        const token = store.tokens.create(person, o.label);
        io.out(`Token for ${person} (shown once; only its hash is stored):\n${token}\n`);
      });
    });
  tokens
    .command('revoke')
    .description('revoke every token of PERSON')
    .argument('<person>')
    .addOption(db())
    .action((person: string, o: { db?: string }) =>
      withStore(o.db, (store) => {
        const revoked = store.tokens.revoke(person);
        if (revoked > 0) {
          io.out(`Revoked ${revoked} token(s) of ${person}.\n`);
          return;
        }
        const had = store.tokens.list(person).length;
        io.err(
          had
            ? `✗ ${person} has no active token: ${had === 1 ? 'their one token was' : `all ${had} were`} revoked already (\`tokens list\` shows them).\n`
            : `✗ ${person} has no token in this database: nothing to revoke (\`tokens list\` shows whose there are).\n`,
        );
        exitCode = EXIT_NOT_FOUND;
      }),
    );
  tokens
    .command('list')
    .description('every token: whose, its label, when created, last used and revoked (never the token)')
    .addOption(db())
    .action((o: { db?: string }) =>
      withStore(o.db, (store) => {
        const rows = store.tokens.list();
        if (!rows.length) {
          io.out('No tokens.\n');
          return;
        }
        const body = rows.map((t) => [String(t.id), t.person, t.label ?? '-', when(t.createdAt), when(t.lastUsedAt), t.revokedAt === null ? 'active' : `revoked ${when(t.revokedAt)}`]);
        io.out(`${table([['ID', 'PERSON', 'LABEL', 'CREATED (UTC)', 'LAST USED', 'STATE'], ...body])}\n`);
      }),
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    // Commander has printed its message (usage errors, --help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_INVALID;
    io.err(`✗ unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return exitCode;
}

// Run when started as a script (`tsx cli/admin.ts`), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await admin(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    invokedFrom: process.env.INIT_CWD,
  });
}
