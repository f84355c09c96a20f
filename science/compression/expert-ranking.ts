// Rank quantiles for a recipe's expert tiers (0 is the hottest or most sensitive expert) and for
// its expert layer tiers (0 is the layer whose experts are most sensitive).
import type { Recipe } from '../../schema/recipe.js';

/** Quantile r/E of each expert when sorted by descending score; ties keep expert order. */
export function rankQuantiles(scores: readonly number[]): number[] {
  const order = scores.map((s, e) => ({ s, e })).sort((a, b) => b.s - a.s || a.e - b.e);
  const q = new Array<number>(scores.length);
  order.forEach(({ e }, rank) => (q[e] = rank / scores.length));
  return q;
}

export interface ExpertEvidence {
  /** Routed tokens (or shares) per expert, [layer][expert]. */
  routing: number[][];
  /** Damage of quantizing each expert alone, [layer][expert]; needed for rankBy sensitivity. */
  sensitivity?: number[][];
}

/** [layer][expert] quantiles under the recipe's ranking, or null when it has no expert policy. */
export function expertQuantiles(recipe: Recipe, evidence: ExpertEvidence): number[][] | null {
  if (!recipe.experts) return null;
  if (recipe.experts.rankBy === 'sensitivity') {
    if (!evidence.sensitivity) throw new Error('recipe ranks experts by sensitivity but no sensitivity profile was given');
    return evidence.sensitivity.map(rankQuantiles);
  }
  return evidence.routing.map(rankQuantiles);
}

/**
 * Quantile of each layer under the recipe's `expertLayers` ranking, or null when it has none.
 * A layer's score is the summed sensitivity of its experts: the damage its fused experts do
 * when quantized, the quantity a per-layer scheme trades against bytes.
 */
export function layerQuantiles(recipe: Recipe, evidence: ExpertEvidence): number[] | null {
  if (!recipe.expertLayers) return null;
  if (!evidence.sensitivity) throw new Error('recipe ranks expert layers by sensitivity but no sensitivity profile was given');
  return rankQuantiles(evidence.sensitivity.map((layer) => layer.reduce((s, v) => s + v, 0)));
}
