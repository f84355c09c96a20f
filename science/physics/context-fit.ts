// The longest context a recipe fits at on a target: the largest context L such that every context
// up to L fits in memory (a served sequence grows through all of them), by compile itself.
// Memory grows with context except for KIVI's bf16 residual, which shrinks by a group's worth when
// a channel group completes: a saw tooth of at most one group (≤ 128 tokens). So a binary search on
// "fits" finds the edge up to that tooth, and the last group's contexts below it are then checked
// one by one.
import type { Recipe } from '../../schema/recipe.js';
import { compileTarget, type CompileTargetInput } from './compile.js';
import { resolvedLayers } from './kv-check.js';

/** Contexts checked one by one below the binary search's edge: the widest channel group of the policy (0: none). */
function toothOf(recipe: Recipe): number {
  if (!recipe.kvCache) return 0;
  const groups = resolvedLayers(recipe.kvCache, null).flatMap((l) => [l.keys, l.values]).map((t) => ('axis' in t && t.axis === 'channel' ? t.groupSize : 0));
  return Math.max(0, ...groups);
}

export interface ContextFit {
  /** Longest context that fits with every shorter one; 0 when not even one token fits. */
  tokens: number;
  /** True when the search hit `maxContext`: the recipe fits at least that far. */
  atLeast: boolean;
  /** Compiles the search ran. */
  compiles: number;
}

/** Searches contexts in [1, maxContext] on `target` (its contextLength is ignored). */
export function longestContextThatFits(target: Omit<CompileTargetInput, 'contextLength'>, recipe: Recipe, maxContext: number): ContextFit {
  let compiles = 0;
  const fits = (contextLength: number): boolean => {
    compiles += 1;
    return compileTarget({ ...target, contextLength }, recipe).fits;
  };
  if (!fits(1)) return { tokens: 0, atLeast: false, compiles };
  let lo = 1;
  let hi = maxContext;
  if (fits(hi)) lo = hi;
  while (lo < hi) {
    // Invariant: lo fits; every context above hi is past the edge.
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  // Every context of the last tooth below the edge must fit too (lo moves down past any that does not).
  const tooth = toothOf(recipe);
  for (let c = lo - 1; c >= Math.max(1, lo - tooth); c--) if (!fits(c)) lo = c - 1;
  return { tokens: lo, atLeast: lo === maxContext, compiles };
}
