// Durability of the engine against dying workers and failing evaluations, on a real Temporal dev
// server and a real Postgres. Workers run as child processes so they can be SIGKILLed mid-task.
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { defaultPayloadConverter } from '@temporalio/common';
import { activityRows } from '../engine/client/history.js';
import { FAILURE_TYPES } from '../schema/failures.js';
import type { EvaluationMeasurement } from '../schema/workflow-contracts.js';
import { useStack } from './helpers/stack.js';
import { removeTempDir } from './helpers/temp-dir.js';
import { engineContext } from './helpers/engine-env.js';
import { artifactsDir, startWorker } from './helpers/worker-process.js';
import { W4_G64_RTN, evolutionId, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';
import { activityRecords, evolutionHistories, fetchEvents, replayFailures, waitForRunningActivity, type RecordedHistory } from './helpers/temporal-history.js';
import { candidateFacts, duplicates } from './helpers/db-checks.js';

const stack = useStack(test);
const DRIFTED_WORKFLOWS = fileURLToPath(new URL('fixtures/drifted-workflows.ts', import.meta.url));
/** Histories of the evolutions below, replayed against the current workflow code at the end. */
const recorded: RecordedHistory[] = [];

function isEvaluateCheckpoint(d: unknown): boolean {
  return typeof d === 'object' && d !== null && (d as { stage?: unknown }).stage === 'evaluate';
}

/** Where an evolution and its first generation stand, for a STALL log line. */
async function whereItStands(client: Awaited<ReturnType<typeof engineContext>>['client'], id: string): Promise<string> {
  const one = async (wid: string): Promise<string> => {
    try {
      const d = await client.workflow.getHandle(wid).describe();
      return `${wid} ${d.status.name}, pending ${JSON.stringify(d.raw.pendingActivities ?? []).slice(0, 1500)}`;
    } catch (e) {
      return `${wid}: ${String(e)}`;
    }
  };
  return `${await one(id)} | ${await one(`${id}/gen-0`)}`;
}

test.serial('a GPU worker SIGKILLed mid-evaluation costs one retry, never a lost or duplicated result', async (t) => {
  const { env, db, client } = await engineContext(stack);
  const artifacts = artifactsDir(t);
  // 98304 tokens are 24 evaluation batches. The test must see the evaluation running with a
  // checkpoint before it ends: with 3 batches, an idle machine finished the whole evaluation inside
  // one heartbeat interval (the SDK throttles beats to 0.8 × 2 s), the checkpoint never reached the
  // server, and the evolution completed unobserved (the "STALL" of earlier runs).
  const config = tinyConfig({ evaluation: { tokens: 98304, calibrationTokens: 512, heartbeatSeconds: 2, maxAttempts: 5 } });
  const gpuArgs = { deviceClass: 'cpu', artifactsDir: artifacts, identity: 'gpu-doomed' } as const;
  let [control, doomed] = await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', gpuArgs)]);
  const id = evolutionId('gpu-kill');
  const handle = await startEvolution(client, id, config);
  const generation = `${id}/gen-0`;

  // A checkpoint, not just a keep-alive beat: the retry must have something to resume from.
  try {
    await waitForRunningActivity(client, generation, 'evaluate', { details: isEvaluateCheckpoint, timeoutMs: 120_000 });
  } catch {
    // Not seen since the evaluation was lengthened; should it recur, say where the evolution and its
    // generation stand, then replace both workers; the durability checks below still hold the run
    // to one result and no duplicates, and the replacement GPU worker is the one killed below.
    t.log(`STALL: ${await whereItStands(client, id)}`);
    t.log(`STALL: control worker output:\n${control.proc.output.slice(-4000)}`);
    t.log(`STALL: gpu worker output:\n${doomed.proc.output.slice(-2000)}`);
    await Promise.all([control.proc.kill(), doomed.proc.kill()]);
    [control, doomed] = await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', gpuArgs)]);
    await waitForRunningActivity(client, generation, 'evaluate', { details: isEvaluateCheckpoint, timeoutMs: 120_000 });
  }
  await doomed.proc.kill();
  const survivor = await startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, identity: 'gpu-survivor' });

  const status = await resultWithin(handle, 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.phase, 'completed');
  t.is(status.counts.evaluated, 1);

  const [candidate, ...others] = await candidateFacts(db, id);
  t.is(others.length, 0);
  t.is(candidate.status, 'evaluated');
  t.is(candidate.results, 1, 'exactly one result row');
  t.deepEqual(
    candidate.attempts.map((a) => [a.attempt, a.outcome]),
    [
      [1, 'failed'],
      [2, 'ok'],
    ],
    'the lost attempt, then the one that counted',
  );
  t.is(candidate.attempts[1].worker, survivor.ready.identity);

  const events = await fetchEvents(client, generation);
  const quantize = activityRecords(events).filter((a) => a.activityType === 'quantize');
  t.deepEqual(
    quantize.map((a) => [a.outcome, a.attempt, a.identity]),
    [['completed', 1, 'gpu-doomed']],
    'the artifact made before the crash was used, not remade',
  );
  const evaluations = activityRecords(events).filter((a) => a.activityType === 'evaluate');
  t.is(evaluations.length, 1, 'scheduled once; Temporal retried it');
  const [evaluate] = evaluations;
  t.is(evaluate.outcome, 'completed');
  t.is(evaluate.attempt, 2);
  t.is(evaluate.identity, 'gpu-survivor');
  t.is(evaluate.lastFailure?.type, 'Timeout', 'the lost attempt missed its heartbeat');

  // The retry resumed from the dead worker's last checkpoint instead of starting over.
  const completed = events.find((e) => e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === evaluate.scheduledEventId);
  const measurement = defaultPayloadConverter.fromPayload<EvaluationMeasurement>(completed!.activityTaskCompletedEventAttributes!.result!.payloads![0]);
  t.is(measurement.attempt, 2);
  t.true(measurement.resumedFromWindow > 0, `resumed from window ${measurement.resumedFromWindow}`);
  t.is(await duplicates(db, 'result', ['candidate_id']), 0);
});

