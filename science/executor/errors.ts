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
