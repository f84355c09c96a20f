import test from 'ava';
import { KvPolicy, resolveKvLayer } from '../schema/kv-policy.js';
import { FP8_FORMATS, roundFp8 } from '../science/kv-cache/float8.js';
import { fakeQuantizePerChannel, fakeQuantizePerToken } from '../science/kv-cache/integer-groups.js';
import { precisionMasks } from '../science/kv-cache/precision-masks.js';
import { applyRope, storeKv } from '../science/kv-cache/store.js';
import { ropeTables } from '../science/model/ops.js';
import { decodeE4m3, encodeE4m3 } from '../science/quantization/fp8.js';
import { gaussian, mulberry32 } from '../science/quantization/prng.js';

const randn = (n: number, seed: number, scale = 1) => {
  const g = gaussian(mulberry32(seed));
  return Float32Array.from({ length: n }, () => g() * scale);
};

test('fp8 e4m3 rounding agrees with the weight quantizer’s codec; e5m2 has its range and steps', (t) => {
  const xs = [...randn(4000, 1, 3), ...randn(2000, 2, 200), ...randn(2000, 3, 0.01), 0.5 * 2 ** -9, 1.5 * 2 ** -9, 447.9, 500, -1e6];
  for (const x of xs) t.is(roundFp8(x, 'fp8_e4m3'), decodeE4m3(encodeE4m3(x)), `x=${x}`);
  t.is(roundFp8(1e9, 'fp8_e5m2'), FP8_FORMATS.fp8_e5m2.max);
  t.is(roundFp8(2 ** -16, 'fp8_e5m2'), 2 ** -16, 'smallest subnormal');
  t.is(roundFp8(2 ** -18, 'fp8_e5m2'), 0, 'half of it rounds to even: zero');
  t.is(roundFp8(1.125, 'fp8_e5m2'), 1, 'ties to even (1, 1.25)');
  t.is(roundFp8(1.375, 'fp8_e5m2'), 1.5, 'ties to even (1.25, 1.5)');
});

test('per-token integer groups: at most 2^bits levels per group, error within half a step', (t) => {
  const tokens = 7;
  const channels = 64;
  const x = randn(tokens * channels, 4);
  for (const [bits, group] of [[2, 32], [4, 16], [8, 64]] as const) {
    const q = x.slice();
    fakeQuantizePerToken(q, tokens, channels, bits, group);
    for (let tok = 0; tok < tokens; tok++) {
      for (let c0 = 0; c0 < channels; c0 += group) {
        const orig = x.subarray(tok * channels + c0, tok * channels + c0 + group);
        const deq = q.subarray(tok * channels + c0, tok * channels + c0 + group);
        t.true(new Set(deq).size <= 2 ** bits);
        const step = (Math.max(...orig) - Math.min(...orig)) / (2 ** bits - 1);
        for (let i = 0; i < group; i++) t.true(Math.abs(deq[i] - orig[i]) <= step * 0.5 + step * 2e-3 + 1e-3, `bits ${bits}: ${deq[i]} vs ${orig[i]}`);
      }
    }
  }
});

test('per-channel integer groups quantize complete token groups only (KIVI’s residual stays exact)', (t) => {
  const tokens = 70;
  const channels = 8;
  const x = randn(tokens * channels, 5);
  const q = x.slice();
  fakeQuantizePerChannel(q, tokens, channels, 2, 32);
  t.deepEqual(q.subarray(64 * channels), x.subarray(64 * channels), 'the last 6 tokens are an incomplete group');
  for (let c = 0; c < channels; c++) {
    const levels = new Set<number>();
    for (let tok = 0; tok < 32; tok++) levels.add(q[tok * channels + c]);
    t.true(levels.size <= 4);
  }
  t.notDeepEqual(q.subarray(0, 64 * channels), x.subarray(0, 64 * channels));
});

