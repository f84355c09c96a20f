// Serving stacks: what a real serving engine (at a pinned version) can load and run, as rules that
// each carry their provenance. `reference` is evoquant's own executor, which runs every design.
import { z } from 'zod';
import { ActivationFormat } from './hardware.js';
import { KV_GROUP_SIZES, KvFormat } from './kv-policy.js';

export const SERVING_STACKS = ['reference', 'vllm', 'llama.cpp'] as const;
export const ServingStackId = z.enum(SERVING_STACKS, { error: `stack must be one of ${SERVING_STACKS.join(', ')}` });
export type ServingStackId = z.infer<typeof ServingStackId>;

/** The stack a target gets when it names none: a real engine, so what evoquant finds can be deployed. */
export const DEFAULT_STACK: ServingStackId = 'vllm';

export const CHECKPOINT_FORMATS = ['evoquant', 'compressed-tensors', 'gptq', 'gguf'] as const;
export const CheckpointFormat = z.enum(CHECKPOINT_FORMATS, { error: `checkpoint must be one of ${CHECKPOINT_FORMATS.join(', ')}` });
export type CheckpointFormat = z.infer<typeof CheckpointFormat>;

/** Where a rule comes from: a file of the stack's source at the table's version. */
export const Provenance = z
  .object({
    /** Path inside the stack's source tree or wheel. */
    source: z.string().min(1),
    /** What in that file says so, in a few words. */
    evidence: z.string().min(1),
  })
  .strict();
export type Provenance = z.infer<typeof Provenance>;

/**
 * How compile sees a module when checking a stack: ordinary linear layers (attention, dense and
 * shared-expert MLPs, lm_head), a layer's fused routed experts, the router, the embedding table.
 */
export const MODULE_KINDS = ['dense-linear', 'moe-experts', 'router', 'embeddings'] as const;
export const ModuleKind = z.enum(MODULE_KINDS);
export type ModuleKind = z.infer<typeof ModuleKind>;

const bitsList = z.array(z.union([z.literal(2), z.literal(3), z.literal(4), z.literal(8), z.literal(16)])).min(1);
const groupList = z.array(z.union([z.literal('channel'), z.number().int().positive()])).min(1);

/** One serving kernel of the stack and the formats and shapes it takes. */
export const StackKernel = z
  .object({
    id: z.string().regex(/^[a-z0-9.-]+$/),
    weight: z.enum(['bf16', 'int', 'fp8']),
    bits: bitsList,
    /** Absent: the source names no group-size constraint. */
    groupSizes: groupList.optional(),
    /** Bits at which it reads zero points (asymmetric grids); symmetric grids always pass. */
    asymmetricBits: z.array(z.number().int()).default([]),
    activations: z.array(ActivationFormat).min(1),
    /** Lowest compute capability × 10 it runs on (0: any, CPU included). */
    minSm: z.number().int().nonnegative(),
    /** The TP shard's output rows N and reduction width K must be multiples of these. */
    nMultiple: z.number().int().positive().default(1),
    kMultiple: z.number().int().positive().default(1),
    provenance: Provenance,
  })
  .strict();
export type StackKernel = z.infer<typeof StackKernel>;

const ruleBase = { id: z.string().regex(/^[a-z0-9.-]+$/), provenance: Provenance };

/** Modules that must share one scheme (bits, format, group size, symmetry). */
export const SameSchemeRule = z
  .object({
    ...ruleBase,
    kind: z.literal('same-scheme'),
    /**
     * layer-experts: every routed expert of a layer, gate/up/down together; expert-tensor: each
     * (layer, expert role) across experts; qkv: q/k/v of a layer; gate-up: gate and up of a dense or
     * shared-expert MLP.
     */
    group: z.enum(['layer-experts', 'expert-tensor', 'qkv', 'gate-up']),
  })
  .strict();

/** Which kernels serve a module kind; a module no kernel takes is not servable. */
export const KernelsRule = z.object({ ...ruleBase, kind: z.literal('kernels'), moduleKind: ModuleKind, kernels: z.array(StackKernel) }).strict();

/** A gene the stack has no format or kernel for, on some module kinds. */
export const UnsupportedRule = z
  .object({
    ...ruleBase,
    kind: z.literal('unsupported'),
    /**
     * rotation: online Hadamard; outliers: sparse fp16 outliers; awq-unshared-scales: one AWQ scale
     * vector per module where modules share their input; awq-gqa-output: AWQ scales on attn_o when
     * query heads share KV heads (they would have to fold into v_proj's output rows); awq-rotated:
     * AWQ scales in the basis of an online rotation, which nothing before the layer can hold.
     */
    feature: z.enum(['rotation', 'outliers', 'awq-unshared-scales', 'awq-gqa-output', 'awq-rotated']),
    moduleKinds: z.array(ModuleKind).min(1),
  })
  .strict();

