// The torch executor's own tests (python/tests, stdlib unittest) in the pinned Python env: loading
// against transformers' logits, RTN/GPTQ/fp8/AWQ/AutoRound against the TypeScript quantizers, packing against
// compressed-tensors, the quantize driver's resume after SIGKILL, typed failures, and GPTQ on the
// proxy (and AWQ, folded) against the reference executor's calibration within the stated tolerance. One ava test, so
// `npm test` runs them; their figures are printed with the test's log.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { repoRoot } from '../engine/stack/paths.js';
import { pythonEnv, withoutPythonEnv } from './helpers/python-env.js';

test('python/tests: the torch executor unit and conformance tests pass', async (t) => {
  const env = pythonEnv();
  if ('missing' in env) return withoutPythonEnv(t, env.missing);
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(env.python, ['-m', 'unittest', 'discover', '-s', 'python/tests', '-t', '.'], {
      cwd: repoRoot,
      env: { ...process.env, PYTHONPATH: join(repoRoot, 'python'), HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false', PYTHONHASHSEED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output }));
  });
  for (const line of output.split('\n')) if (/bits\/byte|codes identical|Ran \d+ tests|max \|Δ/.test(line)) t.log(line.trim());
  if (code !== 0) t.fail(output.slice(-6000));
  t.regex(output, /\nOK/);
  t.notRegex(output, /skipped=/, 'no test skips in the pinned env');
});
