// The torch executor's protocol (python/evoquant_torch, TORCH-CONTRACT.md): the requests the
// TypeScript side writes on its stdin, and the JSON-line messages it reads back from fd 3. Every
// message is validated here, so a Python bug surfaces as a typed protocol error, never as a
// half-read result recorded as a measurement.
import { z } from 'zod';
import { KvPolicy } from './kv-policy.js';
import { ModuleRole, WeightBits } from './recipe.js';

/** Linux's PATH_MAX: no real path is longer. */
const PATH_MAX = 4096;
const AbsolutePath = z.string().min(1).max(PATH_MAX).startsWith('/', 'paths sent to the executor are absolute');
const Count = z.number().int().nonnegative();
const Finite = z.number().finite();

export const TorchDevice = z.enum(['cpu', 'cuda']);
export type TorchDevice = z.infer<typeof TorchDevice>;

export const CalibrationMode = z.enum(['sequential', 'original']);
export type CalibrationMode = z.infer<typeof CalibrationMode>;

/**
 * A real Hugging Face checkpoint an evolution measures its candidates on (a fidelity step after
 * the proxy). Text files: absent means the shipped default (Brown train / held-out).
 */
export const CheckpointModel = z
  .object({
    checkpoint: z.string().min(1).max(PATH_MAX),
    calibrationText: z.array(z.string().min(1).max(PATH_MAX)).min(1).max(256).optional(),
    evaluationText: z.array(z.string().min(1).max(PATH_MAX)).min(1).max(256).optional(),
    device: TorchDevice.optional(),
    calibrationMode: CalibrationMode.optional(),
  })
  .strict();
export type CheckpointModel = z.infer<typeof CheckpointModel>;

// ---------------------------------------------------------------- requests

export const DescribeRequest = z.object({ kind: z.literal('describe'), checkpoint: AbsolutePath }).strict();
export type DescribeRequest = z.infer<typeof DescribeRequest>;

export const TorchMethod = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rtn') }).strict(),
  z.object({ kind: z.literal('gptq'), damp: Finite, blockSize: z.number().int().positive(), actOrder: z.boolean() }).strict(),
  // AWQ (science/quantization/awq.ts): shared-input scales fold into the norm before the input's readers.
  z
    .object({
      kind: z.literal('awq'),
      scaleGrid: z.number().int().min(2).max(100),
      clip: z.boolean(),
      clipGrid: z.number().int().min(2).max(100),
      maxShrink: Finite.gt(0).lt(1),
      scales: z.literal('shared-input').optional(),
    })
    .strict(),
  // AutoRound (science/quantization/autoround.ts), its step size resolved (autoRoundLearningRate).
  z.object({ kind: z.literal('autoround'), iterations: z.number().int().min(1).max(1000), learningRate: Finite.gt(0).max(0.5), minMax: z.boolean() }).strict(),
]);
export type TorchMethod = z.infer<typeof TorchMethod>;

/** One module's quantization as the executor implements it (a resolved recipe spec, nothing it cannot do). */
export const TorchModuleSpec = z
  .object({
    bits: WeightBits,
    format: z.enum(['int', 'fp8']),
    groupSize: z.union([z.literal(32), z.literal(64), z.literal(128), z.literal(256), z.literal('channel')]),
    symmetric: z.boolean(),
    method: TorchMethod,
  })
  .strict();
export type TorchModuleSpec = z.infer<typeof TorchModuleSpec>;

export const QuantizationPlan = z
  .object({
    recipeName: z.string().min(1),
    recipeHash: z.string().min(1),
    modules: z.record(z.string().min(1), TorchModuleSpec),
  })
  .strict();
export type QuantizationPlan = z.infer<typeof QuantizationPlan>;

export const CalibrationText = z
  .object({
    files: z.array(AbsolutePath).min(1),
    tokens: z.number().int().positive(),
    seq: z.number().int().positive(),
    batch: z.number().int().positive(),
    minTokensPerExpert: Count,
    mode: CalibrationMode,
  })
  .strict();
export type CalibrationText = z.infer<typeof CalibrationText>;

export const TorchQuantizeRequest = z
  .object({
    kind: z.literal('quantize'),
    checkpoint: AbsolutePath,
    output: AbsolutePath,
    plan: QuantizationPlan,
    calibration: CalibrationText,
    device: TorchDevice,
    memoryCapBytes: Count.nullable(),
  })
  .strict();
export type TorchQuantizeRequest = z.infer<typeof TorchQuantizeRequest>;

export const EvaluationText = z
  .object({ files: z.array(AbsolutePath).min(1), tokens: z.number().int().positive(), seq: z.number().int().positive(), batch: z.number().int().positive() })
  .strict();
export type EvaluationText = z.infer<typeof EvaluationText>;

export const TorchEvaluateRequest = z
  .object({
    kind: z.literal('evaluate'),
    model: AbsolutePath,
    reference: AbsolutePath.nullable(),
    text: EvaluationText,
    cacheDir: AbsolutePath,
    device: TorchDevice,
    memoryCapBytes: Count.nullable(),
    /** How the model's KV cache is stored (absent: bf16); the reference is always read without one, so KL includes the cache's cost. */
    kvCache: KvPolicy.optional(),
  })
  .strict();
