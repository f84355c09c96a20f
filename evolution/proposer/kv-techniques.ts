// The KV-cache techniques: mutation operators on a recipe's kvCache policy, each from the paper or
// stack that introduced it. Children a stack cannot cache are moved onto it by servable-recipe.ts
// (or declined here when the gene itself is what the stack lacks).
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { KvPolicy, type KvTensorPolicy } from '../../schema/kv-policy.js';
import { Recipe } from '../../schema/recipe.js';
import type { KvCacheFeature } from '../../schema/serving-stack.js';
import { kvRuleOf } from '../../science/physics/kv-check.js';
import type { ServingContext, Technique } from './techniques.js';

function pick<T>(rng: RandomGenerator, xs: readonly T[]): T {
  return xs[uniformInt(rng, 0, xs.length - 1)];
}

function withKv(recipe: Recipe, change: (kv: KvPolicy) => KvPolicy | null): Recipe | null {
  const kv = change(structuredClone(recipe.kvCache ?? KvPolicy.parse({})));
  if (!kv) return null;
  const r = Recipe.safeParse({ ...structuredClone(recipe), kvCache: kv });
  return r.success ? r.data : null;
}

/** True when the stack caches no policy with this gene (a stack without a KV rule caches only bf16). */
function lacks(serving: ServingContext | undefined, feature: KvCacheFeature): boolean {
  if (!serving) return false;
  const rule = kvRuleOf(serving.table);
  return !rule || !rule.features.includes(feature);
}

const quantized = (t: KvTensorPolicy) => t.format !== 'bf16';
const intBits = (t: KvTensorPolicy): number | null => (t.format === 'int8' ? 8 : t.format === 'int4' ? 4 : t.format === 'int2' ? 2 : null);
const INT_FORMAT = { 8: 'int8', 4: 'int4', 2: 'int2' } as const;

export const KV_TECHNIQUES: readonly Technique[] = [
  {
    id: 'kv-kivi',
    name: 'KIVI asymmetric 2/4-bit KV cache',
    origin: 'KIVI (Liu et al., 2024)',
    description: 'Keys quantized per channel and values per token in groups of 32, with fp16 scale and zero, and the newest tokens kept in bf16 (the residual).',
    requires: [],
    apply: (recipe, rng) =>
      withKv(recipe, (kv) => {
        if (kv.keys.format === 'int4' || kv.keys.format === 'int2') return null;
        const format = pick(rng, ['int4', 'int2'] as const);
        return { ...kv, keys: { format, axis: 'channel', groupSize: 32 }, values: { format, axis: 'token', groupSize: 32 }, recentWindow: Math.max(kv.recentWindow, pick(rng, [32, 64, 128])) };
      }),
  },
  {
    id: 'kv-lower-bits',
    name: 'Fewer KV cache bits',
    origin: 'KIVI, KVQuant: 2-bit caches with outlier handling',
    description: 'One step fewer bits for the integer KV cache (8 → 4 → 2), same layout.',
    requires: ['kv-kivi'],
    apply: (recipe) =>
      withKv(recipe, (kv) => {
        const lower = (t: KvTensorPolicy): KvTensorPolicy | null => {
          if (t.format !== 'int8' && t.format !== 'int4') return null;
          return { ...t, format: INT_FORMAT[t.format === 'int8' ? 4 : 2] };
        };
        const keys = lower(kv.keys);
        const values = lower(kv.values);
        if (!keys && !values) return null;
        return { ...kv, keys: keys ?? kv.keys, values: values ?? kv.values };
      }),
  },
  {
    id: 'kv-recent-window',
    name: 'Full-precision recent window',
    origin: "KIVI's residual; sliding-window full-precision caches",
    description: 'Twice the newest tokens kept in bf16 (32 when there were none): recent context is what most next tokens attend to.',
    requires: [],
    apply: (recipe, _rng, serving) =>
      lacks(serving, 'recent-window')
        ? null
        : withKv(recipe, (kv) => (!quantized(kv.keys) && !quantized(kv.values)) || kv.recentWindow >= 1024 ? null : { ...kv, recentWindow: kv.recentWindow === 0 ? 32 : 2 * kv.recentWindow }),
  },
  {
    id: 'kv-attention-sinks',
    name: 'Full-precision attention sinks',
    origin: 'IntactKV (Liu et al., 2024); StreamingLLM attention sinks (Xiao et al., 2024)',
    description: 'The first tokens, which draw a large share of attention everywhere, kept in bf16.',
    requires: [],
    apply: (recipe, rng, serving) =>
      lacks(serving, 'sink-tokens') ? null : withKv(recipe, (kv) => ((!quantized(kv.keys) && !quantized(kv.values)) || kv.sinkTokens > 0 ? null : { ...kv, sinkTokens: pick(rng, [4, 16]) })),
  },
  {
    id: 'kv-pre-rope-keys',
    name: 'Pre-RoPE key quantization',
    origin: 'KVQuant (Hooper et al., 2024)',
    description: 'Keys quantized before the rotary embedding, where their outlier channels are fixed, and rotated after dequantization.',
    requires: [],
    apply: (recipe, _rng, serving) => (lacks(serving, 'pre-rope-keys') ? null : withKv(recipe, (kv) => (!quantized(kv.keys) || kv.keyPosition === 'pre-rope' ? null : { ...kv, keyPosition: 'pre-rope' }))),
  },
  {
    id: 'kv-hadamard-keys',
    name: 'Hadamard-rotated keys',
    origin: 'QuaRot (Ashkboos et al., 2024)',
    description: 'A randomized Hadamard rotation of each key head before quantization spreads outlier channels over all channels.',
    requires: [],
    apply: (recipe, _rng, serving) => (lacks(serving, 'hadamard-keys') ? null : withKv(recipe, (kv) => (!quantized(kv.keys) || kv.keyRotation === 'hadamard' ? null : { ...kv, keyRotation: 'hadamard' }))),
  },
  {
    id: 'kv-protect-layers',
    name: 'Higher-precision KV in the first layers',
    origin: 'Q-Enhance (arXiv 2606.25532): long-range layers kept at higher precision; KVQuant/KVTuner layer sensitivity',
    description: 'The first eighth of the layers caches int8 instead of the lower-bit policy.',
    requires: [],
    apply: (recipe, _rng, serving) =>
      lacks(serving, 'layer-bands')
        ? null
        : withKv(recipe, (kv) => {
            const low = [kv.keys, kv.values].some((t) => { const b = intBits(t); return b !== null && b < 8; });
            if (!low || kv.layers.length > 0) return null;
            const int8: KvTensorPolicy = { format: 'int8', axis: 'token', groupSize: 32 };
            return { ...kv, layers: [{ from: 0, to: 0.125, override: { keys: int8, values: int8 } }] };
          }),
  },
];
