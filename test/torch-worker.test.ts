// The GPU worker's choice of executor (workers/torch-env.ts, the `--executor` flag): torch where
// there are GPUs and the Python env is built, reference otherwise; bad values are one-line usage
// errors with exit code 2, checked before anything connects.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { repoRoot } from '../engine/stack/paths.js';
import { readyLine } from '../workers/launch.js';
import { defaultExecutor, findTorchEnv } from '../workers/torch-env.js';

const root = mkdtempSync(join(tmpdir(), 'evoquant-torch-worker-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stderr: string } {
  // Nothing may be reached: a flag error must come before any connection.
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'evoquant.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', EVOQUANT_PY_ENV: join(root, 'no-env') },
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

test('--executor: an unknown kind, or torch without its Python env, is a one-line usage error (exit 2)', (t) => {
  const bad = cli(['worker', 'gpu', '--device-class', 'cpu', '--executor', 'tensorrt']);
  t.is(bad.status, 2);
  t.is(bad.stderr, 'evoquant: --executor: expected torch or reference, got "tensorrt"\n');
  const noEnv = cli(['worker', 'gpu', '--device-class', 'cpu', '--executor', 'torch']);
  t.is(noEnv.status, 2);
  t.regex(noEnv.stderr, /^evoquant: --executor torch: the Python environment .*no-env is not built \(build it with scripts\/python-env.sh\)\n$/);
});

test('the torch env: built from the current lock and with the package, else the reason; the default follows GPUs and env', (t) => {
  const repo = join(root, 'repo');
  const env = join(root, 'env');
  mkdirSync(join(repo, 'python', 'conformance'), { recursive: true });
  mkdirSync(join(env, 'bin'), { recursive: true });
  writeFileSync(join(repo, 'python', 'conformance', 'requirements.lock'), 'torch==2.14.0\n');
  writeFileSync(join(env, 'bin', 'python'), '');
  const vars = { EVOQUANT_PY_ENV: env };
  t.regex((findTorchEnv(vars, repo) as { missing: string }).missing, /is not built/);
  writeFileSync(join(env, '.evoquant-lock-sha256'), 'stale\n');
  t.regex((findTorchEnv(vars, repo) as { missing: string }).missing, /built from another lock/);
  writeFileSync(join(env, '.evoquant-lock-sha256'), createHash('sha256').update('torch==2.14.0\n').digest('hex'));
  t.regex((findTorchEnv(vars, repo) as { missing: string }).missing, /no python\/evoquant_torch package/);
  mkdirSync(join(repo, 'python', 'evoquant_torch'));
  writeFileSync(join(repo, 'python', 'evoquant_torch', '__main__.py'), '');
  const found = findTorchEnv(vars, repo);
  t.deepEqual(found, { python: join(env, 'bin', 'python'), pythonPath: join(repo, 'python') });

  t.is(defaultExecutor(true, found), 'torch');
  t.is(defaultExecutor(false, found), 'reference', 'no GPU: the reference, unless --executor torch asks for torch on the CPU');
  t.is(defaultExecutor(true, { missing: 'x' }), 'reference');
});

test('the ready line says which executor serves', (t) => {
  const base = { role: 'gpu' as const, taskQueue: 'gpu-h100-80gb', slots: 2, identity: 'w', temporalAddress: 'a:1', namespace: 'default' };
  t.is(readyLine({ ...base, executor: 'reference' }), 'worker ready: gpu-h100-80gb (2 slots, reference executor) as w on a:1');
  t.is(readyLine({ ...base, executor: 'torch' }), 'worker ready: gpu-h100-80gb (2 slots, torch executor for checkpoints, reference executor for the proxy) as w on a:1');
});