export type TorchEvaluateRequest = z.infer<typeof TorchEvaluateRequest>;

export const TorchRequest = z.discriminatedUnion('kind', [DescribeRequest, TorchQuantizeRequest, TorchEvaluateRequest]);
export type TorchRequest = z.infer<typeof TorchRequest>;

// ---------------------------------------------------------------- results

export const CheckpointArchitecture = z.enum(['qwen3_moe', 'mixtral', 'llama', 'qwen2']);
export type CheckpointArchitecture = z.infer<typeof CheckpointArchitecture>;

export const DescribedModule = z
  .object({
    name: z.string().min(1),
    role: ModuleRole,
    layer: Count.nullable(),
    expert: Count.nullable(),
    inFeatures: z.number().int().positive(),
    outFeatures: z.number().int().positive(),
  })
  .strict();
export type DescribedModule = z.infer<typeof DescribedModule>;

export const DescribeResult = z
  .object({
    architecture: CheckpointArchitecture,
    numLayers: z.number().int().positive(),
    numExperts: Count,
    expertsPerToken: Count,
    hiddenSize: z.number().int().positive(),
    vocabSize: z.number().int().positive(),
    parameters: Count,
    tokenizer: z.enum(['bytes', 'tokenizer.json']),
    modules: z.array(DescribedModule).min(1),
  })
  .strict();
export type DescribeResult = z.infer<typeof DescribeResult>;

export const TorchQuantizeResult = z
  .object({
    output: AbsolutePath,
    reused: z.boolean(),
    resumedLayers: Count,
    layers: Count,
    storedBytes: Count,
    peakMemoryBytes: Count,
    deviceTotalBytes: Count.nullable(),
    secondsPerLayer: z.array(Finite.nonnegative()),
    routedCounts: z.array(z.array(Count)),
    coverage: z.object({ minRouted: Count, added: Count }).strict(),
  })
  .strict();
export type TorchQuantizeResult = z.infer<typeof TorchQuantizeResult>;

export const TorchEvaluateResult = z
  .object({
    tokens: Count,
    bytes: Count,
    bitsPerByte: Finite.nonnegative(),
    perplexity: Finite.nonnegative(),
    top1: z.number().min(0).max(1),
    klBitsPerToken: Finite.nullable(),
    klBitsPerByte: Finite.nullable(),
    expertFrequency: z.array(z.array(Finite.nonnegative())),
    peakMemoryBytes: Count,
    deviceTotalBytes: Count.nullable(),
    weightBytes: Count,
    lmEval: z.record(z.string(), z.unknown()).nullable(),
  })
  .strict();
export type TorchEvaluateResult = z.infer<typeof TorchEvaluateResult>;

// ---------------------------------------------------------------- messages (fd 3)

export const PROGRESS_STAGES = ['load', 'calibrate', 'quantize', 'write', 'evaluate', 'reference'] as const;
export const ProgressStage = z.enum(PROGRESS_STAGES);
export type ProgressStage = z.infer<typeof ProgressStage>;

export const ProgressMessage = z.object({ type: z.literal('progress'), stage: ProgressStage, done: Count, total: Count }).strict();
export type ProgressMessage = z.infer<typeof ProgressMessage>;

/** The error types the executor may report; anything else is a protocol error. */
export const EXECUTOR_ERROR_TYPES = [
  'InvalidCheckpoint',
  'InvalidRequest',
  'UnsupportedRecipe',
  'GpuOutOfMemory',
  'NonFiniteQuantizationError',
  'CudaError',
  'InputFileError',
] as const;
export const ExecutorErrorType = z.enum(EXECUTOR_ERROR_TYPES);
export type ExecutorErrorType = z.infer<typeof ExecutorErrorType>;

export const ErrorMessage = z.object({ type: z.literal('error'), errorType: ExecutorErrorType, message: z.string(), retryable: z.boolean() }).strict();
export type ErrorMessage = z.infer<typeof ErrorMessage>;

/** The result's own shape is checked per request kind (RESULT_SCHEMAS); here only that it is an object. */
export const ResultMessage = z.object({ type: z.literal('result'), result: z.record(z.string(), z.unknown()) }).strict();
export type ResultMessage = z.infer<typeof ResultMessage>;

export const ExecutorMessage = z.discriminatedUnion('type', [ProgressMessage, ResultMessage, ErrorMessage]);
export type ExecutorMessage = z.infer<typeof ExecutorMessage>;

/** The result a request of each kind answers with. */
export interface TorchResultOf {
  describe: DescribeResult;
  quantize: TorchQuantizeResult;
  evaluate: TorchEvaluateResult;
}

export const RESULT_SCHEMAS = {
  describe: DescribeResult,
  quantize: TorchQuantizeResult,
  evaluate: TorchEvaluateResult,
} as const satisfies { [K in keyof TorchResultOf]: z.ZodType<TorchResultOf[K]> };
