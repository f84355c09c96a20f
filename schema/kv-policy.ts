// The KV-cache policy: how a recipe stores attention keys and values, the genes of the long-context line.
// Each gene names the paper or stack it comes from:
//   formats      int8/int4/int2 with fp16 scale and zero per group (KIVI, Liu et al. 2024);
//                fp8 e4m3 / e5m2 with one scale per layer's K and V (vLLM's kv_cache_dtype fp8, k_scale/v_scale)
//   axis         keys per channel, values per token (KIVI): a key group spans `groupSize` tokens of one
//                channel, a value group `groupSize` channels of one token
//   recentWindow the newest tokens kept in full precision (KIVI's residual)
//   sinkTokens   the first tokens kept in full precision (IntactKV, Liu et al. 2024; attention sinks)
//   keyPosition  keys quantized before or after RoPE (KVQuant, Hooper et al. 2024)
//   keyRotation  a Hadamard rotation of keys before quantization (QuaRot, Ashkboos et al. 2024)
//   layers       per-layer overrides by relative depth, as the weight recipe's depth bands
import { z } from 'zod';

export const KV_FORMATS = ['bf16', 'fp8_e4m3', 'fp8_e5m2', 'int8', 'int4', 'int2'] as const;
export const KvFormat = z.enum(KV_FORMATS);
export type KvFormat = z.infer<typeof KvFormat>;

export const KV_INT_BITS = { int8: 8, int4: 4, int2: 2 } as const;
export type KvIntFormat = keyof typeof KV_INT_BITS;
export const KV_GROUP_SIZES = [16, 32, 64, 128] as const;
/** Longest full-precision window or sink run a policy may ask for: far past any served context. */
export const KV_MAX_TOKENS = 1 << 24;

export const KvUnquantized = z.object({ format: z.literal('bf16') }).strict();
export const KvFloat8 = z.object({ format: z.enum(['fp8_e4m3', 'fp8_e5m2']) }).strict();
export const KvInteger = z
  .object({
    format: z.enum(['int8', 'int4', 'int2']),
    /** 'token': a group is `groupSize` channels of one token's head; 'channel': `groupSize` tokens of one channel. */
    axis: z.enum(['token', 'channel']),
    /** Per-token groups are capped at the head dimension (one group per head when it is larger). */
    groupSize: z.union(KV_GROUP_SIZES.map((g) => z.literal(g)) as [z.ZodLiteral<16>, z.ZodLiteral<32>, z.ZodLiteral<64>, z.ZodLiteral<128>], {
      error: `groupSize must be one of ${KV_GROUP_SIZES.join(', ')}`,
    }),
  })
  .strict();
/** How one of K or V is stored. */
export const KvTensorPolicy = z.discriminatedUnion('format', [KvUnquantized, KvFloat8, KvInteger]);
export type KvTensorPolicy = z.infer<typeof KvTensorPolicy>;

const tokens = z.number().int().min(0).max(KV_MAX_TOKENS);

/** The genes a layer's cache is stored by. */
export const KvLayerPolicy = z
  .object({
    keys: KvTensorPolicy,
    values: KvTensorPolicy,
    recentWindow: tokens,
    sinkTokens: tokens,
    keyPosition: z.enum(['pre-rope', 'post-rope']),
    keyRotation: z.enum(['none', 'hadamard']),
  })
  .strict();
export type KvLayerPolicy = z.infer<typeof KvLayerPolicy>;

export const KvDepthBand = z
  .object({
    /** Relative depth range [from, to) in [0, 1]; layer i of n sits at i / n. */
    from: z.number().min(0).max(1),
    to: z.number().min(0).max(1),
    override: KvLayerPolicy.partial().strict(),
  })
  .strict()
  .refine((b) => b.to > b.from, { message: 'depth band needs to > from', path: ['to'] });
export type KvDepthBand = z.infer<typeof KvDepthBand>;

export const BF16_KV: KvLayerPolicy = {
  keys: { format: 'bf16' },
  values: { format: 'bf16' },
  recentWindow: 0,
  sinkTokens: 0,
  keyPosition: 'post-rope',
  keyRotation: 'none',
};

export const KvPolicy = z
  .object({
    keys: KvTensorPolicy.default(BF16_KV.keys),
    values: KvTensorPolicy.default(BF16_KV.values),
    recentWindow: tokens.default(0),
    sinkTokens: tokens.default(0),
    keyPosition: z.enum(['pre-rope', 'post-rope']).default('post-rope'),
    keyRotation: z.enum(['none', 'hadamard']).default('none'),
    // Bounded so that a hostile file cannot make every layer walk millions of bands.
    layers: z.array(KvDepthBand).max(256).default([]),
  })
  .strict();
export type KvPolicy = z.infer<typeof KvPolicy>;
export type KvPolicyInput = z.input<typeof KvPolicy>;

/** The policy layer `layer` of `numLayers` stores its cache by: the base genes, then every band it falls in, in order. */
export function resolveKvLayer(policy: KvPolicy, layer: number, numLayers: number): KvLayerPolicy {
  const { layers, ...base } = policy;
  let out: KvLayerPolicy = base;
  const depth = layer / Math.max(1, numLayers);
  for (const band of layers) if (depth >= band.from && depth < band.to) out = { ...out, ...band.override };
  return out;
}

/** Bits per stored element of a format, before scales. */
export function kvElementBits(t: KvTensorPolicy): number {
  if (t.format === 'bf16') return 16;
  if (t.format === 'fp8_e4m3' || t.format === 'fp8_e5m2') return 8;
  return KV_INT_BITS[t.format];
}

/** True when a layer's policy stores K and V exactly as bf16 would: nothing to simulate. */
export function isUnquantizedKv(p: KvLayerPolicy): boolean {
  return p.keys.format === 'bf16' && p.values.format === 'bf16';
}
