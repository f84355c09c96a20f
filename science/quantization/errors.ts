// Typed failures of a layer quantization, so callers can tell "no data for this layer"
// (e.g. an MoE expert never routed during calibration) from "the numbers blew up".
import { FAILURE_TYPES } from '../../schema/failures.js';

/** A calibration-based method (or activation-weighted outliers) got no calibration rows. */
export class MissingCalibrationError extends Error {
  override readonly name = FAILURE_TYPES.missingCalibration;
  constructor(
    readonly needs: string,
    readonly label: string | undefined,
    got: string,
  ) {
    super(`${needs} needs calibration activations${label ? ` for ${label}` : ''} but got ${got}`);
  }
}

/** A scale, code, stored value or dequantized weight is NaN or infinite. */
export class NonFiniteQuantizationError extends Error {
  override readonly name = FAILURE_TYPES.nonFiniteQuantization;
  constructor(
    readonly where: string,
    readonly index: number,
    readonly label?: string,
  ) {
    super(`non-finite value in ${where} at index ${index}${label ? ` of ${label}` : ''}`);
  }
}

/** GPTQ's dampened Hessian stayed non positive definite even after raising the dampening. */
export class HessianNotPositiveDefiniteError extends Error {
  override readonly name = FAILURE_TYPES.hessianNotPositiveDefinite;
  constructor(
    readonly damp: number,
    readonly label?: string,
  ) {
    super(`Hessian is not positive definite even with damp ${damp}${label ? ` for ${label}` : ''}`);
  }
}
