// A candidate's identity: the content hash of its policy (the recipe without its name and
// description), scoped to the evolution, so the same policy is one candidate however it is named.
import { candidateIdFor, recipeHash } from '../../schema/content-hash.js';
import type { JsonValue } from '../../schema/db.js';
import type { Recipe } from '../../schema/recipe.js';

/** Recipe identity ignores its name and description: the same policy is the same candidate. */
export function policyHash(recipe: Recipe): string {
  const { name: _name, description: _description, ...policy } = recipe;
  return recipeHash(JSON.parse(JSON.stringify(policy)) as JsonValue);
}

export function candidateId(evolutionId: string, recipe: Recipe): string {
  return candidateIdFor(evolutionId, policyHash(recipe));
}
