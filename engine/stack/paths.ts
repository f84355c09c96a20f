// Where the stack keeps its files. One place so the CLI, workers and tests agree.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file lives in <root>/engine/stack/. */
export const repoRoot: string = fileURLToPath(new URL('../..', import.meta.url));

/** Project-local tool cache (git-ignored), e.g. the Temporal CLI binary. */
export const toolsDir: string = path.join(repoRoot, '.tools');

/**
 * Root of all runtime state (Temporal db, Postgres data, pid files).
 * `EVOQUANT_HOME` overrides the default `<repo>/.evoquant`.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.EVOQUANT_HOME;
  return override !== undefined && override !== '' ? path.resolve(override) : path.join(repoRoot, '.evoquant');
}

/** Caches that outlive a process (workflow bundles, sensitivity profiles). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), 'cache');
}
