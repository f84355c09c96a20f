// Builtin recipes: the classic baselines, servable mixed-precision MoE policies, and research
// designs (named research-*) that only the reference executor runs.
import { Recipe, type RecipeInput, type QuantMethod, type QuantOverride } from '../../schema/recipe.js';

const KEEP_BF16 = { bits: 16, format: 'int' } as const;
/** Routers, embeddings and lm_head stay in bf16 in every weight-only baseline, as real tools do. */
const KEEP_SMALL_ROLES = { router: KEEP_BF16, embeddings: KEEP_BF16, lm_head: KEEP_BF16 };

const ATTENTION_ROLES = ['attn_q', 'attn_k', 'attn_v', 'attn_o'] as const;
const EXPERT_ROLES = ['expert_gate', 'expert_up', 'expert_down'] as const;
/** int8 per channel, symmetric: Marlin and the GPTQ checkpoint format both take it. */
const ATTENTION_INT8 = Object.fromEntries(ATTENTION_ROLES.map((r) => [r, { bits: 8, groupSize: 'channel', symmetric: true }])) as Record<(typeof ATTENTION_ROLES)[number], QuantOverride>;
const ATTENTION_4BIT = Object.fromEntries(ATTENTION_ROLES.map((r) => [r, { bits: 4 }])) as Record<(typeof ATTENTION_ROLES)[number], QuantOverride>;
/**
 * The first and last tenth of the layers at 8 bits per channel. Restricted to attention and
 * experts: a band without roles would also quantize the routers, which vLLM serves in bf16 only.
 * A layer sits at depth layer / numLayers, so on a model of fewer than ten layers the last band
 * holds none.
 */
const EDGE_BANDS = [0, 0.9].map((from) => ({
  from,
  to: from + 0.1,
  roles: [...ATTENTION_ROLES, ...EXPERT_ROLES],
  override: { bits: 8, groupSize: 'channel', symmetric: true, method: { kind: 'rtn' } },
})) as NonNullable<RecipeInput['depth']>;

const METHODS: Record<'rtn' | 'gptq' | 'awq', QuantMethod> = {
  rtn: { kind: 'rtn' },
  gptq: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true },
  // One scale vector per shared input, so the scales fold into the op before the layer: q/k/v into
  // input_layernorm, every expert's gate/up into post_attention_layernorm, each down_proj into its
  // own expert's up_proj rows. (Per-module AWQ scales are a research gene: `scales: 'per-module'`.)
  awq: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5, scales: 'shared-input' },
};
/** attn_o's input comes from v_proj rows that grouped query heads share: AWQ cannot fold there, so RTN (as AutoAWQ and llm-compressor do). */
const AWQ_ATTN_O = { attn_o: { method: METHODS.rtn } };

