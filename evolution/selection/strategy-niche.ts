// INTERIM (replaced by the curator helper's module at merge).
import type { Recipe } from '../../schema/recipe.js';
export function strategyNiche(recipe: Recipe): string {
  return `${recipe.default.bits === 16 ? 'bf16' : recipe.default.method.kind}${recipe.expertLayers ? '+expert-layers' : ''}`;
}
