// A checkpoint evolution end to end: the config names a random-weight Qwen3-MoE checkpoint
// (python/tests/fixtures.py), the real GPU worker on queue gpu-cpu runs the torch executor
// (python/evoquant_torch) on the CPU, and the result row records the measured memory next to
// compile's prediction. A proxy request on the same worker still goes to the reference executor;
// a checkpoint request on a reference-only worker is refused as UnsupportedModel, never retried.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { activityRecords, fetchEvents } from './helpers/temporal-history.js';
import { artifactsDir, startWorker } from './helpers/worker-process.js';
import { candidateFacts } from './helpers/db-checks.js';
import { engineContext } from './helpers/engine-env.js';
import { evolutionId, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';
import { pythonEnv, withoutPythonEnv } from './helpers/python-env.js';
import { useStack } from './helpers/stack.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { repoRoot } from '../engine/stack/paths.js';
import { FAILURE_TYPES } from '../schema/failures.js';
import { Recipe } from '../schema/recipe.js';
import { RESULT_FILE } from '../science/executor/torch-executor.js';
import { pathComponent } from '../science/executor/reference-executor.js';

const stack = useStack(test);

/** 4-bit groups of 32 (the fixture's hidden size is 64), GPTQ; embeddings, head and router kept. */
const W4_G32_GPTQ = Recipe.parse({
  name: 'w4a16-g32-gptq',
  default: { bits: 4, groupSize: 32, method: { kind: 'gptq' } },
  roles: { embeddings: { bits: 16 }, lm_head: { bits: 16 }, router: { bits: 16 } },
});

/** A random-weight checkpoint from python/tests/fixtures.py, or why there is none. */
function checkpoint(t: { teardown(fn: () => void): void }, kind: string): { dir: string } | { missing: string } {
  const env = pythonEnv();
  if ('missing' in env) return env;
  const root = makeTempDir('torch-ckpt');
  t.teardown(() => removeTempDir(root));
  const dir = join(root, kind);
  const r = spawnSync(env.python, ['-c', `from tests.fixtures import make_checkpoint; make_checkpoint(${JSON.stringify(kind)}, ${JSON.stringify(dir)})`], {
    cwd: repoRoot,
    env: { ...process.env, PYTHONPATH: join(repoRoot, 'python'), HF_HUB_OFFLINE: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`make_checkpoint(${kind}) failed: ${r.stderr.slice(-2000)}`);
  return { dir };
}

/** Candidate and result metrics of a completed single-candidate checkpoint evolution. */
async function onlyResult(db: Parameters<typeof candidateFacts>[0], id: string): Promise<Record<string, unknown>> {
  const [candidate] = await candidateFacts(db, id);
  const row = await db.selectFrom('result').select('metrics').where('candidate_id', '=', candidate.id).executeTakeFirstOrThrow();
  return row.metrics as Record<string, unknown>;
}

function checkpointConfig(dir: string, maxAttempts = 2) {
  return tinyConfig({ seedRecipes: [W4_G32_GPTQ], evaluation: { tokens: 1024, calibrationTokens: 512, heartbeatSeconds: 5, maxAttempts, model: { checkpoint: dir } } });
}

/** The random-weight checkpoints of the three layouts users bring: Qwen3-MoE (q/k norm), Mixtral, Llama dense. */
const KINDS = ['qwen3_moe', 'mixtral', 'llama'] as const;

test.serial('Qwen3-MoE, Mixtral and Llama checkpoints are quantized, reloaded strictly and measured by the torch executor on gpu-cpu, memory recorded', async (t) => {
  const made = KINDS.map((kind) => checkpoint(t, kind));
  const missing = made.find((m) => 'missing' in m);
  if (missing && 'missing' in missing) return withoutPythonEnv(t, missing.missing);
  const { env, db, client } = await engineContext(stack);
  const [, gpu] = await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), executor: 'torch' })]);
  t.is(gpu.ready.executor, 'torch');
  const ids = KINDS.map((kind) => evolutionId(`torch-${kind.replace('_', '-')}`));
  const handles = await Promise.all(made.map((m, i) => startEvolution(client, ids[i], checkpointConfig((m as { dir: string }).dir))));
  for (const [i, handle] of handles.entries()) {
    const status = await resultWithin(handle, 300_000);
    t.is(status.phase, 'completed', KINDS[i]);
    t.is(status.counts.evaluated, 1, `${KINDS[i]}: ${JSON.stringify(status)}`);
    const gpuActivities = activityRecords(await fetchEvents(client, `${ids[i]}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
    t.deepEqual(gpuActivities.map((a) => [a.activityType, a.outcome]), [['quantize', 'completed'], ['evaluate', 'completed']], KINDS[i]);

    const m = await onlyResult(db, ids[i]);
    t.true(typeof m.measured_peak_bytes === 'number' && m.measured_peak_bytes > 0, JSON.stringify(m));
    t.is(m.device_total_bytes, null, 'on the CPU there is no device total');
    t.true(typeof m.weight_bytes === 'number' && m.weight_bytes > 0);
    t.true(typeof m.quantize_peak_bytes === 'number' && m.quantize_peak_bytes > 0);
    t.true(typeof m.gb_per_gpu === 'number', "compile's prediction sits next to it");
    t.true(typeof m.bits_per_byte === 'number' && m.bits_per_byte > 0);
    t.true(typeof m.kl === 'number' && m.kl > 0, `${KINDS[i]}: 4-bit weights move the distribution`);
  }
});

/**
 * One quantize attempt fails right after layer 0 is written (python/evoquant_torch/faults.py):
 * `sigkill` kills the executor process, `cuda-error` raises CUDA's own device-fault error. Temporal
 * retries on a fresh process, which reuses layer 0 and finishes.
 */
for (const fault of [
  { kind: 'sigkill', type: FAILURE_TYPES.executorCrash },
  { kind: 'cuda-error', type: FAILURE_TYPES.cudaError },
] as const) {
  test.serial(`an executor ${fault.kind === 'sigkill' ? 'SIGKILLed' : 'hit by a CUDA error'} mid-model is retried on a fresh process, which resumes after the finished layer`, async (t) => {
    const made = checkpoint(t, 'qwen3_moe');
    if ('missing' in made) return withoutPythonEnv(t, made.missing);
    const marker = join(makeTempDir('torch-fault'), 'fired');
    const { env, db, client } = await engineContext(stack);
    const artifacts = artifactsDir(t);
    await Promise.all([
      startWorker(t, env, 'control'),
      startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, executor: 'torch', env: { EVOQUANT_TORCH_FAULT: `${fault.kind}@0:${marker}` } }),
    ]);
    const id = evolutionId(`torch-${fault.kind}`);
    const status = await resultWithin(await startEvolution(client, id, checkpointConfig(made.dir, 3)), 300_000);
    t.is(status.counts.evaluated, 1, JSON.stringify(status));
    t.true(existsSync(marker), 'the fault fired');
    const quantize = activityRecords(await fetchEvents(client, `${id}/gen-0`)).find((a) => a.activityType === 'quantize');
    t.like(quantize, { outcome: 'completed', attempt: 2 });
    t.is(quantize?.lastFailure?.type, fault.type, JSON.stringify(quantize?.lastFailure));
    const [candidate] = await candidateFacts(db, id);
    const result = JSON.parse(readFileSync(join(artifacts, pathComponent(id), pathComponent(candidate.id), RESULT_FILE), 'utf8')) as { quantize: { result: { resumedLayers: number; layers: number } } };
    t.deepEqual([result.quantize.result.resumedLayers, result.quantize.result.layers], [1, 2], 'layer 0 was reused, only layer 1 redone');
  });
}

test.serial('a candidate over the device memory is GpuOutOfMemory: not retried, recorded as measured-infeasible', async (t) => {
  const made = checkpoint(t, 'mixtral');
  if ('missing' in made) return withoutPythonEnv(t, made.missing);
  const { env, client } = await engineContext(stack);
  // 256 KiB a slot: the executor's memory meter refuses the first layer's working set.
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), executor: 'torch', deviceMemoryBytes: 256 * 1024 })]);
  const id = evolutionId('torch-oom');
  const status = await resultWithin(await startEvolution(client, id, checkpointConfig(made.dir, 3)), 120_000);
  t.is(status.counts.infeasible, 1, JSON.stringify(status));
  const gpuActivities = activityRecords(await fetchEvents(client, `${id}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.is(gpuActivities.length, 1);
  t.like(gpuActivities[0], { activityType: 'quantize', outcome: 'failed', attempt: 1 });
  t.is(gpuActivities[0].failure?.type, FAILURE_TYPES.outOfMemory);
});

test.serial('a checkpoint request on a reference-only worker fails UnsupportedModel after one attempt', async (t) => {
  const { env, client } = await engineContext(stack);
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), executor: 'reference' })]);
  const id = evolutionId('no-torch');
  // The path is checked at `evoquant start`, not by the workflow: any directory will do here.
  const config = tinyConfig({ evaluation: { tokens: 1024, calibrationTokens: 512, heartbeatSeconds: 3, maxAttempts: 3, model: { checkpoint: '/nonexistent/checkpoint' } } });
  const status = await resultWithin(await startEvolution(client, id, config), 120_000);
  t.is(status.counts.failed, 1, JSON.stringify(status));
  const gpuActivities = activityRecords(await fetchEvents(client, `${id}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.is(gpuActivities.length, 1);
  t.like(gpuActivities[0], { activityType: 'quantize', outcome: 'failed', attempt: 1 });
  t.is(gpuActivities[0].failure?.type, FAILURE_TYPES.unsupportedModel);
});
