import test from 'ava';
import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { QuantSpec, type GroupSize } from '../schema/recipe.js';
import { decodeE4m3, encodeE4m3 } from '../science/quantization/fp8.js';
import { groupCount, groupWidth, maxCode } from '../science/quantization/grid.js';
import { fromFp16Bits, roundFp16, toFp16Bits, toFp16BitsCeil, fromBf16Bits, toBf16Bits } from '../science/quantization/half.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize } from '../science/quantization/quantized-linear.js';
import { mulberry32 } from '../science/quantization/prng.js';
import { syntheticWeight } from '../science/quantization/synthetic.js';

// 256 and 200 input columns: the latter leaves a narrower last group for every group size.
const OUT = 24;

for (const inFeatures of [256, 200]) {
  const w = syntheticWeight(OUT, inFeatures, 11);
  for (const bits of [2, 3, 4, 8] as const) {
    test(`RTN ${bits}-bit per-element error ≤ scale/2 (in=${inFeatures}, all group sizes, sym and asym)`, async (t) => {
      for (const groupSize of [32, 64, 128, 256, 'channel'] as GroupSize[]) {
        for (const symmetric of [false, true]) {
          const q = await quantizeLinear(w, OUT, inFeatures, null, QuantSpec.parse({ bits, groupSize, symmetric }));
          const deq = dequantize(q);
          const gw = groupWidth(groupSize, inFeatures);
          const nGroups = groupCount(groupSize, inFeatures);
          t.is(q.scales.length, OUT * nGroups);
          let worst = 0;
          for (let r = 0; r < OUT; r++) {
            for (let j = 0; j < inFeatures; j++) {
              const scale = fromFp16Bits(q.scales[r * nGroups + Math.floor(j / gw)]);
              const e = Math.abs(w[r * inFeatures + j] - deq[r * inFeatures + j]);
              // fp32 output rounding is the only slack: the scale was rounded up to fp16.
              worst = Math.max(worst, e / (scale / 2 + 1e-6 * Math.abs(w[r * inFeatures + j]) + 1e-12));
            }
          }
          t.true(worst <= 1, `bits ${bits} group ${groupSize} ${symmetric ? 'sym' : 'asym'}: error/(scale/2) = ${worst}`);
        }
      }
    });
  }
}

test('asymmetric grids store integer zeros in [0, 2^b−1] and represent 0 exactly', async (t) => {
  const w = syntheticWeight(8, 128, 5);
  w[3] = 0;
  for (const bits of [2, 3, 4, 8] as const) {
    const q = await quantizeLinear(w, 8, 128, null, QuantSpec.parse({ bits, groupSize: 32 }));
    t.truthy(q.zeros);
    t.is(dequantize(q)[3], 0);
    t.true(q.codes.length === Math.ceil((8 * 128 * bits) / 8) && maxCode(bits) === 2 ** bits - 1);
  }
});

test('fp16 encode/decode agree with @petamoriken/float16 on fp32 inputs and round ties to even', (t) => {
  const view = new DataView(new ArrayBuffer(2));
  const libBits = (x: number): number => {
    setFloat16(view, 0, x);
    return view.getUint16(0);
  };
  const rand = mulberry32(99);
  for (let i = 0; i < 20000; i++) {
    // fp32-representable inputs over the whole fp16 range, subnormals and overflow included.
    const x = Math.fround((rand() < 0.5 ? -1 : 1) * 2 ** (rand() * 44 - 28) * (1 + rand()));
    if (toFp16Bits(x) !== libBits(x)) return t.fail(`${x}: ${toFp16Bits(x)} vs ${libBits(x)}`);
  }
  for (let h = 0; h < 65536; h++) {
    view.setUint16(0, h);
    const v = getFloat16(view, 0);
    if (!(Object.is(fromFp16Bits(h), v) || (Number.isNaN(v) && Number.isNaN(fromFp16Bits(h))))) return t.fail(`decode ${h}`);
  }
  t.is(toFp16Bits(65504), 0x7bff);
  t.is(toFp16Bits(65519.99), 0x7bff);
  t.is(toFp16Bits(65520), 0x7c00);
  t.is(toFp16Bits(2 ** -25), 0); // tie between 0 and the smallest subnormal
  t.is(toFp16Bits(3 * 2 ** -25), 2);
  t.is(toFp16Bits(1 + 2 ** -11), 0x3c00);
  t.is(toFp16Bits(1 + 3 * 2 ** -11), 0x3c02);
  t.is(toFp16Bits(-0), 0x8000);
});

