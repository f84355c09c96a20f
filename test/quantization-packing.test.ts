import test from 'ava';
import { packCodes, packedLength, unpackCodes } from '../science/quantization/packing.js';
import { mulberry32 } from '../science/quantization/prng.js';

for (const bits of [2, 3, 4, 8]) {
  test(`${bits}-bit codes round-trip at odd lengths with exact packed size`, (t) => {
    const rand = mulberry32(bits);
    for (const count of [0, 1, 3, 7, 13, 1001]) {
      const codes = Uint8Array.from({ length: count }, () => Math.floor(rand() * (1 << bits)));
      const packed = packCodes(codes, bits);
      t.is(packed.length, Math.ceil((count * bits) / 8));
      t.is(packed.length, packedLength(count, bits));
      t.deepEqual(unpackCodes(packed, bits, count), codes);
    }
  });
}

test('codes are laid out LSB-first', (t) => {
  t.deepEqual([...packCodes([1, 2, 3], 2)], [0b00111001]);
  // 3-bit codes 5, 6, 7 → bits 101 110 111 from bit 0 up: byte0 = 0b11_110_101, byte1 = 0b1.
  t.deepEqual([...packCodes([5, 6, 7], 3)], [0b11110101, 0b1]);
  t.deepEqual([...packCodes([0xa, 0x3], 4)], [0x3a]);
});

test('codes that do not fit are rejected', (t) => {
  t.throws(() => packCodes([4], 2), { instanceOf: RangeError });
  t.throws(() => packCodes([1], 5), { instanceOf: RangeError });
  t.throws(() => unpackCodes(new Uint8Array(1), 3, 3), { instanceOf: RangeError });
});
