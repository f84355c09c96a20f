import test from 'ava';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { HessianNotPositiveDefiniteError, MissingCalibrationError, NonFiniteQuantizationError } from '../science/quantization/errors.js';
import { gptqQuantize } from '../science/quantization/gptq.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';

const OUT = 16;
const IN = 64;
const w = syntheticWeight(OUT, IN, 41);
const run = (weight: Float32Array, stats: CalibrationStats | null, spec: QuantSpecInput) =>
  quantizeLinear(weight, OUT, IN, stats, QuantSpec.parse(spec), { label: 'layers.0.mlp.experts.7.down_proj' });

test('calibration-based methods without activations throw MissingCalibrationError', async (t) => {
  const empty = new CalibrationStats(IN); // an expert that was never routed
  for (const spec of [
    { bits: 4, method: { kind: 'gptq' } },
    { bits: 4, method: { kind: 'awq' } },
    { bits: 4, outliers: { fraction: 0.01, criterion: 'activation-weighted' } },
  ] as QuantSpecInput[]) {
    for (const stats of [null, empty]) {
      const err = await t.throwsAsync(() => run(w, stats, spec), { instanceOf: MissingCalibrationError });
      t.false(err?.message.includes('\n'));
      t.true(err?.message.includes('experts.7'));
    }
  }
  // RTN, fp8, magnitude outliers and rotations need no activations.
  for (const spec of [
    { bits: 4 },
    { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true },
    { bits: 3, outliers: { fraction: 0.01, criterion: 'magnitude' }, rotation: { kind: 'hadamard' } },
  ] as QuantSpecInput[]) {
    await t.notThrowsAsync(() => run(w, null, spec));
  }
});

test('NaN or Inf in the weight or the calibration throws NonFiniteQuantizationError', async (t) => {
  const stats = new CalibrationStats(IN);
  await stats.addRows(new SyntheticInputs(IN, 1).sample(256, 2), 256);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const wb = w.slice();
    wb[123] = bad;
    for (const spec of [{ bits: 4 }, { bits: 16 }, { bits: 3, method: { kind: 'gptq' } }, { bits: 8, format: 'fp8', symmetric: true }] as QuantSpecInput[]) {
      const err = await t.throwsAsync(() => run(wb, stats, spec), { instanceOf: NonFiniteQuantizationError });
      t.is(err?.index, 123);
    }
  }
  const poisoned = new CalibrationStats(IN);
  const x = new SyntheticInputs(IN, 1).sample(64, 3);
  x[5] = NaN;
  await poisoned.addRows(x, 64);
  await t.throwsAsync(() => run(w, poisoned, { bits: 4, method: { kind: 'gptq' } }), { instanceOf: NonFiniteQuantizationError });
  await t.throwsAsync(() => run(w, poisoned, { bits: 4, method: { kind: 'awq' } }), { instanceOf: NonFiniteQuantizationError });
});

test('a scale that overflows fp16 throws NonFiniteQuantizationError instead of storing inf', async (t) => {
  const huge = Float32Array.from(w, (v) => v * 1e8); // |w| ~ 1e6: the 4-bit scale exceeds 65504
  const err = await t.throwsAsync(() => run(huge, null, { bits: 4 }), { instanceOf: NonFiniteQuantizationError });
  t.regex(err?.message ?? '', /scales/);
});

test('shape mismatches are programming errors (RangeError)', async (t) => {
  await t.throwsAsync(() => quantizeLinear(w, OUT, IN + 1, null, QuantSpec.parse({ bits: 4 })), { instanceOf: RangeError });
  await t.throwsAsync(() => run(w, new CalibrationStats(IN * 2), { bits: 4 }), { instanceOf: RangeError });
});

test('GPTQ gives up with a typed error when no dampening makes H positive definite', async (t) => {
  const hessian = new Float64Array(IN * IN);
  for (let j = 0; j < IN; j++) hessian[j * IN + j] = j === 0 ? -1e6 : 1; // not a Σxxᵀ: indefinite
  const opts = { bits: 4, groupSize: 32 as const, symmetric: false, damp: 0.01, blockSize: 32, actOrder: true, label: 'bad' };
  const err = await t.throwsAsync(() => gptqQuantize(w, OUT, IN, { hessian, count: 1 }, opts), { instanceOf: HessianNotPositiveDefiniteError });
  t.regex(err?.message ?? '', /not positive definite/);
});
