// A solved allocation as a recipe: bf16 by default, the embeddings and lm_head by role, and each
// proxy layer's choice as a depth band [i/n, (i+1)/n) restricted to the group's roles (runs of
// equal choices merged), so the recipe transfers to any depth of the family.
import { parseRecipe, type DepthBand, type Recipe, type RecipeInput, type WeightBits } from '../../schema/recipe.js';
import { GROUP_ROLES, specOfBits, type AllocationProblem } from './problem.js';

export function recipeOf(problem: AllocationProblem, choice: readonly number[], name: string, description: string): Recipe {
  const bitsOf = (g: number): WeightBits => problem.groups[g].options[choice[g]].bits;
  const n = problem.proxyLayers;
  const roles: NonNullable<RecipeInput['roles']> = {};
  const depth: DepthBand[] = [];
  const runs = new Map<string, { bits: WeightBits; from: number; to: number }>();
  const flush = (kind: keyof typeof GROUP_ROLES): void => {
    const run = runs.get(kind);
    if (run && run.bits !== 16) depth.push({ from: run.from / n, to: run.to / n, roles: [...GROUP_ROLES[kind]], override: { bits: run.bits } });
    runs.delete(kind);
  };
  problem.groups.forEach((group, g) => {
    const bits = bitsOf(g);
    if (group.proxyLayer === null) {
      if (bits !== 16) roles[group.kind as 'embeddings' | 'lm_head'] = { bits };
      return;
    }
    const run = runs.get(group.kind);
    if (run && run.bits === bits && run.to === group.proxyLayer) run.to += 1;
    else {
      flush(group.kind);
      runs.set(group.kind, { bits, from: group.proxyLayer, to: group.proxyLayer + 1 });
    }
  });
  for (const kind of [...runs.keys()] as Array<keyof typeof GROUP_ROLES>) flush(kind);
  depth.sort((a, b) => a.from - b.from || a.roles![0].localeCompare(b.roles![0]));
  return parseRecipe({ name, description, default: specOfBits(16, problem.groupSize), roles, depth });
}
