// What a recipe's expert pruning or merging makes of a target model: the same model with fewer
// routed experts in every MoE layer (one count for all layers, as an HF config and the serving
// stacks hold it). The fraction applies to the target's experts as it did to the proxy's:
// Qwen3-235B-A22B's 128 experts per layer become 96 at fraction 0.25.
import type { ModelArchitecture } from '../../schema/model-config.js';
import { expertsKept, expertsRemoved, type Recipe } from '../../schema/recipe.js';
import type { Violation } from '../../schema/compile-report.js';

export interface ReducedArchitecture {
  /** The model as deployed: moe.numExperts is the experts that remain. */
  arch: ModelArchitecture;
  /** Experts removed per MoE layer (0 without a reduction or without experts). */
  removed: number;
  /** Experts per MoE layer before the reduction. */
  before: number;
  /** A violation when fewer experts remain than the router picks per token. */
  violation: Violation | null;
}

export function reduceArchitecture(arch: ModelArchitecture, recipe: Pick<Recipe, 'expertReduction'>): ReducedArchitecture {
  const r = recipe.expertReduction;
  const moe = arch.moe;
  if (!r || !moe) return { arch, removed: 0, before: moe?.numExperts ?? 0, violation: null };
  const kept = expertsKept(moe.numExperts, r);
  const removed = expertsRemoved(moe.numExperts, r);
  if (kept < moe.numExpertsPerTok) {
    return {
      // Priced as the model that was asked for; the violation says it cannot exist.
      arch,
      removed,
      before: moe.numExperts,
      violation: {
        code: 'too-few-experts',
        role: 'router',
        message: `expert ${r.mode === 'prune' ? 'pruning' : 'merging'} at fraction ${r.fraction} leaves ${kept} of ${moe.numExperts} experts per layer, fewer than the ${moe.numExpertsPerTok} the router picks per token`,
        detail: { experts: moe.numExperts, kept, topK: moe.numExpertsPerTok, fraction: r.fraction },
      },
    };
  }
  return { arch: { ...arch, moe: { ...moe, numExperts: kept } }, removed, before: moe.numExperts, violation: null };
}
