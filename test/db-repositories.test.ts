// Repository writes are idempotent on their natural keys: writing twice leaves one row.
import test from 'ava';
import { childrenOf, findCandidatesByRecipeHash, getCandidate, listCandidates, proposeCandidate, setCandidateStatus } from '../engine/db/candidates.js';
import { candidateIdFor, canonicalJson, recipeHash } from '../schema/content-hash.js';
import { finishAttempt, listAttempts, recordFailedAttempt, recordSucceededAttempt, startAttempt } from '../engine/db/evaluation-attempts.js';
import {
  createEvolution,
  finishGeneration,
  latestGeneration,
  listEvolutions,
  listGenerations,
  lockGeneration,
  setEvolutionStatus,
  startGeneration,
} from '../engine/db/evolutions.js';
import { getResult, listResults, recordResult } from '../engine/db/results.js';
import type { ResultMetrics } from '../schema/db.js';
import { usePostgres } from './helpers/postgres.js';

const pg = usePostgres(test);

const recipe = { default: { bits: 4, groupSize: 128, method: { kind: 'gptq', damp: 0.01 } }, overrides: [] };
const metrics: ResultMetrics = { bits_per_byte: 1.21, top1: 0.93, kl: 0.02, proxy_bytes: 1_234_567, gb_per_gpu: 61.5, fits: true };

test('content hashes ignore key order and separate evolutions', (t) => {
  const shuffled = { overrides: [], default: { method: { damp: 0.01, kind: 'gptq' }, groupSize: 128, bits: 4 } };
  t.is(canonicalJson(shuffled), canonicalJson(recipe));
  t.is(recipeHash(shuffled), recipeHash(recipe));
  t.not(recipeHash({ a: [1, 2] }), recipeHash({ a: [2, 1] }), 'array order matters');
  t.not(candidateIdFor('wf-1', recipeHash(recipe)), candidateIdFor('wf-2', recipeHash(recipe)));
});

test.serial('evolutions and generations: create twice, one row; finish twice, one finish time', async (t) => {
  const { db } = await pg().freshDatabase();
  const a = await createEvolution(db, { id: 'wf-1', config: { seed: 1 } });
  const b = await createEvolution(db, { id: 'wf-1', config: { seed: 2 } });
  t.deepEqual(b, a, 'the first config wins, the row is returned unchanged');
  t.is((await listEvolutions(db)).length, 1);
  t.is((await setEvolutionStatus(db, 'wf-1', 'completed'))?.status, 'completed');
  t.is((await listEvolutions(db, { status: 'running' })).length, 0);

  const g0 = await startGeneration(db, 'wf-1', 0);
  t.deepEqual(await startGeneration(db, 'wf-1', 0), g0);
  await startGeneration(db, 'wf-1', 1);
  const done = await finishGeneration(db, 'wf-1', 0, 'completed');
  const again = await finishGeneration(db, 'wf-1', 0, 'completed');
  t.truthy(done?.finished_at);
  t.deepEqual(again?.finished_at, done?.finished_at);
  t.deepEqual((await listGenerations(db, 'wf-1')).map((g) => [g.number, g.status]), [[0, 'completed'], [1, 'running']]);
  t.is((await latestGeneration(db, 'wf-1'))?.number, 1);
});

test.serial('candidates: the same recipe proposed twice is one candidate', async (t) => {
  const { db } = await pg().freshDatabase();
  await createEvolution(db, { id: 'wf-c', config: {} });
  await createEvolution(db, { id: 'wf-d', config: {} });
  const parent = await proposeCandidate(db, { evolutionId: 'wf-c', generation: 0, recipe: { default: { bits: 8 } } });
  const first = await proposeCandidate(db, { evolutionId: 'wf-c', generation: 1, recipe, parentIds: [parent.id, parent.id] });
  const second = await proposeCandidate(db, { evolutionId: 'wf-c', generation: 1, recipe: JSON.parse(JSON.stringify(recipe)), parentIds: [parent.id] });
  t.is(second.id, first.id);
  t.deepEqual(first.parent_ids, [parent.id], 'parents deduplicated');
  t.deepEqual(first.recipe, recipe, 'jsonb round-trip, arrays included');
  t.is((await listCandidates(db, 'wf-c', { generation: 1 })).length, 1);
  t.deepEqual((await childrenOf(db, parent.id)).map((c) => c.id), [first.id]);

  // Another evolution trying the same recipe gets its own candidate, found by the recipe hash.
  const elsewhere = await proposeCandidate(db, { evolutionId: 'wf-d', generation: 0, recipe });
  t.not(elsewhere.id, first.id);
  t.deepEqual((await findCandidatesByRecipeHash(db, first.recipe_hash)).map((c) => c.evolution_id).sort(), ['wf-c', 'wf-d']);

  const infeasible = await setCandidateStatus(db, first.id, 'infeasible', ['KERNEL_GROUP_SIZE', 'TP_SHARD_128', 'KERNEL_GROUP_SIZE']);
  t.deepEqual(infeasible?.violation_codes, ['KERNEL_GROUP_SIZE', 'TP_SHARD_128']);
  const reproposed = await proposeCandidate(db, { evolutionId: 'wf-c', generation: 1, recipe });
  t.is(reproposed.status, 'infeasible', 're-proposing never resets a verdict');
  t.is((await getCandidate(db, first.id))?.status, 'infeasible');
});

