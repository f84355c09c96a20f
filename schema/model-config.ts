// Model configs: the raw HF config.json fields physics reads, and the one normalised architecture
// every family (qwen3_moe, qwen2_moe, mixtral, llama/mistral, qwen2/qwen3, the evoquant proxy) maps to.
import { z } from 'zod';
import { echo } from './echo.js';
import { FAILURE_TYPES } from './failures.js';

export const MODEL_FAMILIES = ['qwen3_moe', 'qwen2_moe', 'mixtral', 'llama', 'mistral', 'qwen2', 'qwen3', 'evoquant_moe'] as const;
export const ModelFamily = z.enum(MODEL_FAMILIES);
export type ModelFamily = z.infer<typeof ModelFamily>;

const posInt = z.number().int().positive();
const count = z.number().int().min(0);

// Upper bounds far above any released model (largest today: 126 layers, hidden 16384, 128 heads,
// 384 experts, vocab ≈262k, 10 M context). They keep a hostile or mistyped config.json from
// reaching the module enumeration, which allocates per layer and per expert.
export const MODEL_LIMITS = {
  layers: 1024,
  hidden: 65_536,
  heads: 1024,
  headDim: 4096,
  vocab: 1 << 22,
  positions: 1 << 24,
  intermediate: 1 << 20,
  experts: 4096,
  /** Expert matrices in the whole model (layers × experts): ≈5× Kimi K2's 61 × 384. */
  expertLayers: 1 << 17,
} as const;
const bounded = (max: number) => posInt.max(max);

/** The fields of a HF config.json that physics reads; every other field passes through. */
export const HfModelConfig = z
  .looseObject({
    model_type: z.string().max(100),
    hidden_size: bounded(MODEL_LIMITS.hidden),
    num_hidden_layers: bounded(MODEL_LIMITS.layers),
    num_attention_heads: bounded(MODEL_LIMITS.heads),
    num_key_value_heads: bounded(MODEL_LIMITS.heads).nullish(),
    head_dim: bounded(MODEL_LIMITS.headDim).nullish(),
    vocab_size: bounded(MODEL_LIMITS.vocab),
    tie_word_embeddings: z.boolean().nullish(),
    max_position_embeddings: bounded(MODEL_LIMITS.positions).nullish(),
    attention_bias: z.boolean().nullish(),
    intermediate_size: bounded(MODEL_LIMITS.intermediate).nullish(),
    moe_intermediate_size: bounded(MODEL_LIMITS.intermediate).nullish(),
    num_experts: count.max(MODEL_LIMITS.experts).nullish(),
    num_local_experts: bounded(MODEL_LIMITS.experts).nullish(),
    num_experts_per_tok: bounded(MODEL_LIMITS.experts).nullish(),
    shared_expert_intermediate_size: count.max(MODEL_LIMITS.intermediate).nullish(),
    decoder_sparse_step: bounded(MODEL_LIMITS.layers).nullish(),
    mlp_only_layers: z.array(count.max(MODEL_LIMITS.layers)).max(MODEL_LIMITS.layers).nullish(),
  })
  .refine((c) => c.num_hidden_layers * Math.max(c.num_experts ?? 0, c.num_local_experts ?? 0) <= MODEL_LIMITS.expertLayers, {
    message: `num_hidden_layers × experts exceeds ${MODEL_LIMITS.expertLayers} expert layers, far beyond any real model`,
    path: ['num_experts'],
  });
export type HfModelConfig = z.infer<typeof HfModelConfig>;

export const MoeConfig = z
  .object({
    numExperts: posInt,
    numExpertsPerTok: posInt,
    /** Intermediate width of one routed expert (moe_intermediate_size; mixtral: intermediate_size). */
    expertIntermediateSize: posInt,
    /** Width of the always-on shared expert, 0 when the family has none. */
    sharedExpertIntermediateSize: count,
    /** qwen2_moe gates its shared expert with a [1, hidden] sigmoid projection. */
    sharedExpertGate: z.boolean(),
  })
  .strict()
  .refine((m) => m.numExpertsPerTok <= m.numExperts, { message: 'num_experts_per_tok exceeds the expert count', path: ['numExpertsPerTok'] });
export type MoeConfig = z.infer<typeof MoeConfig>;

export const MlpKind = z.enum(['moe', 'dense']);
export type MlpKind = z.infer<typeof MlpKind>;

/** One normalised decoder-only architecture; all sizes in elements. */
export const ModelArchitecture = z
  .object({
    name: z.string().min(1),
    family: ModelFamily,
    hiddenSize: posInt,
    numLayers: posInt,
    numAttentionHeads: posInt,
    numKeyValueHeads: posInt,
    headDim: posInt,
    vocabSize: posInt,
    maxPositionEmbeddings: posInt,
    tieWordEmbeddings: z.boolean(),
    /** q/k/v projections carry biases (the qwen2 family). */
    attentionBias: z.boolean(),
    /** Per-head RMSNorm on q and k (the qwen3 family). */
    qkNorm: z.boolean(),
    /** Width of a dense SwiGLU MLP; 0 when every layer is MoE. */
    denseIntermediateSize: count,
    moe: MoeConfig.nullable(),
    /** Per layer: routed experts or a dense MLP. */
    mlpKinds: z.array(MlpKind),
    /** HF tensor naming scheme: Qwen/Llama (`mlp.experts.{e}.gate_proj`) or Mixtral (`block_sparse_moe.experts.{e}.w1`). */
    naming: z.enum(['qwen', 'mixtral']),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.mlpKinds.length !== a.numLayers) {
      ctx.addIssue({ code: 'custom', path: ['mlpKinds'], message: `has ${a.mlpKinds.length} entries for ${a.numLayers} layers` });
    }
    if (a.numAttentionHeads % a.numKeyValueHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numKeyValueHeads'], message: 'must divide num_attention_heads' });
    }
    if (a.mlpKinds.includes('moe') && !a.moe) ctx.addIssue({ code: 'custom', path: ['moe'], message: 'MoE layers need an expert config' });
    if (a.mlpKinds.includes('dense') && a.denseIntermediateSize === 0) {
      ctx.addIssue({ code: 'custom', path: ['denseIntermediateSize'], message: 'dense layers need intermediate_size' });
    }
  });
export type ModelArchitecture = z.infer<typeof ModelArchitecture>;

/** A user's value as an error may echo it: one line, and short. */

/** A name that is neither a shipped model nor a readable config.json path. */
export class UnknownModelError extends Error {
  override readonly name = FAILURE_TYPES.unknownModel;
  readonly field = 'model';
  constructor(
    readonly model: string,
    known: readonly string[],
  ) {
    super(`model: unknown model "${echo(model)}" (known: ${known.join(', ')}; or a path to a HF config.json)`);
  }
}

/** A config.json that is unreadable, of an unsupported family, or missing a field physics needs. */
export class InvalidModelConfigError extends Error {
  override readonly name = FAILURE_TYPES.invalidModelConfig;
  constructor(
    readonly source: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`model "${source}": config.${field}: ${reason}`);
  }
}
