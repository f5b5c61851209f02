/**
 * `npm run admin -- …`: administration on the server host, against the
 * installation's SQLite file. It is the one module in cli/ that imports the
 * store for more than types: the `kubecontrol` CLI is a client of the server's
 * API and never opens the database; this tool exists because tokens are how
 * one gets into that API in the first place.
 *
 *   npm run admin -- tokens create PERSON [--label L] [--db PATH]
 *   npm run admin -- tokens revoke PERSON [--db PATH]
 *   npm run admin -- tokens list [--db PATH]
 *
 * It says first which database it touches (`--db`, else KUBECONTROL_DB, else
 * ./data/kubecontrol.db, made absolute), and refuses a path that is not an
 * existing SQLite file rather than create an empty database by mistake.
 *
 * Exit codes: 0 ok · 1 the database could not be opened · 2 invalid input or
 * no database at that path.
 */
import { Command, CommanderError, Option } from 'commander';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Store } from '../store/index.js';

/** Where the admin tool writes and what it reads instead of the process globals (tests pass their own). */
export interface AdminIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The package root under `npm run`, as for `npm start`: KUBECONTROL_DB and the default resolve here, as the server's do. */
  readonly cwd: string;
  /** Where the person typed the command (npm's INIT_CWD): a `--db` they typed resolves here. @default cwd */
  readonly invokedFrom?: string;
}

/** The default database, as the server's configuration has it (KUBECONTROL_DB). */
export const DEFAULT_DB = './data/kubecontrol.db';

const EXIT_CANNOT_OPEN = 1;
const EXIT_INVALID = 2;

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

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
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
    .argument('<person>', 'the person, as named in the KubeApps')
    .option('--label <label>', 'what the token is for')
    .addOption(db())
    .action((person: string, o: { label?: string; db?: string }) =>
      withStore(o.db, (store) => {
        const token = store.tokens.create(person, o.label);
        io.out(`Token for ${person} (shown once; only its hash is stored):\n${token}\n`);
      }),
    );
  tokens
    .command('revoke')
    .description('revoke every token of PERSON')
    .argument('<person>')
    .addOption(db())
    .action((person: string, o: { db?: string }) =>
      withStore(o.db, (store) => {
        io.out(`Revoked ${store.tokens.revoke(person)} token(s) of ${person}.\n`);
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