test.serial('attempts: one row per attempt, the first outcome wins', async (t) => {
  const { db } = await pg().freshDatabase();
  await createEvolution(db, { id: 'wf-a', config: {} });
  const c = await proposeCandidate(db, { evolutionId: 'wf-a', generation: 0, recipe });
  const started = await startAttempt(db, { candidateId: c.id, attempt: 1, workerIdentity: 'gpu-worker@host-a' });
  t.deepEqual(await startAttempt(db, { candidateId: c.id, attempt: 1, workerIdentity: 'gpu-worker@host-b' }), started);
  t.is(started.outcome, null);

  const oom = await finishAttempt(db, { candidateId: c.id, attempt: 1, outcome: 'oom', error: 'CUDA out of memory' });
  const late = await finishAttempt(db, { candidateId: c.id, attempt: 1, outcome: 'cancelled' });
  t.is(oom?.outcome, 'oom');
  t.is(late?.outcome, 'oom', 'a late duplicate does not overwrite');
  t.is(late?.error, 'CUDA out of memory');

  await startAttempt(db, { candidateId: c.id, attempt: 2, workerIdentity: 'gpu-worker@host-b' });
  await finishAttempt(db, { candidateId: c.id, attempt: 2, outcome: 'ok', metrics: { top1: 0.9 } });
  t.deepEqual((await listAttempts(db, c.id)).map((a) => [a.attempt, a.outcome, a.worker_identity]), [
    [1, 'oom', 'gpu-worker@host-a'],
    [2, 'ok', 'gpu-worker@host-b'],
  ]);
  t.is(await finishAttempt(db, { candidateId: c.id, attempt: 9, outcome: 'ok' }), undefined, 'never started');
});

test.serial('attempt bookkeeping: lost tries are filled in, a retry round numbers after the failed one, repeats change nothing', async (t) => {
  const { db } = await pg().freshDatabase();
  await createEvolution(db, { id: 'wf-b', config: {} });
  const c = await proposeCandidate(db, { evolutionId: 'wf-b', generation: 0, recipe });
  const rows = async (): Promise<Array<[number, string | null, string]>> => (await listAttempts(db, c.id)).map((a) => [a.attempt, a.outcome, a.worker_identity]);

  await recordFailedAttempt(db, { candidateId: c.id, outcome: 'failed', error: 'TransientFault: chaos' });
  await recordFailedAttempt(db, { candidateId: c.id, outcome: 'oom', error: 'GpuOutOfMemory: again' });
  t.deepEqual(await rows(), [[1, 'failed', 'unknown']], 'the failure is recorded once');

  // The retry round succeeded on Temporal's third try: two lost tries, then the success, after attempt 1.
  await recordSucceededAttempt(db, { candidateId: c.id, attempt: 3, workerIdentity: 'gpu@b', metrics: { top1: 0.9 } });
  await recordSucceededAttempt(db, { candidateId: c.id, attempt: 3, workerIdentity: 'gpu@b', metrics: { top1: 0.9 } });
  t.deepEqual(await rows(), [
    [1, 'failed', 'unknown'],
    [2, 'failed', 'unknown (lost attempt)'],
    [3, 'failed', 'unknown (lost attempt)'],
    [4, 'ok', 'gpu@b'],
  ]);
});

test.serial('lockGeneration serialises the transactions of one generation, not of another', async (t) => {
  const { db } = await pg().freshDatabase();
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const first = db.transaction().execute(async (trx) => {
    await lockGeneration(trx, 'wf-l', 1);
    locked();
    await held;
    order.push('first done');
  });
  await isLocked;
  const same = db.transaction().execute(async (trx) => {
    await lockGeneration(trx, 'wf-l', 1);
    order.push('same generation');
  });
  await db.transaction().execute(async (trx) => {
    await lockGeneration(trx, 'wf-l', 2);
    order.push('other generation');
  });
  await new Promise((r) => setTimeout(r, 200));
  release();
  await Promise.all([first, same]);
  t.deepEqual(order, ['other generation', 'first done', 'same generation']);
});

test.serial('results: exactly one per candidate, validated before writing', async (t) => {
  const { db } = await pg().freshDatabase();
  await createEvolution(db, { id: 'wf-r', config: {} });
  const c = await proposeCandidate(db, { evolutionId: 'wf-r', generation: 0, recipe });

  const first = await recordResult(db, c.id, metrics);
  const second = await recordResult(db, c.id, { ...metrics, top1: 0.5 });
  t.true(first.inserted);
  t.false(second.inserted);
  t.deepEqual(second.row, first.row, 'the first result stands');
  t.deepEqual((await getResult(db, c.id))?.metrics, metrics);
  t.deepEqual((await listResults(db, 'wf-r')).map((r) => [r.candidate_id, r.generation]), [[c.id, 0]]);

  const other = await proposeCandidate(db, { evolutionId: 'wf-r', generation: 0, recipe: { default: { bits: 3 } } });
  await t.throwsAsync(recordResult(db, other.id, { ...metrics, kl: Number.NaN }), { message: /kl/ });
  await t.throwsAsync(recordResult(db, other.id, { ...metrics, top1: 1.5 }), { message: /top1/ });
  t.is(await getResult(db, other.id), undefined, 'nothing written');
  const extra = await recordResult(db, other.id, { ...metrics, fits: false, wall_seconds: 12.5 });
  t.is(extra.row.metrics.wall_seconds, 12.5, 'extra metrics are kept');
});
