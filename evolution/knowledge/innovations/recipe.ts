// The recipe that executes an innovation: its genes laid over the seed base. The base is the
// weight-only 4-bit g128 asymmetric RTN that every tool starts from, with routers, embeddings and
// lm_head in bf16 as real tools keep them; `default` and `roles` merge field by field, the other
// genes replace the base's.
import type { Innovation } from '../../../schema/innovation.js';
import { Recipe, type RecipeInput } from '../../../schema/recipe.js';

const KEEP_BF16 = { bits: 16, format: 'int' } as const;

export const SEED_BASE = {
  default: { bits: 4, format: 'int', groupSize: 128, symmetric: false, method: { kind: 'rtn' } },
  roles: { router: KEEP_BF16, embeddings: KEEP_BF16, lm_head: KEEP_BF16 },
} as const satisfies Pick<RecipeInput, 'default' | 'roles'>;

/** The innovation's recipe, named `innovation-<id>`; null when it has no genes. Throws if the genes make an invalid recipe. */
export function innovationRecipe(innovation: Pick<Innovation, 'id' | 'name' | 'keyIdea' | 'genes'>): Recipe | null {
  const g = innovation.genes;
  if (g === null) return null;
  // An override's null ("remove the parent's outliers") means nothing over the base, which has none.
  const { outliers, rotation, ...fields } = g.default ?? {};
  const input: RecipeInput = {
    name: `innovation-${innovation.id}`,
    description: `${innovation.name}: ${innovation.keyIdea}`.slice(0, 2000),
    ...(g.activations ? { activations: g.activations } : {}),
    ...(g.kvCache ? { kvCache: g.kvCache } : {}),
    ...(g.kvCacheBits ? { kvCacheBits: g.kvCacheBits } : {}),
    default: { ...SEED_BASE.default, ...fields, ...(outliers ? { outliers } : {}), ...(rotation ? { rotation } : {}) },
    roles: { ...SEED_BASE.roles, ...g.roles },
    ...(g.depth ? { depth: g.depth } : {}),
    ...(g.experts ? { experts: g.experts } : {}),
    ...(g.expertLayers ? { expertLayers: g.expertLayers } : {}),
    ...(g.expertReduction ? { expertReduction: g.expertReduction } : {}),
  };
  return Recipe.parse(input);
}
