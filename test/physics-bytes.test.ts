import test from 'ava';
import { loadModelConfig } from '../science/model-configs/load.js';
import { kvBands, kvBytesPerGpu, kvBytesPerToken, kvHeadsPerGpu, kvPolicyLabel, kvTensorBytes, kvTensorBytesPerToken, kvTotalBytes } from '../science/physics/kv-cache.js';
import { KvPolicy, type KvPolicyInput } from '../schema/kv-policy.js';
import { breakdownTotal, matrixBytes, outlierBytes } from '../science/physics/weight-bytes.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { storedBytes } from '../science/quantization/quantized-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';
import { QuantSpec, type QuantSpecInput } from '../schema/recipe.js';

const spec = (s: QuantSpecInput): QuantSpec => QuantSpec.parse(s);

test('bf16 is 2 bytes per weight whatever else the spec says', (t) => {
  const b = matrixBytes(4096, 1536, spec({ bits: 16, outliers: { fraction: 0.01 }, rotation: { kind: 'hadamard' } }));
  t.deepEqual(b, { codes: 0, scales: 0, zeros: 0, outliers: 0, bf16: 2 * 4096 * 1536 });
});

test('int4 g128 asymmetric: packed codes + fp16 scale + 4-bit zero per group', (t) => {
  const b = matrixBytes(4096, 1536, spec({ bits: 4, groupSize: 128 }));
  const groups = 4096 * 12;
  t.deepEqual(b, { codes: (4096 * 1536) / 2, scales: 2 * groups, zeros: groups / 2, outliers: 0, bf16: 0 });
  // 4 + 16/128 + 4/128 = 4.15625 bits per weight.
  t.is((breakdownTotal(b) * 8) / (4096 * 1536), 4.15625);
});

test('symmetric grids store no zeros; channel groups are one per row; short last groups count', (t) => {
  t.is(matrixBytes(8, 256, spec({ bits: 8, groupSize: 'channel', symmetric: true })).scales, 16);
  t.is(matrixBytes(8, 256, spec({ bits: 8, groupSize: 'channel', symmetric: true })).zeros, 0);
  // 3-bit codes pack across byte boundaries: ceil(37·200·3/8).
  const b = matrixBytes(37, 200, spec({ bits: 3, groupSize: 64 }));
  t.is(b.codes, Math.ceil((37 * 200 * 3) / 8));
  t.is(b.scales, 2 * 37 * 4);
  t.is(b.zeros, Math.ceil((37 * 4 * 3) / 8));
});

test('fp8: one byte per weight, fp16 scales, never zero points', (t) => {
  t.deepEqual(matrixBytes(4096, 1536, spec({ bits: 8, format: 'fp8', groupSize: 'channel', symmetric: false })), {
    codes: 4096 * 1536,
    scales: 2 * 4096,
    zeros: 0,
    outliers: 0,
    bf16: 0,
  });
});

test('outliers are (int32 index, fp16 value) pairs; AWQ adds fp16 input-channel scales', (t) => {
  t.is(outlierBytes(8, 128, 0.005), 5 * 6);
  t.is(matrixBytes(8, 128, spec({ bits: 2, groupSize: 64, outliers: { fraction: 0.005 } })).outliers, 30);
  t.is(matrixBytes(8, 128, spec({ bits: 4, groupSize: 64, method: { kind: 'awq' } })).scales, 2 * 8 * 2 + 2 * 128);
  // The rotation stores nothing.
  t.deepEqual(matrixBytes(8, 128, spec({ bits: 4, rotation: { kind: 'hadamard', seed: 9 } })), matrixBytes(8, 128, spec({ bits: 4 })));
});

// The compiled size must be the size of the artifact the quantizer writes.
const OUT = 37;
const IN = 200;
const CROSS: QuantSpecInput[] = [
  { bits: 4, groupSize: 128 },
  { bits: 3, groupSize: 64, symmetric: true },
  { bits: 8, groupSize: 'channel' },
  { bits: 3, groupSize: 64, method: { kind: 'awq' } },
  { bits: 2, groupSize: 64, outliers: { fraction: 0.01, criterion: 'magnitude' }, rotation: { kind: 'hadamard', seed: 3 } },
  { bits: 8, format: 'fp8', groupSize: 32, symmetric: true, outliers: { fraction: 0.002 } },
  { bits: 16 },
];
for (const input of CROSS) {
  test(`matrixBytes equals the quantizer's storedBytes for ${JSON.stringify(input)}`, async (t) => {
    const stats = new CalibrationStats(IN);
    await stats.addRows(new SyntheticInputs(IN, 5).sample(256, 6), 256);
    const q = await quantizeLinear(syntheticWeight(OUT, IN, 4), OUT, IN, stats, spec(input));
    t.is(breakdownTotal(matrixBytes(OUT, IN, spec(input))), storedBytes(q));
  });
}

