// One entry point per linear layer: rotation → outlier selection → the spec's method → the
// stored form, with every produced number checked for finiteness.
import { autoRoundLearningRate, QuantSpec } from '../../schema/recipe.js';
import { autoRoundQuantize } from './autoround.js';
import { awqQuantize } from './awq.js';
import type { CalibrationStats } from './calibration-stats.js';
import { MissingCalibrationError, NonFiniteQuantizationError } from './errors.js';
import { fp8Quantize } from './fp8.js';
import { gptqQuantize } from './gptq.js';
import type { GroupedCodes } from './grid.js';
import { HadamardRotation } from './hadamard.js';
import { toBf16Bits, toFp16Bits } from './half.js';
import { selectOutliers, type OutlierSelection } from './outliers.js';
import { packCodes } from './packing.js';
import { dequantize, type QuantizedLinear } from './quantized-linear.js';
import { rtnQuantize } from './rtn.js';

export interface QuantizeLinearOptions {
  onProgress?(done: number, total: number): void;
  /** Names the layer in error messages (e.g. "layers.3.mlp.experts.17.down_proj"). */
  label?: string;
  /**
   * AWQ only: fp16 bits of an s searched jointly with the other modules of a shared input (in the
   * rotated basis when the spec rotates); the module then searches only its clipping.
   */
  sharedChannelScales?: Uint16Array;
}

/** What a method quantizes: the weight in its working basis, its calibration there, its outliers. */
export interface PreparedLinear {
  w: Float32Array;
  calib: CalibrationStats | null;
  outliers: OutlierSelection | null;
}

/**
 * Checks the calibration a spec needs, rotates the weight and (consistently) its inputs' statistics,
 * and selects the outliers: the common prelude of every method, shared with the joint AWQ search.
 */
export function prepareLinear(weight: Float32Array, outFeatures: number, inFeatures: number, stats: CalibrationStats | null, spec: QuantSpec, label?: string): PreparedLinear {
  let calib = requireStats(spec, stats, inFeatures, label);
  let w = weight;
  if (spec.rotation) {
    const rotation = new HadamardRotation(inFeatures, spec.rotation.seed, spec.rotation.blockSize);
    w = rotation.rotateRows(weight.slice(), outFeatures);
    if (calib && calib.count > 0) calib = rotation.rotateStats(calib);
  }
  let outliers: OutlierSelection | null = null;
  if (spec.outliers) {
    const rms = spec.outliers.criterion === 'activation-weighted' && calib ? calib.rms() : null;
    outliers = selectOutliers(w, outFeatures, inFeatures, spec.outliers, rms);
  }
  return { w, calib, outliers };
}

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** fp16 bit patterns with an all-ones exponent are inf or NaN. */
function firstNonFiniteFp16(a: Uint16Array): number {
  for (let i = 0; i < a.length; i++) if ((a[i] & 0x7c00) === 0x7c00) return i;
  return -1;
}

function checkFinite(where: string, index: number, label: string | undefined): void {
  if (index >= 0) throw new NonFiniteQuantizationError(where, index, label);
}

function passthrough(weight: Float32Array, outFeatures: number, inFeatures: number, spec: QuantSpec): QuantizedLinear {
  const codes = new Uint8Array(2 * weight.length);
  for (let i = 0; i < weight.length; i++) {
    const h = toBf16Bits(weight[i]);
    codes[2 * i] = h & 0xff;
    codes[2 * i + 1] = h >>> 8;
  }
  return { outFeatures, inFeatures, spec, codes, scales: new Uint16Array(0) };
}

const METHOD_NAME: Record<Exclude<QuantSpec['method']['kind'], 'rtn'>, string> = { gptq: 'GPTQ', awq: 'AWQ', autoround: 'AutoRound' };

/** The calibration a spec needs, or why it cannot run. */
function requireStats(spec: QuantSpec, stats: CalibrationStats | null, inFeatures: number, label: string | undefined): CalibrationStats | null {
  const needs = spec.method.kind !== 'rtn' ? METHOD_NAME[spec.method.kind] : spec.outliers?.criterion === 'activation-weighted' ? 'activation-weighted outlier selection' : null;
  if (stats && stats.inFeatures !== inFeatures) throw new RangeError(`calibration stats have ${stats.inFeatures} input features, the layer ${inFeatures}`);
  if (!needs) return stats;
  if (!stats) throw new MissingCalibrationError(needs, label, 'none');
  if (stats.count === 0) throw new MissingCalibrationError(needs, label, 'zero rows');
  if (spec.method.kind === 'awq' && stats.sampleCount === 0) throw new MissingCalibrationError(needs, label, 'no sampled rows');
  checkFinite('calibration hessian', firstNonFinite(stats.hessian), label);
  checkFinite('calibration mean |x|', firstNonFinite(stats.absSum), label);
  return stats;
}

