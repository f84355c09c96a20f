// Public surface of the per-linear-layer quantizers.
export { CalibrationStats, DEFAULT_MAX_SAMPLES, type CalibrationStatsOptions, type CalibrationStatsParts } from './calibration-stats.js';
export { MissingCalibrationError, NonFiniteQuantizationError, HessianNotPositiveDefiniteError } from './errors.js';
export { HadamardRotation, hadamardBlockSize } from './hadamard.js';
export { quantizeLinear, type QuantizeLinearOptions } from './quantize-linear.js';
export { dequantize, storedBytes, isPassthrough, type QuantizedLinear } from './quantized-linear.js';
export { packCodes, unpackCodes, packedLength } from './packing.js';
export { encodeE4m3, decodeE4m3, E4M3_MAX } from './fp8.js';
export { groupCount, groupWidth } from './grid.js';
export { layerOutputError } from './output-error.js';
export { SyntheticInputs, syntheticWeight } from './synthetic.js';
