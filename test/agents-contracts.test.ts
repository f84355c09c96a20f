// The agents' contracts, pure: the scout's chain of thought on a known subgraph, the architect's
// children, the physicist's refusals and repairs, the critic's judgements. Real recipes, real
// compile, the real allocator; no database (test/agents-knowledge.test.ts covers that side).
import test from 'ava';
import { ArchitectProposal, ChainOfThought, type ChainStep } from '../schema/agents.js';
import { EvolutionConfig } from '../schema/evolution-config.js';
import { parseRecipe, type Recipe, type RecipeInput } from '../schema/recipe.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { compileTarget } from '../science/physics/compile.js';
import { architect } from '../evolution/agents/architect.js';
import { critique } from '../evolution/agents/critic.js';
import { physicist } from '../evolution/agents/physicist.js';
import { recipePatterns } from '../evolution/agents/recipe-patterns.js';
import { extractChain, type ScoutInput, type ScoutPatternScore } from '../evolution/agents/scout.js';
import { targetFamily } from '../evolution/agents/target-family.js';
import type { ScoredCandidate } from '../evolution/archive/scored-candidate.js';
import type { InnovationGraph } from '../evolution/agents/innovation-graph.js';
import { servingContext } from '../evolution/proposer/serving-context.js';
import { candidateId } from '../evolution/proposer/candidate-id.js';
import { allocatorFor } from '../activities/agents/physicist.js';
import { compileVerdict } from '../activities/compile-verdict.js';
import { mulberry, syntheticProfile } from './helpers/synthetic-profile.js';

const recipe = (name: string): Recipe => {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`no builtin ${name}`);
  return r;
};

// A known subgraph: rtn (root) → gptq by error compensation → awq-like by activation awareness;
// rtn → layers by mixed precision; an idea without genes; one the stack cannot serve.
const GRAPH: InnovationGraph = {
  innovations: new Map(
    [
      { id: 'rtn', name: 'RTN', year: 2017, keyIdea: 'Round to nearest.', patterns: [], executable: true, genes: {}, operators: ['lower-bits'] },
      { id: 'gptq', name: 'GPTQ', year: 2022, keyIdea: 'Compensate rounding error.', patterns: ['error-compensation' as const], executable: true, genes: {}, operators: ['gptq'] },
      { id: 'awq', name: 'AWQ', year: 2023, keyIdea: 'Scale salient channels.', patterns: ['activation-awareness' as const], executable: true, genes: {}, operators: ['awq'] },
      { id: 'layers', name: 'Layer tiers', year: 2024, keyIdea: 'Bits per layer by sensitivity.', patterns: ['mixed-precision-sensitivity-routing' as const], executable: true, genes: {}, operators: ['expert-layer-tiers'] },
      { id: 'theory', name: 'Theory', year: 2024, keyIdea: 'No genes.', patterns: ['learned-rounding' as const], executable: false, genes: null, operators: [] },
      { id: 'rotate', name: 'Rotate', year: 2024, keyIdea: 'Rotate first.', patterns: ['rotation-incoherence' as const], executable: true, genes: {}, operators: ['hadamard-rotation'] },
    ].map((n) => [n.id, n]),
  ),
  derivations: [
    { from: 'rtn', to: 'gptq', pattern: 'error-compensation' },
    { from: 'gptq', to: 'awq', pattern: 'activation-awareness' },
    { from: 'rtn', to: 'layers', pattern: 'mixed-precision-sensitivity-routing' },
    { from: 'gptq', to: 'theory', pattern: 'learned-rounding' },
    { from: 'gptq', to: 'rotate', pattern: 'rotation-incoherence' },
  ],
};

const score = (pattern: ScoutPatternScore['pattern'], s: number, tries = 4, improvements = 2): ScoutPatternScore => ({ pattern, score: s, tries, improvements, meanKlDelta: -0.01, meanGbDelta: 0, evidence: 'other-evolutions' });

function scoutInput(over: Partial<ScoutInput> = {}): ScoutInput {
  return {
    evolutionId: 'evo-a',
    generation: 2,
    family: 'moe/vllm/tight',
    guidance: 'graph',
    chainLength: 6,
    graph: GRAPH,
    frontier: [{ id: 'cand_1', recipe: recipe('w4a16-g128-gptq') }],
    scores: [score('activation-awareness', 1.2), score('mixed-precision-sensitivity-routing', 2.5, 4, 3), score('error-compensation', 0.4)],
    servable: (id) => id !== 'rotate',
    operators: new Set(['lower-bits', 'gptq', 'awq', 'expert-layer-tiers', 'hadamard-rotation']),
    ...over,
  };
}

