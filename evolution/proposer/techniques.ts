// The compression techniques evolution can apply: each is a node of the knowledge graph and a
// mutation operator on recipes. Operators are pure functions of (recipe, random source).
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { KvPolicy } from '../../schema/kv-policy.js';
import { DENSE_TECHNIQUES } from './dense-techniques.js';
import { pick, valid } from './operator-helpers.js';
import { KV_TECHNIQUES } from './kv-techniques.js';
import { Recipe, type ExpertPolicy, type ExpertReduction, type ModuleRole, type QuantMethod, type QuantOverride, type WeightBits } from '../../schema/recipe.js';
import type { ServingContext, Technique } from './technique.js';
import { checkpointLimits, stackRefuses, stackRefusesPerExpertTiers } from '../../science/physics/servable-recipe.js';

export type { ServingContext, Technique } from './technique.js';

const LOW_BITS: WeightBits[] = [2, 3, 4, 8];
const ATTENTION: ModuleRole[] = ['attn_q', 'attn_k', 'attn_v', 'attn_o'];
const EXPERT_ROLES: ModuleRole[] = ['expert_gate', 'expert_up', 'expert_down'];
const GPTQ: QuantMethod = { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true };
const AWQ: QuantMethod = { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 };

function clone(recipe: Recipe): Recipe {
  return structuredClone(recipe);
}

function withRoles(recipe: Recipe, roles: ModuleRole[], override: QuantOverride): Recipe {
  const next = clone(recipe);
  for (const role of roles) next.roles[role] = { ...(next.roles[role] ?? {}), ...override };
  return next;
}

function setMethod(method: QuantMethod): (recipe: Recipe, rng: RandomGenerator, serving?: ServingContext) => Recipe | null {
  return (recipe, _rng, serving) => {
    if (recipe.default.bits === 16 || recipe.default.format === 'fp8' || recipe.default.method.kind === method.kind) return null;
    const next = clone(recipe);
    next.default.method = method;
    if (method.kind === 'awq' && serving) {
      // Per-module AWQ scales cannot fold into an input that q/k/v or gate/up share: share them.
      if (stackRefuses(serving.table, 'awq-unshared-scales', 'dense-linear') || stackRefuses(serving.table, 'awq-unshared-scales', 'moe-experts')) {
        next.default.method = { ...method, scales: 'shared-input' };
      }
      // Under grouped KV heads attn_o's scales cannot fold into v_proj: it keeps the parent's method.
      if (stackRefuses(serving.table, 'awq-gqa-output', 'dense-linear')) next.roles.attn_o = { ...(next.roles.attn_o ?? {}), method: recipe.default.method };
    }
    return valid(next);
  };
}

function expertTiers(rankBy: ExpertPolicy['rankBy']): (recipe: Recipe, rng: RandomGenerator, serving?: ServingContext) => Recipe | null {
  return (recipe, rng, serving) => {
    if (recipe.default.bits === 16 || recipe.default.format === 'fp8' || !hasExperts(serving)) return null;
    // One scheme per layer's fused experts: per-expert tiers are research genes of the reference stack.
    if (serving && stackRefusesPerExpertTiers(serving.table)) return null;
    const next = clone(recipe);
    const base = next.default.bits as WeightBits;
    const lower = LOW_BITS.filter((b) => b < base);
    if (lower.length === 0) return null;
    const below = pick(rng, [0.25, 0.5, 0.75]);
    const cold = lower[lower.length - 1];
    next.experts = { rankBy, tiers: [{ below, override: {} }, { below: 1, override: { bits: cold, groupSize: cold === 2 ? 64 : next.default.groupSize } }] };
    return valid(next);
  };
}

/** False when the target model has no routed experts (a dense model): expert genes would change nothing. */
function hasExperts(serving: ServingContext | undefined): boolean {
  return !serving?.roles || EXPERT_ROLES.some((r) => serving.roles!.has(r));
}

/** Expert bits per layer: the layers whose experts are least sensitive take one step fewer bits. */
function expertLayerTiers(recipe: Recipe, rng: RandomGenerator, serving?: ServingContext): Recipe | null {
  if (recipe.default.bits === 16 || recipe.default.format === 'fp8' || recipe.expertLayers || !hasExperts(serving)) return null;
  const base = recipe.default.bits as WeightBits;
  const lower = LOW_BITS.filter((b) => b < base);
  if (lower.length === 0) return null;
  const next = clone(recipe);
  const cold = lower[lower.length - 1];
  const below = pick(rng, [0.25, 0.5, 0.75]);
  next.expertLayers = { rankBy: 'sensitivity', tiers: [{ below, override: {} }, { below: 1, override: { bits: cold, groupSize: cold === 2 ? 64 : next.default.groupSize } }] };
  return valid(next);
}

