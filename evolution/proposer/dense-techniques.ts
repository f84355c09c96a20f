// Q-Enhance's weight operators for dense models at long context: the layers whose quantization
// hurts the farthest position bucket most (measured by the executor, science/sensitivity/long-context.ts)
// keep more bits. Bands are ordered by that measurement, not by depth, so one recipe finds the
// long-range layers of whichever model it is applied to.
import { isExpertRole, LONG_CONTEXT_ORDER, ordersByLongContext, type DepthBand, type Recipe, type WeightBits } from '../../schema/recipe.js';
import { pick, valid } from './operator-helpers.js';
import type { ServingContext, Technique } from './technique.js';

/** One step up the widths stacks serve: the long-range layers' bits. */
const STEP_UP: Partial<Record<WeightBits, WeightBits>> = { 2: 3, 3: 4, 4: 8 };
/** One step down, for the layers that are not long-range (never below 3: 2-bit dense layers lose the model). */
const STEP_DOWN: Partial<Record<WeightBits, WeightBits>> = { 4: 3, 8: 4 };
/** Shares of the layers kept up: an eighth or a quarter (10 or 20 of Llama-3.1-70B's 80). */
const SHARES = [0.125, 0.25] as const;

/** True only when the serving context says the model is dense: the measurement needs a dense long-context proxy. */
function isDense(serving: ServingContext | undefined): boolean {
  return serving?.roles !== undefined && ![...serving.roles].some(isExpertRole);
}

/** The quantized int recipes Q-Enhance can lift layers of, with no long-context band yet. */
function eligible(recipe: Recipe, serving: ServingContext | undefined): boolean {
  return isDense(serving) && recipe.default.format === 'int' && recipe.default.bits < 16 && !ordersByLongContext(recipe);
}

function longRangeBand(share: number, bits: WeightBits): DepthBand {
  return { from: 0, to: share, order: LONG_CONTEXT_ORDER, override: { bits } };
}

export const DENSE_TECHNIQUES: readonly Technique[] = [
  {
    id: 'q-enhance-long-range-layers',
    name: 'Q-Enhance long-range layers',
    origin: 'Q-Enhance (arXiv 2606.25532)',
    description: 'The eighth or quarter of the layers whose quantization hurts the farthest position bucket most keep one bit width more (4 → 8, 3 → 4).',
    requires: [],
    apply: (recipe, rng, serving) => {
      if (!eligible(recipe, serving)) return null;
      const up = STEP_UP[recipe.default.bits];
      if (up === undefined) return null;
      return valid({ ...structuredClone(recipe), depth: [...recipe.depth, longRangeBand(pick(rng, SHARES), up)] });
    },
  },
  {
    id: 'q-enhance-trade-bits',
    name: 'Q-Enhance bit trade',
    origin: 'Q-Enhance (arXiv 2606.25532)',
    description: 'The other layers take one bit width less (4 → 3) while the long-range eighth or quarter keep the old width: fewer bytes, the far context protected.',
    requires: ['q-enhance-long-range-layers'],
    apply: (recipe, rng, serving) => {
      if (!eligible(recipe, serving)) return null;
      const down = STEP_DOWN[recipe.default.bits];
      if (down === undefined) return null;
      const next = structuredClone(recipe);
      next.default = { ...next.default, bits: down };
      next.depth = [...next.depth, longRangeBand(pick(rng, SHARES), recipe.default.bits)];
      return valid(next);
    },
  },
];
