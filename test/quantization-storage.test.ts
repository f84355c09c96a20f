import test from 'ava';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { groupCount } from '../science/quantization/grid.js';
import { fromBf16Bits, toBf16Bits } from '../science/quantization/half.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize, storedBytes } from '../science/quantization/quantized-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';

// Odd shapes: 37 rows, 200 columns (a short last group for every group size).
const OUT = 37;
const IN = 200;
const w = syntheticWeight(OUT, IN, 51);
let statsPromise: Promise<CalibrationStats> | null = null;
function stats(): Promise<CalibrationStats> {
  statsPromise ??= (async () => {
    const s = new CalibrationStats(IN);
    await s.addRows(new SyntheticInputs(IN, 52).sample(512, 53), 512);
    return s;
  })();
  return statsPromise;
}

const cases: QuantSpecInput[] = [
  { bits: 4, groupSize: 128 },
  { bits: 3, groupSize: 64, symmetric: true },
  { bits: 2, groupSize: 32, method: { kind: 'gptq' } },
  { bits: 8, groupSize: 'channel' },
  { bits: 3, groupSize: 64, method: { kind: 'awq' } },
  { bits: 4, groupSize: 256, symmetric: true, method: { kind: 'awq', clip: false } },
  { bits: 3, groupSize: 128, outliers: { fraction: 0.005 } },
  { bits: 2, groupSize: 64, method: { kind: 'gptq' }, outliers: { fraction: 0.01, criterion: 'magnitude' }, rotation: { kind: 'hadamard', seed: 3 } },
  { bits: 4, groupSize: 128, method: { kind: 'awq' }, outliers: { fraction: 0.01 }, rotation: { kind: 'hadamard' } },
  { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true },
  { bits: 8, format: 'fp8', groupSize: 32, symmetric: true, outliers: { fraction: 0.002 } },
];

for (const input of cases) {
  test(`storedBytes matches the formula for ${JSON.stringify(input)}`, async (t) => {
    const spec = QuantSpec.parse(input);
    const q = await quantizeLinear(w, OUT, IN, await stats(), spec);
    const b = spec.bits;
    const nGroups = groupCount(spec.groupSize, IN);
    const asym = spec.format === 'int' && !spec.symmetric;
    const nnz = spec.outliers ? Math.round(spec.outliers.fraction * OUT * IN) : 0;
    const expected =
      Math.ceil((OUT * IN * b) / 8) + 2 * OUT * nGroups + (asym ? Math.ceil((OUT * nGroups * b) / 8) : 0) + (spec.method.kind === 'awq' ? 2 * IN : 0) + 6 * nnz;
    t.is(storedBytes(q), expected);
    t.is(q.codes.length, Math.ceil((OUT * IN * b) / 8));
    t.is(q.scales.length, OUT * nGroups);
    t.is(q.zeros?.length ?? 0, asym ? Math.ceil((OUT * nGroups * b) / 8) : 0);
    t.is(q.outlierIndex?.length ?? 0, nnz);
    t.is(q.channelScales?.length ?? 0, spec.method.kind === 'awq' ? IN : 0);
    t.is(q.rotationSeed, spec.rotation?.seed);
    const deq = dequantize(q);
    t.is(deq.length, OUT * IN);
    // Sanity: the effective weight stays close to the original.
    let num = 0;
    let den = 0;
    for (let i = 0; i < w.length; i++) {
      num += (deq[i] - w[i]) ** 2;
      den += w[i] ** 2;
    }
    t.true(num / den < ({ 2: 0.6, 3: 0.3, 4: 0.1, 8: 0.01 } as Record<number, number>)[b], `relative weight error ${num / den}`);
  });
}

test('bits 16 is a bf16 passthrough: 2 bytes per weight, dequantizes to the bf16-rounded weight', async (t) => {
  const q = await quantizeLinear(w, OUT, IN, null, QuantSpec.parse({ bits: 16 }));
  t.is(storedBytes(q), 2 * OUT * IN);
  const deq = dequantize(q);
  for (let i = 0; i < w.length; i++) if (deq[i] !== fromBf16Bits(toBf16Bits(w[i]))) return t.fail(`mismatch at ${i}`);
  t.pass();
});
