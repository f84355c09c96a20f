// The seed graph of innovations: the data validates and covers the lines, derivation is a
// DAG (by a real cycle check that also finds a planted cycle), every edge lands on a node, every
// executable innovation's genes make a recipe whose servability compile knows on every target and
// stack, the README block is what the generator writes, and seeding Postgres is idempotent and
// keeps the history of a graph seeded before. Also the derivation-path query.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Kysely } from 'kysely';
import { getNode, lineage, neighboursOut, upsertEdge, upsertNode } from '../engine/db/ekg.js';
import { createMigrator, migrateToLatest } from '../engine/db/migrate.js';
import { derivationPath } from '../evolution/knowledge/derivation-path.js';
import { derivationCycle } from '../evolution/knowledge/innovations/cycle.js';
import { InvalidInnovationSeedError, checkSeed, innovationSeed, loadInnovationSeed, SEED_DIR } from '../evolution/knowledge/innovations/load.js';
import { INNOVATIONS_BLOCK, INNOVATIONS_COMMAND, innovationsReadme } from '../evolution/knowledge/innovations/readme.js';
import { innovationRecipe } from '../evolution/knowledge/innovations/recipe.js';
import { SERVABILITY_TARGETS, servabilityTable, type ServabilityVerdict } from '../evolution/knowledge/innovations/servability.js';
import { innovationNodeId, seedInnovationGraph, seedKnowledgeGraph } from '../evolution/knowledge/seed-innovations.js';
import { seedTechniques, techniqueNodeId } from '../evolution/knowledge/seed.js';
import { TECHNIQUES } from '../evolution/proposer/techniques.js';
import { README_PATH, readBlock } from '../scripts/readme-blocks.js';
import { SERVING_STACK_TABLES } from '../science/serving-stacks/index.js';
import { loadModelConfig } from '../science/model-configs/load.js';
import type { Database } from '../schema/db.js';
import { EVOLUTION_PATTERNS, InnovationSeed, type Innovation } from '../schema/innovation.js';
import { Recipe } from '../schema/recipe.js';
import { SERVING_STACKS } from '../schema/serving-stack.js';
import { usePostgres } from './helpers/postgres.js';
import { blockDiff } from './helpers/block-diff.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const pg = usePostgres(test);
const seed = innovationSeed();
const byId = new Map(seed.innovations.map((n) => [n.id, n]));
const executable = seed.innovations.filter((n) => n.genes !== null);

function derives(child: string, parent: string): boolean {
  return byId.get(child)?.derivedFrom.some((d) => d.from === parent) ?? false;
}

test('the committed seed validates as a whole: ≥ 40 innovations, ≥ 20 executable, every pattern used', (t) => {
  t.notThrows(() => InnovationSeed.parse(JSON.parse(JSON.stringify(seed))));
  t.true(seed.innovations.length >= 40, `${seed.innovations.length} innovations`);
  t.true(executable.length >= 20, `${executable.length} executable`);
  const used = new Set(seed.innovations.flatMap((n) => n.derivedFrom.map((d) => d.pattern)));
  t.deepEqual([...used].sort(), [...EVOLUTION_PATTERNS].sort(), 'every pattern labels at least one derivation');
  const arxiv = seed.innovations.flatMap((n) => (n.source.arxiv ? [n.source.arxiv] : []));
  t.is(new Set(arxiv).size, arxiv.length, 'no arXiv id is claimed by two innovations');
  t.true(arxiv.length >= 35, `${arxiv.length} innovations with an arXiv id`);
});

test("the issue's lines are there, edge by edge", (t) => {
  const chains = [
    ['obq', 'obs'], ['gptq', 'obq'], ['spqr', 'gptq'], ['owq', 'gptq'], ['quip', 'gptq'], ['quip-sharp', 'quip'],
    ['smoothquant', 'llm-int8'], ['awq', 'smoothquant'], ['omniquant', 'awq'],
    ['quarot', 'quip'], ['spinquant', 'quarot'],
    ['autoround', 'adaround'],
    ['hawq-v2', 'hawq'], ['hawq-v3', 'hawq-v2'], ['mc-moe', 'hawq-v3'], ['mxmoe', 'mc-moe'],
    ['mc-moe', 'naee'], ['naee', 'mc-smoe'], ['eaquant', 'moequant'],
    ['kivi', 'flexgen'], ['kvquant', 'flexgen'], ['intactkv', 'kvquant'],
  ];
  for (const [child, parent] of chains) t.true(derives(child!, parent!), `${child} derives from ${parent}`);
  t.like(byId.get('autoround')?.genes, { default: { method: { kind: 'autoround' } } }, 'AutoRound runs as the learned-rounding gene');
  t.is(byId.get('moequant')?.patterns.includes('balanced-calibration'), true, 'router-aware calibration is a pattern of the MoE line');
});