const kv = (input: KvPolicyInput): KvPolicy => KvPolicy.parse(input);
const FP8 = kv({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } });
const INT4_TOKEN_128 = kv({ keys: { format: 'int4', axis: 'token', groupSize: 128 }, values: { format: 'int4', axis: 'token', groupSize: 128 } });
const KIVI4_32 = kv({ keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 } });

test('Qwen3-235B bf16 KV cache is 188 KiB per token', (t) => {
  const arch = loadModelConfig('qwen3-235b-a22b');
  t.is(kvBytesPerToken(arch, undefined), 94 * 4 * 128 * 2 * 2);
  t.is(kvBytesPerToken(arch, undefined) / 1024, 188);
  t.is(kvBytesPerToken(arch, FP8), 94 * 4 * 128 * 2);
  // int4 per token: 64 bytes of codes + fp16 scale and zero per (token, head) of K and of V.
  t.is(kvBytesPerToken(arch, INT4_TOKEN_128), 2 * 94 * 4 * (64 + 4));
});

test('KV heads split over TP and replicate beyond the KV head count', (t) => {
  t.is(kvHeadsPerGpu(4, 2), 2);
  t.is(kvHeadsPerGpu(4, 4), 1);
  t.is(kvHeadsPerGpu(4, 8), 1);
  const arch = loadModelConfig('qwen3-235b-a22b');
  t.is(kvBytesPerGpu(arch, undefined, 0, 94, 2, 4096, 3), (kvBytesPerToken(arch, undefined) / 2) * 4096 * 3);
  t.is(kvBytesPerGpu(arch, undefined, 0, 94, 8, 1000, 1), (kvBytesPerToken(arch, undefined) / 4) * 1000);
  // A pipeline stage holds its own layers only.
  t.is(kvBytesPerGpu(arch, undefined, 0, 47, 2, 1000, 1) * 2, kvBytesPerGpu(arch, undefined, 0, 94, 2, 1000, 1));
});

test('KV tensor bytes: bf16, fp8, int per token and KIVI per channel with its bf16 residual, exact', (t) => {
  const none = { sinkTokens: 0, recentWindow: 0 };
  t.is(kvTensorBytes({ format: 'bf16' }, 128, 1000, none), 2 * 128 * 1000);
  t.is(kvTensorBytes({ format: 'fp8_e5m2' }, 128, 1000, none), 128 * 1000);
  // int2 per token, groups of 32 channels: 32 bytes of codes + 4 groups × (fp16 scale + fp16 zero).
  t.is(kvTensorBytes({ format: 'int2', axis: 'token', groupSize: 32 }, 128, 1000, none), 1000 * (32 + 4 * 4));
  // Per-token groups are capped at the head dimension: g128 on a 64-wide head is one group per head.
  t.is(kvTensorBytes({ format: 'int4', axis: 'token', groupSize: 128 }, 64, 10, none), 10 * (32 + 4));
  // Per channel, g32: 1000 = 31 full groups (992 tokens) + 8 newest tokens in bf16 until their group completes.
  t.is(kvTensorBytes({ format: 'int4', axis: 'channel', groupSize: 32 }, 128, 1000, none), 992 * 64 + 31 * 128 * 4 + 8 * 128 * 2);
  t.is(kvTensorBytesPerToken({ format: 'int4', axis: 'channel', groupSize: 32 }, 128), 64 + (128 * 4) / 32);
});