/** One way the stack stores K or V: a format, and for integer formats the axis and group sizes it takes. */
export const KvStorage = z
  .object({
    /** The stack's own name for it (vLLM's kv_cache_dtype, llama.cpp's --cache-type-k/-v type). */
    name: z.string().min(1),
    format: KvFormat,
    axis: z.enum(['token', 'channel']).optional(),
    groupSizes: z.array(z.union(KV_GROUP_SIZES.map((g) => z.literal(g)) as [z.ZodLiteral<16>, z.ZodLiteral<32>, z.ZodLiteral<64>, z.ZodLiteral<128>])).min(1).optional(),
  })
  .strict()
  .refine((k) => (k.format.startsWith('int') ? k.axis !== undefined && k.groupSizes !== undefined : k.axis === undefined && k.groupSizes === undefined), {
    message: 'integer KV storages name an axis and group sizes; others name neither',
  });
export type KvStorage = z.infer<typeof KvStorage>;

/**
 * KV-policy genes beyond the storage format: recent-window (bf16 newest tokens), sink-tokens (bf16
 * first tokens), pre-rope-keys (keys cached before RoPE), hadamard-keys (keys rotated before
 * quantization), mixed-kv (K and V in different formats), bf16-layers (some layers left unquantized),
 * layer-bands (layers in different quantized formats).
 */
export const KV_CACHE_FEATURES = ['recent-window', 'sink-tokens', 'pre-rope-keys', 'hadamard-keys', 'mixed-kv', 'bf16-layers', 'layer-bands'] as const;
export type KvCacheFeature = (typeof KV_CACHE_FEATURES)[number];

export const KvCacheRule = z
  .object({ ...ruleBase, kind: z.literal('kv-cache'), storages: z.array(KvStorage).min(1), features: z.array(z.enum(KV_CACHE_FEATURES)).default([]) })
  .strict();
export type KvCacheRule = z.infer<typeof KvCacheRule>;

/** A checkpoint format's own limits on the weights it stores. */
export const CheckpointRule = z
  .object({ ...ruleBase, kind: z.literal('checkpoint'), format: CheckpointFormat, bits: bitsList, symmetricOnly: z.boolean() })
  .strict();

/**
 * Genes a checkpoint format cannot carry as evoquant writes it (the stack may read them, the writer
 * does not produce them yet): rotation (no transform_config), quantized-activations (weight-only
 * schemes), expert-reduction (the export quantizes the original model, with all its experts).
 */
export const CHECKPOINT_LIMIT_FEATURES = ['rotation', 'quantized-activations', 'expert-reduction'] as const;
export const CheckpointLimitsRule = z
  .object({ ...ruleBase, kind: z.literal('checkpoint-limits'), format: CheckpointFormat, features: z.array(z.enum(CHECKPOINT_LIMIT_FEATURES)).min(1) })
  .strict();

export const StackRule = z.discriminatedUnion('kind', [SameSchemeRule, KernelsRule, UnsupportedRule, KvCacheRule, CheckpointRule, CheckpointLimitsRule]);
export type StackRule = z.infer<typeof StackRule>;
export type KernelsRule = z.infer<typeof KernelsRule>;

export const ServingStackTable = z
  .object({
    stack: ServingStackId,
    /** The version the rules were read from; re-check them when it moves. */
    version: z.string().min(1),
    /** True for a stack that serves designs no real engine serves (evoquant's reference executor). */
    researchOnly: z.boolean(),
    description: z.string(),
    /** Checkpoint formats it loads; the first is the default. */
    checkpoints: z.array(CheckpointFormat).min(1),
    rules: z.array(StackRule),
  })
  .strict()
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${r.id}` });
      seen.add(r.id);
      if (!r.id.startsWith(`${t.stack}.`)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `rule id must start with "${t.stack}."` });
    });
    const kinds = t.rules.filter((r) => r.kind === 'kernels').map((r) => r.moduleKind);
    if (t.rules.some((r) => r.kind === 'kernels') && new Set(kinds).size !== MODULE_KINDS.length) {
      ctx.addIssue({ code: 'custom', path: ['rules'], message: `a stack with kernel rules needs exactly one per module kind (${MODULE_KINDS.join(', ')})` });
    }
  });
export type ServingStackTable = z.infer<typeof ServingStackTable>;
export type ServingStackTableInput = z.input<typeof ServingStackTable>;