/** Fractions of each layer's experts an expert reduction removes, in the order the operator steps through them. */
export const EXPERT_REDUCTION_FRACTIONS = [0.125, 0.25, 0.375, 0.5] as const;

/**
 * Prune or merge a fraction of every layer's experts: a first reduction removes an eighth or a
 * quarter; a recipe that already reduces by this mode removes the next step more (up to half).
 * Declines where the model has no routed experts or the stack's checkpoint (as evoquant writes it)
 * keeps every expert.
 */
function expertReduction(mode: ExpertReduction['mode']): (recipe: Recipe, rng: RandomGenerator, serving?: ServingContext) => Recipe | null {
  return (recipe, rng, serving) => {
    if (!hasExperts(serving)) return null;
    if (serving && checkpointLimits(serving.table).includes('expert-reduction')) return null;
    const current = recipe.expertReduction;
    let fraction: number;
    if (!current || current.mode !== mode) fraction = current ? current.fraction : pick(rng, [0.125, 0.25]);
    else {
      const next = EXPERT_REDUCTION_FRACTIONS.find((f) => f > current.fraction);
      if (next === undefined) return null;
      fraction = next;
    }
    const child = clone(recipe);
    child.expertReduction = { mode, fraction, rankBy: 'routing-frequency' };
    return valid(child);
  };
}

