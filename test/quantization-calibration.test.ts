import test from 'ava';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { SyntheticInputs } from '../science/quantization/synthetic.js';

const N = 48;
const dist = new SyntheticInputs(N, 7);
const x = dist.sample(1500, 8);

function close(t: { true(v: boolean, m?: string): void }, a: ArrayLike<number>, b: ArrayLike<number>, rel: number, what: string): void {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  t.true(worst <= rel * scale, `${what}: max diff ${worst} vs scale ${scale}`);
}

test('accumulates H = Σxxᵀ, Σ|x| and Σx² exactly as a naive loop', async (t) => {
  const s = new CalibrationStats(N);
  await s.addRows(x, 1500);
  const h = new Float64Array(N * N);
  const abs = new Float64Array(N);
  const sq = new Float64Array(N);
  for (let r = 0; r < 1500; r++) {
    for (let i = 0; i < N; i++) {
      const xi = x[r * N + i];
      abs[i] += Math.abs(xi);
      sq[i] += xi * xi;
      for (let j = 0; j < N; j++) h[i * N + j] += xi * x[r * N + j];
    }
  }
  t.is(s.count, 1500);
  close(t, s.hessian, h, 1e-5, 'H');
  close(t, s.absSum, abs, 1e-9, 'Σ|x|');
  close(t, s.sqSum, sq, 1e-9, 'Σx²');
  close(t, s.rms(), Float64Array.from(sq, (v) => Math.sqrt(v / 1500)), 1e-9, 'rms');
});

test('the sample is bounded, deterministic and independent of chunking; merge equals one accumulator', async (t) => {
  const whole = new CalibrationStats(N, { maxSamples: 100 });
  await whole.addRows(x, 1500);
  t.is(whole.sampleCount, 100);

  const chunked = new CalibrationStats(N, { maxSamples: 100 });
  for (let r = 0; r < 1500; r += 250) await chunked.addRows(x.slice(r * N, (r + 250) * N), 250);
  t.deepEqual(chunked.samples(), whole.samples());

  const a = new CalibrationStats(N, { maxSamples: 100 });
  const b = new CalibrationStats(N, { maxSamples: 100 });
  await a.addRows(x.slice(900 * N), 600); // the later rows first: order must not matter
  await b.addRows(x.slice(0, 900 * N), 900);
  a.merge(b);
  t.is(a.count, 1500);
  t.deepEqual(a.samples(), whole.samples());
  close(t, a.hessian, whole.hessian, 1e-6, 'merged H');
  close(t, a.absSum, whole.absSum, 1e-12, 'merged Σ|x|');

  // Every sampled row is one of the input rows.
  const rows = new Set<string>();
  for (let r = 0; r < 1500; r++) rows.add(x.slice(r * N, (r + 1) * N).join(','));
  const sm = whole.samples();
  for (let r = 0; r < 100; r++) t.true(rows.has(sm.slice(r * N, (r + 1) * N).join(',')));

  // A different seed gives a different (but equally sized) sample.
  const other = new CalibrationStats(N, { maxSamples: 100, seed: 1 });
  await other.addRows(x, 1500);
  t.notDeepEqual(other.samples(), whole.samples());
});

test('small inputs keep every row; parts round-trip; mismatched merges are refused', async (t) => {
  const s = new CalibrationStats(N, { maxSamples: 512 });
  await s.addRows(x.slice(0, 10 * N), 10);
  t.is(s.sampleCount, 10);
  const copy = CalibrationStats.fromParts(s.toParts());
  t.deepEqual(copy.samples(), s.samples());
  t.deepEqual(copy.hessian, s.hessian);
  t.is(copy.count, 10);
  t.throws(() => s.merge(new CalibrationStats(N, { maxSamples: 16 })), { instanceOf: RangeError });
  t.throws(() => s.merge(new CalibrationStats(N + 1)), { instanceOf: RangeError });
  await t.throwsAsync(() => s.addRows(x.slice(0, 5), 1), { instanceOf: RangeError });
});

/** x with every value moved by one float32 ulp, as another CPU's GEMM kernels may leave it. */
function nudged(a: Float32Array): Float32Array {
  const out = a.slice();
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) if (out[i] !== 0) bits[i] += i % 2 === 0 ? 1 : -1;
  return out;
}

/** Which input rows (by index) a sample holds. */
function sampledRows(s: CalibrationStats, from: Float32Array): number[] {
  const index = new Map<string, number>();
  for (let r = 0; r < from.length / N; r++) index.set(from.slice(r * N, (r + 1) * N).join(','), r);
  const sm = s.samples();
  return Array.from({ length: s.sampleCount }, (_, i) => index.get(sm.slice(i * N, (i + 1) * N).join(',')) ?? -1).sort((a, b) => a - b);
}

test('row ids, not the last bits of the activations, decide the sample', async (t) => {
  const ids = Array.from({ length: 1500 }, (_, r) => 7_000_000_000 + 3 * r);
  const y = nudged(x);
  const byId = new CalibrationStats(N, { maxSamples: 100 });
  await byId.addRows(x, 1500, ids);
  const byIdNudged = new CalibrationStats(N, { maxSamples: 100 });
  for (let r = 1500; r > 0; r -= 300) await byIdNudged.addRows(y.slice((r - 300) * N, r * N), 300, ids.slice(r - 300, r));
  const rows = sampledRows(byId, x);
  t.is(rows.length, 100);
  t.false(rows.includes(-1));
  t.deepEqual(sampledRows(byIdNudged, y), rows, 'same rows, whatever the order and the last bits');
  t.true(rows[0] < 150 && rows[99] > 1350, `the sample spans the input: rows ${rows[0]}..${rows[99]}`);

  // Without ids the content hash draws another sample from the nudged rows.
  const byContent = new CalibrationStats(N, { maxSamples: 100 });
  await byContent.addRows(x, 1500);
  const byContentNudged = new CalibrationStats(N, { maxSamples: 100 });
  await byContentNudged.addRows(y, 1500);
  t.notDeepEqual(sampledRows(byContentNudged, y), sampledRows(byContent, x));

  await t.throwsAsync(() => new CalibrationStats(N).addRows(x.slice(0, 2 * N), 2, [0]), { instanceOf: RangeError, message: /ids has 1 entries, expected 2/ });
  await t.throwsAsync(() => new CalibrationStats(N).addRows(x.slice(0, 2 * N), 2, [0, -1]), { instanceOf: RangeError, message: /ids\[1\]/ });
  await t.throwsAsync(() => new CalibrationStats(N).addRows(x.slice(0, 2 * N), 2, [0, 0.5]), { instanceOf: RangeError, message: /ids\[1\]/ });
});