test('derivation is acyclic, and the cycle check finds a planted cycle', (t) => {
  t.is(derivationCycle(seed.innovations), null);
  const planted = [
    { id: 'a', derivedFrom: [{ from: 'c' }] },
    { id: 'b', derivedFrom: [{ from: 'a' }] },
    { id: 'c', derivedFrom: [{ from: 'b' }] },
    { id: 'd', derivedFrom: [{ from: 'a' }] },
  ];
  t.deepEqual(derivationCycle(planted), ['a', 'c', 'b', 'a']);
  t.deepEqual(derivationCycle([{ id: 'x', derivedFrom: [{ from: 'x' }] }]), ['x', 'x']);
  // A diamond is not a cycle.
  t.is(derivationCycle([{ id: 'top', derivedFrom: [{ from: 'l' }, { from: 'r' }] }, { id: 'l', derivedFrom: [{ from: 'root' }] }, { id: 'r', derivedFrom: [{ from: 'root' }] }, { id: 'root', derivedFrom: [] }]), null);
  // checkSeed refuses a seed with a cycle: ggml-quants made to derive from k-quants (same year, so only the cycle check can see it).
  const cyclic = structuredClone(seed);
  const ggml = cyclic.innovations.find((n) => n.id === 'ggml-quants')!;
  ggml.patterns = ['mixed-precision-sensitivity-routing'];
  ggml.derivedFrom = [{ from: 'k-quants', pattern: 'mixed-precision-sensitivity-routing' }];
  t.throws(() => checkSeed(cyclic), { instanceOf: InvalidInnovationSeedError, message: 'innovations.yaml: derivation cycle ggml-quants → k-quants → ggml-quants' });
});

test('every edge lands on a node, and derivations never point to a later idea', (t) => {
  const platforms = new Set(seed.platforms.map((p) => p.id));
  const operators = new Set(TECHNIQUES.map((x) => x.id));
  for (const n of seed.innovations) {
    for (const d of n.derivedFrom) {
      const parent = byId.get(d.from);
      t.truthy(parent, `${n.id} → ${d.from}`);
      t.true(parent!.year <= n.year, `${n.id} (${n.year}) derives from ${d.from} (${parent!.year})`);
    }
    for (const r of n.requires) t.true(platforms.has(r), `${n.id} requires ${r}`);
    for (const o of n.operators) t.true(operators.has(o), `${n.id} operator ${o}`);
  }
  for (const p of seed.platforms) for (const r of p.requires) t.true(platforms.has(r), `${p.id} requires ${r}`);
  const stacks = seed.platforms.filter((p) => p.kind === 'serving-stack').map((p) => p.stack).sort();
  t.deepEqual(stacks, [...SERVING_STACKS].sort(), 'one node per serving stack evoquant knows');
  for (const p of seed.platforms.filter((x) => x.kind === 'serving-stack')) {
    const table = SERVING_STACK_TABLES.get(p.stack!)!;
    if (table.stack === 'vllm') t.true(p.id.endsWith(table.version), `${p.id} names vLLM's pinned version ${table.version}`);
  }
});

test('a broken seed is refused with one line naming the file and the record', (t) => {
  const dir = makeTempDir('seed');
  t.teardown(() => removeTempDir(dir));
  const broken = (edit: (text: string) => string): string => {
    cpSync(SEED_DIR, dir, { recursive: true });
    const file = path.join(dir, 'innovations.yaml');
    writeFileSync(file, edit(readFileSync(SEED_DIR + '/innovations.yaml', 'utf8')));
    const err = t.throws(() => loadInnovationSeed(dir), { instanceOf: InvalidInnovationSeedError });
    t.false((err?.message ?? '\n').includes('\n'), 'one line');
    return err?.message ?? '';
  };
  t.regex(broken((s) => s.replace('{ from: obq, pattern: error-compensation }', '{ from: obk, pattern: error-compensation }')), /gptq derives from unknown innovation obk/);
  t.regex(broken((s) => s.replace("genes: { default: { method: { kind: gptq } } }", 'genes: { default: { bits: 5, method: { kind: gptq } } }')), /innovations\.yaml\[\d+\]\.genes\.default\.bits/);
  t.regex(broken((s) => s.replace('requires: [marlin]\n  operators: [gptq]', 'requires: [tpu-v5]\n  operators: [gptq]')), /marlin requires unknown platform tpu-v5/);
  t.regex(broken((s) => s.replace('operators: [awq]', 'operators: [smoothquant]')), /awq names unknown operator smoothquant/);
  t.regex(broken((s) => s.replace("arxiv: '2210.17323'", "arxiv: 'arXiv:2210.17323'")), /source\.arxiv: arxiv must look like/);
  t.regex(broken((s) => s.replace('fidelity: exact\n  operators: [gptq]', 'fidelity: approximate\n  operators: [gptq]')), /needs a note/);
});