test('KV windows: sinks and the recent window are bf16 instead of quantized, counted once, capped at the context', (t) => {
  const int8 = { format: 'int8', axis: 'token', groupSize: 128 } as const;
  const per = 128 + 4;
  t.is(kvTensorBytes(int8, 128, 1000, { sinkTokens: 4, recentWindow: 128 }), (1000 - 132) * per + 132 * 256);
  // A context shorter than the windows is all bf16: never more than bf16.
  t.is(kvTensorBytes(int8, 128, 100, { sinkTokens: 4, recentWindow: 128 }), 100 * 256);
  // KIVI: channel groups start after the sinks; the window and the incomplete group are bf16.
  const k = { format: 'int2', axis: 'channel', groupSize: 64 } as const;
  // 1000 - 4 - 128 = 868 quantizable tokens = 13 groups (832) + 36 residual.
  t.is(kvTensorBytes(k, 128, 1000, { sinkTokens: 4, recentWindow: 128 }), 832 * 32 + 13 * 128 * 4 + (132 + 36) * 256);
});

test('KV bands: per-layer policies are charged layer by layer, and fp8 adds one fp32 scale per layer for K and V', (t) => {
  const arch = loadModelConfig('llama-3.1-70b');
  // The first and last tenth of the layers keep a bf16 cache.
  const banded = kv({ ...KIVI4_32, layers: [{ from: 0, to: 0.1, override: { keys: { format: 'bf16' }, values: { format: 'bf16' } } }, { from: 0.9, to: 1, override: { keys: { format: 'bf16' }, values: { format: 'bf16' } } }] });
  t.is(kvBytesPerToken(arch, banded), 16 * 8 * 128 * 2 * 2 + 64 * 8 * (80 + 80));
  t.deepEqual(kvBands(arch, banded).map((b) => [b.firstLayer, b.endLayer, b.policy]), [
    [0, 8, 'bf16'],
    [8, 72, 'K int4/channel/g32 V int4/token/g32'],
    [72, 80, 'bf16'],
  ]);
  t.is(kvTotalBytes(arch, FP8, 1000, 2), 80 * 8 * 2 * 128 * 1000 * 2 + 80 * 8);
  t.is(kvPolicyLabel(kv({ ...KIVI4_32, sinkTokens: 4, recentWindow: 128, keyPosition: 'pre-rope', keyRotation: 'hadamard' })), 'K int4/channel/g32 V int4/token/g32 (sinks 4, window 128, pre-rope keys, hadamard keys)');
});

test('compressed-tensors checkpoints: int32 words per row, fp32 scales in the file and bf16 on the GPU, zeros packed down the rows, weight_shape, AWQ folded', (t) => {
  // 3-bit, 37 rows × 200 cols, g64 asymmetric: vLLM allocates ceil(200·3/32) = 19 words per row
  // (compressed_tensors_wNa16.py packed_input_dim); 4 groups per row; zeros: ceil(37·3/32) = 4 words
  // per group column; weight_shape 16 bytes.
  const file = matrixBytes(37, 200, spec({ bits: 3, groupSize: 64 }), 'compressed-tensors', 'file');
  t.deepEqual(file, { codes: 37 * 19 * 4, scales: 37 * 4 * 4 + 16, zeros: 4 * 4 * 4, outliers: 0, bf16: 0 });
  // vLLM holds int-grid scales in params_dtype (bf16): 2 bytes each in GPU memory.
  const gpu = matrixBytes(37, 200, spec({ bits: 3, groupSize: 64 }), 'compressed-tensors');
  t.deepEqual(gpu, { ...file, scales: 37 * 4 * 2 + 16 });
  // AWQ's channel scales fold into the previous op: nothing stored for them.
  t.deepEqual(
    matrixBytes(8, 128, spec({ bits: 4, groupSize: 64, symmetric: true, method: { kind: 'awq' } }), 'compressed-tensors', 'file'),
    { codes: 8 * 16 * 4, scales: 8 * 2 * 4 + 16, zeros: 0, outliers: 0, bf16: 0 },
  );
  // fp8 (float-quantized): one byte per weight, one fp32 scale per row, no weight_shape.
  t.deepEqual(matrixBytes(8, 128, spec({ bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true }), 'compressed-tensors'), {
    codes: 8 * 128,
    scales: 8 * 4,
    zeros: 0,
    outliers: 0,
    bf16: 0,
  });
  // bf16 and the evoquant format are unchanged.
  t.deepEqual(matrixBytes(8, 128, spec({ bits: 16 }), 'compressed-tensors'), matrixBytes(8, 128, spec({ bits: 16 })));
  t.deepEqual(matrixBytes(37, 200, spec({ bits: 3, groupSize: 64 }), 'evoquant'), matrixBytes(37, 200, spec({ bits: 3, groupSize: 64 })));
});
