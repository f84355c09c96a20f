// The protocol handling of the torch executor's process (science/executor/torch-process.ts),
// against tiny fake executors written as Python scripts: what they emit on fd 3 (progress, a
// result, a typed error, garbage) or how they die (crash, hang) is the fixture, not the executor.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ApplicationFailure } from '@temporalio/common';
import { activityFailureOf } from '../activities/gpu.js';
import { repoRoot } from '../engine/stack/paths.js';
import { FAILURE_TYPES } from '../schema/failures.js';
import type { DescribeResult } from '../schema/torch-executor.js';
import { runTorchExecutor, type TorchProcessOptions } from '../science/executor/torch-process.js';

const dir = mkdtempSync(join(tmpdir(), 'evoquant-torch-process-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const DESCRIBED: DescribeResult = {
  architecture: 'llama',
  numLayers: 1,
  numExperts: 0,
  expertsPerToken: 0,
  hiddenSize: 8,
  vocabSize: 256,
  parameters: 4096,
  tokenizer: 'bytes',
  modules: [{ name: 'model.layers.0.self_attn.q_proj', role: 'attn_q', layer: 0, expert: null, inFeatures: 8, outFeatures: 8 }],
};

/** A fake executor: the preamble reads the request and opens fd 3; `body` is what it then does. */
function fake(name: string, body: string): TorchProcessOptions {
  const path = join(dir, `${name}.py`);
  writeFileSync(
    path,
    [
      'import json, os, signal, subprocess, sys, time',
      'request = json.loads(sys.stdin.read())',
      'out = os.fdopen(3, "w")',
      'def send(m):',
      '    out.write(json.dumps(m) + "\\n"); out.flush()',
      'print("a library banner on stdout"); print("a progress bar on stderr", file=sys.stderr)',
      body,
    ].join('\n'),
  );
  return { python: 'python3', args: [path], graceMs: 500 };
}

/** Running (a zombie nobody reaped yet counts as dead: a container's init may never reap it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const describe = { kind: 'describe', checkpoint: '/models/tiny' } as const;

test('progress goes to the callback and the validated result comes back; stdout and stderr are not messages', async (t) => {
  const options = fake(
    'ok',
    `
for i in range(3):
    send({"type": "progress", "stage": "quantize", "done": i + 1, "total": 3})
result = json.loads(${JSON.stringify(JSON.stringify(DESCRIBED))})
result["modules"][0]["name"] = request["checkpoint"]  # proves the request arrived on stdin
send({"type": "result", "result": result})
sys.exit(0)`,
  );
  const seen: string[] = [];
  const result = await runTorchExecutor(options, describe, { onProgress: (p) => seen.push(`${p.stage} ${p.done}/${p.total}`) });
  t.deepEqual(seen, ['quantize 1/3', 'quantize 2/3', 'quantize 3/3']);
  t.is(result.modules[0].name, '/models/tiny');
  t.is(result.architecture, 'llama');
});

test('an error message becomes an Error named by its type; final types are not retried, CudaError is', async (t) => {
  const invalid = await t.throwsAsync(
    runTorchExecutor(fake('invalid', `send({"type": "error", "errorType": "InvalidCheckpoint", "message": "missing tensor model.norm.weight", "retryable": False}); sys.exit(1)`), describe),
  );
  t.is(invalid.name, FAILURE_TYPES.invalidCheckpoint);
  t.regex(invalid.message, /missing tensor model\.norm\.weight/);
  const failure = activityFailureOf(invalid);
  t.true(failure instanceof ApplicationFailure && failure.nonRetryable && failure.type === 'InvalidCheckpoint');

  const oom = await t.throwsAsync(
    runTorchExecutor(fake('oom', `send({"type": "error", "errorType": "GpuOutOfMemory", "message": "layer 3 needs 9 GiB, cap 8 GiB", "retryable": False}); sys.exit(1)`), describe),
  );
  t.is(oom.name, FAILURE_TYPES.outOfMemory);
  t.true((activityFailureOf(oom) as ApplicationFailure).nonRetryable);

  const cuda = await t.throwsAsync(
    runTorchExecutor(fake('cuda', `send({"type": "error", "errorType": "CudaError", "message": "CUDA error: an illegal memory access", "retryable": True}); sys.exit(1)`), describe),
  );
  t.is(cuda.name, FAILURE_TYPES.cudaError);
  t.like(activityFailureOf(cuda), { type: FAILURE_TYPES.cudaError, nonRetryable: false }, 'a CUDA error is retried on a fresh process, under its own name');
});

test('garbage on fd 3, an unknown error type or a result of the wrong shape is a protocol error', async (t) => {
  const garbage = await t.throwsAsync(runTorchExecutor(fake('garbage', `out.write("not json\\n"); out.flush(); time.sleep(30)`), describe));
  t.is(garbage.name, FAILURE_TYPES.executorProtocol);
  t.regex(garbage.message, /not JSON.*not json/);

  const unknown = await t.throwsAsync(
    runTorchExecutor(fake('unknown-type', `send({"type": "error", "errorType": "Oops", "message": "x", "retryable": False}); sys.exit(1)`), describe),
  );
  t.is(unknown.name, FAILURE_TYPES.executorProtocol);

  const shape = await t.throwsAsync(
    runTorchExecutor(fake('bad-result', `send({"type": "result", "result": {"architecture": "gpt2", "numLayers": 1}}); sys.exit(0)`), describe),
  );
  t.is(shape.name, FAILURE_TYPES.executorProtocol);
  t.regex(shape.message, /describe result is invalid at architecture/);

  const twice = await t.throwsAsync(
    runTorchExecutor(fake('twice', `r = json.loads(${JSON.stringify(JSON.stringify(DESCRIBED))})\nsend({"type": "result", "result": r}); send({"type": "result", "result": r}); sys.exit(0)`), describe),
  );
  t.is(twice.name, FAILURE_TYPES.executorProtocol);
  t.regex(twice.message, /after its result/);
});

test('a crash is retryable and carries the tail of stderr; so is a result followed by a failing exit', async (t) => {
  const crash = await t.throwsAsync(
    runTorchExecutor(
      fake('crash', `send({"type": "progress", "stage": "load", "done": 0, "total": 2})\nprint("Traceback (most recent call last):\\nKeyError: 'model.layers.1'", file=sys.stderr)\nsys.exit(70)`),
      describe,
    ),
  );
  t.is(crash.name, FAILURE_TYPES.executorCrash);
  t.regex(crash.message, /exited with code 70 without a result/);
  t.regex(crash.message, /KeyError: 'model\.layers\.1'/);
  t.like(activityFailureOf(crash), { type: FAILURE_TYPES.executorCrash, nonRetryable: false, message: crash.message }, 'retried by Temporal, under its own name');

  const late = await t.throwsAsync(runTorchExecutor(fake('late-crash', `send({"type": "result", "result": json.loads(${JSON.stringify(JSON.stringify(DESCRIBED))})})\nos.kill(os.getpid(), signal.SIGSEGV)`), describe));
  t.is(late.name, FAILURE_TYPES.executorCrash);
  t.regex(late.message, /killed by SIGSEGV after its result/);

  const missing = await t.throwsAsync(runTorchExecutor({ python: join(dir, 'no-such-python') }, describe));
  t.is(missing.name, FAILURE_TYPES.executorCrash);
  t.regex(missing.message, /ENOENT/);
});

test('cancellation: SIGTERM to the process group, SIGKILL after the grace period, grandchildren included', async (t) => {
  const pidFile = join(dir, 'grandchild.pid');
  const options = fake(
    'hang',
    `
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stuck executor: only SIGKILL ends it
child = subprocess.Popen(["sleep", "1000"])
open(${JSON.stringify(pidFile)}, "w").write(str(child.pid))
send({"type": "progress", "stage": "quantize", "done": 0, "total": 4})
time.sleep(1000)`,
  );
  const controller = new AbortController();
  const started = Date.now();
  const run = runTorchExecutor(options, describe, { signal: controller.signal, onProgress: () => controller.abort(new Error('activity cancelled')) });
  const err = await t.throwsAsync(run);
  t.is(err.message, 'activity cancelled');
  const took = Date.now() - started;
  t.true(took >= 450, `SIGKILL came after the grace period (${took} ms)`);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  t.false(alive(grandchild), "the executor's own children died with its group");

  // An executor that honours SIGTERM stops at once, long before the grace period.
  const polite = { ...fake('polite', `send({"type": "progress", "stage": "load", "done": 0, "total": 1})\ntime.sleep(1000)`), graceMs: 20_000 };
  const c2 = new AbortController();
  const t0 = Date.now();
  await t.throwsAsync(runTorchExecutor(polite, describe, { signal: c2.signal, onProgress: () => c2.abort() }), { message: /cancelled|aborted/i });
  t.true(Date.now() - t0 < 10_000);

  // Already cancelled: nothing is spawned.
  await t.throwsAsync(runTorchExecutor(options, describe, { signal: AbortSignal.abort(new Error('before start')) }), { message: 'before start' });
});

test('a worker that exits takes its running executors down with it', async (t) => {
  const pidFile = join(dir, 'orphan.pid');
  const options = fake('orphan', `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\nsend({"type": "progress", "stage": "load", "done": 0, "total": 1})\ntime.sleep(1000)`);
  const worker = join(dir, 'worker.mts');
  writeFileSync(
    worker,
    `import { runTorchExecutor } from ${JSON.stringify(join(repoRoot, 'science/executor/torch-process.ts'))};
runTorchExecutor(${JSON.stringify(options)}, { kind: 'describe', checkpoint: '/m' }, { onProgress: () => process.exit(0) }).catch(() => undefined);
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', worker], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.false(alive(pid), 'the executor did not outlive its worker');
});
