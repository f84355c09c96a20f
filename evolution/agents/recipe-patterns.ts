// Which evolution patterns a recipe applies, read from its genes: the scout asks what the frontier
// already does before it looks for what it does not. Only patterns a gene expresses are reported.
import type { EvolutionPattern } from '../../schema/innovation.js';
import type { QuantOverride, QuantSpec, Recipe } from '../../schema/recipe.js';

type Spec = QuantSpec | QuantOverride;

const METHOD_PATTERN: Partial<Record<string, EvolutionPattern>> = {
  gptq: 'error-compensation',
  awq: 'activation-awareness',
  autoround: 'learned-rounding',
};

function specPatterns(spec: Spec, out: Set<EvolutionPattern>): void {
  const p = spec.method ? METHOD_PATTERN[spec.method.kind] : undefined;
  if (p) out.add(p);
  if (spec.outliers) out.add('outlier-isolation');
  if (spec.rotation) out.add('rotation-incoherence');
}

/** Role overrides that keep a role at more bits than the default (routers, embeddings and lm_head in bf16 are the seed base, not a choice). */
function protectsRoles(recipe: Recipe): boolean {
  const base = recipe.default.bits;
  return Object.entries(recipe.roles).some(([role, o]) => o !== undefined && o.bits !== undefined && o.bits > base && !['router', 'embeddings', 'lm_head'].includes(role));
}

export function recipePatterns(recipe: Recipe): Set<EvolutionPattern> {
  const out = new Set<EvolutionPattern>();
  specPatterns(recipe.default, out);
  for (const o of Object.values(recipe.roles)) if (o) specPatterns(o, out);
  for (const band of recipe.depth) specPatterns(band.override, out);
  for (const tier of recipe.experts?.tiers ?? []) specPatterns(tier.override, out);
  for (const tier of recipe.expertLayers?.tiers ?? []) specPatterns(tier.override, out);
  if (recipe.experts || recipe.expertLayers || recipe.depth.length > 0 || protectsRoles(recipe)) out.add('mixed-precision-sensitivity-routing');
  if (recipe.expertReduction) out.add('pruning-merging');
  return out;
}
