// The architect: a generation's children from the chain of thought. Pure and deterministic in
// (seed, generation). Graph guidance follows the chain's steps in the bandit's order, spreading a
// generation over them (mutate along a step's pattern, or transfer it when its evidence comes from
// other evolutions), and crosses two survivors' lineages now and then. Ablated guidance is the same
// engine without the graph: operators drawn uniformly. Children are moved onto the stack's table.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { AgentGuidance, ArchitectOperation, ArchitectProposal, ChainOfThought } from '../../schema/agents.js';
import { InvalidRecipeError, type Recipe } from '../../schema/recipe.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { servableRecipe } from '../../science/physics/servable-recipe.js';
import type { ScoredCandidate } from '../archive/scored-candidate.js';
import { candidateId } from '../proposer/candidate-id.js';
import { TECHNIQUES, type ServingContext, type Technique } from '../proposer/techniques.js';
import { selectionStrategy } from '../selection/by-name.js';
import { crossover } from './crossover.js';

export interface ArchitectInput {
  evolutionId: string;
  generation: number;
  seed: number;
  populationSize: number;
  guidance: AgentGuidance;
  chain: ChainOfThought;
  /** The curator's survivors, best first: the parents. */
  survivors: readonly ScoredCandidate[];
  /** How a parent is drawn from the survivors (the evolution config's `selection`; default pareto). */
  selection?: 'tournament' | 'pareto';
  /** Every candidate of the evolution so far, so a recipe is never proposed twice. */
  archiveIds: ReadonlySet<string>;
  seedRecipes: ReadonlyArray<string | Recipe>;
  serving?: ServingContext;
  /** Share of children made by crossover when two survivors differ (default 0.25). */
  crossoverRate?: number;
}

function seedRecipe(entry: string | Recipe): Recipe {
  if (typeof entry !== 'string') return entry;
  const r = builtinRecipe(entry);
  if (!r) throw new InvalidRecipeError(`seedRecipes: unknown builtin recipe "${entry}"`);
  return r;
}

const TECHNIQUE_BY_ID = new Map(TECHNIQUES.map((t) => [t.id, t]));

function onStack(recipe: Recipe | null, serving: ServingContext | undefined): Recipe | null {
  if (!recipe || !serving) return recipe;
  return servableRecipe(serving.table, serving.hw, recipe, serving.roles);
}

export function architect(input: ArchitectInput): ArchitectProposal[] {
  const rng: RandomGenerator = xoroshiro128plus(input.seed * 100_003 + input.generation);
  const seen = new Set(input.archiveIds);
  const out: ArchitectProposal[] = [];
  const add = (recipe: Recipe, parents: string[], technique: string | null, operation: ArchitectOperation, step: number | null): boolean => {
    const id = candidateId(input.evolutionId, recipe);
    if (seen.has(id)) return false;
    seen.add(id);
    out.push({ id, generation: input.generation, recipe, parents, technique, operation, step });
    return true;
  };

  if (input.generation === 0 || (input.survivors.length === 0 && input.archiveIds.size === 0)) {
    for (const entry of input.seedRecipes) add(seedRecipe(entry), [], null, 'seed', null);
    return out;
  }
  const parents = input.survivors;
  if (parents.length === 0) return out;
  // Scored survivors go through the config's strategy (which prefers, when nothing fits yet, the one closest to fitting).
  const measured = parents.filter((c) => c.score !== null);
  const strategy = selectionStrategy(input.selection ?? 'pareto');
  const drawParent = (): ScoredCandidate => (measured.length > 0 ? strategy.select(measured, rng) : parents[uniformInt(rng, 0, parents.length - 1)]);
  const steps = input.guidance === 'graph' ? input.chain.steps : [];
  const uses = steps.map(() => 0);
  const dead = new Set<string>();
  const rate = input.crossoverRate ?? 0.25;

  const mutate = (parent: ScoredCandidate, technique: Technique, operation: ArchitectOperation, step: number | null): boolean => {
    const child = onStack(technique.apply(parent.recipe, rng, input.serving), input.serving);
    if (!child) return false;
    child.name = `${parent.recipe.name}+${technique.id}`.slice(0, 120);
    return add(child, [parent.id], technique.id, operation, step);
  };

  for (let attempt = 0; out.length < input.populationSize && attempt < input.populationSize * 30; attempt++) {
    if (parents.length >= 2 && uniformFloat64(rng) < rate) {
      const i = uniformInt(rng, 0, parents.length - 1);
      const j = (i + uniformInt(rng, 1, parents.length - 1)) % parents.length;
      const child = onStack(crossover(parents[i].recipe, parents[j].recipe, rng), input.serving);
      if (child) add(child, [parents[i].id, parents[j].id], null, 'crossover', null);
      continue;
    }
    const parent = drawParent();
    // The least-used live step, in the chain's (bandit's) order: one generation spreads over the plan.
    let best = -1;
    for (let s = 0; s < steps.length; s++) if (!dead.has(`${s}|${parent.id}`) && (best < 0 || uses[s] < uses[best])) best = s;
    if (best >= 0) {
      const step = steps[best];
      const technique = TECHNIQUE_BY_ID.get(step.operator);
      uses[best]++;
      if (technique && mutate(parent, technique, step.evidence === 'other-evolutions' ? 'transfer' : 'mutate', best)) continue;
      dead.add(`${best}|${parent.id}`);
      continue;
    }
    // No chain (ablated), or every step exhausted for this parent: a uniformly drawn operator.
    mutate(parent, TECHNIQUES[uniformInt(rng, 0, TECHNIQUES.length - 1)], 'uniform', null);
  }
  return out;
}
