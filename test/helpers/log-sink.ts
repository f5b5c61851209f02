/**
 * Where a test's logger writes, kept for the test to read: `createLogger(level, logLines(lines))`
 * parses each JSON line pino writes into `lines`; `logChunks(chunks)` keeps what was written as is.
 */
import { Writable } from 'node:stream';

export function logLines<T = Record<string, unknown>>(lines: T[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as T);
      done();
    },
  });
}

export function logChunks(chunks: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
}
