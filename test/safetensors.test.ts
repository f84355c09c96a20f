import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bf16Bits, fromFloat32, toFloat32 } from '../science/safetensors/dtypes.js';
import { parseSafetensors, readSafetensors, SafetensorsFormatError, serializeSafetensors, writeSafetensors } from '../science/safetensors/format.js';

test('float tensors survive a write/read round trip in F32, F16 and BF16', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const values = Float32Array.from([0, 1, -2.5, 0.1, 65504, 1e-3, -3.14159]);
  const file = {
    metadata: { format: 'pt' },
    tensors: new Map([
      ['a.f32', { dtype: 'F32' as const, shape: [7], data: fromFloat32(values, 'F32') }],
      ['b.f16', { dtype: 'F16' as const, shape: [7], data: fromFloat32(values, 'F16') }],
      ['c.bf16', { dtype: 'BF16' as const, shape: [1, 7], data: fromFloat32(values, 'BF16') }],
      ['d.u8', { dtype: 'U8' as const, shape: [3], data: Uint8Array.from([1, 2, 255]) }],
    ]),
  };
  const path = join(dir, 'model.safetensors');
  writeSafetensors(path, file);
  const back = readSafetensors(path);
  t.deepEqual(back.metadata, { format: 'pt' });
  t.deepEqual([...toFloat32(back.tensors.get('a.f32')!.data, 'F32')], [...values]);
  const f16 = toFloat32(back.tensors.get('b.f16')!.data, 'F16');
  values.forEach((v, i) => t.true(Math.abs(f16[i] - v) <= Math.abs(v) * 1e-3 + 1e-7));
  const bf = toFloat32(back.tensors.get('c.bf16')!.data, 'BF16');
  values.forEach((v, i) => t.true(Math.abs(bf[i] - v) <= Math.abs(v) * 4e-3 + 1e-30));
  t.deepEqual(back.tensors.get('c.bf16')!.shape, [1, 7]);
  t.deepEqual([...back.tensors.get('d.u8')!.data], [1, 2, 255]);
  // The header is 8-byte aligned and bytes are deterministic.
  const bytes = readFileSync(path);
  t.is(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  t.deepEqual(serializeSafetensors(back), new Uint8Array(bytes));
});

test('bf16 rounding is round-to-nearest-even like torch', (t) => {
  t.is(bf16Bits(1), 0x3f80);
  t.is(bf16Bits(1 + 2 ** -8), 0x3f80, 'tie rounds to even');
  t.is(bf16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie rounds to even upward');
  t.is(bf16Bits(-2), 0xc000);
});

test('a truncated or garbled file is refused with a typed error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'bad.safetensors');
  writeFileSync(path, Buffer.from([1, 2, 3]));
  t.throws(() => readSafetensors(path), { instanceOf: SafetensorsFormatError });
  const good = serializeSafetensors({ metadata: {}, tensors: new Map([['x', { dtype: 'F32', shape: [4], data: new Uint8Array(16) }]]) });
  t.throws(() => parseSafetensors(good.subarray(0, good.length - 4)), { instanceOf: SafetensorsFormatError, message: /inconsistent offsets/ });
});
