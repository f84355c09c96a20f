// What "refused as bad input" means for a CLI run: exit 2, nothing on stdout, exactly one line on
// stderr that starts with "evoquant: ", no stack trace, within a time bound.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SpawnedCli } from './cli-spawn.js';

/** Why a run is not a clean refusal, or null when it is. */
export function refusalProblem(r: SpawnedCli, maxMs: number): string | null {
  if (r.timedOut) return `timed out after ${r.ms} ms`;
  if (r.status !== 2) return `exit ${r.status}, stderr ${JSON.stringify(r.stderr.slice(0, 500))}`;
  if (r.stdout !== '') return `stdout not empty: ${JSON.stringify(r.stdout.slice(0, 200))}`;
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) return `${lines.length} lines on stderr: ${JSON.stringify(r.stderr.slice(0, 500))}`;
  if (!lines[0].startsWith('evoquant: ')) return `stderr does not start with "evoquant: ": ${JSON.stringify(lines[0].slice(0, 200))}`;
  if (/\n\s+at /.test(r.stderr)) return 'stack trace on stderr';
  if (r.ms > maxMs) return `took ${r.ms} ms (limit ${maxMs})`;
  return null;
}

/** Every entry below dir with its size, to prove that nothing was written or removed. */
export function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((p) => {
      const st = statSync(join(dir, p), { throwIfNoEntry: false });
      return `${p}:${st?.isDirectory() ? 'dir' : (st?.size ?? 'link')}`;
    })
    .sort();
}
