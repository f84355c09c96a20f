// Routing to GPU classes, steering a running evolution through its validated updates, and the
// operator's `evoquant retry` / `evoquant history` on a real Temporal dev server and Postgres.
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { EvolutionHistory } from '../engine/client/history-fetch.js';
import type { RetryReport } from '../engine/client/retry.js';
import { getEvolution } from '../engine/db/evolutions.js';
import { FAILURE_TYPES } from '../schema/failures.js';
import { pauseUpdate, resumeUpdate, retryUpdate, setBudgetUpdate, stopUpdate } from '../workflows/messages.js';
import { useStack } from './helpers/stack.js';
import { engineContext } from './helpers/engine-env.js';
import { artifactsDir, fakeNvidiaSmiPath, startWorker } from './helpers/worker-process.js';
import { runEngineCli } from './helpers/engine-cli.js';
import { evolutionId, queryStatus, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';
import { waitFor } from './helpers/wait.js';
import { activityRecords, evolutionHistories, fetchEvents, pendingActivities, PendingState, replayFailures, type RecordedHistory } from './helpers/temporal-history.js';
import { candidateFacts } from './helpers/db-checks.js';

const stack = useStack(test);
const recorded: RecordedHistory[] = [];

test.serial('GPU work waits for a worker of its class; a worker that detects that class from nvidia-smi takes it', async (t) => {
  const { env, client } = await engineContext(stack);
  const artifacts = artifactsDir(t);
  const [, cpu] = await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts })]);
  const id = evolutionId('routing');
  const handle = await startEvolution(client, id, tinyConfig({ pool: 'a100-80gb' }));
  const generation = `${id}/gen-0`;

  const queued = await waitFor('quantize to be scheduled', async () => (await pendingActivities(client, generation)).find((a) => a.activityType?.name === 'quantize'));
  // Long enough for an idle worker polling another queue to have taken it, were routing wrong.
  await sleep(4_000);
  const [still] = (await pendingActivities(client, generation)).filter((a) => a.activityType?.name === 'quantize');
  t.is(still.state, PendingState.PENDING_ACTIVITY_STATE_SCHEDULED, 'no worker picked it up');
  t.is(still.attempt, 1);
  t.falsy(still.lastStartedTime);
  t.falsy(still.lastWorkerIdentity);
  t.is(queued.activityId, still.activityId);
  t.is(activityRecords(await fetchEvents(client, generation)).find((a) => a.activityType === 'quantize')?.taskQueue, 'gpu-a100-80gb');
  t.true(cpu.proc.alive());

  // No --device-class: the worker asks nvidia-smi (a fake one here) what it runs on.
  const a100 = await startWorker(t, env, 'gpu', {
    artifactsDir: artifacts,
    env: fakeNvidiaSmiPath(t, ['0, NVIDIA A100-SXM4-80GB, 81920', '1, NVIDIA A100-SXM4-80GB, 81920']),
  });
  t.like(a100.ready, { deviceClass: 'a100-80gb', taskQueue: 'gpu-a100-80gb', slots: 2 });

  const status = await resultWithin(handle, 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.counts.evaluated, 1);
  const gpu = activityRecords(await fetchEvents(client, generation)).filter((a) => a.taskQueue === 'gpu-a100-80gb');
  t.deepEqual(
    gpu.map((a) => [a.activityType, a.outcome, a.identity]),
    [
      ['quantize', 'completed', a100.ready.identity],
      ['evaluate', 'completed', a100.ready.identity],
    ],
  );
});

test.serial('a GPU worker refuses to start on a GPU evoquant has no profile for', async (t) => {
  const { env } = await engineContext(stack);
  const error = await t.throwsAsync(startWorker(t, env, 'gpu', { env: fakeNvidiaSmiPath(t, ['0, NVIDIA GeForce RTX 4090, 24564']) }));
  t.regex(error?.message ?? '', /RTX 4090 has no evoquant hardware profile/);
});