function weightOnly(bits: 2 | 3 | 4, groupSize: 64 | 128, method: keyof typeof METHODS): RecipeInput {
  const awq = method === 'awq';
  return {
    name: `w${bits}a16-g${groupSize}-${method}`,
    description: `${bits}-bit weight-only, group ${groupSize}, asymmetric, ${method.toUpperCase()}${awq ? ' with one scale vector per shared input (folded into the norms); attn_o RTN' : ''}`,
    default: { bits, groupSize, symmetric: false, method: METHODS[method] },
    roles: awq ? { ...KEEP_SMALL_ROLES, ...AWQ_ATTN_O } : KEEP_SMALL_ROLES,
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
  // Servable MoE designs: every routed expert of a layer (gate, up and down) shares one scheme, as
  // vLLM's fused MoE and llama.cpp's 3-D expert tensors require; layers differ by their experts'
  // measured sensitivity. Routers stay bf16 (vLLM builds the gate unquantized).
  {
    name: 'moe-layers-sensitive4-rest3',
    description:
      "Attention int8 per channel (symmetric); the experts of the quarter of layers whose experts are most sensitive at 4 bits g128 (Marlin MoE), every other layer's experts at 3 bits g128 (Humming MoE), GPTQ",
    default: { bits: 3, groupSize: 128, method: METHODS.gptq },
    roles: { ...KEEP_SMALL_ROLES, ...ATTENTION_INT8 },
    expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.25, override: { bits: 4 } }] },
  },
  {
    name: 'moe-layers-sensitive4-rest2',
    description:
      "Attention at 4 bits g128 (Marlin); the experts of the half of layers whose experts are most sensitive at 4 bits g128, every other layer's experts at 2 bits g64 (Humming MoE), GPTQ",
    default: { bits: 4, groupSize: 128, method: METHODS.gptq },
    roles: KEEP_SMALL_ROLES,
    expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.5, override: {} }, { below: 1, override: { bits: 2, groupSize: 64 } }] },
  },
  {
    name: 'moe-edges8-experts3-gptq',
    description: 'Attention and experts of the first and last tenth of the layers at 8 bits per channel (symmetric), other experts at 3 bits g128, other attention at 4 bits g128, GPTQ; routers bf16',
    default: { bits: 3, groupSize: 128, method: METHODS.gptq },
    roles: { ...KEEP_SMALL_ROLES, ...ATTENTION_4BIT },
    depth: EDGE_BANDS,
  },
  {
    name: 'moe-edges8-experts3',
    description:
      'Attention and experts of the first and last tenth of the layers at 8 bits, other experts at 3 bits AWQ g128 (scales shared per input), other attention at 4 bits (attn_o RTN); routers bf16',
    default: { bits: 3, groupSize: 128, method: METHODS.awq },
    roles: { ...KEEP_SMALL_ROLES, ...ATTENTION_4BIT, attn_o: { bits: 4, method: METHODS.rtn } },
    depth: EDGE_BANDS,
  },
  // Expert pruning (NAEE-style, by routing frequency): every MoE layer keeps its three most-routed
  // quarters of experts, renumbered, so vLLM loads a checkpoint with fewer experts; the rest is GPTQ w4.
  {
    name: 'moe-prune25-w4a16-g128',
    description:
      "Each layer's least-routed quarter of experts pruned (routing renormalised over the rest; 96 of Qwen3-235B-A22B's 128 remain), then 4-bit weight-only g128 GPTQ; routers bf16",
    default: { bits: 4, groupSize: 128, symmetric: false, method: METHODS.gptq },
    roles: KEEP_SMALL_ROLES,
    expertReduction: { mode: 'prune', fraction: 0.25 },
  },
  // Research designs for the reference stack only: per-expert bit tiers inside a layer, sparse
  // fp16 outliers and Hadamard rotation of experts have no format or kernel in any serving stack.
  {
    name: 'research-moe-hot4-cold3',
    description:
      'Reference stack only (per-expert tiers inside a layer are not servable): attention at 8 bits; the hottest quarter of experts (by routing frequency) at 4 bits, the rest at 3 bits, GPTQ g128',
    default: { bits: 3, groupSize: 128, method: METHODS.gptq },
    roles: { ...KEEP_SMALL_ROLES, attn_q: { bits: 8, groupSize: 'channel' }, attn_k: { bits: 8, groupSize: 'channel' }, attn_v: { bits: 8, groupSize: 'channel' }, attn_o: { bits: 8, groupSize: 'channel' } },
    experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.25, override: { bits: 4 } }] },
  },
  {
    name: 'research-moe-sensitive4-rest2-outliers',
    description:
      'Reference stack only (per-expert tiers, fp16 outliers and rotated experts are not servable): experts ranked by measured sensitivity, the top half at 4 bits, the rest at 2 bits g64 with 0.5% fp16 outliers and a Hadamard rotation; attention at 4 bits',
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

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(prev[j] + 1, next[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = next;
  }
  return prev[b.length];
}

/**
 * What an error about an unknown builtin says after the name: the three closest names and how many
 * there are, so the line stays short as the list grows (the full list is in the README's Baselines).
 */
export function builtinNamesHint(name: string): string {
  const names = builtinRecipeNames();
  // Names are short: compare against a bounded prefix of a hostile one.
  const probe = name.slice(0, 64);
  const closest = [...names].sort((x, y) => editDistance(probe, x) - editDistance(probe, y) || x.localeCompare(y)).slice(0, 3);
  return `${names.length} builtins; closest: ${closest.join(', ')}`;
}
