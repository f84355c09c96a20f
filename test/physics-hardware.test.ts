import test from 'ava';
import { getHardwareProfile, hardwareProfileIds } from '../science/hardware/profiles.js';
import { checkKernel, rotationBlockSize } from '../science/physics/kernel-check.js';
import { UnknownHardwareError } from '../schema/hardware.js';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';

const spec = (s: QuantSpecInput): QuantSpec => QuantSpec.parse(s);

test('the shipped profiles and their memory in exact bytes', (t) => {
  t.deepEqual(hardwareProfileIds(), ['a100-40gb', 'a100-80gb', 'h100-80gb', 'h200', 'l40s']);
  t.is(getHardwareProfile('a100-80gb').memoryBytes, 81_920 * 2 ** 20);
  t.is(getHardwareProfile('a100-80gb').memoryBytes, 85_899_345_920);
  t.is(getHardwareProfile('a100-40gb').memoryBytes, 40 * 2 ** 30);
  t.is(getHardwareProfile('a100-40gb').bandwidthBytesPerSec, 1.555e12);
  t.is(getHardwareProfile('a100-80gb').bandwidthBytesPerSec, 2.039e12);
  t.is(getHardwareProfile('h100-80gb').bandwidthBytesPerSec, 3.35e12);
  t.is(getHardwareProfile('h200').bandwidthBytesPerSec, 4.8e12);
  t.is(getHardwareProfile('l40s').bandwidthBytesPerSec, 864e9);
  t.is(getHardwareProfile('l40s').sm, 89);
  t.is(getHardwareProfile('a100-80gb').peakFlops.fp8, null);
  t.true(getHardwareProfile('h200').memoryBytes > 141e9);
});

test('unknown profile is a typed one-line error naming the known ones', (t) => {
  const err = t.throws(() => getHardwareProfile('a100-90gb'), { instanceOf: UnknownHardwareError });
  t.is(err?.message, 'hardware: unknown profile "a100-90gb" (known: a100-40gb, a100-80gb, h100-80gb, h200, l40s)');
});

const SHARD = { inFeatures: 4096, outFeatures: 1536, biasParams: 0 };

test('A100 kernel table: no FP8 activations, FP8 weight-only via FP8-Marlin, 2/3-bit via Humming', (t) => {
  const a100 = getHardwareProfile('a100-80gb');
  const fp8 = spec({ bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true });
  t.like(checkKernel(a100, fp8, 'fp8', SHARD, 4096), { ok: false, code: 'kernel-unsupported' });
  t.deepEqual(checkKernel(a100, fp8, 'bf16', SHARD, 4096), { ok: true, kernel: 'marlin-fp8' });
  t.deepEqual(checkKernel(a100, spec({ bits: 4, groupSize: 128 }), 'bf16', SHARD, 4096), { ok: true, kernel: 'marlin-int' });
  t.deepEqual(checkKernel(a100, spec({ bits: 3, groupSize: 128 }), 'bf16', SHARD, 4096), { ok: true, kernel: 'humming-int' });
  t.deepEqual(checkKernel(a100, spec({ bits: 2, groupSize: 64 }), 'bf16', SHARD, 4096), { ok: true, kernel: 'humming-int' });
  t.deepEqual(checkKernel(a100, spec({ bits: 8, groupSize: 'channel', symmetric: true }), 'int8', SHARD, 4096), { ok: true, kernel: 'cutlass-int8-w8a8' });
  // Humming takes any group that divides K; 4-bit weights with int8 activations have no kernel at all.
  t.deepEqual(checkKernel(a100, spec({ bits: 2, groupSize: 32 }), 'bf16', SHARD, 4096), { ok: true, kernel: 'humming-int' });
  t.like(checkKernel(a100, spec({ bits: 4, groupSize: 128 }), 'int8', SHARD, 4096), { ok: false, code: 'kernel-unsupported' });
  // 16-bit modules run as bf16 GEMMs even under an fp8-activation recipe.
  t.deepEqual(checkKernel(a100, spec({ bits: 16 }), 'fp8', SHARD, 4096), { ok: true, kernel: 'cublas-bf16' });
});

test('H100 and L40S serve FP8 W8A8', (t) => {
  const fp8 = spec({ bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true });
  t.deepEqual(checkKernel(getHardwareProfile('h100-80gb'), fp8, 'fp8', SHARD, 4096), { ok: true, kernel: 'cutlass-fp8-w8a8' });
  t.deepEqual(checkKernel(getHardwareProfile('l40s'), fp8, 'fp8', SHARD, 4096), { ok: true, kernel: 'cutlass-fp8-w8a8' });
});

test('shard shapes: Marlin needs K % 128 and K % group; a rotation block may not straddle shards', (t) => {
  const a100 = getHardwareProfile('a100-80gb');
  const down192 = { inFeatures: 192, outFeatures: 4096, biasParams: 0 };
  const v = checkKernel(a100, spec({ bits: 4, groupSize: 128 }), 'bf16', down192, 1536);
  t.like(v, { ok: false, code: 'shard-shape' });
  t.like(checkKernel(a100, spec({ bits: 4, groupSize: 128 }), 'bf16', { inFeatures: 768, outFeatures: 4096, biasParams: 0 }, 1536), { ok: true });
  t.is(rotationBlockSize(1536), 512);
  const rot = spec({ bits: 2, groupSize: 64, rotation: { kind: 'hadamard' } });
  t.like(checkKernel(a100, rot, 'bf16', { inFeatures: 768, outFeatures: 4096, biasParams: 0 }, 1536), { ok: false, code: 'shard-shape' });
  t.like(checkKernel(a100, rot, 'bf16', { inFeatures: 1536, outFeatures: 4096, biasParams: 0 }, 1536), { ok: true, kernel: 'humming-int' });
});
