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
 * pages, 40 MB), and a worker thread with a connection of its own runs a
 * PASSIVE checkpoint every `intervalMs`: it copies what no reader still needs
 * and fsyncs the file without taking the write lock, so commits go on while it
 * runs (https://www.sqlite.org/wal.html#checkpointing: "the checkpoint can run
 * in a separate thread or process"). The worker is plain CommonJS evaluated
 * from a string, so it loads the same way under node, tsx and jest.
 */
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
  /** Stops the worker after a last checkpoint; the server's connection then closes as usual (and checkpoints what is left). */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `db` (a WAL database on a file) from a worker thread.
 * `onError` hears a checkpoint that failed (the backstop still bounds the WAL).
 */
export function startCheckpointer(db: Db, options: { intervalMs?: number; onError?: (message: string) => void } = {}): Checkpointer | undefined {
  if (db.memory || db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { path: db.name, intervalMs: options.intervalMs ?? 500, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    // A few MB: it only runs one pragma.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  let stopped: Promise<void> | undefined;
  worker.on('message', (m: { error?: string }) => {
    if (m.error) options.onError?.(m.error);
  });
  worker.on('error', (err) => options.onError?.(err.message));
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        // Kept alive until it has exited: an unref'd worker alone would let the process end mid-await.
        worker.ref();
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