test('the scout reads the patterns a recipe applies from its genes', (t) => {
  t.deepEqual([...recipePatterns(recipe('w4a16-g128-rtn'))], []);
  t.deepEqual([...recipePatterns(recipe('w4a16-g128-gptq'))], ['error-compensation']);
  t.true(recipePatterns(recipe('moe-layers-sensitive4-rest3')).has('mixed-precision-sensitivity-routing'));
  // The KV cache's genes: an fp8 cache applies none; KIVI's per-channel keys and window isolate
  // outliers, Hadamard keys rotate, bands spend bits by layer; genes over a bf16 cache change nothing.
  const withKv = (kvCache: NonNullable<RecipeInput['kvCache']>): Recipe => parseRecipe({ ...recipe('w4a16-g128-rtn'), kvCache });
  t.deepEqual([...recipePatterns(withKv({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } }))], []);
  t.deepEqual([...recipePatterns(withKv({ keys: { format: 'int2', axis: 'channel', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 }, recentWindow: 128 }))], ['outlier-isolation']);
  t.deepEqual([...recipePatterns(withKv({ keys: { format: 'int4', axis: 'token', groupSize: 128 }, values: { format: 'int4', axis: 'token', groupSize: 128 }, keyRotation: 'hadamard' }))], ['rotation-incoherence']);
  t.deepEqual([...recipePatterns(withKv({ recentWindow: 64, keyRotation: 'hadamard' }))], []);
  t.deepEqual(
    [...recipePatterns(withKv({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' }, layers: [{ from: 0, to: 0.1, override: { keys: { format: 'bf16' }, values: { format: 'bf16' } } }] }))],
    ['mixed-precision-sensitivity-routing'],
  );
});

test('chain of thought on a known subgraph: paths from what the frontier applies to what it lacks, ranked by the bandit', (t) => {
  const chain = ChainOfThought.parse(extractChain(scoutInput()));
  t.is(chain.id, 'chain:evo-a/gen-2');
  t.deepEqual(chain.applied, ['error-compensation']);
  // layers (score 2.5) then awq (1.2) advance along derivation edges; gptq deepens what is applied;
  // the idea without genes and the one the stack cannot serve are left out.
  t.deepEqual(chain.steps.map((s) => [s.innovation, s.pattern, s.operator]), [
    ['layers', 'mixed-precision-sensitivity-routing', 'expert-layer-tiers'],
    ['awq', 'activation-awareness', 'awq'],
    ['gptq', 'error-compensation', 'gptq'],
  ]);
  const [layers, awq, gptq] = chain.steps;
  t.deepEqual(layers.from, ['rtn']);
  t.deepEqual(awq.from, ['gptq']);
  t.deepEqual(gptq.from, []);
  t.regex(awq.why, /^the frontier applies GPTQ; AWQ \(2023\) derives from it by activation-awareness/);
  t.regex(awq.why, /improved 2 of 4 children in earlier evolutions/);
  t.regex(gptq.why, /already applies error-compensation/);
  // Expected effects: layer tiers cut memory by construction; the measured mean decides the loss.
  t.is(layers.memory.direction, 'same', 'the measured mean (0 GB) overrides the prior');
  t.is(layers.loss.direction, 'less');
  t.is(layers.score, 2.5);
  t.is(layers.evidence, 'other-evolutions');
});

test('chain of thought: untried patterns come first with a null score; the length bound and one step per operator hold', (t) => {
  const chain = extractChain(scoutInput({ scores: [score('activation-awareness', 1.2)], chainLength: 2 }));
  t.is(chain.steps.length, 2);
  t.is(chain.steps[0].score, null, 'an untried pattern is explored first');
  t.is(new Set(chain.steps.map((s) => s.operator)).size, chain.steps.length);
  t.true(chain.steps.every((s) => s.evidence !== 'other-evolutions' || s.pattern === 'activation-awareness'));
});

test('ablated guidance: the same frontier, no chain', (t) => {
  const chain = extractChain(scoutInput({ guidance: 'ablated' }));
  t.deepEqual(chain.steps, []);
  t.deepEqual(chain.applied, ['error-compensation']);
});

const VLLM_1X = servingContext({ model: 'qwen3-235b-a22b', hardware: 'a100-80gb' });
const TARGET_1X = EvolutionConfig.parse({ name: 't', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1 } }).target;
const TARGET_2X = EvolutionConfig.parse({ name: 't', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 } }).target;

function scored(id: string, name: string, kl: number): ScoredCandidate {
  const r = recipe(name);
  const report = compileTarget({ model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2 }, r);
  return { id, generation: 0, recipe: r, parents: [], technique: null, score: { fits: report.fits, gbPerGpu: report.perGpu.totalBytes / 1e9, kl, top1: 0.5, relativeAccuracyLoss: 0.01, proxyBytes: 1 } };
}

const step = (operator: string, pattern: ChainStep['pattern'], evidence: ChainStep['evidence'] = 'this-evolution'): ChainStep => ({
  pattern,
  innovation: operator,
  operator,
  from: [],
  why: `apply ${operator}`,
  memory: { direction: 'same', measuredMean: null },
  loss: { direction: 'less', measuredMean: null },
  score: 1,
  evidence,
});

const chainOf = (steps: ChainStep[], guidance: 'graph' | 'ablated' = 'graph'): ChainOfThought => ({ id: 'chain:evo-a/gen-1', evolutionId: 'evo-a', generation: 1, family: 'moe/vllm/moderate', guidance, frontier: [], applied: [], steps });

test('the architect proposes the seeds at generation 0, then children along the chain: deterministic, new, servable', (t) => {
  const base = { evolutionId: 'evo-a', seed: 7, populationSize: 6, guidance: 'graph' as const, seedRecipes: ['w4a16-g128-rtn', 'moe-layers-sensitive4-rest3'], serving: VLLM_1X, crossoverRate: 0 };
  const seeds = architect({ ...base, generation: 0, chain: chainOf([]), survivors: [], archiveIds: new Set() });
  t.deepEqual(seeds.map((p) => [p.recipe.name, p.operation, p.step]), [['w4a16-g128-rtn', 'seed', null], ['moe-layers-sensitive4-rest3', 'seed', null]]);

  const survivors = [scored('cand_a', 'w4a16-g128-rtn', 0.01), scored('cand_b', 'moe-layers-sensitive4-rest3', 0.02)];
  const input = { ...base, generation: 1, chain: chainOf([step('gptq', 'error-compensation'), step('expert-layer-tiers', 'mixed-precision-sensitivity-routing', 'other-evolutions')]), survivors, archiveIds: new Set(['cand_a', 'cand_b']) };
  const children = architect(input);
  t.deepEqual(children, architect(input), 'deterministic in (seed, generation)');
  t.true(children.length >= 2);
  for (const c of children) {
    ArchitectProposal.parse(c);
    t.false(input.archiveIds.has(c.id));
    t.is(c.id, candidateId('evo-a', c.recipe));
    const v = compileVerdict({ candidate: c, target: TARGET_1X });
    t.false(v.violations.includes('not-servable'), `${c.recipe.name} is servable on vLLM`);
  }
  t.is(new Set(children.map((c) => c.id)).size, children.length);
  const viaGptq = children.filter((c) => c.technique === 'gptq');
  t.true(viaGptq.length > 0 && viaGptq.every((c) => c.operation === 'mutate' && c.step === 0 && c.recipe.default.method.kind === 'gptq'));
  const viaLayers = children.filter((c) => c.technique === 'expert-layer-tiers');
  t.true(viaLayers.length > 0 && viaLayers.every((c) => c.operation === 'transfer' && c.step === 1), 'a pattern whose evidence is from other evolutions is transferred');
});

test('the architect crosses two lineages, and without the graph draws operators uniformly', (t) => {
  const survivors = [scored('cand_a', 'w4a16-g128-gptq', 0.01), scored('cand_b', 'moe-layers-sensitive4-rest3', 0.02)];
  const crossed = architect({ evolutionId: 'evo-a', generation: 1, seed: 3, populationSize: 4, guidance: 'graph', chain: chainOf([]), survivors, archiveIds: new Set(), seedRecipes: [], serving: VLLM_1X, crossoverRate: 1 });
  t.true(crossed.length > 0);
  for (const c of crossed) {
    t.is(c.operation, 'crossover');
    t.deepEqual([...c.parents].sort(), ['cand_a', 'cand_b']);
  }
  const ablated = architect({ evolutionId: 'evo-a', generation: 1, seed: 3, populationSize: 4, guidance: 'ablated', chain: chainOf([step('gptq', 'error-compensation')], 'ablated'), survivors, archiveIds: new Set(), seedRecipes: [], serving: VLLM_1X, crossoverRate: 0 });
  t.true(ablated.length > 0);
  t.true(ablated.every((c) => c.operation === 'uniform' && c.step === null), 'no chain step is followed without the graph');
});

test('the physicist refuses what the stack cannot serve or cannot fit, saying why, and repairs by the allocator', (t) => {
  const proposal = (name: string, operation: ArchitectProposal['operation'] = 'mutate'): ArchitectProposal => {
    const r = recipe(name);
    return { id: candidateId('evo-a', r), generation: 1, recipe: r, parents: ['cand_a'], technique: 'gptq', operation, step: 0 };
  };
  const config = EvolutionConfig.parse({ name: 't', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1 } });
  const compile = (p: ArchitectProposal) => compileVerdict({ candidate: p, target: config.target });
  const outliers = builtinRecipe('research-moe-sensitive4-rest2-outliers') ?? null;
  const proposals = [proposal('w2a16-g64-gptq'), proposal('w4a16-g128-gptq'), proposal('bf16', 'seed'), ...(outliers ? [{ ...proposal('research-moe-sensitive4-rest2-outliers') }] : [])];

  const without = physicist('evo-a', proposals, { compile });
  t.deepEqual(without.accepted.map((a) => a.proposal.recipe.name), ['w2a16-g64-gptq', 'bf16'], 'seeds pass as given; compile judges them');
  const tooBig = without.refused.find((r) => r.proposal.recipe.name === 'w4a16-g128-gptq')!;
  t.regex(tooBig.reason, /^does not fit: .*no allocation to repair it with/);
  if (outliers) t.regex(without.refused.find((r) => r.proposal.recipe.name === 'research-moe-sensitive4-rest2-outliers')!.reason, /^not servable on the target: /);

  const allocate = allocatorFor(config, syntheticProfile(mulberry(9)));
  t.truthy(allocate, 'an allocator for 1×A100 TP1');
  const repaired = physicist('evo-a', proposals, { compile, allocateToFit: allocate });
  const fixed = repaired.accepted.find((a) => a.repair !== null)!;
  t.truthy(fixed, 'the 4-bit child is repaired');
  t.is(fixed.repair!.originalId, proposal('w4a16-g128-gptq').id);
  t.true(fixed.repair!.gbPerGpuAfter < fixed.repair!.gbPerGpuBefore);
  t.not(fixed.proposal.id, fixed.repair!.originalId);
  t.is(fixed.proposal.id, candidateId('evo-a', fixed.proposal.recipe));
  const after = compile(fixed.proposal);
  t.true(after.fits);
  t.deepEqual(after.violations, []);
  t.true(fixed.proposal.recipe.depth.some((b) => b.override.method?.kind === 'gptq'), 'the child keeps its rounding method');

  // A repair that lands on a recipe the evolution already has (its own parent, say) is no new child.
  const again = physicist('evo-a', proposals, { compile, allocateToFit: allocate, archiveIds: new Set([fixed.proposal.id]) });
  t.false(again.accepted.some((a) => a.repair !== null));
  t.regex(again.refused.find((r) => r.proposal.recipe.name === 'w4a16-g128-gptq')!.reason, /its repair is a recipe the evolution already has/);
});