test("every executable innovation's genes make a valid recipe", (t) => {
  for (const n of seed.innovations) {
    const recipe = innovationRecipe(n);
    if (n.genes === null) {
      t.is(recipe, null);
      continue;
    }
    t.truthy(recipe, n.id);
    t.deepEqual(Recipe.parse(recipe), recipe, `${n.id}: the recipe round-trips its schema`);
    t.is(recipe!.name, `innovation-${n.id}`);
    // The genes really are there: the recipe differs from the bare base unless the innovation is the base itself.
    t.notDeepEqual(recipe, innovationRecipe({ ...n, genes: {} } as Innovation), `${n.id}: its genes change the base`);
  }
});

// Compiles 24 recipes × 2 targets × 3 stacks (Qwen3-235B has 36k modules): once for the tests below.
let table: ServabilityVerdict[] | null = null;
const verdicts = (): ServabilityVerdict[] => (table ??= servabilityTable(seed.innovations));
const verdict = (innovation: string, target: string, stack: string): ServabilityVerdict =>
  verdicts().find((r) => r.innovation === innovation && r.target === target && r.stack === stack)!;

test('servability is known for every executable innovation on every target and stack', (t) => {
  const rows = verdicts();
  t.is(rows.length, executable.length * SERVABILITY_TARGETS.length * SERVING_STACKS.length);
  const keys = new Set(rows.map((r) => `${r.innovation}|${r.target}|${r.stack}`));
  for (const n of executable) for (const target of SERVABILITY_TARGETS) for (const stack of SERVING_STACKS) t.true(keys.has(`${n.id}|${target.id}|${stack}`), `${n.id} ${target.id} ${stack}`);
  for (const r of rows) {
    t.is(r.servable, r.rules.length === 0, `${r.innovation} ${r.target} ${r.stack}: servable exactly when no rule is broken`);
    const ruleIds = new Set(SERVING_STACK_TABLES.get(r.stack)!.rules.map((x) => x.id));
    for (const rule of r.rules) t.true(rule.startsWith('hardware.') || rule === 'model.too-few-experts' || ruleIds.has(rule), `${rule} is a rule of ${r.stack}`);
  }
  // Known verdicts, each for a reason the physics states.
  t.true(verdict('gptq', 'qwen3-235b-2xa100', 'vllm').servable);
  t.true(verdict('awq', 'qwen3-235b-2xa100', 'vllm').servable, 'shared-input AWQ folds into the norms');
  t.true(verdict('ggml-quants', 'qwen3-235b-2xa100', 'llama.cpp').servable);
  t.deepEqual(verdict('spqr', 'qwen3-235b-2xa100', 'vllm').rules, ['vllm.outliers.none']);
  t.deepEqual(verdict('mc-moe', 'qwen3-235b-2xa100', 'vllm').rules, ['vllm.moe.one-scheme-per-layer']);
  // Expert pruning and merging: vLLM loads the reduced compressed-tensors checkpoint evoquant writes;
  // evoquant's llama.cpp export quantizes the original model, with every expert.
  for (const id of ['naee', 'mc-smoe']) {
    t.true(verdict(id, 'qwen3-235b-2xa100', 'vllm').servable, `${id} on vllm`);
    t.true(verdict(id, 'proxy-a100', 'reference').servable, `${id} on reference`);
    t.true(verdict(id, 'qwen3-235b-2xa100', 'llama.cpp').rules.includes('llama.cpp.checkpoint.gguf.evoquant'), `${id} on llama.cpp`);
  }
  t.true(verdict('fp8-formats', 'qwen3-235b-2xa100', 'reference').rules.includes('hardware.kernel-unsupported'), 'no FP8 tensor cores on SM 8.0');
  t.true(verdict('quarot', 'qwen3-235b-2xa100', 'vllm').rules.includes('vllm.transform.hadamard-linear-only'));
  // KV-cache innovations on the long-context target: vLLM serves the fp8 cache only; KIVI, KVQuant
  // and IntactKV run on the reference executor, refused by each stack's kv-cache rule.
  const LONG = 'llama-3.1-70b-128k-2xa100';
  t.true(verdict('fp8-kv-cache', LONG, 'vllm').servable);
  t.deepEqual(verdict('fp8-kv-cache', LONG, 'llama.cpp').rules, ['llama.cpp.kv-cache.types']);
  for (const id of ['kivi', 'kvquant', 'intactkv']) {
    t.true(verdict(id, LONG, 'reference').servable, `${id} on reference`);
    t.deepEqual(verdict(id, LONG, 'vllm').rules, ['vllm.kv-cache.dtypes'], `${id} on vllm`);
  }
  t.like(byId.get('kivi')?.genes, { kvCache: { keys: { format: 'int2', axis: 'channel', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 }, recentWindow: 128 } });
  t.like(byId.get('kvquant')?.genes, { kvCache: { keyPosition: 'pre-rope' } });
  t.like(byId.get('intactkv')?.genes, { kvCache: { sinkTokens: 4 } });
  t.like(byId.get('quarot')?.genes, { kvCache: { keyRotation: 'hadamard' } });
});

