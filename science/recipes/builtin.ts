// Builtin recipes: the classic baselines plus mixed-precision MoE policies.
import { Recipe, type RecipeInput, type QuantMethod } from '../../schema/recipe.js';

const KEEP_BF16 = { bits: 16, format: 'int' } as const;
/** Routers, embeddings and lm_head stay in bf16 in every weight-only baseline, as real tools do. */
const KEEP_SMALL_ROLES = { router: KEEP_BF16, embeddings: KEEP_BF16, lm_head: KEEP_BF16 };

const METHODS: Record<'rtn' | 'gptq' | 'awq', QuantMethod> = {
  rtn: { kind: 'rtn' },
  gptq: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true },
  awq: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 },
};

function weightOnly(bits: 2 | 3 | 4, groupSize: 64 | 128, method: keyof typeof METHODS): RecipeInput {
  return {
    name: `w${bits}a16-g${groupSize}-${method}`,
    description: `${bits}-bit weight-only, group ${groupSize}, asymmetric, ${method.toUpperCase()}`,
    default: { bits, groupSize, symmetric: false, method: METHODS[method] },
    roles: KEEP_SMALL_ROLES,
  };
}

const inputs: RecipeInput[] = [
  { name: 'bf16', description: 'Unquantized bf16 reference', default: KEEP_BF16 },
  {
    name: 'fp8-w8a8',
    description: 'FP8 e4m3 weights with per-channel scales and FP8 activations (needs FP8 tensor cores)',
    activations: 'fp8',
    default: { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true },
    roles: KEEP_SMALL_ROLES,
  },
  {
    name: 'fp8-w8a16',
    description: 'FP8 e4m3 weights, bf16 activations (weight-only FP8, runs on A100 via Marlin-class kernels)',
    default: { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true },
    roles: KEEP_SMALL_ROLES,
  },
  {
    name: 'w8a16',
    description: 'INT8 per-channel symmetric weight-only',
    default: { bits: 8, groupSize: 'channel', symmetric: true },
    roles: KEEP_SMALL_ROLES,
  },
  ...(['rtn', 'gptq', 'awq'] as const).flatMap((m) => [weightOnly(4, 128, m), weightOnly(3, 128, m), weightOnly(2, 64, m)]),
  {
    name: 'moe-hot4-cold3',
    description: 'Attention at 8 bits; the hottest quarter of experts (by routing frequency) at 4 bits, the rest at 3 bits, GPTQ g128',
    default: { bits: 3, groupSize: 128, method: METHODS.gptq },
    roles: { ...KEEP_SMALL_ROLES, attn_q: { bits: 8, groupSize: 'channel' }, attn_k: { bits: 8, groupSize: 'channel' }, attn_v: { bits: 8, groupSize: 'channel' }, attn_o: { bits: 8, groupSize: 'channel' } },
    experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.25, override: { bits: 4 } }] },
  },
  {
    name: 'moe-sensitive4-rest2-outliers',
    description: 'Experts ranked by measured sensitivity: the top half at 4 bits, the rest at 2 bits g64 with 0.5% fp16 outliers and a Hadamard rotation; attention at 4 bits',
    default: { bits: 4, groupSize: 128, method: METHODS.gptq },
    roles: { ...KEEP_SMALL_ROLES, expert_down: { outliers: { fraction: 0.005, criterion: 'activation-weighted' } } },
    experts: {
      rankBy: 'sensitivity',
      tiers: [
        { below: 0.5, override: {} },
        { below: 1, override: { bits: 2, groupSize: 64, outliers: { fraction: 0.005, criterion: 'activation-weighted' }, rotation: { kind: 'hadamard', seed: 7, blockSize: 128 } } },
      ],
    },
  },
  {
    name: 'moe-edges8-experts3',
    description: 'First and last tenth of the layers at 8 bits (they carry the embedding interface), other experts at 3 bits AWQ g128, other attention at 4 bits',
    default: { bits: 3, groupSize: 128, method: METHODS.awq },
    roles: { ...KEEP_SMALL_ROLES, attn_q: { bits: 4 }, attn_k: { bits: 4 }, attn_v: { bits: 4 }, attn_o: { bits: 4 } },
    depth: [
      { from: 0, to: 0.1, override: { bits: 8, groupSize: 'channel', method: METHODS.rtn } },
      { from: 0.9, to: 1, override: { bits: 8, groupSize: 'channel', method: METHODS.rtn } },
    ],
  },
  // ── AWQ with one scale vector per shared input (helper awqshared) ──────────────────────────────
  // The servable AWQ: q/k/v share input_layernorm's s and every expert's gate/up share
  // post_attention_layernorm's, so the scales fold into the norms; each down_proj's s folds into its
  // own expert's up_proj rows. attn_o takes no scale (as AutoAWQ and llm-compressor do under grouped
  // KV heads, where it cannot fold into v_proj). The per-module w*-awq above stay as research baselines.
  {
    name: 'w4a16-g128-awq-shared',
    description: '4-bit weight-only, group 128, asymmetric, AWQ with one scale vector per shared input (foldable into the norms); attn_o RTN',
    default: { bits: 4, groupSize: 128, symmetric: false, method: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5, scales: 'shared-input' } },
    roles: { ...KEEP_SMALL_ROLES, attn_o: { method: METHODS.rtn } },
  },
];

export const BUILTIN_RECIPES: ReadonlyMap<string, Recipe> = new Map(inputs.map((r) => {
  const recipe = Recipe.parse(r);
  return [recipe.name, recipe] as const;
}));

/** Short names map to the GPTQ variant, the usual default of weight-only tools. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['w4a16-g128', 'w4a16-g128-gptq'],
  ['w3a16-g128', 'w3a16-g128-gptq'],
  ['w2a16-g64', 'w2a16-g64-gptq'],
]);

export function builtinRecipe(name: string): Recipe | undefined {
  return BUILTIN_RECIPES.get(ALIASES.get(name) ?? name);
}

export function builtinRecipeNames(): string[] {
  return [...BUILTIN_RECIPES.keys(), ...ALIASES.keys()].sort();
}