test.serial('pause, retry, setBudget and resume steer a running evolution; invalid updates are rejected before history', async (t) => {
  const { env, db, client } = await engineContext(stack);
  const artifacts = artifactsDir(t);
  const [, small] = await Promise.all([
    startWorker(t, env, 'control'),
    startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, deviceMemoryBytes: 2 ** 20, identity: 'gpu-small' }),
  ]);
  const id = evolutionId('steer');
  const handle = await startEvolution(client, id, tinyConfig({ generations: 2 }));

  // Pause takes effect between generations: generation 0, once started, finishes (out of
  // memory); generation 1 never starts.
  await waitFor('generation 0 to reach the GPU', async () => ((await pendingActivities(client, `${id}/gen-0`)).some((a) => a.activityType?.name === 'quantize') ? true : undefined));
  t.is((await handle.executeUpdate(pauseUpdate)).phase, 'paused');
  const afterGen0 = await waitFor('generation 0 to finish', async () => {
    const s = await queryStatus(handle);
    return s.generation === 1 && s.counts.infeasible === 1 ? s : undefined;
  }, { intervalMs: 250 });
  t.is(afterGen0.phase, 'paused');
  await sleep(2_000);
  await t.throwsAsync(client.workflow.getHandle(`${id}/gen-1`).describe(), { instanceOf: WorkflowNotFoundError }, 'paused: no generation 1');
  const [candidate] = await candidateFacts(db, id);

  const rejected = async (p: Promise<unknown>, message: RegExp): Promise<void> => {
    const err = await t.throwsAsync(p, { instanceOf: WorkflowUpdateFailedError });
    t.regex(`${err?.cause?.message ?? ''}`, message);
  };
  await rejected(handle.executeUpdate(setBudgetUpdate, { args: [{}] }), /needs generations or maxCandidates/);
  await rejected(handle.executeUpdate(setBudgetUpdate, { args: [{ generations: 0 }] }), /generations/);
  await rejected(handle.executeUpdate(retryUpdate, { args: [{ candidateIds: ['c-nope'] }] }), /not part of evolution/);
  // The CLI goes through the same validator.
  const bad = await runEngineCli(env, ['retry', id, '--candidate', 'c-nope']);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /not part of evolution/);

  // Retry the out-of-memory candidate on a worker with room, and end after that round.
  const queued = await runEngineCli(env, ['retry', id, '--json']);
  t.is(queued.code, 0, queued.stderr);
  t.deepEqual(JSON.parse(queued.stdout) as RetryReport, { mode: 'queued', evolutionId: id, queued: [candidate.id] });
  t.deepEqual(await handle.executeUpdate(retryUpdate, { args: [{ candidateIds: [candidate.id] }] }), { queued: [] }, 'already queued');
  t.is((await handle.executeUpdate(setBudgetUpdate, { args: [{ generations: 1 }] })).generations, 1);
  await small.proc.stop();
  await startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, identity: 'gpu-big' });
  t.is((await handle.executeUpdate(resumeUpdate)).phase, 'running');

  const status = await resultWithin(handle, 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.like(status, { phase: 'completed', generation: 1, generations: 1 });
  t.like(status.counts, { evaluated: 1, infeasible: 0 });
  t.is(status.best?.id, candidate.id);
  await t.throwsAsync(client.workflow.getHandle(`${id}/gen-1`).describe(), { instanceOf: WorkflowNotFoundError }, 'the budget ended it');
  const round = activityRecords(await fetchEvents(client, `${id}/retry-0`)).filter((a) => a.taskQueue === 'gpu-cpu');
  t.deepEqual(
    round.map((a) => [a.activityType, a.outcome, a.identity]),
    [
      ['quantize', 'completed', 'gpu-big'],
      ['evaluate', 'completed', 'gpu-big'],
    ],
  );
  const [after] = await candidateFacts(db, id);
  t.like(after, { status: 'evaluated', results: 1 });
  t.deepEqual(
    after.attempts.map((a) => [a.attempt, a.outcome]),
    [
      [1, 'oom'],
      [2, 'ok'],
    ],
  );

  // Exactly the accepted updates are in the history: pause, retry ×2 (CLI and direct), setBudget, resume.
  const events = await fetchEvents(client, id);
  const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name);
  t.deepEqual(accepted, ['pause', 'retry', 'retry', 'setBudget', 'resume']);
  // A completed evolution takes no more updates.
  await t.throwsAsync(handle.executeUpdate(stopUpdate));
});

