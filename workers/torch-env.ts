// Whether this machine can run the torch executor: the pinned Python environment that
// scripts/python-env.sh builds (built from the current lock: the stamp says so) and the package
// python/evoquant_torch in this checkout. The worker's default executor hangs on it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../engine/stack/paths.js';

export const EXECUTOR_KINDS = ['torch', 'reference'] as const;
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];

export type TorchEnv = { python: string; pythonPath: string } | { missing: string };

/** The interpreter of the pinned env and the PYTHONPATH of the package, or why there is none. */
export function findTorchEnv(env: NodeJS.ProcessEnv = process.env, root: string = repoRoot): TorchEnv {
  const dir = env.EVOQUANT_PY_ENV ?? join(root, '.tools/py-conformance');
  const python = join(dir, 'bin/python');
  const stamp = join(dir, '.evoquant-lock-sha256');
  const lock = join(root, 'python/conformance/requirements.lock');
  const build = 'build it with scripts/python-env.sh';
  if (!existsSync(python) || !existsSync(stamp)) return { missing: `the Python environment ${dir} is not built (${build})` };
  if (existsSync(lock) && readFileSync(stamp, 'utf8').trim() !== createHash('sha256').update(readFileSync(lock)).digest('hex')) {
    return { missing: `the Python environment ${dir} was built from another lock (${build})` };
  }
  const pythonPath = join(root, 'python');
  if (!existsSync(join(pythonPath, 'evoquant_torch', '__main__.py'))) return { missing: `this checkout has no python/evoquant_torch package` };
  return { python, pythonPath };
}

/** The executor a worker runs when none is asked for: torch where there are GPUs and the env is built. */
export function defaultExecutor(hasGpus: boolean, torch: TorchEnv): ExecutorKind {
  return hasGpus && 'python' in torch ? 'torch' : 'reference';
}