test("the graph's requires edges agree with compile", (t) => {
  const platforms = new Map(seed.platforms.map((p) => [p.id, p]));
  for (const n of executable) {
    const needs = n.requires.map((r) => platforms.get(r)!);
    // A reference-only kernel: no real stack serves the innovation.
    // (Per-expert genes have nothing to act on in a dense model: there the kernel is not needed.)
    const moeOnly = n.genes?.experts !== undefined;
    if (needs.some((p) => p.requires.includes('reference'))) {
      for (const target of SERVABILITY_TARGETS) {
        if (moeOnly && loadModelConfig(target.target.model).moe === null) continue;
        for (const stack of ['vllm', 'llama.cpp']) t.false(verdict(n.id, target.id, stack).servable, `${n.id} needs a reference-only kernel, yet ${stack} serves it on ${target.id}`);
      }
    }
    // A kernel that needs a newer GPU than the A100 targets: the GPU refuses it on every stack.
    const minSm = Math.max(0, ...needs.flatMap((p) => p.requires.map((r) => platforms.get(r)!.sm ?? 0)));
    if (minSm > 80) for (const target of SERVABILITY_TARGETS) for (const stack of SERVING_STACKS) t.true(verdict(n.id, target.id, stack).rules.includes('hardware.kernel-unsupported'), `${n.id} needs SM ${minSm / 10}`);
  }
});

test('the README block is what the generator writes', (t) => {
  const readme = readFileSync(README_PATH, 'utf8');
  const block = readBlock(readme, INNOVATIONS_BLOCK);
  const measured = innovationsReadme(seed, verdicts());
  t.is(block, measured, `README.md's generated ${INNOVATIONS_BLOCK} block is stale: run \`${INNOVATIONS_COMMAND}\`\n${blockDiff(block, measured)}`);
});

async function snapshot(db: Kysely<Database>): Promise<unknown[]> {
  const nodes = await db.selectFrom('ekg_node').selectAll().orderBy('id').execute();
  const edges = await db.selectFrom('ekg_edge').selectAll().orderBy('src').orderBy('dst').orderBy('kind').execute();
  return [nodes, edges];
}

test.serial('seeding Postgres twice changes nothing, not even updated_at', async (t) => {
  const { db } = await pg().freshDatabase();
  await seedKnowledgeGraph(db);
  const first = await snapshot(db);
  await seedKnowledgeGraph(db);
  t.deepEqual(await snapshot(db), first);
  const counts = await db.selectFrom('ekg_node').select(['kind']).select((eb) => eb.fn.countAll<string>().as('n')).groupBy('kind').orderBy('kind').execute();
  const kinds = Object.fromEntries(counts.map((c) => [c.kind, Number(c.n)]));
  t.deepEqual(kinds, {
    hardware: seed.platforms.filter((p) => p.kind === 'hardware').length,
    innovation: seed.innovations.length,
    kernel: seed.platforms.filter((p) => p.kind === 'kernel').length,
    pattern: EVOLUTION_PATTERNS.length,
    'serving-stack': seed.platforms.filter((p) => p.kind === 'serving-stack').length,
    technique: TECHNIQUES.length,
  });
  const derived = await db.selectFrom('ekg_edge').selectAll().where('kind', '=', 'derived-from').execute();
  t.is(derived.length, seed.innovations.reduce((s, n) => s + n.derivedFrom.length, 0));
  t.true(derived.every((e) => typeof e.payload.pattern === 'string'), 'every derivation edge carries its pattern');
  const gptq = await neighboursOut(db, innovationNodeId('gptq'));
  t.deepEqual(gptq.map((n) => [n.edge.kind, n.node.id]), [
    ['applies-pattern', 'pattern:error-compensation'],
    ['derived-from', 'innovation:obq'],
    ['implemented-by', 'technique:gptq'],
  ]);
  const fp8 = await neighboursOut(db, 'kernel:fp8-w8a8', { kinds: ['requires'] });
  t.deepEqual(fp8.map((n) => n.node.id), ['hardware:sm89', 'stack:vllm-0.33.0'], 'FP8 W8A8 requires SM 8.9 and vLLM');
  t.like((await getNode(db, innovationNodeId('awq')))?.payload, { executable: true, fidelity: 'exact', year: 2023 });
});

