// The benchmark's Python: the project's environment (scripts/python-env.sh, .tools/py-conformance)
// with python/bench/requirements.lock (optuna, matplotlib) added on top when missing. The lock is
// installed with --no-deps --require-hashes, so nothing the conformance lock pinned moves, and a stamp
// with its sha256 makes the next run skip pip. `npm test` never installs it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { repoRoot } from './cli-process.js';

const LOCK = join(repoRoot, 'python/bench/requirements.lock');

export function benchPython(log: (line: string) => void): string {
  // Prints the interpreter's path last; builds the environment only when it is missing or stale.
  const out = execFileSync('bash', [join(repoRoot, 'scripts/python-env.sh')], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const python = resolve(repoRoot, out.trim().split('\n').pop() ?? '');
  const stamp = join(dirname(dirname(python)), '.evoquant-bench-lock-sha256');
  const want = createHash('sha256').update(readFileSync(LOCK)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return python;
  log(`python: installing ${LOCK.slice(repoRoot.length + 1)} into ${dirname(dirname(python))}`);
  execFileSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', '--no-deps', '--require-hashes', '-r', LOCK], { stdio: ['ignore', 2, 2] });
  execFileSync(python, ['-m', 'pip', 'check'], { stdio: ['ignore', 2, 2] });
  execFileSync(python, ['-c', 'import optuna, matplotlib'], { stdio: 'inherit' });
  writeFileSync(stamp, `${want}\n`);
  return python;
}
