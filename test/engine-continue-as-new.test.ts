// Continue-as-new keeps an evolution's history bounded without losing its state. The Temporal
// server of this file suggests continuing after a handful of events, so every generation ends a run.
import test from 'ava';
import { listGenerations } from '../engine/db/evolutions.js';
import { setBudgetUpdate } from '../workflows/messages.js';
import { useStack } from './helpers/stack.js';
import { engineContext } from './helpers/engine-env.js';
import { artifactsDir, startWorker } from './helpers/worker-process.js';
import { evolutionId, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';
import { waitFor } from './helpers/wait.js';
import { evolutionHistories, pendingActivities, replayFailures, type RecordedHistory } from './helpers/temporal-history.js';
import { candidateFacts } from './helpers/db-checks.js';

// A generation adds ~10 events to the evolution's history; 10 makes the server suggest
// continue-as-new after every one (the default is 4Ki events).
const stack = useStack(test, { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 10 } });
const recorded: RecordedHistory[] = [];

test.serial('an evolution continues as new between generations and carries all of its state across runs', async (t) => {
  const { env, db, client } = await engineContext(stack);
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) })]);
  const id = evolutionId('can');
  const handle = await startEvolution(client, id, tinyConfig({ generations: 2, seedRecipes: ['w4a16-g128-rtn', 'bf16'] }));

  // Raised during the first run: the budget must survive the runs that follow.
  await waitFor('generation 0 to reach the GPU', async () => ((await pendingActivities(client, `${id}/gen-0`)).length > 0 ? true : undefined));
  t.is((await handle.executeUpdate(setBudgetUpdate, { args: [{ generations: 3 }] })).generations, 3);

  const status = await resultWithin(handle, 180_000);
  const histories = await evolutionHistories(client, id);
  recorded.push(...histories);
  const runs = histories.filter((h) => h.workflowId === id);
  t.true(status.runs >= 2, `continued as new ${status.runs} times`);
  t.is(runs.length, status.runs + 1, 'one run per continue-as-new, plus the first');
  for (const run of runs.slice(0, -1)) {
    const events = run.history.events ?? [];
    t.truthy(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes, `run ${run.runId} ended by continuing as new`);
  }
  t.true(
    runs.every((r) => (r.history.events?.length ?? 0) < 40),
    `every run's history stays short (${runs.map((r) => r.history.events?.length).join(', ')} events)`,
  );

  // Nothing was lost on the way: every generation's candidates are in the final status.
  t.like(status, { phase: 'completed', generation: 3, generations: 3 });
  const facts = await candidateFacts(db, id);
  t.deepEqual(
    facts.map((c) => c.generation),
    [0, 0, 1, 2],
    'two seeds, then one child per generation',
  );
  t.is(facts.find((c) => c.recipeName === 'bf16')?.status, 'rejected', 'bf16 cannot fit two A100s');
  for (const s of ['evaluated', 'rejected', 'failed', 'infeasible'] as const) {
    t.is(status.counts[s], facts.filter((c) => c.status === s).length, `${s}: workflow state and database agree`);
  }
  t.true(status.counts.evaluated >= 2);
  for (const c of facts) t.is(c.results, c.status === 'evaluated' ? 1 : 0, `${c.recipeName}: ${c.status}`);
  t.truthy(status.best);
  t.true(status.frontier.length >= 1);
  t.deepEqual(
    (await listGenerations(db, id)).map((g) => g.number),
    [0, 1, 2],
  );
  // Each generation ran exactly once although its parent restarted in between.
  t.deepEqual(
    histories.filter((h) => h.workflowId !== id).map((h) => h.workflowId),
    [`${id}/gen-0`, `${id}/gen-1`, `${id}/gen-2`],
  );
});

test.serial('the histories of every run replay against the current workflow code', async (t) => {
  t.true(recorded.length > 0, 'the test above recorded histories');
  t.deepEqual(await replayFailures(recorded), []);
});