test.serial('a GPU worker that cannot see the dead worker\'s artifact remakes it instead of failing the candidate', async (t) => {
  const { env, db, client } = await engineContext(stack);
  await startWorker(t, env, 'control');
  const lostDisk = artifactsDir(t);
  const doomed = await startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: lostDisk, identity: 'gpu-doomed' });
  const id = evolutionId('artifact-missing');
  const handle = await startEvolution(client, id, tinyConfig({ evaluation: { tokens: 8192, calibrationTokens: 512, heartbeatSeconds: 2, maxAttempts: 5 } }));
  await waitForRunningActivity(client, `${id}/gen-0`, 'evaluate');
  // The machine is gone with its disk; the replacement runs elsewhere with its own.
  await doomed.proc.kill();
  removeTempDir(lostDisk);
  await startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), identity: 'gpu-elsewhere' });

  const status = await resultWithin(handle, 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.counts.evaluated, 1);
  const gpu = activityRecords(await fetchEvents(client, `${id}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.deepEqual(
    gpu.map((a) => [a.activityType, a.outcome, a.identity, a.failure?.type ?? null]),
    [
      ['quantize', 'completed', 'gpu-doomed', null],
      ['evaluate', 'failed', 'gpu-elsewhere', FAILURE_TYPES.artifactMissing],
      ['quantize', 'completed', 'gpu-elsewhere', null],
      ['evaluate', 'completed', 'gpu-elsewhere', null],
    ],
  );
  const [candidate] = await candidateFacts(db, id);
  t.like(candidate, { status: 'evaluated', results: 1 });
  t.is(candidate.attempts.filter((a) => a.outcome === 'ok').length, 1);
});

test.serial('a control worker SIGKILLed mid-generation leaves no duplicate candidates, results or graph rows', async (t) => {
  const { env, db, client } = await engineContext(stack);
  const artifacts = artifactsDir(t);
  // Two measured seeds and one compile-rejected (bf16 cannot fit), then two children.
  const config = tinyConfig({ generations: 2, populationSize: 2, seedRecipes: ['w4a16-g128-rtn', W4_G64_RTN, 'bf16'] });
  const [first] = await Promise.all([startWorker(t, env, 'control', { identity: 'control-1' }), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts })]);
  const id = evolutionId('control-kill');
  const handle = await startEvolution(client, id, config);

  // Kill 1: the generation waits on the GPU; the replacement must rebuild both workflows from history.
  await waitForRunningActivity(client, `${id}/gen-0`, 'evaluate');
  await first.proc.kill();
  const second = await startWorker(t, env, 'control', { identity: 'control-2' });
  // Kill 2: in the middle of a control activity of generation 1 (compile runs for a few hundred ms).
  const lost = await waitForRunningActivity(client, `${id}/gen-1`, 'compileCandidate', { timeoutMs: 120_000, intervalMs: 25 });
  await second.proc.kill();
  await startWorker(t, env, 'control', { identity: 'control-3' });

  const status = await resultWithin(handle, 180_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.phase, 'completed');
  // The compile the dead worker held was retried once its heartbeats stopped, not after the
  // two-minute start-to-close timeout.
  const retried = activityRows(`${id}/gen-1`, await client.workflow.getHandle(`${id}/gen-1`).fetchHistory()).find((a) => a.activityId === lost.activityId);
  t.like(retried, { activityType: 'compileCandidate', outcome: 'completed', attempt: 2, workerIdentity: 'control-3' });
  t.is(retried?.lastFailure?.type, 'heartbeat');
  t.true((retried?.waitMs ?? Infinity) < 60_000, `retried after ${retried?.waitMs} ms`);

  const facts = await candidateFacts(db, id);
  t.is(facts.filter((c) => c.generation === 0).length, 3, 'gen 0: the three seeds, once each');
  t.is(facts.filter((c) => c.generation === 1).length, 2, 'gen 1: populationSize children, proposed once');
  t.is(status.counts.evaluated + status.counts.rejected + status.counts.failed + status.counts.infeasible, facts.length, 'the workflow state saw every candidate');
  for (const c of facts) {
    t.is(c.results, c.status === 'evaluated' ? 1 : 0, `${c.id} (${c.status}) has ${c.results} results`);
    t.is(c.attempts.filter((a) => a.outcome === 'ok').length, c.status === 'evaluated' ? 1 : 0);
  }
  t.is(facts.filter((c) => c.status === 'evaluated').length, status.counts.evaluated);
  t.is(await duplicates(db, 'candidate', ['evolution_id', 'recipe_hash']), 0);
  t.is(await duplicates(db, 'result', ['candidate_id']), 0);
  t.is(await duplicates(db, 'evaluation_attempt', ['candidate_id', 'attempt']), 0);
  t.is(await duplicates(db, 'ekg_node', ['id']), 0);
  t.is(await duplicates(db, 'ekg_edge', ['src', 'dst', 'kind']), 0);
  t.is(await duplicates(db, 'generation', ['evolution_id', 'number']), 0);
  // Every candidate is in the graph exactly once, linked to its parents.
  const nodes = await db.selectFrom('ekg_node').select('id').where('kind', '=', 'candidate').execute();
  t.is(nodes.length, facts.length);
  // Candidates' derived-from edges only: the seed graph's innovations derive from one another too.
  const derived = await db
    .selectFrom('ekg_edge')
    .select(['src', 'dst'])
    .where('kind', '=', 'derived-from')
    .where('src', 'in', db.selectFrom('ekg_node').select('id').where('kind', '=', 'candidate'))
    .execute();
  t.is(derived.length, facts.reduce((n, c) => n + c.parents.length, 0), 'one derived-from edge per (child, parent)');
  t.true(derived.length > 0);
});

test.serial('a transient GPU fault is retried and the candidate is still measured once', async (t) => {
  const { env, db, client } = await engineContext(stack);
  // Rate 1: every attempt fails except the last allowed one, which chaos never strikes.
  const config = tinyConfig({ evaluation: { tokens: 1024, calibrationTokens: 512, heartbeatSeconds: 3, maxAttempts: 3 } });
  await Promise.all([
    startWorker(t, env, 'control'),
    startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), chaos: { transientRate: 1, seed: 7 } }),
  ]);
  const id = evolutionId('chaos');
  const status = await resultWithin(await startEvolution(client, id, config), 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.counts.evaluated, 1);

  const gpu = activityRecords(await fetchEvents(client, `${id}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.deepEqual(
    gpu.map((a) => [a.activityType, a.outcome, a.attempt, a.lastFailure?.type]),
    [
      ['quantize', 'completed', 3, FAILURE_TYPES.transient],
      ['evaluate', 'completed', 3, FAILURE_TYPES.transient],
    ],
  );
  const [candidate] = await candidateFacts(db, id);
  t.is(candidate.results, 1);
  t.deepEqual(
    candidate.attempts.map((a) => a.outcome),
    ['failed', 'failed', 'ok'],
    'the two struck evaluate attempts, then the result',
  );
});

