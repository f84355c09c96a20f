// What compile says about one recipe on one target: exact parameter and byte counts, whether it
// fits, how fast it can decode, and machine-readable reasons why it cannot run there.
import { z } from 'zod';
import { Deployment } from './deployment.js';
import { ModelFamily } from './model-config.js';
import { ModuleRole } from './recipe.js';
import { CheckpointFormat, ServingStackId } from './serving-stack.js';

/**
 * not-servable: the target's serving stack has no kernel or format for it (detail names the rule and its source).
 * too-few-experts: the recipe's expert pruning or merging leaves fewer experts than the router picks per token.
 */
export const VIOLATION_CODES = ['does-not-fit', 'kernel-unsupported', 'not-servable', 'shard-shape', 'too-few-experts'] as const;
export const ViolationCode = z.enum(VIOLATION_CODES);
export type ViolationCode = z.infer<typeof ViolationCode>;

export const Violation = z
  .object({
    code: ViolationCode,
    /** One line for people. */
    message: z.string(),
    /** The module role at fault, when one is. */
    role: ModuleRole.optional(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  })
  .strict();
export type Violation = z.infer<typeof Violation>;

/** A number for every module role (0 where the model has none). */
export const PerRole = z.record(ModuleRole, z.number());
export type PerRole = z.infer<typeof PerRole>;

const bytes = z.number().int().nonnegative();

export const WeightByteBreakdown = z
  .object({
    /** Packed integer / fp8 codes. */
    codes: bytes,
    /** Scales: fp16 (int and fp8 grids; AWQ per-input-channel scales too); a compressed-tensors checkpoint stores them as fp32 and adds each module's int64 weight_shape. */
    scales: bytes,
    /** Packed b-bit zero points (asymmetric int grids). */
    zeros: bytes,
    /** Outliers as COO pairs: int32 flat index + fp16 value. */
    outliers: bytes,
    /** Unquantized bf16 tensors: 16-bit modules, biases, norms. */
    bf16: bytes,
  })
  .strict();
export type WeightByteBreakdown = z.infer<typeof WeightByteBreakdown>;

export const OverheadComponent = z.object({ name: z.string(), bytesPerGpu: bytes, note: z.string() }).strict();
export type OverheadComponent = z.infer<typeof OverheadComponent>;

export const StageMemory = z
  .object({
    stage: z.number().int().nonnegative(),
    /** Decoder layers [firstLayer, endLayer) held by this stage. */
    firstLayer: z.number().int().nonnegative(),
    endLayer: z.number().int().nonnegative(),
    weightBytes: bytes,
    kvBytes: bytes,
    overheadBytes: bytes,
    totalBytes: bytes,
  })
  .strict();
export type StageMemory = z.infer<typeof StageMemory>;

export const KernelUse = z.object({ role: ModuleRole, kernel: z.string(), modules: z.number().int().positive() }).strict();
export type KernelUse = z.infer<typeof KernelUse>;

export const DecodeEstimate = z
  .object({
    tokensPerSecond: z.number().nonnegative(),
    /** Seconds per decode step (one token for every sequence of the batch). */
    stepSeconds: z.number().nonnegative(),
    memorySeconds: z.number().nonnegative(),
    computeSeconds: z.number().nonnegative(),
    commSeconds: z.number().nonnegative(),
    /** Per GPU, summed over pipeline stages. */
    bytesPerStep: z.number().nonnegative(),
    flopsPerStep: z.number().nonnegative(),
    boundBy: z.enum(['memory', 'compute']),
  })
  .strict();
export type DecodeEstimate = z.infer<typeof DecodeEstimate>;

export const CompileReport = z
  .object({
    model: z.object({ name: z.string(), family: ModelFamily, numLayers: z.number().int(), numExperts: z.number().int() }).strict(),
    hardware: z.object({ id: z.string(), name: z.string(), sm: z.number().int() }).strict(),
    deployment: Deployment,
    pipelineStages: z.number().int().positive(),
    recipe: z.string(),
    /** The serving stack checked; a research-only stack (reference) serves designs no real engine does. */
    stack: z.object({ id: ServingStackId, version: z.string(), researchOnly: z.boolean(), checkpoint: CheckpointFormat }).strict(),
    parameters: z.object({ byRole: PerRole, norms: z.number().int(), total: z.number().int() }).strict(),
    modules: z.object({ byRole: PerRole, total: z.number().int() }).strict(),
    /** Bytes in GPU memory as the stack holds the weights: what must fit. */
    weightBytes: z
      .object({ byRole: PerRole, norms: bytes, total: bytes, bf16Total: bytes, breakdown: WeightByteBreakdown })
      .strict(),
    /** Bytes of the same weights in the checkpoint file (compressed-tensors widens int-grid scales to fp32 there). */
    checkpointBytes: z.object({ format: CheckpointFormat, byRole: PerRole, norms: bytes, total: bytes }).strict(),
    /**
     * The recipe's KV policy (a label, schema/kv-policy.ts), whole-model bytes per token of one
     * sequence far from the windows (quantized elements, scales and zeros), and whole-model bytes at
     * the deployment's context and batch (bf16 windows, KIVI residuals and per-layer fp8 scales
     * included); bands: runs of layers that cache alike.
     */
    kvCache: z
      .object({
        policy: z.string(),
        bytesPerToken: z.number().nonnegative(),
        totalBytes: bytes,
        bands: z.array(z.object({ firstLayer: z.number().int(), endLayer: z.number().int(), policy: z.string(), bytesPerToken: z.number().nonnegative() }).strict()),
      })
      .strict(),
    overhead: z.object({ components: z.array(OverheadComponent), bytesPerGpu: bytes }).strict(),
    stages: z.array(StageMemory),
    /** The fullest GPU. */
    perGpu: z
      .object({ weightBytes: bytes, kvBytes: bytes, overheadBytes: bytes, totalBytes: bytes, capacityBytes: bytes, headroomBytes: z.number().int() })
      .strict(),
    fits: z.boolean(),
    reduction: z
      .object({
        /** 1 − weight bytes / bf16 weight bytes. */
        weights: z.number(),
        /** 1 − (weights + KV + overhead on all GPUs) / the same with bf16 weights and a bf16 KV cache. */
        total: z.number(),
      })
      .strict(),
    decode: DecodeEstimate,
    kernels: z.array(KernelUse),
    violations: z.array(Violation),
    notes: z.array(z.string()),
  })
  .strict();
export type CompileReport = z.infer<typeof CompileReport>;
