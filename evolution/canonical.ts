// Canonical JSON and content ids: equal recipes get equal ids, so a replayed proposal never duplicates.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth and undefined fields dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

export function contentId(prefix: string, ...parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(canonicalJson(p)).update('\0');
  return `${prefix}-${h.digest('hex').slice(0, 16)}`;
}