test('precision masks: sinks, the recent window and incomplete per-channel groups are read in full precision', (t) => {
  const seq = 40;
  const policy = resolveKvLayer(
    KvPolicy.parse({ keys: { format: 'int2', axis: 'channel', groupSize: 16 }, values: { format: 'int4', axis: 'token', groupSize: 32 }, sinkTokens: 2, recentWindow: 4 }),
    0,
    1,
  );
  const m = precisionMasks(policy, seq, 2);
  const at = (mask: Float32Array, q: number, k: number) => mask[q * seq + k];
  t.is(at(m.values, 39, 0), 1, 'sink');
  t.is(at(m.values, 39, 1), 1, 'sink');
  t.is(at(m.values, 39, 2), 0);
  t.is(at(m.values, 39, 35), 0);
  t.is(at(m.values, 39, 36), 1, 'recent window of 4: 36..39');
  t.is(at(m.keys, 20, 10), 0, 'key group 0..15 complete at query 20');
  t.is(at(m.keys, 14, 10), 1, 'key group 0..15 incomplete at query 14');
  t.is(at(m.keys, 15, 5), 0, 'complete once token 15 arrived');
  t.is(at(m.keys, 39, 32), 1, 'tokens 32..39 never complete a group');
  t.is(at(m.keys, 5, 6), 0, 'future keys are masked by causality, not read');
  t.deepEqual(m.keys.subarray(seq * seq), m.keys.subarray(0, seq * seq), 'query heads of a group share the mask');
});

test('storeKv: pre-RoPE keys are quantized before the rotation, and a Hadamard rotation is undone after', (t) => {
  const shape = { batch: 1, kvHeads: 2, seq: 12, headDim: 16 };
  const n = 2 * 12 * 16;
  const pre = randn(n, 6);
  const { cos, sin } = ropeTables(12, 16, 10000);
  const roped = applyRope(pre, shape, cos, sin);
  const values = randn(n, 7);
  const base = KvPolicy.parse({ keys: { format: 'int8', axis: 'token', groupSize: 16 }, values: { format: 'bf16' } });
  const post = storeKv(resolveKvLayer(base, 0, 1), shape, pre, roped, values, { cos, sin });
  const preRope = storeKv(resolveKvLayer({ ...base, keyPosition: 'pre-rope' }, 0, 1), shape, pre, roped, values, { cos, sin });
  const rotated = storeKv(resolveKvLayer({ ...base, keyRotation: 'hadamard' }, 0, 1), shape, pre, roped, values, { cos, sin });
  const maxErr = (a: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - roped[i])), 0);
  t.is(post.values, values, 'bf16 values are not copied or changed');
  for (const s of [post, preRope, rotated]) t.true(maxErr(s.keys) > 0 && maxErr(s.keys) < 0.05, `int8 keys stay close: ${maxErr(s.keys)}`);
  t.notDeepEqual(preRope.keys, post.keys);
  t.notDeepEqual(rotated.keys, post.keys);
  // Exactly the pre-RoPE construction: quantize the raw keys, then rotate by RoPE.
  const manual = pre.slice();
  for (let row = 0; row < n / 16; row++) fakeQuantizePerToken(manual.subarray(row * 16, row * 16 + 16), 1, 16, 8, 16);
  t.deepEqual(preRope.keys, applyRope(manual, shape, cos, sin));
});

test('per-layer bands override the base policy by depth', (t) => {
  const policy = KvPolicy.parse({ keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 }, layers: [{ from: 0, to: 0.25, override: { keys: { format: 'bf16' }, values: { format: 'bf16' } } }, { from: 0.5, to: 1, override: { recentWindow: 64 } }] });
  t.is(resolveKvLayer(policy, 0, 4).keys.format, 'bf16');
  t.is(resolveKvLayer(policy, 1, 4).keys.format, 'int4');
  t.is(resolveKvLayer(policy, 1, 4).recentWindow, 0);
  t.is(resolveKvLayer(policy, 3, 4).recentWindow, 64);
  t.throws(() => KvPolicy.parse({ keys: { format: 'int3', axis: 'token', groupSize: 32 } }));
  t.throws(() => KvPolicy.parse({ keys: { format: 'int4', axis: 'token', groupSize: 48 } }));
  t.throws(() => KvPolicy.parse({ recentWindow: -1 }));
  t.throws(() => KvPolicy.parse({ layers: [{ from: 0.5, to: 0.5, override: {} }] }));
  t.throws(() => KvPolicy.parse(JSON.parse('{"__proto__": {"recentWindow": 1}, "keys": {"format": "bf16"}}')));
});
