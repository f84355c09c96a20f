// The proposer and its parts: deterministic, valid, deduplicated, guided by technique statistics.
import test from 'ava';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { bestCandidate, paretoFrontier } from '../evolution/archive/archive.js';
import { candidateId, propose, type ProposeInput } from '../evolution/proposer/propose.js';
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

const input: ProposeInput = {
  evolutionId: 'evo-1',
  generation: 3,
  seed: 11,
  populationSize: 5,
  selection: 'pareto',
  seedRecipes: ['w4a16-g128-rtn'],
  archive,
  techniqueStats: {},
};

test('proposals are deterministic in (seed, generation), new and unique', (t) => {
  const a = propose(input);
  t.deepEqual(propose(input), a);
  t.is(a.length, 5);
  t.is(new Set(a.map((p) => p.id)).size, 5);
  for (const p of a) {
    t.false(archive.some((c) => c.id === p.id));
    t.is(p.parents.length, 1);
    t.truthy(p.technique);
    t.is(p.id, candidateId('evo-1', p.recipe), 'the id is the policy content hash');
  }
  t.notDeepEqual(propose({ ...input, generation: 4 }).map((p) => p.id), a.map((p) => p.id));
});

test('generation 0 proposes the seeds; a renamed copy of a tried policy is not proposed again', (t) => {
  const seeds = propose({ ...input, generation: 0, archive: [], seedRecipes: ['w4a16-g128-rtn', 'research-moe-hot4-cold3'] });
  t.deepEqual(seeds.map((p) => p.recipe.name), ['w4a16-g128-rtn', 'research-moe-hot4-cold3']);
  const renamed = { ...builtinRecipe('w4a16-g128-rtn')!, name: 'same policy, other name' };
  t.is(candidateId('x', renamed), candidateId('x', builtinRecipe('w4a16-g128-rtn')!));
});

test('technique statistics steer the choice: a technique that never improved is tried last', (t) => {
  const stats = Object.fromEntries(TECHNIQUES.map((tech) => [tech.id, { tries: 50, improvements: tech.id === 'gptq' ? 45 : tech.id === 'kv-cache-8bit' ? 0 : 10 }]));
  const picks = propose({ ...input, populationSize: 3, techniqueStats: stats }).map((p) => p.technique);
  t.true(picks.includes('gptq'), `picked ${picks.join(', ')}`);
  t.false(picks.includes('kv-cache-8bit'));
});

test('an evolution whose candidates all fail to fit still proposes, from the smallest one', (t) => {
  const tooLarge = [scored('big', 'bf16', 238, Number.POSITIVE_INFINITY, false), scored('less', 'fp8-w8a16', 121, Number.POSITIVE_INFINITY, false)];
  const proposals = propose({ ...input, archive: tooLarge, populationSize: 2, selection: 'pareto' });
  t.true(proposals.length > 0);
  t.true(proposals.every((p) => p.parents[0] === 'less'), 'the parent is the candidate closest to fitting');
});