test.serial('stop lets the generation in flight finish, then ends the evolution as cancelled; a budget below what ran is rejected', async (t) => {
  const { env, db, client } = await engineContext(stack);
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) })]);
  const id = evolutionId('stop');
  const handle = await startEvolution(client, id, tinyConfig({ generations: 20 }));
  await waitFor('two generations to finish', async () => ((await queryStatus(handle)).generation >= 2 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250 });

  const err = await t.throwsAsync(handle.executeUpdate(setBudgetUpdate, { args: [{ generations: 1 }] }), { instanceOf: WorkflowUpdateFailedError });
  t.regex(err?.cause?.message ?? '', /below the \d+ already run/);
  const stopping = await handle.executeUpdate(stopUpdate);
  t.is(stopping.phase, 'stopping');

  const status = await resultWithin(handle, 120_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.phase, 'completed');
  t.true(status.generation >= 2 && status.generation <= stopping.generation + 1, `stopped after generation ${status.generation - 1}`);
  t.is(status.generations, 20, 'the rejected budget changed nothing');
  const facts = await candidateFacts(db, id);
  t.is(facts.length, status.generation, 'one candidate per generation that ran');
  for (const c of facts) t.is(c.results, c.status === 'evaluated' ? 1 : 0, `${c.recipeName}: ${c.status}`);
  t.true(facts.every((c) => c.status === 'evaluated' || c.status === 'rejected'));
  t.is((await getEvolution(db, id))?.status, 'cancelled');
});

test.serial('`evoquant retry` re-runs an infeasible candidate of a completed evolution; `evoquant history` shows every attempt', async (t) => {
  const { env, db, client } = await engineContext(stack);
  const artifacts = artifactsDir(t);
  const [, small] = await Promise.all([
    startWorker(t, env, 'control'),
    startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, deviceMemoryBytes: 2 ** 20, identity: 'gpu-small' }),
  ]);
  const id = evolutionId('cli-retry');
  const first = await resultWithin(await startEvolution(client, id, tinyConfig()), 120_000);
  t.is(first.counts.infeasible, 1);
  const [candidate] = await candidateFacts(db, id);
  t.is(candidate.status, 'infeasible');

  await small.proc.stop();
  await startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifacts, identity: 'gpu-big' });
  const retried = await runEngineCli(env, ['retry', id, '--json']);
  t.is(retried.code, 0, retried.stderr);
  const report = JSON.parse(retried.stdout) as RetryReport;
  if (report.mode !== 'ran') return t.fail(`expected a detached round, got ${retried.stdout}`);
  t.deepEqual(
    report.candidates.map((c) => [c.id, c.status]),
    [[candidate.id, 'evaluated']],
  );
  const [after] = await candidateFacts(db, id);
  t.like(after, { status: 'evaluated', results: 1 });
  const again = await runEngineCli(env, ['retry', id, '--json']);
  t.is((JSON.parse(again.stdout) as RetryReport).mode, 'nothing', 'nothing left to retry');

  const shown = await runEngineCli(env, ['history', id, '--json']);
  t.is(shown.code, 0, shown.stderr);
  const history = JSON.parse(shown.stdout) as EvolutionHistory;
  t.deepEqual(
    history.workflows.map((w) => w.workflowId),
    [id, `${id}/gen-0`, report.workflowId],
  );
  const rows = history.workflows.flatMap((w) => w.activities.filter((a) => a.taskQueue === 'gpu-cpu').map((a) => ({ ...a, workflowId: w.workflowId })));
  t.like(rows[0], { workflowId: `${id}/gen-0`, activityType: 'quantize', candidateId: candidate.id, outcome: 'failed', attempt: 1, workerIdentity: 'gpu-small' });
  t.is(rows[0].failure?.type, FAILURE_TYPES.outOfMemory);
  t.like(rows[1], { workflowId: report.workflowId, activityType: 'quantize', outcome: 'completed', attempt: 1, workerIdentity: 'gpu-big' });
  t.like(rows[2], { workflowId: report.workflowId, activityType: 'evaluate', candidateId: candidate.id, outcome: 'completed', attempt: 1, workerIdentity: 'gpu-big' });
  for (const r of rows) {
    t.true(typeof r.runMs === 'number' && r.runMs >= 0 && typeof r.totalMs === 'number' && r.totalMs >= r.runMs, `durations of ${r.activityType}`);
  }
  const human = await runEngineCli(env, ['history', id]);
  t.is(human.code, 0);
  t.true(human.stdout.includes('gpu-small') && human.stdout.includes('gpu-big') && human.stdout.includes(FAILURE_TYPES.outOfMemory), human.stdout);
  recorded.push(...(await evolutionHistories(client, id)));
  recorded.push({ workflowId: report.workflowId, runId: '', history: await client.workflow.getHandle(report.workflowId).fetchHistory() });
});

test.serial('the recorded histories replay against the current workflow code', async (t) => {
  t.true(recorded.length > 0, 'the tests above recorded histories');
  t.deepEqual(await replayFailures(recorded), []);
});
