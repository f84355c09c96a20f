// Which evolution patterns a recipe applies, read from its genes: the scout asks what the frontier
// already does before it looks for what it does not. Only patterns a gene expresses are reported.
import type { EvolutionPattern } from '../../schema/innovation.js';
import { isUnquantizedKv } from '../../schema/kv-policy.js';
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
  if (recipe.kvCache) kvPatterns(recipe.kvCache, out);
  return out;
}

/**
 * The KV cache's genes as patterns: keys per channel, bf16 windows and sinks keep outliers apart
 * (KIVI, IntactKV, KVQuant); Hadamard keys are a rotation (QuaRot); per-layer bands spend bits by layer.
 */
function kvPatterns(kv: NonNullable<Recipe['kvCache']>, out: Set<EvolutionPattern>): void {
  for (const layer of [kv, ...kv.layers.map((b) => ({ ...kv, ...b.override }))]) {
    if (isUnquantizedKv(layer)) continue;
    const perChannel = [layer.keys, layer.values].some((t) => 'axis' in t && t.axis === 'channel');
    if (perChannel || layer.recentWindow > 0 || layer.sinkTokens > 0) out.add('outlier-isolation');
    if (layer.keys.format !== 'bf16' && layer.keyRotation === 'hadamard') out.add('rotation-incoherence');
  }
  if (kv.layers.length > 0) out.add('mixed-precision-sensitivity-routing');
}
