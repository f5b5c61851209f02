/** Maps SQLite rows (snake_case, JSON text) to the store's record types. */
export function toRecord<T>(row: unknown): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row as Record<string, unknown>)) {
    const key = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[key] = key === 'data' && typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  }
  return out as T;
}

export function toRecords<T>(rows: unknown[]): T[] {
  return rows.map((r) => toRecord<T>(r));
}

/** JSON for a `data` column, or null. */
export function json(data: Record<string, unknown> | null | undefined): string | null {
  return data == null ? null : JSON.stringify(data);
}
