// The agents on the durable engine, on a real Temporal dev server and Postgres: a generation's
// history reads scout → architect → physicist → compile → quantize → evaluate → record → critic →
// curator; chains of thought, reasoning, judgements and survivors land in the graph; the manual
// recipes are measured and discoveries judged; `explain` and `discoveries` tell it; and what one
// evolution learned steers the next one's chain of thought.
import test from 'ava';
import { sql } from 'kysely';
import type { EvolutionHistory } from '../engine/client/history-fetch.js';
import type { Explanation } from '../engine/client/explain.js';
import { listReferences } from '../engine/db/references.js';
import { listResults } from '../engine/db/results.js';
import { ChainOfThought } from '../schema/agents.js';
import { judgeDiscoveries } from '../evolution/agents/discovery.js';
import { loadChain } from '../evolution/knowledge/chains.js';
import { listDiscoveries, type StoredDiscovery } from '../evolution/knowledge/discoveries.js';
import { chainId } from '../evolution/agents/scout.js';
import { useStack } from './helpers/stack.js';
import { engineContext } from './helpers/engine-env.js';
import { artifactsDir, startWorker } from './helpers/worker-process.js';
import { runEngineCli } from './helpers/engine-cli.js';
import { evolutionId, resultWithin, startEvolution, tinyConfig } from './helpers/evolutions.js';

const stack = useStack(test);

// Qwen3-235B-A22B on one A100-80GB: the tight regime. The 4-bit seed does not fit, so its children
// need the physicist's repair; the 2-bit seed fits.
const tight = (overrides: Parameters<typeof tinyConfig>[0] = {}) =>
  tinyConfig({
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1 },
    generations: 2,
    populationSize: 3,
    seedRecipes: ['w2a16-g64-rtn', 'w4a16-g128-rtn'],
    evaluation: { tokens: 512, calibrationTokens: 256, heartbeatSeconds: 5, maxAttempts: 3 },
    agents: { discoveries: true },
    ...overrides,
  });

let first = '';
// The second test continues on the first one's database: knowledge lives in the graph.
let shared: Awaited<ReturnType<typeof engineContext>> | undefined;

