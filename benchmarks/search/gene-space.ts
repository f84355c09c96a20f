// The genes random search and TPE draw from: what the engine's mutation operators can express
// (evolution/proposer/techniques.ts) restricted to what vLLM serves — default bits, group size and
// method, expert bits per layer by sensitivity, attention precision and rotation, edge-layer
// protection, KV cache bits. Sparse fp16 outliers and per-expert tiers are left out: no stack serves
// them. A drawn point becomes a Recipe, then is moved onto the stack exactly as the proposer moves its
// children (servableRecipe). The space is exported as JSON so that Optuna searches this definition.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { z } from 'zod';
import { servingContext } from '../../evolution/proposer/serving-context.js';
import { policyHash } from '../../evolution/proposer/candidate-id.js';
import { servableRecipe } from '../../science/physics/servable-recipe.js';
import { Recipe, type QuantMethod, type QuantOverride, type RecipeInput } from '../../schema/recipe.js';
import { TARGET } from './setting.js';

export const GENES = {
  bits: [2, 3, 4],
  groupSize: ['32', '64', '128', 'channel'],
  method: ['rtn', 'gptq', 'awq'],
  /** Attention projections: as the default, 4 bits g128, or 8 bits per channel (symmetric). */
  attention: ['default', 'w4-g128', 'w8-channel'],
  /** Share of layers (most sensitive experts first) whose experts take `hotBits`; 0: none. */
  hotLayers: ['0', '0.25', '0.5', '0.75'],
  hotBits: [3, 4, 8],
  /** The first and last tenth of the layers' attention and experts at 8 bits per channel. */
  edgeLayers: ['no', 'yes'],
  /** The KV cache: bf16 (16) or fp8 e4m3 K and V with one scale per layer (8), as vLLM serves it. */
  kvCacheBits: [16, 8],
  /** Randomized Hadamard rotation of the attention projections (vLLM's online transforms). */
  attentionRotation: ['no', 'yes'],
} as const;

export type GeneName = keyof typeof GENES;
export const GENE_NAMES = Object.keys(GENES) as GeneName[];
export type Genes = { [K in GeneName]: (typeof GENES)[K][number] };

/** One of a gene's choices, checked by value (numbers stay numbers, strings strings). */
function choice<T extends string | number>(gene: string, xs: readonly T[]): z.ZodType<T> {
  return z.custom<T>((v) => (xs as readonly unknown[]).includes(v), { message: `${gene} must be one of ${xs.join(', ')}` });
}

/** A point as it crosses the process boundary (from Optuna): each gene one of its choices. */
export const GenesSchema = z.strictObject({
  bits: choice('bits', GENES.bits),
  groupSize: choice('groupSize', GENES.groupSize),
  method: choice('method', GENES.method),
  attention: choice('attention', GENES.attention),
  hotLayers: choice('hotLayers', GENES.hotLayers),
  hotBits: choice('hotBits', GENES.hotBits),
  edgeLayers: choice('edgeLayers', GENES.edgeLayers),
  kvCacheBits: choice('kvCacheBits', GENES.kvCacheBits),
  attentionRotation: choice('attentionRotation', GENES.attentionRotation),
}) satisfies z.ZodType<Genes>;

/** The space as JSON: gene → its choices, in a fixed order. */
export function geneSpaceJson(): { genes: Array<{ name: GeneName; choices: ReadonlyArray<string | number> }> } {
  return { genes: GENE_NAMES.map((name) => ({ name, choices: GENES[name] })) };
}

/** Points in the space (the product of the choices). */
export function geneSpaceSize(): number {
  return GENE_NAMES.reduce((n, g) => n * GENES[g].length, 1);
}

/** One point drawn uniformly: each gene uniformly among its choices. */
export function sampleGenes(rng: RandomGenerator): Genes {
  const pick = <T>(xs: readonly T[]): T => xs[uniformInt(rng, 0, xs.length - 1)];
  // In GENE_NAMES order, so a seed draws the same points whatever this function's layout.
  return {
    bits: pick(GENES.bits),
    groupSize: pick(GENES.groupSize),
    method: pick(GENES.method),
    attention: pick(GENES.attention),
    hotLayers: pick(GENES.hotLayers),
    hotBits: pick(GENES.hotBits),
    edgeLayers: pick(GENES.edgeLayers),
    kvCacheBits: pick(GENES.kvCacheBits),
    attentionRotation: pick(GENES.attentionRotation),
  };
}

const KEEP_BF16 = { bits: 16, format: 'int' } as const;
const ATTENTION = ['attn_q', 'attn_k', 'attn_v', 'attn_o'] as const;
const EXPERTS = ['expert_gate', 'expert_up', 'expert_down'] as const;
const METHODS: Record<Genes['method'], QuantMethod> = {
  rtn: { kind: 'rtn' },
  gptq: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true },
  // Scales shared per input so that they fold into the norms, the only AWQ vLLM can serve.
  awq: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5, scales: 'shared-input' },
};

/** The point as a recipe, before the stack's rules (routers, embeddings, lm_head in bf16 as in every baseline). */
export function recipeOfGenes(g: Genes): Recipe {
  const groupSize = g.groupSize === 'channel' ? 'channel' : Number(g.groupSize);
  const roles: Record<string, QuantOverride> = { router: KEEP_BF16, embeddings: KEEP_BF16, lm_head: KEEP_BF16 };
  const attention: QuantOverride | null =
    g.attention === 'w4-g128' ? { bits: 4, groupSize: 128 } : g.attention === 'w8-channel' ? { bits: 8, groupSize: 'channel', symmetric: true, method: { kind: 'rtn' } } : null;
  for (const role of ATTENTION) {
    const o: QuantOverride = { ...(attention ?? {}) };
    if (g.attentionRotation === 'yes') o.rotation = { kind: 'hadamard', seed: 0 };
    if (Object.keys(o).length > 0) roles[role] = o;
  }
  // attn_o reads v_proj rows that grouped query heads share: AWQ scales cannot fold there (RTN, as the builtins do).
  if (g.method === 'awq' && attention === null) roles.attn_o = { ...(roles.attn_o ?? {}), method: METHODS.rtn };
  const hot = Number(g.hotLayers);
  const input: RecipeInput = {
    name: 'search-point',
    default: { bits: g.bits, groupSize, symmetric: false, method: METHODS[g.method] },
    roles,
    ...(g.kvCacheBits === 8 ? { kvCache: { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } } } : {}),
    depth:
      g.edgeLayers === 'yes'
        ? [0, 0.9].map((from) => ({ from, to: from + 0.1, roles: [...ATTENTION, ...EXPERTS], override: { bits: 8, groupSize: 'channel', symmetric: true, method: { kind: 'rtn' } } }))
        : [],
    // A hot tier no wider than the default is no tier: left out, so the policy (and its hash) is the plain one.
    ...(hot > 0 && g.hotBits > g.bits ? { expertLayers: { rankBy: 'sensitivity', tiers: [{ below: hot, override: { bits: g.hotBits, groupSize: g.hotBits === 8 ? 'channel' : 128 } }] } } : {}),
  };
  return Recipe.parse(input);
}

/** The point moved onto what vLLM serves on the target's GPU (null: no servable neighbour), named by its policy. */
export function servablePoint(g: Genes): Recipe | null {
  const serving = servingContext(TARGET);
  const recipe = servableRecipe(serving.table, serving.hw, recipeOfGenes(g), serving.roles);
  if (recipe === null) return null;
  return { ...recipe, name: `search-${policyHash(recipe).slice(0, 12)}`, description: `search point ${JSON.stringify(g)}` };
}