export const TECHNIQUES: readonly Technique[] = [
  {
    id: 'gptq',
    name: 'GPTQ error compensation',
    origin: 'Frantar et al., 2022',
    description: 'Second-order (Hessian) error compensation while rounding, column by column.',
    requires: [],
    apply: setMethod(GPTQ),
  },
  {
    id: 'awq',
    name: 'Activation-aware scaling',
    origin: 'Lin et al., 2023',
    description: 'Per-channel scales from activation magnitudes protect salient weights; clipping search.',
    requires: [],
    apply: setMethod(AWQ),
  },
  {
    id: 'lower-bits',
    name: 'Lower default bit width',
    origin: 'uniform PTQ',
    description: 'One step down the bit ladder for every module the default covers.',
    requires: [],
    apply: (recipe) => {
      const i = LOW_BITS.indexOf(recipe.default.bits as WeightBits);
      if (recipe.default.bits === 16) {
        const next = clone(recipe);
        next.default = { ...next.default, bits: 8, format: 'int', groupSize: 'channel', symmetric: true };
        return valid(next);
      }
      if (recipe.default.format === 'fp8') {
        // Below 8 bits there is no fp8: continue on the integer grid.
        const next = clone(recipe);
        next.default = { ...next.default, bits: 4, format: 'int', groupSize: 128, symmetric: false, method: { kind: 'rtn' } };
        return valid(next);
      }
      if (i <= 0) return null;
      const next = clone(recipe);
      next.default.bits = LOW_BITS[i - 1];
      if (next.default.bits === 2 && next.default.groupSize !== 'channel' && next.default.groupSize > 64) next.default.groupSize = 64;
      return valid(next);
    },
  },
  {
    id: 'group-size',
    name: 'Group size refinement',
    origin: 'group-wise quantization',
    description: 'Smaller groups track local ranges at the cost of more scales.',
    requires: [],
    apply: (recipe, rng) => {
      if (recipe.default.bits === 16 || recipe.default.format === 'fp8') return null;
      const next = clone(recipe);
      const options = ([32, 64, 128, 'channel'] as const).filter((g) => g !== recipe.default.groupSize);
      next.default.groupSize = pick(rng, options);
      return valid(next);
    },
  },
  {
    id: 'outlier-retention',
    name: 'Salient outlier retention',
    origin: 'SpQR (Dettmers et al., 2023); LLM.int8()',
    description: 'Keep the most activation-salient weights in fp16 as sparse entries.',
    requires: [],
    apply: (recipe, rng, serving) => {
      if (recipe.default.bits > 4) return null;
      const options = [EXPERT_ROLES, ['expert_down'] as ModuleRole[], ATTENTION].filter(
        (roles) => !serving || !stackRefuses(serving.table, 'outliers', roles === ATTENTION ? 'dense-linear' : 'moe-experts'),
      );
      if (options.length === 0) return null;
      const roles = pick(rng, options);
      return valid(withRoles(recipe, roles, { outliers: { fraction: pick(rng, [0.0025, 0.005, 0.01]), criterion: 'activation-weighted' } }));
    },
  },
  {
    id: 'hadamard-rotation',
    name: 'Randomized Hadamard rotation',
    origin: 'QuIP# (Tseng et al., 2024); QuaRot',
    description: 'Rotate the input dimension so outliers spread before rounding.',
    requires: [],
    apply: (recipe, rng, serving) => {
      if (recipe.default.bits > 4 || recipe.default.rotation) return null;
      const rotation = { kind: 'hadamard' as const, seed: uniformInt(rng, 0, 1000) };
      // A stack whose fused experts take no online transform rotates the ordinary linear layers only.
      if (serving && stackRefuses(serving.table, 'rotation', 'moe-experts')) {
        if (stackRefuses(serving.table, 'rotation', 'dense-linear') || recipe.roles.attn_q?.rotation) return null;
        return valid(withRoles(recipe, ATTENTION, { rotation }));
      }
      const next = clone(recipe);
      next.default.rotation = rotation;
      return valid(next);
    },
  },
  {
    id: 'expert-tiers-frequency',
    name: 'Mixed precision by routing frequency',
    origin: 'MoE mixed-precision PTQ (MxMoE, 2025)',
    description: 'Rarely routed experts take fewer bits than hot ones.',
    requires: ['lower-bits'],
    apply: expertTiers('routing-frequency'),
  },
  {
    id: 'expert-tiers-sensitivity',
    name: 'Mixed precision by measured sensitivity',
    origin: 'sensitivity-guided bit allocation (HAWQ lineage)',
    description: 'Experts whose quantization hurts least take fewer bits.',
    requires: ['lower-bits'],
    apply: expertTiers('sensitivity'),
  },
  {
    id: 'expert-layer-tiers',
    name: 'Expert bits per layer by measured sensitivity',
    origin: 'layer-wise mixed precision for MoE (servable: one scheme per layer\'s fused experts)',
    description: 'The experts of the layers whose experts are least sensitive take fewer bits; every expert of a layer shares its scheme.',
    requires: ['lower-bits'],
    apply: expertLayerTiers,
  },
  {
    id: 'expert-pruning',
    name: 'Expert pruning by routing frequency',
    origin: 'NAEE (Lu et al., 2024)',
    description: 'Every layer drops its least-routed experts; routing is renormalised over the experts that remain.',
    requires: [],
    apply: expertReduction('prune'),
  },
  {
    id: 'expert-merging',
    name: 'Expert merging by routing frequency',
    origin: 'MC-SMoE (Li et al., 2023); HC-SMoE',
    description: 'Every layer folds its least-routed experts into the most similar kept ones (aligned neurons, frequency-weighted average).',
    requires: [],
    apply: expertReduction('merge'),
  },
  {
    id: 'attention-precision',
    name: 'High-precision attention',
    origin: 'MoE PTQ practice: attention is a small share of parameters',
    description: 'Attention projections at 8 bits: little memory, much accuracy.',
    requires: [],
    apply: (recipe) => {
      if (recipe.default.bits >= 8 || recipe.roles.attn_q?.bits === 8) return null;
      return valid(withRoles(recipe, ATTENTION, { bits: 8, groupSize: 'channel', method: { kind: 'rtn' } }));
    },
  },
  {
    id: 'edge-layer-protection',
    name: 'Edge layer protection',
    origin: 'first/last layer sensitivity (common PTQ practice)',
    description: 'The first and last tenth of the layers keep 8 bits.',
    requires: [],
    apply: (recipe) => {
      if (recipe.default.bits >= 8 || recipe.depth.length > 0) return null;
      const next = clone(recipe);
      const keep: QuantOverride = { bits: 8, groupSize: 'channel', method: { kind: 'rtn' } };
      next.depth = [
        { from: 0, to: 0.1, override: keep },
        { from: 0.9, to: 1, override: keep },
      ];
      return valid(next);
    },
  },
  {
    id: 'kv-cache-8bit',
    name: 'KV cache quantization',
    origin: 'KIVI / FP8 KV cache',
    description: 'Store the KV cache in fp8 (e4m3, one scale per layer): frees memory for context and batch.',
    requires: [],
    apply: (recipe) => {
      if (recipe.kvCache) return null;
      const next = clone(recipe);
      next.kvCache = KvPolicy.parse({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } });
      return valid(next);
    },
  },
  ...KV_TECHNIQUES,
  ...DENSE_TECHNIQUES,
];

export const TECHNIQUE_IDS: ReadonlySet<string> = new Set(TECHNIQUES.map((t) => t.id));

export function techniqueById(id: string): Technique {
  const t = TECHNIQUES.find((x) => x.id === id);
  if (!t) throw new Error(`unknown technique ${id}`);
  return t;
}
