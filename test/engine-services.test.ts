// Durability of the engine when its services go away mid-run: the Temporal server (SIGKILLed and
// restarted on the same SQLite file) and Postgres (crashed and restarted). Real services, real
// worker processes; the evolution must finish with nothing lost.
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { waitForExit } from '../engine/stack/processes.js';
import { useStack } from './helpers/stack.js';
import { engineContext } from './helpers/engine-env.js';
import { artifactsDir, startWorker } from './helpers/worker-process.js';
import { W4_G64_RTN, evolutionId, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';
import { waitFor } from './helpers/wait.js';
import { activityRecords, evolutionHistories, fetchEvents, pendingActivities, replayFailures, waitForRunningActivity, type RecordedHistory } from './helpers/temporal-history.js';
import { candidateFacts, duplicates } from './helpers/db-checks.js';

const stack = useStack(test);
const recorded: RecordedHistory[] = [];

test.serial('an evolution completes after its Temporal server is SIGKILLed mid-run and restarted on the same db file', async (t) => {
  const { env, db, client } = await engineContext(stack);
  const workers = await Promise.all([
    startWorker(t, env, 'control'),
    startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) }),
  ]);
  const id = evolutionId('temporal-kill');
  await startEvolution(client, id, tinyConfig({ generations: 2 }));
  await waitForRunningActivity(client, `${id}/gen-0`, 'evaluate');

  const server = stack().temporal.server;
  const before = { pid: server.pid, address: server.address };
  process.kill(before.pid, 'SIGKILL');
  t.true(await waitForExit(before.pid, 10_000));
  // An outage longer than the heartbeat timeout: timers must fire from the persisted state.
  await sleep(4_000);
  await stack().temporal.restart();
  t.not(server.pid, before.pid);
  t.is(server.address, before.address);

  // restart() closed the helper's connection: the old client is gone with it.
  const fresh = await stack().temporal.client();
  const status = await resultWithin(fresh.workflow.getHandle(id), 180_000);
  recorded.push(...(await evolutionHistories(fresh, id)));
  t.is(status.phase, 'completed');
  t.is(status.generation, 2);
  t.is(status.counts.evaluated, 2);
  for (const w of workers) t.true(w.proc.alive(), `${w.proc.name} worker rode out the outage`);

  const facts = await candidateFacts(db, id);
  t.is(facts.length, 2);
  for (const c of facts) t.is(c.results, 1, `${c.id} has one result`);
  t.is(await duplicates(db, 'ekg_edge', ['src', 'dst', 'kind']), 0);
});

test.serial('a Postgres crash while a result is being recorded loses nothing: the record is retried until it lands', async (t) => {
  const { env, db, client } = await engineContext(stack);
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) })]);
  const id = evolutionId('postgres-restart');
  const handle = await startEvolution(client, id, tinyConfig({ seedRecipes: ['w4a16-g128-rtn', W4_G64_RTN] }));
  const generation = `${id}/gen-0`;
  await waitForRunningActivity(client, generation, 'evaluate');

  const postgres = stack().postgres.service;
  // Crash-like: sessions die mid-transaction, nothing is flushed politely.
  await postgres.stop('immediate');
  try {
    // The first measurement is done and cannot be written: its record fails and backs off.
    await waitFor(
      'record to fail against the stopped database',
      async () => ((await pendingActivities(client, generation)).some((a) => a.activityType?.name === 'record' && (a.attempt ?? 0) >= 2) ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  } finally {
    await postgres.start();
  }

  const status = await resultWithin(handle, 180_000);
  recorded.push(...(await evolutionHistories(client, id)));
  t.is(status.phase, 'completed');
  t.is(status.counts.evaluated, 2);

  const records = activityRecords(await fetchEvents(client, generation)).filter((a) => a.activityType === 'record');
  t.is(records.length, 2);
  t.true(records.some((r) => (r.attempt ?? 0) >= 2 && r.lastFailure !== null), 'a record attempt failed while Postgres was down');
  t.true(records.every((r) => r.outcome === 'completed'));

  const facts = await candidateFacts(db, id);
  t.is(facts.length, 2);
  for (const c of facts) {
    t.is(c.status, 'evaluated');
    t.is(c.results, 1, `${c.id} kept its result`);
    t.deepEqual(
      c.attempts.map((a) => a.outcome),
      ['ok'],
    );
  }
});

test.serial('the recorded histories replay against the current workflow code', async (t) => {
  t.true(recorded.length > 0, 'the tests above recorded histories');
  t.deepEqual(await replayFailures(recorded), []);
});
