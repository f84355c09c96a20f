// What "refused as bad input" means for a CLI run: exit 2, nothing on stdout, exactly one line on
// stderr that starts with "evoquant: ", no stack trace, within a time bound.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { CliRun } from './cli.js';

/** Why a run is not a clean refusal; empty when it is. */
export function refusalProblems(r: CliRun, maxMs: number): string[] {
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.timedOut) problems.push(`timed out after ${r.ms} ms`);
  if (r.code !== 2) problems.push(`exit ${r.code}, not 2 (stderr ${JSON.stringify(r.stderr.slice(0, 300))})`);
  if (r.stdout !== '') problems.push(`stdout not empty: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  if (lines.length !== 1) problems.push(`${lines.length} lines on stderr, not 1`);
  if (!r.stderr.startsWith('evoquant: ')) problems.push('stderr does not start with "evoquant: "');
  if (/\n\s+at /.test(r.stderr)) problems.push('a stack trace on stderr');
  if (r.ms > maxMs) problems.push(`took ${r.ms} ms (limit ${maxMs})`);
  return problems;
}

/** The first reason a run is not a clean refusal, or null when it is. */
export function refusalProblem(r: CliRun, maxMs: number): string | null {
  return refusalProblems(r, maxMs)[0] ?? null;
}

/** Asserts a clean refusal whose one line matches `message`. */
export function assertRefused(t: ExecutionContext, name: string, r: CliRun, message: RegExp, maxMs = 15_000): void {
  t.is(refusalProblem(r, maxMs), null, name);
  t.regex(r.stderr, message, name);
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
