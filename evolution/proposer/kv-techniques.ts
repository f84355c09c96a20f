// Mutation operators on the recipe's KV cache (schema/kv-policy.ts), one idea each, named for the
// paper it comes from. Like the weight operators they are pure functions of (recipe, random source),
// return null where they do not apply or where the evolution's stack has no format for the cache they
// make (its 'kv-cache' rule, science/physics/kv-check.ts). Kept apart from TECHNIQUES so that adding
// them to the operator draw is one deliberate change.
import { isUnquantizedKv, KvPolicy, type KvTensorPolicy } from '../../schema/kv-policy.js';
import { kvPolicyOf, Recipe } from '../../schema/recipe.js';
import { kvPolicyFailures, kvRuleOf } from '../../science/physics/kv-check.js';
import { pick } from './operator-helpers.js';
import type { ServingContext, Technique } from './technique.js';

/** The recipe with `kv` as its cache, or null when it is invalid, changes nothing, or the stack cannot cache it. */
function withKv(recipe: Recipe, kv: KvPolicy, serving?: ServingContext): Recipe | null {
  const parsed = Recipe.safeParse({ ...recipe, kvCache: kv });
  if (!parsed.success) return null;
  if (JSON.stringify(parsed.data.kvCache ?? null) === JSON.stringify(recipe.kvCache ?? null)) return null;
  const rule = serving ? kvRuleOf(serving.table) : undefined;
  if (rule && parsed.data.kvCache && kvPolicyFailures(rule, parsed.data.kvCache, null).length > 0) return null;
  return parsed.data;
}

/** One bit width down: int8 → int4 → int2, fp8 → int4 per token g32; null at 2 bits or bf16. */
function narrower(t: KvTensorPolicy): KvTensorPolicy | null {
  if (t.format === 'bf16' || t.format === 'int2') return null;
  if (!('axis' in t)) return { format: 'int4', axis: 'token', groupSize: 32 };
  return { ...t, format: t.format === 'int8' ? 'int4' : 'int2' };
}

const quantizedBase = (recipe: Recipe): KvPolicy | null => {
  const kv = kvPolicyOf(recipe);
  return isUnquantizedKv(kv) ? null : kv;
};

export const KV_TECHNIQUES: readonly Technique[] = [
  {
    id: 'kv-kivi',
    name: 'KIVI KV cache',
    origin: 'KIVI (Liu et al. 2024)',
    description: 'Keys per channel and values per token at 4 or 2 bits in groups, the newest 128 tokens in bf16.',
    requires: [],
    apply: (recipe, rng, serving) => {
      const bits = pick(rng, ['int4', 'int2'] as const);
      const groupSize = pick(rng, [32, 64, 128] as const);
      const kv = KvPolicy.parse({ keys: { format: bits, axis: 'channel', groupSize }, values: { format: bits, axis: 'token', groupSize }, recentWindow: 128 });
      return withKv(recipe, kv, serving);
    },
  },
  {
    id: 'kv-lower-bits',
    name: 'Narrower KV cache',
    origin: 'KV cache quantization (FlexGen, KIVI)',
    description: 'One step narrower keys or values: int8 → int4 → int2, fp8 → int4.',
    requires: [],
    apply: (recipe, rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv) return null;
      const which = pick(rng, ['keys', 'values'] as const);
      const next = narrower(kv[which]);
      return next ? withKv(recipe, { ...kv, [which]: next }, serving) : null;
    },
  },
  {
    id: 'kv-recent-window',
    name: 'Full-precision recent window',
    origin: 'KIVI residual (Liu et al. 2024)',
    description: 'Keep the newest tokens of a quantized cache in bf16, or twice as many of them.',
    requires: [],
    apply: (recipe, rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv) return null;
      const recentWindow = kv.recentWindow === 0 ? pick(rng, [32, 64, 128, 256]) : Math.min(4096, kv.recentWindow * 2);
      return withKv(recipe, { ...kv, recentWindow }, serving);
    },
  },
  {
    id: 'kv-sink-tokens',
    name: 'Full-precision sink tokens',
    origin: 'IntactKV (Liu et al. 2024); attention sinks',
    description: 'Keep the first tokens of a quantized cache (the attention sinks) in bf16.',
    requires: [],
    apply: (recipe, rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv || kv.sinkTokens > 0) return null;
      return withKv(recipe, { ...kv, sinkTokens: pick(rng, [1, 4, 16]) }, serving);
    },
  },
  {
    id: 'kv-pre-rope-keys',
    name: 'Pre-RoPE key quantization',
    origin: 'KVQuant (Hooper et al. 2024)',
    description: 'Quantize keys before the rotary embedding, where their channels keep one scale.',
    requires: [],
    apply: (recipe, _rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv || kv.keys.format === 'bf16' || kv.keyPosition === 'pre-rope') return null;
      return withKv(recipe, { ...kv, keyPosition: 'pre-rope' }, serving);
    },
  },
  {
    id: 'kv-hadamard-keys',
    name: 'Hadamard-rotated keys',
    origin: 'QuaRot (Ashkboos et al. 2024)',
    description: 'Rotate keys (and queries) by a Hadamard matrix before quantizing the cache, spreading outlier channels.',
    requires: [],
    apply: (recipe, _rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv || kv.keys.format === 'bf16' || kv.keyRotation === 'hadamard') return null;
      return withKv(recipe, { ...kv, keyRotation: 'hadamard' }, serving);
    },
  },
  {
    id: 'kv-protect-layers',
    name: 'Wider cache in edge layers',
    origin: 'Q-Enhance-style long-range layers at higher precision',
    description: 'Keep the first or last layers\' cache in bf16 or int8 while the rest stays narrow.',
    requires: [],
    apply: (recipe, rng, serving) => {
      const kv = quantizedBase(recipe);
      if (!kv || kv.layers.length > 0) return null;
      const share = pick(rng, [0.05, 0.1, 0.25]);
      const band = pick(rng, [{ from: 0, to: share }, { from: 1 - share, to: 1 }]);
      const wide = pick(rng, [{ format: 'bf16' }, { format: 'int8', axis: 'token', groupSize: 128 }] as const);
      return withKv(recipe, KvPolicy.parse({ ...kv, layers: [{ ...band, override: { keys: wide, values: wide } }] }), serving);
    },
  },
];