test('fp16 helpers round to nearest and ceil never rounds down', (t) => {
  for (const x of [1e-3, 0.0123456, 1 / 3, 7.77, 60000, 2 ** -20]) {
    t.true(fromFp16Bits(toFp16BitsCeil(x)) >= x);
    t.true(Math.abs(roundFp16(x) - x) <= Math.abs(x) * 2 ** -11 + 2 ** -25);
    t.is(fromFp16Bits(toFp16Bits(x)), roundFp16(x));
  }
  t.is(fromFp16Bits(toFp16BitsCeil(1)), 1);
  t.is(fromBf16Bits(toBf16Bits(1.00390625)), 1); // exact tie goes to even
  t.is(fromBf16Bits(toBf16Bits(-3.5)), -3.5);
});

test('e4m3fn encode/decode: table extremes, saturation and ties to even', (t) => {
  t.is(decodeE4m3(0x7e), 448);
  t.is(decodeE4m3(0xfe), -448);
  t.true(Number.isNaN(decodeE4m3(0x7f)) && Number.isNaN(decodeE4m3(0xff)));
  t.is(decodeE4m3(0x01), 2 ** -9); // smallest subnormal
  t.is(decodeE4m3(0x08), 2 ** -6); // smallest normal
  t.is(encodeE4m3(1e9), 0x7e);
  t.is(encodeE4m3(-500), 0xfe);
  t.is(encodeE4m3(464), 0x7e); // beyond the last tie: saturates, never NaN
  t.is(decodeE4m3(encodeE4m3(1.0625)), 1); // tie between 1 (mantissa 0) and 1.125: even wins
  t.is(decodeE4m3(encodeE4m3(1.1875)), 1.25); // tie between 1.125 (odd) and 1.25 (even)
  t.is(decodeE4m3(encodeE4m3(2 ** -10)), 0); // tie between 0 and the smallest subnormal
  for (let c = 0; c < 256; c++) if ((c & 0x7f) !== 0x7f) t.is(encodeE4m3(decodeE4m3(c)), c);
});

test('fp8 per-channel and per-group: relative error ≤ 2^-4 (normal range), absolute ≤ 2^-10·scale below it', async (t) => {
  const w = syntheticWeight(16, 256, 21);
  for (const groupSize of ['channel', 128, 32] as GroupSize[]) {
    const q = await quantizeLinear(w, 16, 256, null, QuantSpec.parse({ bits: 8, format: 'fp8', groupSize, symmetric: true }));
    t.is(q.zeros, undefined);
    const deq = dequantize(q);
    const gw = groupWidth(groupSize, 256);
    const nGroups = groupCount(groupSize, 256);
    for (let r = 0; r < 16; r++) {
      for (let j = 0; j < 256; j++) {
        const i = r * 256 + j;
        const scale = fromFp16Bits(q.scales[r * nGroups + Math.floor(j / gw)]);
        const bound = Math.max(2 ** -4 * Math.abs(w[i]), 2 ** -10 * scale) * (1 + 1e-6);
        if (!(Math.abs(w[i] - deq[i]) <= bound)) t.fail(`group ${groupSize} at ${i}: ${w[i]} → ${deq[i]}`);
      }
    }
    t.pass();
  }
});