/**
 * Quantizes weight [out, in] (row-major, as a torch linear stores it) under `spec`.
 * Throws MissingCalibrationError when GPTQ/AWQ/AutoRound/activation-weighted outliers get no activations,
 * NonFiniteQuantizationError on any NaN/Inf in the weight, calibration, scales or result.
 */
export async function quantizeLinear(
  weight: Float32Array,
  outFeatures: number,
  inFeatures: number,
  stats: CalibrationStats | null,
  specInput: QuantSpec,
  opts: QuantizeLinearOptions = {},
): Promise<QuantizedLinear> {
  const { label } = opts;
  if (weight.length !== outFeatures * inFeatures) throw new RangeError(`weight has ${weight.length} values, expected ${outFeatures}×${inFeatures}`);
  const spec = QuantSpec.parse(specInput);
  checkFinite('weight', firstNonFinite(weight), label);
  if (spec.bits === 16) {
    const q = passthrough(weight, outFeatures, inFeatures, spec);
    checkFinite('dequantized weight', firstNonFinite(dequantize(q)), label);
    opts.onProgress?.(1, 1);
    return q;
  }
  // Everything below runs on W·R (the rotated weight) and the inputs' statistics in that basis.
  const { w, calib, outliers } = prepareLinear(weight, outFeatures, inFeatures, stats, spec, label);
  if (opts.sharedChannelScales && !(spec.method.kind === 'awq' && spec.format === 'int')) throw new RangeError(`shared AWQ channel scales given for a ${spec.format} ${spec.method.kind} spec`);
  const mask = outliers?.mask ?? null;
  const grid = { bits: spec.bits, groupSize: spec.groupSize, symmetric: spec.symmetric };

  let result: GroupedCodes;
  let channelScales: Uint16Array | undefined;
  let outlierValues: Map<number, number> | null = null;
  const method = spec.method;
  if (spec.format === 'fp8') {
    result = fp8Quantize(w, outFeatures, inFeatures, spec.groupSize, mask);
    opts.onProgress?.(1, 1);
  } else if (method.kind === 'rtn') {
    result = rtnQuantize(w, outFeatures, inFeatures, grid, { outlierMask: mask });
    opts.onProgress?.(1, 1);
  } else if (method.kind === 'gptq' && calib) {
    const g = await gptqQuantize(w, outFeatures, inFeatures, calib, { ...grid, ...method, outlierMask: mask, onProgress: opts.onProgress, label });
    result = g;
    outlierValues = g.outlierValues;
  } else if (method.kind === 'awq' && calib) {
    const a = await awqQuantize(w, outFeatures, inFeatures, { meanAbs: calib.meanAbs(), samples: calib.samples(), rows: calib.sampleCount }, {
      ...grid,
      ...method,
      outlierMask: mask,
      onProgress: opts.onProgress,
      channelScales: opts.sharedChannelScales,
    });
    result = a;
    channelScales = a.channelScales;
  } else if (method.kind === 'autoround' && calib) {
    result = autoRoundQuantize(w, outFeatures, inFeatures, calib, {
      ...grid,
      iterations: method.iterations,
      learningRate: autoRoundLearningRate(method),
      minMax: method.minMax,
      outlierMask: mask,
      onProgress: opts.onProgress,
    });
  } else {
    throw new Error(`unreachable: ${method.kind} without calibration`);
  }

  const fp8 = spec.format === 'fp8';
  const q: QuantizedLinear = {
    outFeatures,
    inFeatures,
    spec,
    codes: packCodes(result.codes, fp8 ? 8 : spec.bits),
    scales: result.scales,
  };
  if (result.zeros) q.zeros = packCodes(result.zeros, spec.bits);
  if (channelScales) q.channelScales = channelScales;
  if (outliers) {
    q.outlierIndex = outliers.indices;
    // GPTQ keeps each outlier's error-compensated value; the others keep the weight as given.
    q.outlierValue = Uint16Array.from(outliers.indices, (i) => outlierValues?.get(i) ?? toFp16Bits(w[i]));
  }
  if (spec.rotation) q.rotationSeed = spec.rotation.seed;

  checkFinite('scales', firstNonFiniteFp16(q.scales), label);
  if (q.channelScales) checkFinite('AWQ channel scales', firstNonFiniteFp16(q.channelScales), label);
  if (q.outlierValue) checkFinite('outlier values', firstNonFiniteFp16(q.outlierValue), label);
  if (fp8) checkFinite('fp8 codes', result.codes.findIndex((c) => (c & 0x7f) === 0x7f), label);
  checkFinite('dequantized weight', firstNonFinite(dequantize(q)), label);
  return q;
}
