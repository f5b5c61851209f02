/** Maps SQLite rows (snake_case, JSON text) to the store's record types. */
import { mapRecord, mapRecords } from './records.js';

/** One row as a record: snake_case columns to camelCase keys, a `data` column's JSON parsed (each column's key worked out once: store/records.ts). */
export function toRecord<T>(row: unknown): T {
  return mapRecord<T>(row);
}

export function toRecords<T>(rows: unknown[]): T[] {
  return mapRecords<T>(rows);
}

/** JSON for a `data` column, or null. */
export function json(data: Record<string, unknown> | null | undefined): string | null {
  return data == null ? null : JSON.stringify(data);
}
