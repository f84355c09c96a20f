// Typed failures of the executor that decide whether Temporal retries.
import { FAILURE_TYPES } from '../../schema/failures.js';

/** The candidate's working set does not fit the device: retrying on the same class cannot help. */
export class OutOfDeviceMemoryError extends Error {
  override readonly name = FAILURE_TYPES.outOfMemory;
}

/** The quantized artifact a task refers to is not on this worker's disk. */
export class ArtifactMissingError extends Error {
  override readonly name = FAILURE_TYPES.artifactMissing;
}

// ---- The torch executor's failures (by the errorType of its error message, or of its death).

/** A checkpoint tensor is missing, unexpected or mis-shaped, or its config names no known architecture. */
export class InvalidCheckpointError extends Error {
  override readonly name = FAILURE_TYPES.invalidCheckpoint;
}

/** The executor refused its request as invalid. */
export class InvalidExecutorRequestError extends Error {
  override readonly name = FAILURE_TYPES.invalidExecutorRequest;
}

/** The recipe needs a method or transform the torch executor does not implement. */
export class UnsupportedRecipeError extends Error {
  override readonly name = FAILURE_TYPES.unsupportedRecipe;
}

/** A checkpoint request reached a worker that has no torch executor. */
export class UnsupportedModelError extends Error {
  override readonly name = FAILURE_TYPES.unsupportedModel;
}

/** NaN or Inf in the executor's weights, activations or logits. */
export class ExecutorNonFiniteError extends Error {
  override readonly name = FAILURE_TYPES.nonFiniteQuantization;
}

/** A calibration or evaluation text file is missing, empty, a directory or not UTF-8. */
export class ExecutorInputFileError extends Error {
  override readonly name = FAILURE_TYPES.inputFile;
}

/** A CUDA runtime error: retryable, a fresh process gets a fresh context. */
export class CudaError extends Error {
  override readonly name = FAILURE_TYPES.cudaError;
}

/** The executor process died without saying why (the message carries its stderr tail): retryable. */
export class ExecutorCrashError extends Error {
  override readonly name = FAILURE_TYPES.executorCrash;
}

/** The executor wrote a line that is no valid message, or a result of the wrong shape: retryable. */
export class ExecutorProtocolError extends Error {
  override readonly name = FAILURE_TYPES.executorProtocol;
}
