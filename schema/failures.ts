// The one list of error names that cross a boundary by name: Temporal matches them against retry
// policies (ApplicationFailure types) and the CLI maps them to exit code 2. Every error class sets
// `name` from here and every policy lists names from here, so a typo fails the type check instead of
// silently making an error retryable (test/failures.test.ts checks the classes against this list).

export const FAILURE_TYPES = {
  // The GPU worker's executor.
  outOfMemory: 'GpuOutOfMemory',
  artifactMissing: 'ArtifactMissing',
  transient: 'TransientFault',
  // The torch executor (python/evoquant_torch), by the errorType of its fd-3 error message.
  /** A checkpoint tensor is missing, unexpected or mis-shaped, or its config is unknown. */
  invalidCheckpoint: 'InvalidCheckpoint',
  /** The executor refused its request as invalid (a bug of the caller: never retried). */
  invalidExecutorRequest: 'InvalidRequest',
  /** The recipe asks for a method or transform the torch executor does not implement. */
  unsupportedRecipe: 'UnsupportedRecipe',
  /** A checkpoint request reached a worker without a torch executor. */
  unsupportedModel: 'UnsupportedModel',
  /** A CUDA / accelerator runtime error: retried on a fresh process. */
  cudaError: 'CudaError',
  /** The executor process died without a result or error message: retried. */
  executorCrash: 'ExecutorCrash',
  /** The executor wrote something that is not a valid message: retried (a crash mid-line looks so). */
  executorProtocol: 'ExecutorProtocolError',
  // A layer quantization.
  missingCalibration: 'MissingCalibrationError',
  nonFiniteQuantization: 'NonFiniteQuantizationError',
  hessianNotPositiveDefinite: 'HessianNotPositiveDefiniteError',
  // Bad input, wherever it is found.
  invalidRecipe: 'InvalidRecipe',
  unknownModel: 'UnknownModel',
  unknownHardware: 'UnknownHardware',
  invalidModelConfig: 'InvalidModelConfig',
  invalidDeployment: 'InvalidDeployment',
  modelLoad: 'ModelLoadError',
  safetensorsFormat: 'SafetensorsFormatError',
  inputFile: 'InputFileError',
  forbiddenKey: 'ForbiddenKeyError',
  unsafeOutput: 'UnsafeOutputError',
  /** export: the stack's table refuses the recipe, or the format cannot express it. */
  exportRefused: 'ExportRefusedError',
  /** No servable bit allocation fits the memory budget asked for. */
  infeasibleBudget: 'InfeasibleBudgetError',
  /** The shipped seed graph of innovations (evolution/knowledge/innovations) breaks its schema or its rules. */
  invalidInnovationSeed: 'InvalidInnovationSeedError',
  /** zod's own error (an activity payload that fails its schema). */
  zod: 'ZodError',
  // The engine's client and the CLI.
  usage: 'UsageError',
  invalidConfig: 'InvalidConfigError',
  unknownEvolution: 'UnknownEvolutionError',
  engineRequest: 'EngineRequestError',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

const DECLARED: ReadonlySet<string> = new Set(Object.values(FAILURE_TYPES));

export function isFailureType(name: string): name is FailureType {
  return DECLARED.has(name);
}

/** A mutable copy for Temporal's `RetryPolicy.nonRetryableErrorTypes` (typed names only). */
export function nonRetryable(...types: readonly FailureType[]): FailureType[] {
  return [...types];
}

/** Control activities: a retry cannot fix a bad recipe, unknown model or hardware, or an invalid payload. */
export const CONTROL_FINAL_FAILURES: readonly FailureType[] = [
  FAILURE_TYPES.invalidRecipe,
  FAILURE_TYPES.unknownModel,
  FAILURE_TYPES.unknownHardware,
  FAILURE_TYPES.invalidModelConfig,
  FAILURE_TYPES.invalidDeployment,
  FAILURE_TYPES.invalidInnovationSeed,
  FAILURE_TYPES.zod,
];

/** GPU activities: the device is too small for the candidate, or the recipe cannot work. */
export const GPU_FINAL_FAILURES: readonly FailureType[] = [FAILURE_TYPES.outOfMemory, FAILURE_TYPES.invalidRecipe];

/**
 * Executor errors that are deterministic given the candidate: the GPU activity raises them as
 * non-retryable failures of the same type (another attempt would fail the same way).
 */
export const EXECUTOR_FINAL_FAILURES: readonly FailureType[] = [
  FAILURE_TYPES.outOfMemory,
  FAILURE_TYPES.artifactMissing,
  FAILURE_TYPES.invalidRecipe,
  FAILURE_TYPES.missingCalibration,
  FAILURE_TYPES.nonFiniteQuantization,
  FAILURE_TYPES.hessianNotPositiveDefinite,
  FAILURE_TYPES.invalidCheckpoint,
  FAILURE_TYPES.invalidExecutorRequest,
  FAILURE_TYPES.unsupportedRecipe,
  FAILURE_TYPES.unsupportedModel,
  FAILURE_TYPES.inputFile,
];

/** Errors that mean "the input was wrong": the CLI prints one line and exits 2. */
export const BAD_INPUT_FAILURES: readonly FailureType[] = [
  FAILURE_TYPES.usage,
  FAILURE_TYPES.invalidRecipe,
  FAILURE_TYPES.modelLoad,
  FAILURE_TYPES.invalidCheckpoint,
  FAILURE_TYPES.safetensorsFormat,
  FAILURE_TYPES.inputFile,
  FAILURE_TYPES.forbiddenKey,
  FAILURE_TYPES.unsafeOutput,
  FAILURE_TYPES.exportRefused,
  FAILURE_TYPES.infeasibleBudget,
  FAILURE_TYPES.unknownModel,
  FAILURE_TYPES.unknownHardware,
  FAILURE_TYPES.invalidModelConfig,
  FAILURE_TYPES.invalidDeployment,
  FAILURE_TYPES.missingCalibration,
  FAILURE_TYPES.invalidConfig,
  FAILURE_TYPES.unknownEvolution,
  FAILURE_TYPES.engineRequest,
];