test.serial('upgrading a graph seeded with the old techniques keeps their history', async (t) => {
  const { db } = await pg().freshDatabase({ migrate: false });
  const migrated = await createMigrator(db).migrateTo('2026_11_26_0002_ekg');
  t.is(migrated.error, undefined);
  await seedTechniques(db);
  await upsertNode(db, { id: 'candidate:c1', kind: 'candidate', name: 'w4a16-g128-gptq', payload: { kl: 0.01 } });
  await upsertEdge(db, { src: 'candidate:c1', dst: techniqueNodeId('gptq'), kind: 'applies-pattern' });
  const before = await snapshot(db);

  await migrateToLatest(db);
  await seedKnowledgeGraph(db);
  const [nodesBefore, edgesBefore] = before as [Array<{ id: string }>, Array<{ src: string; dst: string; kind: string }>];
  const [nodesAfter, edgesAfter] = (await snapshot(db)) as typeof before & [Array<{ id: string }>, Array<{ src: string; dst: string; kind: string }>];
  for (const n of nodesBefore) t.deepEqual(nodesAfter.find((x) => x.id === n.id), n, `${n.id} unchanged, timestamps included`);
  for (const e of edgesBefore) t.deepEqual(edgesAfter.find((x) => x.src === e.src && x.dst === e.dst && x.kind === e.kind), e);
  t.true(edgesAfter.some((e) => e.src === innovationNodeId('gptq') && e.dst === techniqueNodeId('gptq') && e.kind === 'implemented-by'), 'the new graph links onto the old operators');

  // Down again: the innovation graph goes, the old graph stays as it was; up and seed restore it.
  // (To the ekg migration by name: later migrations sit on top of the innovations one.)
  t.is((await createMigrator(db).migrateTo('2026_11_26_0002_ekg')).error, undefined);
  const [nodesDown, edgesDown] = (await snapshot(db)) as [Array<{ id: string; kind: string }>, Array<{ kind: string }>];
  t.deepEqual(nodesDown.filter((n) => !n.id.startsWith('pattern:')), nodesBefore, 'down leaves the graph seeded before, plus the pattern nodes (a kind it already had)');
  t.deepEqual(edgesDown, edgesBefore);
  await migrateToLatest(db);
  await seedKnowledgeGraph(db);
  t.is((await getNode(db, innovationNodeId('gptq')))?.kind, 'innovation');
});

test.serial('the derivation path between two innovations, in either order', async (t) => {
  const { db } = await pg().freshDatabase();
  // implemented-by edges land on the technique nodes, which seedInnovationGraph alone does not write.
  await t.throwsAsync(seedInnovationGraph(db), { message: /foreign key/ });
  await seedKnowledgeGraph(db);
  const quipSharp = innovationNodeId('quip-sharp');
  const obs = innovationNodeId('obs');
  const path1 = await derivationPath(db, quipSharp, obs);
  t.deepEqual(path1?.nodes, ['obs', 'obq', 'gptq', 'quip', 'quip-sharp'].map(innovationNodeId));
  t.deepEqual(path1?.steps.map((s) => s.pattern), ['error-compensation', 'error-compensation', 'rotation-incoherence', 'rotation-incoherence']);
  t.deepEqual(await derivationPath(db, obs, quipSharp), path1, 'the same path whichever end comes first');
  const spin = await derivationPath(db, innovationNodeId('llm-int8'), innovationNodeId('eaquant'));
  t.deepEqual(spin?.nodes, ['llm-int8', 'smoothquant', 'eaquant'].map(innovationNodeId), 'the shortest of several paths');
  t.is(await derivationPath(db, innovationNodeId('kivi'), innovationNodeId('awq')), null, 'unrelated ideas have no path');
  t.deepEqual(await derivationPath(db, obs, obs), { nodes: [obs], steps: [] });
  t.true((await lineage(db, innovationNodeId('spinquant'), { kinds: ['derived-from'] })).some((n) => n.id === obs), 'SpinQuant descends from OBS');
});
