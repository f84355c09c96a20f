// The proposer: a generation's candidates from the archive, deterministic in (seed, generation).
// Techniques are chosen by UCB1 over their past success, which carries across evolutions via the
// knowledge graph; a content id deduplicates recipes the evolution has already tried. Children are
// servable on the evolution's stack: operators consult its table, and what they leave is snapped.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { InvalidRecipeError, type Recipe } from '../../schema/recipe.js';
import { candidateIdFor, recipeHash } from '../../schema/content-hash.js';
import type { JsonValue } from '../../schema/db.js';
import type { ScoredCandidate } from '../archive/scored-candidate.js';
import { ParetoSelection } from '../selection/pareto.js';
import type { ParentSelection } from '../selection/strategy.js';
import { TournamentSelection } from '../selection/tournament.js';
import { servableRecipe } from '../../science/physics/servable-recipe.js';
import { TECHNIQUES, type ServingContext, type Technique } from './techniques.js';

export interface TechniqueStats {
  /** Children produced with the technique, in any evolution. */
  tries: number;
  /** Children that improved over their parent. */
  improvements: number;
}

export interface Proposal {
  id: string;
  generation: number;
  recipe: Recipe;
  parents: string[];
  technique: string | null;
}

export interface ProposeInput {
  evolutionId: string;
  generation: number;
  seed: number;
  populationSize: number;
  selection: 'tournament' | 'pareto';
  seedRecipes: Array<string | Recipe>;
  /** Every candidate of this evolution so far (measured or not). */
  archive: readonly ScoredCandidate[];
  techniqueStats: Readonly<Record<string, TechniqueStats>>;
  /**
   * The evolution's serving stack and GPU: children are moved onto what the stack serves there.
   * Absent: children are not checked against any stack (seeds never are: they are the user's).
   */
  serving?: ServingContext;
}

/** Recipe identity ignores its name and description: the same policy is the same candidate. */
export function policyHash(recipe: Recipe): string {
  const { name: _name, description: _description, ...policy } = recipe;
  return recipeHash(JSON.parse(JSON.stringify(policy)) as JsonValue);
}

export function candidateId(evolutionId: string, recipe: Recipe): string {
  return candidateIdFor(evolutionId, policyHash(recipe));
}

export function selectionStrategy(name: 'tournament' | 'pareto'): ParentSelection {
  return name === 'tournament' ? new TournamentSelection() : new ParetoSelection();
}

function seedRecipe(entry: string | Recipe): Recipe {
  if (typeof entry !== 'string') return entry;
  const r = builtinRecipe(entry);
  if (!r) throw new InvalidRecipeError(`seedRecipes: unknown builtin recipe "${entry}"`);
  return r;
}

/** UCB1 score: exploit techniques that improved children before, explore the untried. */
function ucb(stats: TechniqueStats | undefined, totalTries: number): number {
  if (!stats || stats.tries === 0) return Number.POSITIVE_INFINITY;
  return stats.improvements / stats.tries + Math.sqrt((2 * Math.log(Math.max(1, totalTries))) / stats.tries);
}

function rankedTechniques(input: ProposeInput, rng: RandomGenerator): Technique[] {
  const total = Object.values(input.techniqueStats).reduce((s, t) => s + t.tries, 0);
  // A random tie-breaker per call keeps untried techniques in a seeded random order.
  return TECHNIQUES.map((t) => ({ t, score: ucb(input.techniqueStats[t.id], total), tie: uniformFloat64(rng) }))
    .sort((a, b) => b.score - a.score || a.tie - b.tie)
    .map((x) => x.t);
}

export function propose(input: ProposeInput): Proposal[] {
  const rng = xoroshiro128plus(input.seed * 100_003 + input.generation);
  const seen = new Set(input.archive.map((c) => c.id));
  const out: Proposal[] = [];
  const add = (recipe: Recipe, parents: string[], technique: string | null): boolean => {
    const id = candidateId(input.evolutionId, recipe);
    if (seen.has(id)) return false;
    seen.add(id);
    out.push({ id, generation: input.generation, recipe, parents, technique });
    return true;
  };

  if (input.generation === 0 || input.archive.length === 0) {
    for (const entry of input.seedRecipes) add(seedRecipe(entry), [], null);
    return out;
  }
  const measured = input.archive.filter((c) => c.score !== null);
  if (measured.length === 0) return out;
  const selection = selectionStrategy(input.selection);
  const usedThisGeneration: Record<string, number> = {};
  for (let attempt = 0; out.length < input.populationSize && attempt < input.populationSize * 20; attempt++) {
    const parent = selection.select(measured, rng);
    const techniques = rankedTechniques(
      {
        ...input,
        // Count this generation's picks as tries, so one generation spreads over techniques.
        techniqueStats: Object.fromEntries(TECHNIQUES.map((t) => {
          const s = input.techniqueStats[t.id] ?? { tries: 0, improvements: 0 };
          return [t.id, { tries: s.tries + (usedThisGeneration[t.id] ?? 0), improvements: s.improvements }];
        })),
      },
      rng,
    );
    for (const technique of techniques) {
      const mutated = technique.apply(parent.recipe, rng, input.serving);
      const child = mutated && input.serving ? servableRecipe(input.serving.table, input.serving.hw, mutated, input.serving.roles) : mutated;
      if (!child) continue;
      child.name = `${parent.recipe.name}+${technique.id}`.slice(0, 120);
      if (add(child, [parent.id], technique.id)) {
        usedThisGeneration[technique.id] = (usedThisGeneration[technique.id] ?? 0) + 1;
        break;
      }
    }
  }
  return out;
}
