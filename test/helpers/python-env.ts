// The pinned Python environment of the conformance tests (scripts/python-env.sh builds it from
// python/conformance/requirements.lock). Tests that need it call `pythonEnv()`: under CI=true a
// missing or stale environment is a failure, locally the test is skipped with the reason.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PY_LOCK = join(ROOT, 'python/conformance/requirements.lock');
export const PY_ENV_DIR = process.env.EVOQUANT_PY_ENV ?? join(ROOT, '.tools/py-conformance');
export const CONFORMANCE_SCRIPT = join(ROOT, 'python/conformance/check_export.py');

export type PythonEnv = { python: string } | { missing: string };

/** The venv's interpreter if it exists and was built from the current lock. */
export function pythonEnv(): PythonEnv {
  const python = join(PY_ENV_DIR, 'bin/python');
  const stamp = join(PY_ENV_DIR, '.evoquant-lock-sha256');
  const fix = 'run scripts/python-env.sh (.ci/run does)';
  if (!existsSync(python) || !existsSync(stamp)) return { missing: `the conformance Python env ${PY_ENV_DIR} is missing: ${fix}` };
  const want = createHash('sha256').update(readFileSync(PY_LOCK)).digest('hex');
  if (readFileSync(stamp, 'utf8').trim() !== want) return { missing: `the conformance Python env ${PY_ENV_DIR} was built from another lock: ${fix}` };
  return { python };
}

/** True under CI, where a missing environment must fail the test instead of skipping it. */
export const inCi = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/** Runs a Python script with a JSON request on stdin; resolves with its parsed stdout. */
export function runPythonJson(python: string, script: string, request: unknown, timeoutMs = 600_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONHASHSEED: '0', TOKENIZERS_PARALLELISM: 'false', HF_HUB_OFFLINE: '1' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} exited ${code}:\n${stderr.slice(-4000)}`));
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${script} printed no JSON:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}

/**
 * Marks a test that cannot run without the pinned env: a failure under CI, a logged skip locally.
 * Call it with the `missing` reason and return right after.
 */
export function withoutPythonEnv(t: { fail(message: string): void; log(message: string): void; pass(): void }, missing: string): void {
  if (inCi()) t.fail(missing);
  else t.log(`skipped: ${missing}`);
  t.pass();
}
