// Evolution's parts: the archive's views, the operators, and the architect's children (deterministic,
// valid, deduplicated, drawn from the curator's survivors).
import test from 'ava';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { bestCandidate, paretoFrontier } from '../evolution/archive/archive.js';
import { candidateId } from '../evolution/proposer/candidate-id.js';
import { architect, type ArchitectInput } from '../evolution/agents/architect.js';
import { curate } from '../evolution/selection/constrained-pareto.js';
import type { ChainOfThought } from '../schema/agents.js';
import { scoreMeasurement, type ScoredCandidate } from '../evolution/archive/scored-candidate.js';
import { TECHNIQUES } from '../evolution/proposer/techniques.js';
import { BUILTIN_RECIPES, builtinRecipe } from '../science/recipes/builtin.js';
import { Recipe } from '../schema/recipe.js';

function scored(id: string, recipeName: string, gb: number, kl: number, fits = true): ScoredCandidate {
  return { id, generation: 0, recipe: builtinRecipe(recipeName)!, parents: [], technique: null, score: { fits, gbPerGpu: gb, kl, top1: 0.5, relativeAccuracyLoss: 0, proxyBytes: 1 } };
}

const archive: ScoredCandidate[] = [
  scored('a', 'w4a16-g128-rtn', 65, 0.01),
  scored('b', 'research-moe-hot4-cold3', 56, 0.03),
  scored('c', 'w3a16-g128-gptq', 50, 0.05),
  scored('d', 'w4a16-g128-awq', 66, 0.02),
  scored('e', 'bf16', 238, 0, false),
];

test('the frontier keeps only non-dominated fitting candidates; best is the lowest KL that fits', (t) => {
  t.deepEqual(paretoFrontier(archive, scoreMeasurement).map((c) => c.id), ['c', 'b', 'a']);
  t.is(bestCandidate(archive, scoreMeasurement)!.id, 'a');
});

test('every technique either declines or returns a valid, different recipe', (t) => {
  for (const recipe of BUILTIN_RECIPES.values()) {
    for (const technique of TECHNIQUES) {
      const child = technique.apply(recipe, xoroshiro128plus(1));
      if (child === null) continue;
      t.notThrows(() => Recipe.parse(child), `${technique.id} on ${recipe.name}`);
      t.not(candidateId('e', child), candidateId('e', recipe), `${technique.id} changes ${recipe.name}`);
    }
  }
});

const chain = (operators: string[]): ChainOfThought => ({
  id: 'chain:evo-1/gen-3',
  evolutionId: 'evo-1',
  generation: 3,
  family: 'moe/vllm/moderate',
  guidance: 'graph',
  frontier: [],
  applied: [],
  steps: operators.map((operator) => ({ pattern: 'error-compensation', innovation: operator, operator, from: [], why: operator, memory: { direction: 'same', measuredMean: null }, loss: { direction: 'less', measuredMean: null }, score: null, evidence: 'none' })),
});

const input: ArchitectInput = {
  evolutionId: 'evo-1',
  generation: 3,
  seed: 11,
  populationSize: 5,
  guidance: 'graph',
  chain: chain(['gptq', 'awq', 'group-size', 'lower-bits', 'attention-precision']),
  survivors: archive,
  archiveIds: new Set(archive.map((c) => c.id)),
  seedRecipes: ['w4a16-g128-rtn'],
};

test('the architect\'s children are deterministic in (seed, generation), new, unique and named by content', (t) => {
  const a = architect(input);
  t.deepEqual(architect(input), a);
  t.is(a.length, 5);
  t.is(new Set(a.map((p) => p.id)).size, 5);
  for (const p of a) {
    t.false(archive.some((c) => c.id === p.id));
    t.true(p.parents.length >= 1);
    t.is(p.id, candidateId('evo-1', p.recipe), 'the id is the policy content hash');
  }
  t.notDeepEqual(architect({ ...input, generation: 4 }).map((p) => p.id), a.map((p) => p.id));
});

test('generation 0 proposes the seeds; a renamed copy of a tried policy is not proposed again', (t) => {
  const seeds = architect({ ...input, generation: 0, survivors: [], archiveIds: new Set(), seedRecipes: ['w4a16-g128-rtn', 'research-moe-hot4-cold3'] });
  t.deepEqual(seeds.map((p) => p.recipe.name), ['w4a16-g128-rtn', 'research-moe-hot4-cold3']);
  const renamed = { ...builtinRecipe('w4a16-g128-rtn')!, name: 'same policy, other name' };
  t.is(candidateId('x', renamed), candidateId('x', builtinRecipe('w4a16-g128-rtn')!));
  const again = architect({ ...input, generation: 0, survivors: [], archiveIds: new Set([candidateId('evo-1', renamed)]), seedRecipes: ['w4a16-g128-rtn'] });
  t.deepEqual(again, [], 'the seed is the policy the evolution already has');
});

test('an evolution whose candidates all fail to fit still proposes, from the one closest to fitting', (t) => {
  const tooLarge = [scored('big', 'bf16', 238, Number.POSITIVE_INFINITY, false), scored('less', 'fp8-w8a16', 121, Number.POSITIVE_INFINITY, false)];
  // The curator keeps both (nothing fits: the smaller violation first); the architect draws from them.
  const survivors = curate(tooLarge.map((c) => ({ id: c.id, niche: c.recipe.name, gbPerGpu: c.score!.gbPerGpu, kl: c.score!.kl, violation: c.score!.gbPerGpu })), 2);
  t.deepEqual(survivors.map((s) => s.id), ['less', 'big']);
  const proposals = architect({ ...input, survivors: tooLarge, archiveIds: new Set(['big', 'less']), populationSize: 2, crossoverRate: 0, selection: 'pareto' });
  t.true(proposals.length > 0);
  t.true(proposals.every((p) => p.parents[0] === 'less'), 'the parent is the candidate closest to fitting');
});
