import test from 'ava';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';
import { linear } from '../science/kernels/matmul.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { HadamardRotation, hadamardBlockSize } from '../science/quantization/hadamard.js';
import { fromFp16Bits, roundFp16 } from '../science/quantization/half.js';
import { layerOutputError } from '../science/quantization/output-error.js';
import { selectOutliers } from '../science/quantization/outliers.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize, type QuantizedLinear } from '../science/quantization/quantized-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';

const OUT = 96;
const IN = 256;
const dist = new SyntheticInputs(IN, 31);
const w = syntheticWeight(OUT, IN, 32);
const calib = dist.sample(1024, 33);
const heldOut = dist.sample(512, 34);
let statsPromise: Promise<CalibrationStats> | null = null;
function stats(): Promise<CalibrationStats> {
  statsPromise ??= (async () => {
    const s = new CalibrationStats(IN);
    await s.addRows(calib, 1024);
    return s;
  })();
  return statsPromise;
}
const quantize = async (spec: QuantSpecInput): Promise<QuantizedLinear> => quantizeLinear(w, OUT, IN, await stats(), QuantSpec.parse(spec));
const heldOutError = (q: QuantizedLinear): Promise<number> => layerOutputError(heldOut, 512, w, dequantize(q), OUT, IN);
const outliers = { fraction: 0.01, criterion: 'activation-weighted' } as const;

for (const method of [{ kind: 'rtn' }, { kind: 'gptq' }, { kind: 'awq' }] as const) {
  test(`${method.kind}: 1% outliers lower the output error at 3 bits and are kept exactly`, async (t) => {
    const plain = await quantize({ bits: 3, method });
    const withOutliers = await quantize({ bits: 3, method, outliers });
    const [e0, e1] = [await heldOutError(plain), await heldOutError(withOutliers)];
    t.log(`held-out error: none ${e0.toExponential(3)}, 1% outliers ${e1.toExponential(3)}`);
    t.true(e1 < e0);
    const idx = withOutliers.outlierIndex;
    const val = withOutliers.outlierValue;
    if (!idx || !val) return t.fail('no outliers stored');
    t.is(idx.length, Math.round(0.01 * OUT * IN));
    for (let k = 1; k < idx.length; k++) t.true(idx[k] > idx[k - 1]);
    const deq = dequantize(withOutliers);
    for (let k = 0; k < idx.length; k++) {
      t.is(deq[idx[k]], fromFp16Bits(val[k]));
      // RTN and AWQ keep the weight itself; GPTQ keeps its error-compensated value.
      if (method.kind !== 'gptq') t.is(deq[idx[k]], roundFp16(w[idx[k]]));
    }
    // Outliers are left out of the grids, so no group's range can grow.
    if (method.kind === 'rtn') for (let i = 0; i < plain.scales.length; i++) t.true(fromFp16Bits(withOutliers.scales[i]) <= fromFp16Bits(plain.scales[i]));
  });
}

test('activation-weighted selection prefers high-rms input channels over plain magnitude', async (t) => {
  const rms = (await stats()).rms();
  const meanRms = (idx: Int32Array): number => idx.reduce((s, i) => s + rms[i % IN], 0) / idx.length;
  const aw = selectOutliers(w, OUT, IN, { fraction: 0.02, criterion: 'activation-weighted' }, rms);
  const mag = selectOutliers(w, OUT, IN, { fraction: 0.02, criterion: 'magnitude' }, null);
  t.true(meanRms(aw.indices) > meanRms(mag.indices));
  const k = Math.round(0.02 * OUT * IN);
  t.is(mag.indices.length, k);
  // Magnitude outliers are exactly the k largest |w|.
  const cut = Float64Array.from(w, Math.abs).sort()[OUT * IN - k];
  for (const i of mag.indices) t.true(Math.abs(w[i]) >= cut);
  t.throws(() => selectOutliers(w, OUT, IN, { fraction: 0.02, criterion: 'activation-weighted' }, null));
});

for (const n of [256, 768, 96, 5]) {
  test(`Hadamard rotation of size ${n} is orthogonal (R·Rᵀ = I) with blocks of ${hadamardBlockSize(n)}`, async (t) => {
    const rot = new HadamardRotation(n, 7);
    const r = new Float32Array(n * n);
    for (let i = 0; i < n; i++) r[i * n + i] = 1;
    rot.rotateRows(r, n); // row i is e_i·R
    const rrt = await linear(r, r, n, n, n);
    let worst = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(rrt[i * n + j] - (i === j ? 1 : 0)));
    t.true(worst < 1e-5, `max |R·Rᵀ − I| = ${worst}`);
    const b = hadamardBlockSize(n);
    for (let i = 0; i < n; i += 17) for (let j = 0; j < n; j++) if (Math.floor(i / b) !== Math.floor(j / b)) t.true(r[i * n + j] === 0);
    const x = Float64Array.from({ length: 3 * n }, (_, i) => Math.sin(i));
    const y = rot.unrotateRows(rot.rotateRows(x.slice(), 3), 3);
    for (let i = 0; i < x.length; i++) t.true(Math.abs(y[i] - x[i]) < 1e-12);
  });
}

test('rotated statistics equal the statistics of rotated inputs', async (t) => {
  const rot = new HadamardRotation(IN, 3);
  const s = await stats();
  const direct = new CalibrationStats(IN);
  await direct.addRows(rot.rotateRows(calib.slice(), 1024), 1024);
  const rotated = rot.rotateStats(s);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < direct.hessian.length; i++) {
    worst = Math.max(worst, Math.abs(rotated.hessian[i] - direct.hessian[i]));
    scale = Math.max(scale, Math.abs(direct.hessian[i]));
  }
  t.true(worst < 1e-5 * scale, `H differs by ${worst} (scale ${scale})`);
  for (let j = 0; j < IN; j++) t.true(Math.abs(rotated.sqSum[j] - direct.sqSum[j]) < 1e-5 * direct.sqSum[j]);
  const expected = rot.rotateRows(s.samples(), s.sampleCount);
  const got = rotated.samples();
  for (let i = 0; i < got.length; i++) t.true(Math.abs(got[i] - expected[i]) < 1e-6);
  t.is(rotated.count, s.count);
});

test('rotation does not break dequantization: w8 is near-exact and every method still works rotated', async (t) => {
  const rotation = { kind: 'hadamard', seed: 5 } as const;
  const w8 = dequantize(await quantize({ bits: 8, rotation }));
  let num = 0;
  let den = 0;
  for (let i = 0; i < w.length; i++) {
    num += (w8[i] - w[i]) ** 2;
    den += w[i] ** 2;
  }
  t.true(num / den < 1e-4, `relative weight error ${num / den}`);
  const q = await quantize({ bits: 4, rotation });
  t.is(q.rotationSeed, 5);
  const errors: Record<string, number> = {};
  for (const method of [{ kind: 'rtn' }, { kind: 'gptq' }, { kind: 'awq' }] as const) {
    errors[method.kind] = await heldOutError(await quantize({ bits: 3, method, rotation }));
    errors[`${method.kind} unrotated`] = await heldOutError(await quantize({ bits: 3, method }));
  }
  t.log(Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(3)}`).join(', '));
  t.true(errors.gptq < errors.rtn && errors.awq < errors.rtn);
  // Rotation spreads heavy weight columns: RTN should not get worse.
  t.true(errors.rtn < 1.2 * errors['rtn unrotated']);
});
