// The marker file evoquant writes into every output directory it creates. It is how evoquant knows a
// directory is its own: --force replaces only directories that carry it, never anything else.
import { closeSync, constants, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const MARKER_FILE = '.evoquant-output.json';

const MAX_MARKER_BYTES = 64 * 1024;

export const OutputMarker = z.object({
  tool: z.literal('evoquant'),
  /** What the directory holds, e.g. "quantized-model". */
  what: z.string().min(1).max(200),
  createdAt: z.string().min(1).max(100),
  /** Free-form provenance (recipe, source model) for a person reading the directory. */
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type OutputMarker = z.infer<typeof OutputMarker>;

export function writeMarker(dir: string, what: string, details?: OutputMarker['details']): void {
  const marker: OutputMarker = { tool: 'evoquant', what, createdAt: new Date().toISOString(), ...(details ? { details } : {}) };
  writeFileSync(join(dir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
}

/** The directory's marker when it carries a valid one (a regular file, not a link), else null. */
export function readMarker(dir: string): OutputMarker | null {
  let fd: number;
  try {
    fd = openSync(join(dir, MARKER_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_MARKER_BYTES) return null;
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    const parsed = OutputMarker.safeParse(JSON.parse(buf.subarray(0, n).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