test.serial('an out-of-memory failure is final: recorded as infeasible after one attempt, with its cause in the graph', async (t) => {
  const { env, db, client } = await engineContext(stack);
  await Promise.all([
    startWorker(t, env, 'control'),
    // 1 MiB cannot hold the proxy's working set.
    startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t), deviceMemoryBytes: 2 ** 20 }),
  ]);
  const id = evolutionId('oom');
  const status = await resultWithin(await startEvolution(client, id, tinyConfig()), 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.phase, 'completed');
  t.is(status.counts.infeasible, 1);
  t.is(status.counts.evaluated, 0);

  const gpu = activityRecords(await fetchEvents(client, `${id}/gen-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.is(gpu.length, 1, 'quantize only: evaluate never ran');
  t.like(gpu[0], { activityType: 'quantize', outcome: 'failed', attempt: 1, lastFailure: null });
  t.is(gpu[0].failure?.type, FAILURE_TYPES.outOfMemory);

  const [candidate] = await candidateFacts(db, id);
  t.is(candidate.status, 'infeasible');
  t.is(candidate.results, 0);
  t.deepEqual(
    candidate.attempts.map((a) => a.outcome),
    ['oom'],
  );
  const edge = await db
    .selectFrom('ekg_edge')
    .selectAll()
    .where('src', '=', `candidate:${candidate.id}`)
    .where('kind', '=', 'failed-because')
    .where('dst', '=', `failure:${FAILURE_TYPES.outOfMemory}`)
    .executeTakeFirst();
  t.truthy(edge, 'failed-because failure:GpuOutOfMemory');
});

test.serial('the recorded histories replay against the current workflow code', async (t) => {
  t.true(recorded.length > 0, 'the tests above recorded histories');
  t.deepEqual(await replayFailures(recorded), []);
  // The check has teeth: the same histories against workflow code that drifted do not replay.
  const generation = recorded.find((r) => r.workflowId.endsWith('/gen-0'));
  const drifted = await replayFailures(generation ? [generation] : [], DRIFTED_WORKFLOWS);
  t.is(drifted.length, 1);
  t.regex(drifted[0] ?? '', /DeterminismViolationError|[Nn]ondetermin/);
});
