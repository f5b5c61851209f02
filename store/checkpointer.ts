/**
 * WAL checkpoints off the event loop. In WAL mode every commit appends the
 * pages it changed to the -wal file, and by default the connection that
 * commits past 1,000 pages copies them back into the database file and
 * fsyncs it — inside that commit. A deploy's accept changes about twenty
 * pages (the deploy row and the indexes the console reads by, the command,
 * its events), so one accept in sixty paid for a checkpoint: milliseconds of
 * blocked event loop during which no Slack command was answered (measured:
 * 1.7 ms of wall time per accept on average with automatic checkpoints,
 * 0.54 ms without).
 *
 * Here the server's own connection checkpoints only as a backstop (at 10,000
 * pages, 40 MB), and — once the WAL has grown past `startAtPages` (a server
 * that writes little never starts a thread; tests start many servers) — a
 * worker thread with a connection of its own runs a PASSIVE checkpoint every
 * `intervalMs`: it copies what no reader still needs
 * and fsyncs the file without taking the write lock, so commits go on while it
 * runs (https://www.sqlite.org/wal.html#checkpointing: "the checkpoint can run
 * in a separate thread or process"). The worker is plain CommonJS evaluated
 * from a string, so it loads the same way under node, tsx and jest.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

/** Pages in the WAL before the server's connection checkpoints by itself (the worker normally keeps it far below). */
export const BACKSTOP_PAGES = 10_000;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage({ stopped: true });
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Whether the worker has been started (the WAL grew past `startAtPages`). */
  readonly running: boolean;
  /** Looks at the WAL's size now (what the watch timer does every `watchMs`); starts the worker if it has grown enough. */
  poll(): void;
  /** Stops the watch and the worker (after a last checkpoint); the server's connection then closes as usual. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  /** How often the worker checkpoints. @default 500 */
  readonly intervalMs?: number;
  /** The worker starts once the WAL holds this many pages: a server that writes little never starts a thread. @default 1000 */
  readonly startAtPages?: number;
  /** How often the WAL's size is looked at until then (one stat of the -wal file). @default 1000 */
  readonly watchMs?: number;
  /** Hears a checkpoint that failed (the backstop still bounds the WAL). */
  readonly onError?: (message: string) => void;
}

/**
 * Takes the WAL checkpoints of `db` (a WAL database on a file) off its connection: automatic ones only
 * past the backstop, and a worker thread's, started the first time the WAL holds `startAtPages`.
 */
export function startCheckpointer(db: Db, options: CheckpointerOptions = {}): Checkpointer | undefined {
  if (db.memory || db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const startAt = (options.startAtPages ?? 1000) * pageSize;
  let worker: Worker | undefined;
  let stopped: Promise<void> | undefined;
  const start = (): void => {
    clearInterval(watch);
    worker = new Worker(WORKER, {
      eval: true,
      workerData: { path: db.name, intervalMs: options.intervalMs ?? 500, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
      // A few MB: it only runs one pragma.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    worker.unref();
    worker.on('message', (m: { error?: string }) => {
      if (m.error) options.onError?.(m.error);
    });
    worker.on('error', (err) => options.onError?.(err.message));
  };
  const poll = (): void => {
    if (worker || stopped) return;
    if ((statSync(`${db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0) >= startAt) start();
  };
  const watch = setInterval(poll, options.watchMs ?? 1000);
  watch.unref();
  return {
    get running() {
      return !!worker;
    },
    poll,
    stop() {
      clearInterval(watch);
      const w = worker;
      stopped ??= w
        ? new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            // Kept alive until it has exited: an unref'd worker alone would let the process end mid-await.
            w.ref();
            w.postMessage('stop');
          })
        : Promise.resolve();
      return stopped;
    },
  };
}
