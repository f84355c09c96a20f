import test from 'ava';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { gptqQuantize } from '../science/quantization/gptq.js';
import { dequantizeIntGroups, intGrid, maxCode, quantizeInt, rangeOf } from '../science/quantization/grid.js';
import { layerOutputError } from '../science/quantization/output-error.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize } from '../science/quantization/quantized-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';

const OUT = 64;
const IN = 256;
const dist = new SyntheticInputs(IN, 2);
const w = syntheticWeight(OUT, IN, 1);
const calib = dist.sample(2048, 3);
const heldOut = dist.sample(1024, 4);

async function statsOf(x: Float32Array, rows: number, n: number): Promise<CalibrationStats> {
  const s = new CalibrationStats(n);
  await s.addRows(x, rows);
  return s;
}
let shared: Promise<CalibrationStats> | null = null;
const calibStats = (): Promise<CalibrationStats> => (shared ??= statsOf(calib, 2048, IN));

const errorOf = async (spec: QuantSpecInput, stats: CalibrationStats): Promise<number> =>
  layerOutputError(heldOut, 1024, w, dequantize(await quantizeLinear(w, OUT, IN, stats, QuantSpec.parse(spec))), OUT, IN);

for (const [bits, groupSize] of [[4, 128], [3, 128], [2, 64]] as const) {
  test(`w${bits}g${groupSize}: GPTQ and AWQ beat RTN on held-out output error`, async (t) => {
    const stats = await calibStats();
    const rtn = await errorOf({ bits, groupSize, method: { kind: 'rtn' } }, stats);
    const gptq = await errorOf({ bits, groupSize, method: { kind: 'gptq' } }, stats);
    const awq = await errorOf({ bits, groupSize, method: { kind: 'awq' } }, stats);
    t.log(`‖XWᵀ−XŴᵀ‖² held-out: RTN ${rtn.toExponential(3)}  GPTQ ${gptq.toExponential(3)}  AWQ ${awq.toExponential(3)}`);
    t.true(gptq < 0.6 * rtn, 'GPTQ clearly below RTN');
    t.true(awq < 0.8 * rtn, 'AWQ clearly below RTN');
  });
}

/**
 * Textbook GPTQ/OBQ without any of the speed-ups: after quantizing column j, update the rest with
 * the full inverse Hessian and remove j from it (Frantar et al., eq. 3 and Lemma 1).
 */
function referenceGptq(wIn: Float32Array, out: number, n: number, hSum: Float64Array, count: number, bits: number, gs: number, damp: number): Float64Array {
  const h = Float64Array.from(hSum, (v) => (2 / count) * v);
  const W = Float64Array.from(wIn);
  for (let j = 0; j < n; j++) if (h[j * n + j] === 0) {
    h[j * n + j] = 1;
    for (let r = 0; r < out; r++) W[r * n + j] = 0;
  }
  let mean = 0;
  for (let j = 0; j < n; j++) mean += h[j * n + j] / n;
  for (let j = 0; j < n; j++) h[j * n + j] += damp * mean;
  // Gauss–Jordan inverse.
  const a = Float64Array.from(h);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const p = a[c * n + c];
    for (let k = 0; k < n; k++) { a[c * n + k] /= p; inv[c * n + k] /= p; }
    for (let r = 0; r < n; r++) if (r !== c) {
      const f = a[r * n + c];
      for (let k = 0; k < n; k++) { a[r * n + k] -= f * a[c * n + k]; inv[r * n + k] -= f * inv[c * n + k]; }
    }
  }
  const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => h[y * n + y] - h[x * n + x] || x - y);
  const grids = Array.from({ length: out * (n / gs) }, (_, k) => {
    const r = Math.floor(k / (n / gs));
    const g = k % (n / gs);
    const [mn, mx] = rangeOf(W, r * n + g * gs, r * n + (g + 1) * gs);
    return intGrid(mn, mx, bits, false);
  });
  const Q = new Float64Array(out * n);
  const done = new Uint8Array(n);
  for (const j of order) {
    const d = inv[j * n + j];
    for (let r = 0; r < out; r++) {
      const { scale, zero } = grids[r * (n / gs) + Math.floor(j / gs)];
      const q = (quantizeInt(W[r * n + j], scale, zero, maxCode(bits)) - zero) * scale;
      Q[r * n + j] = q;
      const e = (W[r * n + j] - q) / d;
      for (let k = 0; k < n; k++) if (!done[k] && k !== j) W[r * n + k] -= e * inv[j * n + k];
    }
    done[j] = 1;
    const col = Float64Array.from({ length: n }, (_, k) => inv[k * n + j]);
    for (let x = 0; x < n; x++) for (let y = 0; y < n; y++) inv[x * n + y] -= (col[x] * col[y]) / d;
  }
  return Q;
}

