// Small pieces every mutation operator uses: a seeded pick and re-validation of what it made.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { Recipe } from '../../schema/recipe.js';

export function pick<T>(rng: RandomGenerator, xs: readonly T[]): T {
  return xs[uniformInt(rng, 0, xs.length - 1)];
}

/** Re-validates, so an operator can never emit an impossible recipe. */
export function valid(recipe: Recipe): Recipe | null {
  const r = Recipe.safeParse(recipe);
  return r.success ? r.data : null;
}