test.serial('a generation runs the agents; chains, reasoning, judgements, survivors, references and discoveries land in the graph', async (t) => {
  t.timeout(20 * 60_000);
  shared = await engineContext(stack);
  const { env, db, client } = shared;
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) })]);
  first = evolutionId('agents-a');
  const status = await resultWithin(await startEvolution(client, first, tight()), 1_100_000);
  t.is(status.phase, 'completed');

  // The chain of thought of every generation, stored and citing innovations once there is a frontier.
  for (const g of [0, 1]) t.truthy(await loadChain(db, chainId(first, g)), `chain of generation ${g}`);
  const chain1 = ChainOfThought.parse(await loadChain(db, chainId(first, 1)));
  t.true(chain1.steps.length > 0 && chain1.frontier.length > 0);
  const cites = await db.selectFrom('ekg_edge').select('dst').where('src', '=', chain1.id).where('kind', '=', 'cites').execute();
  t.deepEqual(new Set(cites.map((c) => c.dst)), new Set(chain1.steps.map((s) => `innovation:${s.innovation}`)));

  // Every child was reasoned from its generation's chain; seeds were not.
  const rows = await db.selectFrom('candidate').select(['id', 'generation', 'parent_ids']).where('evolution_id', '=', first).execute();
  const reasoned = await db.selectFrom('ekg_edge').select(['src', 'dst', 'payload']).where('kind', '=', 'reasoned-by').where('src', 'in', rows.map((r) => `candidate:${r.id}`)).execute();
  const children = rows.filter((r) => r.generation > 0);
  t.true(children.length >= 2);
  t.is(reasoned.length, children.length);
  for (const e of reasoned) {
    const row = rows.find((r) => `candidate:${r.id}` === e.src)!;
    t.is(e.dst, chainId(first, row.generation));
    t.true(['mutate', 'transfer', 'crossover', 'uniform'].includes(String(e.payload.operation)));
  }

  // The critic's evidence, per pattern and target family; the curator's survivors per generation.
  const evidence = await db.selectFrom('ekg_edge').select(['dst', 'payload']).where('kind', '=', 'applies-pattern').where('dst', 'like', 'pattern:%').where(sql<string>`payload->>'evolutionId'`, '=', first).execute();
  t.true(evidence.length > 0);
  t.true(evidence.every((e) => e.payload.family === 'moe/vllm/tight'));
  const generations = await db.selectFrom('generation').select(['number', 'survivors']).where('evolution_id', '=', first).orderBy('number').execute();
  t.deepEqual(generations.map((g) => g.number), [0, 1]);
  t.true(generations.every((g) => g.survivors.length > 0 && g.survivors.length <= 3));

  // The history of a generation reads as the agents' chain.
  const shown = await runEngineCli(env, ['history', first, '--generation', '1', '--json']);
  t.is(shown.code, 0, shown.stderr);
  const types = (JSON.parse(shown.stdout) as EvolutionHistory).workflows[0].activities.map((a) => a.activityType);
  t.deepEqual(types.slice(0, 3), ['scout', 'architect', 'physicist']);
  t.deepEqual(types.slice(-3), ['critic', 'curator', 'closeGeneration']);
  for (const kind of ['compileCandidate', 'quantize', 'evaluate', 'record']) t.true(types.includes(kind), `${kind} in the history`);
  t.true(types.indexOf('quantize') > types.indexOf('physicist') && types.lastIndexOf('record') < types.indexOf('critic'));

  // The evolution's own history: registration, the manual recipes measured on the pool, the judgement.
  const whole = await runEngineCli(env, ['history', first, '--json']);
  t.is(whole.code, 0, whole.stderr);
  const own = (JSON.parse(whole.stdout) as EvolutionHistory).workflows.find((w) => w.workflowId === first)!;
  const ownTypes = own.activities.map((a) => a.activityType);
  t.deepEqual([ownTypes[0], ownTypes[1], ownTypes.at(-2), ownTypes.at(-1)], ['registerEvolution', 'referencesToMeasure', 'discover', 'finishEvolution']);
  t.true(ownTypes.includes('recordReferenceResult') && ownTypes.includes('quantize') && ownTypes.includes('evaluate'));

  // References: bf16 and the manual recipes that fit; the discoveries are exactly the candidates that beat them.
  const refs = await listReferences(db, first);
  t.true(refs.some((r) => r.name === 'bf16'));
  t.true(refs.some((r) => r.name === 'w2a16-g64-rtn' && r.metrics.fits), 'the 2-bit builtin fits one A100');
  const manual = new Set(refs.map((r) => r.recipe_hash));
  const results = (await listResults(db, first)).filter((r) => r.status === 'evaluated' && r.metrics.fits && !manual.has(r.recipe_hash));
  const evolved = results.filter((r) => rows.find((c) => c.id === r.candidate_id)!.parent_ids.length > 0);
  const expected = judgeDiscoveries(
    evolved.map((r) => ({ id: r.candidate_id, name: r.candidate_id, gbPerGpu: r.metrics.gb_per_gpu, kl: r.metrics.kl, bitsPerByte: r.metrics.bits_per_byte, top1: r.metrics.top1 })),
    refs.filter((r) => r.metrics.fits).map((r) => ({ id: r.recipe_hash, name: r.name, gbPerGpu: r.metrics.gb_per_gpu, kl: r.metrics.kl, bitsPerByte: r.metrics.bits_per_byte, top1: r.metrics.top1 })),
    refs.find((r) => r.name === 'bf16')!.metrics.bits_per_byte,
  );
  const found = await listDiscoveries(db, { evolutionId: first });
  t.deepEqual(found.map((d) => d.card.candidateId).sort(), expected.map((e) => e.candidate.id).sort());
  t.deepEqual([...status.discoveries].sort(), found.map((d) => d.card.name).sort());
  for (const d of found) {
    t.true(d.card.gains.klDelta < 0 || d.card.gains.gbPerGpuDelta < 0, 'a discovery beats its reference');
    t.is(d.card.lineage.at(-1)!.candidate, d.card.candidateId);
    t.is(d.card.lineage[0].operation, 'seed');
  }

  // explain and discoveries, as a user runs them.
  const child = reasoned[0].src.slice('candidate:'.length);
  const explained = await runEngineCli(env, ['explain', child, '--json']);
  t.is(explained.code, 0, explained.stderr);
  const e = JSON.parse(explained.stdout) as Explanation;
  t.is(e.candidate.id, child);
  t.truthy(e.chain);
  t.true(e.parents.length >= 1);
  t.is(e.lineage.at(-1)!.candidate, child);
  const text = await runEngineCli(env, ['explain', child]);
  t.is(text.code, 0);
  t.regex(text.stdout, /chain of thought chain:/);
  t.regex(text.stdout, /parents:\n/);
  const listed = await runEngineCli(env, ['discoveries', '--id', first, '--json']);
  t.is(listed.code, 0, listed.stderr);
  t.deepEqual((JSON.parse(listed.stdout) as StoredDiscovery[]).map((d) => d.id).sort(), found.map((d) => d.id).sort());
  const human = await runEngineCli(env, ['discoveries', '--id', first]);
  t.is(human.code, 0);
  t.regex(human.stdout, found.length > 0 ? /lineage: seed / : /no discoveries yet/);
  if (found.length > 0) {
    const lineage = await runEngineCli(env, ['lineage', found[0].id]);
    t.is(lineage.code, 0, lineage.stderr);
    t.true(lineage.stdout.includes(`candidate:${found[0].card.candidateId}`));
  }
  const missing = await runEngineCli(env, ['explain', 'cand_nope']);
  t.is(missing.code, 2);
  t.is(missing.stderr, 'evoquant: candidate cand_nope not found\n');
});

test.serial('what one evolution learned steers the next one\'s chain of thought', async (t) => {
  t.timeout(20 * 60_000);
  if (!shared) return t.fail('the first test ran no evolution');
  const { env, db, client } = shared;
  await Promise.all([startWorker(t, env, 'control'), startWorker(t, env, 'gpu', { deviceClass: 'cpu', artifactsDir: artifactsDir(t) })]);
  const tried = await db
    .selectFrom('ekg_edge')
    .select(sql<string>`substr(dst, 9)`.as('pattern'))
    .distinct()
    .where('kind', '=', 'applies-pattern')
    .where('dst', 'like', 'pattern:%')
    .where(sql<string>`payload->>'evolutionId'`, '=', first)
    .execute();
  const second = evolutionId('agents-b');
  await resultWithin(await startEvolution(client, second, tight({ seed: 11, agents: { discoveries: false } })), 1_100_000);
  const chain = ChainOfThought.parse(await loadChain(db, chainId(second, 1)));
  // Generation 0 held only seeds, so every piece of evidence the second evolution's first chain has comes from the first.
  const informed = chain.steps.filter((s) => s.evidence !== 'none');
  t.true(informed.length > 0, JSON.stringify(chain.steps.map((s) => [s.pattern, s.evidence])));
  for (const s of informed) {
    t.is(s.evidence, 'other-evolutions');
    t.not(s.score, null);
    t.true(tried.some((p) => p.pattern === s.pattern), `${s.pattern} was tried by the first evolution`);
  }
  t.true(chain.steps.filter((s) => s.evidence === 'none').every((s) => s.score === null), 'untried patterns are still explored');
});
