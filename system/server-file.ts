/**
 * The run file of a listening server: `server.json` next to its database
 * (`{url, pid, installation, startedAt}`), written by `npm start` once the
 * server listens and removed when it stops cleanly. The CLI reads it when
 * KUBECONTROL_URL is not set, so a server on another port is found from the
 * folder it was started in. Node's standard library only: the CLI imports this.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The file's name, next to the database. */
export const SERVER_FILE = 'server.json';

/** The database the server uses when KUBECONTROL_DB is not set (system/config.ts). */
const DEFAULT_DB = './data/kubecontrol.db';

/** What the file says. */
export interface ServerFile {
  /** Where the CLI reaches the server on this machine. */
  readonly url: string;
  /** The server's process, to tell a running server from a file left by a crashed one. */
  readonly pid: number;
  /** The installation identity of its database. */
  readonly installation: string;
  /** When it started listening (ISO 8601). */
  readonly startedAt: string;
}

/** Where the run file of a server with database `dbPath` is (relative paths from `cwd`); none for an in-memory database. */
export function serverFilePath(dbPath: string, cwd: string = process.cwd()): string | undefined {
  if (dbPath === ':memory:' || dbPath.startsWith('file::memory:')) return undefined;
  return join(dirname(resolve(cwd, dbPath)), SERVER_FILE);
}

/**
 * A URL a client on this machine can use for a server listening at `url`: a server listening on
 * every address (0.0.0.0, [::]) is reached on loopback.
 */
export function localUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
    else if (u.hostname === '[::]') u.hostname = '[::1]';
    return u.origin;
  } catch {
    return url;
  }
}

/**
 * Writes the run file (whole or not at all: a temporary file renamed over it).
 * Returns its path, or undefined for an in-memory database.
 */
export function writeServerFile(dbPath: string, info: ServerFile, cwd: string = process.cwd()): string | undefined {
  const path = serverFilePath(dbPath, cwd);
  if (!path) return undefined;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${info.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...info, url: localUrl(info.url) }, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
  return path;
}

/** The run file at `path`, or undefined when there is none or it is not one. */
export function readServerFile(path: string): ServerFile | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const f = data as Partial<Record<keyof ServerFile, unknown>> | null;
  if (!f || typeof f !== 'object' || typeof f.url !== 'string' || !Number.isInteger(f.pid) || typeof f.installation !== 'string' || typeof f.startedAt !== 'string') return undefined;
  return { url: f.url, pid: f.pid as number, installation: f.installation, startedAt: f.startedAt };
}

/**
 * Removes the run file of database `dbPath` if it is this process's (`pid`): a server never
 * removes the file of another one that started later on the same database. Returns whether it did.
 */
export function removeServerFile(dbPath: string, pid: number = process.pid, cwd: string = process.cwd()): boolean {
  const path = serverFilePath(dbPath, cwd);
  if (!path || readServerFile(path)?.pid !== pid) return false;
  rmSync(path, { force: true });
  return true;
}

/** Whether a process with this id runs (one of another user's counts: it exists). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A server found from a folder: its URL and the file that named it. */
export interface FoundServer {
  readonly url: string;
  readonly file: string;
  readonly info: ServerFile;
}

/**
 * The server a CLI started in `cwd` should call when KUBECONTROL_URL is not set: the one whose run
 * file is beside `$KUBECONTROL_DB` when that is set, else `./data/server.json` — if its process
 * still runs. Undefined otherwise (no file, not a run file, or left by a server that is gone).
 */
export function findServer(env: Readonly<Record<string, string | undefined>> = process.env, cwd: string = process.cwd()): FoundServer | undefined {
  const file = serverFilePath(env.KUBECONTROL_DB?.trim() || DEFAULT_DB, cwd);
  if (!file) return undefined;
  const info = readServerFile(file);
  if (!info || !pidAlive(info.pid)) return undefined;
  return { url: info.url, file, info };
}