test('the critic: improved-over its parent, failed-because its classes, and each applied pattern with the measured deltas', (t) => {
  const parent = { id: 'cand_p', recipe: recipe('w4a16-g128-rtn'), outcome: { status: 'evaluated' as const, fits: true, gbPerGpu: 60, kl: 0.02 } };
  const better = critique({ id: 'cand_c', recipe: recipe('w4a16-g128-gptq'), parents: [parent], technique: 'gptq', operation: 'mutate', step: step('gptq', 'error-compensation'), outcome: { status: 'evaluated', fits: true, gbPerGpu: 60, kl: 0.01 }, failures: [] });
  t.deepEqual(better.improvedOver, [{ parent: 'cand_p', klBefore: 0.02, klAfter: 0.01 }]);
  t.deepEqual(better.patterns, [{ pattern: 'error-compensation', improved: true, klDelta: -0.01, gbDelta: 0 }]);
  t.deepEqual(better.failedBecause, []);

  const refused = critique({ id: 'cand_d', recipe: recipe('w8a16'), parents: [parent], technique: 'lower-bits', operation: 'uniform', step: null, outcome: { status: 'rejected', fits: false, gbPerGpu: 120, kl: null }, failures: ['does-not-fit', 'does-not-fit'] });
  t.deepEqual(refused.improvedOver, []);
  t.deepEqual(refused.failedBecause, ['does-not-fit']);
  t.true(refused.patterns.every((p) => !p.improved && p.klDelta === null));

  const seed = critique({ id: 'cand_s', recipe: recipe('w4a16-g128-gptq'), parents: [], technique: null, operation: 'seed', step: null, outcome: { status: 'evaluated', fits: true, gbPerGpu: 60, kl: 0.01 }, failures: [] });
  t.deepEqual(seed.patterns, [], 'a seed applied nothing: no evidence for any pattern');
});

test('target families: architecture, stack and how tight the memory is', (t) => {
  t.is(targetFamily(TARGET_1X), 'moe/vllm/tight');
  t.is(targetFamily(TARGET_2X), 'moe/vllm/moderate');
  t.is(targetFamily({ ...TARGET_2X, gpus: 8, stack: 'llama.cpp' }), 'moe/llama.cpp/roomy');
});