test('GPTQ (Cholesky, lazy blocks, act-order, static groups) matches textbook OBQ-style updates', async (t) => {
  const out = 24;
  const n = 64;
  const d2 = new SyntheticInputs(n, 9);
  const x = d2.sample(512, 10);
  for (let r = 0; r < 512; r++) x[r * n + 5] = 0; // a dead input channel
  const stats = await statsOf(x, 512, n);
  const wl = syntheticWeight(out, n, 12);
  const ref = referenceGptq(wl, out, n, stats.hessian, stats.count, 3, 32, 0.01);
  const g = await gptqQuantize(wl, out, n, stats, { bits: 3, groupSize: 32, symmetric: false, damp: 0.01, blockSize: 16, actOrder: true });
  const ours = dequantizeIntGroups(g, out, n, 3, 32);
  let mismatch = 0;
  for (let i = 0; i < ours.length; i++) if (Math.abs(ours[i] - ref[i]) > 1e-6) mismatch++;
  t.log(`${mismatch} of ${ours.length} differ`);
  t.true(mismatch <= ours.length * 0.01, `${mismatch} of ${ours.length} weights differ from the reference`);
  for (let r = 0; r < out; r++) t.is(ours[r * n + 5], 0); // dead column dropped
});

test('lazy block size changes nothing but rounding', async (t) => {
  const stats = await calibStats();
  const base = { bits: 3, groupSize: 128 as const, symmetric: false, damp: 0.01, actOrder: true };
  const a = await gptqQuantize(w, OUT, IN, stats, { ...base, blockSize: 128 });
  const b = await gptqQuantize(w, OUT, IN, stats, { ...base, blockSize: 7 });
  let diff = 0;
  for (let i = 0; i < a.codes.length; i++) if (a.codes[i] !== b.codes[i]) diff++;
  t.true(diff <= a.codes.length * 0.005, `${diff} codes differ`);
});

test('GPTQ without act-order and symmetric GPTQ also beat RTN; progress is reported', async (t) => {
  const stats = await calibStats();
  const rtn = await errorOf({ bits: 3, groupSize: 64, symmetric: true }, stats);
  const noAct = await errorOf({ bits: 3, groupSize: 64, symmetric: true, method: { kind: 'gptq', actOrder: false } }, stats);
  t.true(noAct < 0.6 * rtn);
  const calls: number[] = [];
  await quantizeLinear(w, OUT, IN, stats, QuantSpec.parse({ bits: 4, method: { kind: 'gptq', blockSize: 64 } }), { onProgress: (d) => calls.push(d) });
  t.deepEqual(calls, [64, 128, 192, 256]);
});

test('quantization is deterministic', async (t) => {
  const stats = await calibStats();
  for (const method of [{ kind: 'gptq' }, { kind: 'awq' }] as const) {
    const spec = QuantSpec.parse({ bits: 3, method });
    const a = await quantizeLinear(w, OUT, IN, stats, spec);
    const b = await quantizeLinear(w, OUT, IN, stats, spec);
    t.deepEqual(a, b);
  }
});
