import test from 'ava';
import { getHardwareProfile } from '../science/hardware/profiles.js';
import { loadModelConfig } from '../science/model-configs/load.js';
import { normaliseModelConfig } from '../science/model-configs/normalise.js';
import { compile, compileTarget } from '../science/physics/compile.js';
import { formatReport } from '../science/physics/format.js';
import { enumerateModules } from '../science/physics/modules.js';
import { createSpecResolver } from '../science/physics/specs.js';
import { sortViolations } from '../science/physics/violations.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { CompileReport } from '../schema/compile-report.js';
import { InvalidDeploymentError, type TargetInput } from '../schema/deployment.js';
import { UnknownHardwareError } from '../schema/hardware.js';
import { UnknownModelError } from '../schema/model-config.js';
import { parseRecipe, type Recipe } from '../schema/recipe.js';
import { LLAMA3_8B, MIXTRAL_8X7B, PROXY } from './helpers/physics-configs.js';

const within = (actual: number, expected: number, rel = 0.01): boolean => Math.abs(actual - expected) <= rel * expected;

function recipe(name: string): Recipe {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`no builtin ${name}`);
  return r;
}

// This file checks the GPU's physics (memory, kernels of the hardware profile, shard shapes) on the
// reference stack, which adds no serving rules; test/serving-stacks.test.ts checks the stacks.
const QWEN235_2XA100: TargetInput = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, stack: 'reference' };
const codes = (r: CompileReport): string[] => r.violations.map((v) => v.code);

test('bf16 Qwen3-235B: ≈470 GB of weights does not fit 2×A100-80GB', (t) => {
  const r = compileTarget(QWEN235_2XA100, recipe('bf16'));
  t.notThrows(() => CompileReport.parse(r));
  t.true(within(r.weightBytes.total, 470e9), `${r.weightBytes.total}`);
  t.is(r.weightBytes.total, r.weightBytes.bf16Total);
  t.is(r.weightBytes.bf16Total, 2 * 235_093_634_560);
  t.is(r.reduction.weights, 0);
  t.false(r.fits);
  t.deepEqual(codes(r), ['does-not-fit']);
  const v = r.violations[0];
  t.is(v.detail.capacityBytes, 85_899_345_920);
  t.is(v.detail.bytesPerGpu, r.perGpu.totalBytes);
  t.true(r.perGpu.totalBytes > 235e9);
  t.is(r.kvCache.bytesPerToken, 192_512);
});

test('fp8-w8a16 Qwen3-235B weighs ≈236 GB (the official FP8 checkpoint) and has A100 kernels', (t) => {
  const r = compileTarget(QWEN235_2XA100, recipe('fp8-w8a16'));
  t.true(within(r.weightBytes.total, 236e9), `${r.weightBytes.total}`);
  t.true(within(r.reduction.weights, 0.497, 0.01));
  t.deepEqual(codes(r), ['does-not-fit']);
  t.true(r.kernels.some((k) => k.role === 'expert_down' && k.kernel === 'marlin-fp8'));
});

test('fp8-w8a8 is kernel-unsupported on A100-80GB and fine on H100-80GB', (t) => {
  const a100 = compileTarget({ ...QWEN235_2XA100, gpus: 4, tensorParallel: 4 }, recipe('fp8-w8a8'));
  const unsupported = a100.violations.filter((v) => v.code === 'kernel-unsupported');
  t.deepEqual(unsupported.map((v) => v.role), ['attn_k', 'attn_o', 'attn_q', 'attn_v', 'expert_down', 'expert_gate', 'expert_up']);
  t.regex(unsupported[0].message, /no FP8 tensor cores/);
  t.is(unsupported.find((v) => v.role === 'expert_down')?.detail.modules, 94 * 128);

  const h100 = compileTarget({ ...QWEN235_2XA100, hardware: 'h100-80gb', gpus: 4, tensorParallel: 4 }, recipe('fp8-w8a8'));
  t.deepEqual(codes(h100), []);
  t.true(h100.fits);
  t.true(h100.kernels.some((k) => k.role === 'expert_up' && k.kernel === 'cutlass-fp8-w8a8'));
});

test('w4a16-g128 at TP8: moe_intermediate 1536 / 8 = 192 breaks 128-wide Marlin blocks (shard-shape on expert_down)', (t) => {
  const r = compileTarget({ ...QWEN235_2XA100, gpus: 8, tensorParallel: 8 }, recipe('w4a16-g128'));
  const shapes = r.violations.filter((v) => v.code === 'shard-shape');
  t.deepEqual(shapes.map((v) => v.role), ['expert_down']);
  t.like(shapes[0].detail, { shardK: 192, tensorParallel: 8, kernel: 'marlin-int', modules: 94 * 128 });
  t.regex(shapes[0].message, /^expert_down: shard N=4096 K=192 breaks marlin-int/);
  t.false(codes(r).includes('kernel-unsupported'));
  t.true(r.notes.some((n) => n.startsWith('KV heads replicated ×2 across TP8')));
});

test('w4a16-g128 fits 2×A100-80GB at TP2 with a ≈74 % weight reduction', (t) => {
  const r = compileTarget(QWEN235_2XA100, recipe('w4a16-g128'));
  t.notThrows(() => CompileReport.parse(r));
  t.true(r.fits);
  t.deepEqual(r.violations, []);
  t.true(r.reduction.weights > 0.73 && r.reduction.weights < 0.76, `${r.reduction.weights}`);
  // 233.8 B quantized weights at 4.15625 bits + 2.59 GB of bf16 embeddings, lm_head, routers and norms.
  const quantized = 235_093_634_560 - 2 * 622_329_856 - 94 * 4096 * 128 - 798_208;
  t.is(r.weightBytes.total, (quantized * 4.15625) / 8 + 2 * (2 * 622_329_856 + 94 * 4096 * 128 + 798_208));
  t.true(r.perGpu.totalBytes < r.perGpu.capacityBytes);
  t.is(r.perGpu.headroomBytes, r.perGpu.capacityBytes - r.perGpu.totalBytes);
  t.is(r.perGpu.totalBytes, r.perGpu.weightBytes + r.perGpu.kvBytes + r.perGpu.overheadBytes);
  t.is(r.perGpu.kvBytes, (192_512 / 2) * 4096);
  t.true(r.decode.tokensPerSecond > 0);
  t.is(r.decode.boundBy, 'memory');
  t.true(r.overhead.components.some((c) => c.name === 'cuda-context' && c.bytesPerGpu > 0));
});

test('the 2/3-bit builtins have A100 kernels and fit at TP2', (t) => {
  for (const name of ['w3a16-g128', 'w2a16-g64', 'research-moe-hot4-cold3', 'moe-edges8-experts3', 'moe-layers-sensitive4-rest3', 'moe-layers-sensitive4-rest2']) {
    const r = compileTarget(QWEN235_2XA100, recipe(name));
    t.deepEqual(r.violations, [], name);
    t.true(r.fits, name);
  }
});

test('a Hadamard block of 512 on down_proj (K 1536) straddles TP2 shards of 768; blocks of 128 do not', (t) => {
  const builtin = recipe('research-moe-sensitive4-rest2-outliers');
  const unblocked = structuredClone(builtin);
  unblocked.experts!.tiers[1].override.rotation = { kind: 'hadamard', seed: 7 };
  const r = compileTarget(QWEN235_2XA100, unblocked);
  t.deepEqual(
    r.violations.map((v) => [v.code, v.role]),
    [['shard-shape', 'expert_down']],
  );
  t.like(r.violations[0].detail, { rotationBlock: 512, shardK: 768, modules: 94 * 64 });
  // The builtin caps its rotation blocks at 128, which divide every TP2 shard.
  const blocked = compileTarget(QWEN235_2XA100, builtin);
  t.deepEqual(blocked.violations, []);
  t.true(blocked.fits);
  t.true(blocked.notes.some((n) => n.startsWith('hadamard rotation on')));
  t.true(blocked.weightBytes.breakdown.outliers > 0);
  // Unsharded (one H200) even 512-blocks are servable.
  const one = compileTarget({ model: 'qwen3-235b-a22b', hardware: 'h200', gpus: 1, tensorParallel: 1, stack: 'reference' }, unblocked);
  t.deepEqual(one.violations, []);
  t.true(one.fits);
});

test('heads that do not split over TP are shard-shape violations', (t) => {
  const r = compileTarget({ ...QWEN235_2XA100, gpus: 3, tensorParallel: 3 }, recipe('w4a16-g128'));
  const roles = r.violations.filter((v) => v.code === 'shard-shape' && v.detail.dim !== undefined).map((v) => v.role);
  t.deepEqual(roles, ['attn_k', 'attn_o', 'attn_q', 'attn_v']);
});

test('violations are sorted by code, role, message', (t) => {
  const r = compileTarget({ ...QWEN235_2XA100, gpus: 3, tensorParallel: 3 }, recipe('fp8-w8a8'));
  t.deepEqual(r.violations, sortViolations(r.violations));
  t.true(r.violations.length > 3);
});

test('pipeline stages split the layers; embeddings on the first, lm_head on the last', (t) => {
  const r = compileTarget({ ...QWEN235_2XA100, hardware: 'a100-40gb', gpus: 8, tensorParallel: 2 }, recipe('w4a16-g128'));
  t.is(r.pipelineStages, 4);
  t.deepEqual(
    r.stages.map((s) => [s.firstLayer, s.endLayer]),
    [
      [0, 23],
      [23, 47],
      [47, 70],
      [70, 94],
    ],
  );
  const sum = r.stages.reduce((s, st) => s + st.weightBytes, 0) * 2;
  t.true(sum >= r.weightBytes.total && within(sum, r.weightBytes.total, 0.005));
  t.true(r.fits);
  t.is(r.perGpu.totalBytes, Math.max(...r.stages.map((s) => s.totalBytes)));
});

test('a long context and a large batch make the KV cache not fit', (t) => {
  const r = compileTarget({ model: 'qwen3-30b-a3b', hardware: 'l40s', gpus: 1, tensorParallel: 1, contextLength: 32768, batch: 64 }, recipe('w4a16-g128'));
  t.is(r.kvCache.bytesPerToken, 48 * 4 * 128 * 2 * 2);
  t.is(r.kvCache.totalBytes, r.kvCache.bytesPerToken * 32768 * 64);
  t.false(r.fits);
  t.deepEqual(codes(r), ['does-not-fit']);
  const fp8kv = compile({ model: loadModelConfig('qwen3-30b-a3b'), hardware: getHardwareProfile('l40s'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 32768, batch: 1 }, recipe: parseRecipe({ ...recipe('w4a16-g128'), kvCacheBits: 8 }) });
  t.is(fp8kv.kvCache.bytesPerToken, r.kvCache.bytesPerToken / 2);
  t.true(fp8kv.fits);
});

test('Qwen3-30B-A3B in bf16 fits one A100-80GB', (t) => {
  const r = compileTarget({ model: 'qwen3-30b-a3b', hardware: 'a100-80gb', gpus: 1, tensorParallel: 1 }, recipe('bf16'));
  t.true(within(r.parameters.total, 30.5e9));
  t.true(r.fits);
  t.deepEqual(r.violations, []);
  t.is(r.overhead.components.find((c) => c.name === 'communication-buffers')?.bytesPerGpu, 0);
});

test('dense llama compiles: dense_mlp modules, bf16 on one A100-40GB', (t) => {
  const model = normaliseModelConfig(LLAMA3_8B, 'llama3-8b');
  const r = compile({ model, hardware: getHardwareProfile('a100-40gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 8192, batch: 4 }, recipe: recipe('bf16'), stack: 'reference' });
  t.true(r.fits);
  t.is(r.modules.byRole.dense_mlp, 32 * 3);
  t.is(r.modules.byRole.expert_gate, 0);
  t.is(r.kvCache.bytesPerToken, 2 * 32 * 8 * 128 * 2);
  const q = compile({ model, hardware: getHardwareProfile('a100-40gb'), deployment: { gpus: 2, tensorParallel: 2, contextLength: 8192, batch: 4 }, recipe: recipe('w4a16-g128'), stack: 'reference' });
  t.deepEqual(q.violations, []);
  t.true(q.kernels.some((k) => k.role === 'dense_mlp' && k.kernel === 'marlin-int'));
});

test('mixtral compiles with expert roles and a w4a16 fit on one A100-40GB', (t) => {
  const model = normaliseModelConfig(MIXTRAL_8X7B, 'mixtral-8x7b');
  const r = compile({ model, hardware: getHardwareProfile('a100-40gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 4096, batch: 1 }, recipe: recipe('w4a16-g128') });
  t.true(r.fits);
  t.deepEqual(r.violations, []);
  t.is(r.modules.byRole.expert_down, 32 * 8);
  t.true(within(r.parameters.total, 46.7e9));
});

test('the proxy compiles; a tied lm_head is stored once', (t) => {
  const proxy = normaliseModelConfig(PROXY, 'proxy');
  const r = compile({ model: proxy, hardware: getHardwareProfile('a100-80gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 128, batch: 1 }, recipe: recipe('bf16') });
  t.true(r.fits);
  t.is(r.parameters.byRole.lm_head, 256 * 128);
  const tied = normaliseModelConfig({ ...PROXY, tie_word_embeddings: true }, 'tied');
  const rt = compile({ model: tied, hardware: getHardwareProfile('a100-80gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 128, batch: 1 }, recipe: recipe('bf16') });
  t.is(rt.parameters.byRole.lm_head, 0);
  t.is(rt.weightBytes.byRole.lm_head, 0);
  t.is(rt.parameters.total, r.parameters.total - 256 * 128);
  t.true(rt.notes.some((n) => n.startsWith('lm_head is tied')));
});

test('expert ranks choose which experts take a tier, not how many', (t) => {
  const model = loadModelConfig('qwen3-30b-a3b');
  const base = { model, hardware: getHardwareProfile('a100-80gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 4096, batch: 1 }, recipe: recipe('research-moe-hot4-cold3'), stack: 'reference' as const };
  const byIndex = compile(base);
  const reversed = compile({ ...base, expertRank: (_l, e) => 127 - e });
  t.is(reversed.weightBytes.total, byIndex.weightBytes.total);
  t.true(byIndex.notes.some((n) => n.startsWith('expert tiers applied by expert index')));
  t.false(reversed.notes.some((n) => n.startsWith('expert tiers applied by expert index')));
});

test('expert layer ranks choose which layers\' experts take a tier, not how many; every layer keeps one expert scheme', (t) => {
  const model = loadModelConfig('qwen3-30b-a3b');
  const L = model.numLayers;
  const base = { model, hardware: getHardwareProfile('a100-80gb'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 4096, batch: 1 }, recipe: recipe('moe-layers-sensitive4-rest3') };
  const byDepth = compile(base);
  const reversed = compile({ ...base, layerRank: (l) => L - 1 - l });
  t.is(reversed.weightBytes.total, byDepth.weightBytes.total);
  t.true(byDepth.notes.some((n) => n.startsWith('expert layer tiers applied by depth')));
  t.false(reversed.notes.some((n) => n.startsWith('expert layer tiers applied by depth')));
  // Servable on the default stack (vllm): Marlin serves the 4-bit layers' experts, Humming the 3-bit ones.
  t.is(byDepth.stack.id, 'vllm');
  t.deepEqual(codes(byDepth), []);
  const kernels = byDepth.kernels.filter((k) => k.role === 'expert_gate');
  t.deepEqual(kernels.map((k) => k.kernel).sort(), ['humming-moe', 'marlin-moe']);
  // A quarter of the layers (rounded up) at 4 bits: their experts' share of the modules.
  const E = model.moe!.numExperts;
  t.is(kernels.find((k) => k.kernel === 'marlin-moe')?.modules, Math.ceil(L / 4) * E);
  // Which layers: by depth the first quarter, reversed the last quarter; gate/up/down alike.
  const bitsByLayer = (layerRank?: (l: number) => number): number[] => {
    const specOf = createSpecResolver(base.recipe, model);
    const experts = enumerateModules(model, layerRank ? { layerRank } : {}).filter((m) => m.expert !== null);
    return Array.from({ length: L }, (_, l) => {
      const bits = new Set(experts.filter((m) => m.layer === l).map((m) => specOf(m).bits));
      t.is(bits.size, 1, `layer ${l}`);
      return [...bits][0];
    });
  };
  const q = Math.ceil(L / 4);
  t.deepEqual(bitsByLayer(), Array.from({ length: L }, (_, l) => (l < q ? 4 : 3)));
  t.deepEqual(bitsByLayer((l) => L - 1 - l), Array.from({ length: L }, (_, l) => (l >= L - q ? 4 : 3)));
});

test('decode roofline: fewer weight bytes decode faster on the same GPUs', (t) => {
  const target = { model: 'qwen3-235b-a22b', hardware: 'h200', gpus: 4, tensorParallel: 4 };
  const bf16 = compileTarget(target, recipe('bf16'));
  const w4 = compileTarget(target, recipe('w4a16-g128'));
  t.true(bf16.fits && w4.fits);
  t.true(w4.decode.tokensPerSecond > bf16.decode.tokensPerSecond);
  t.true(w4.decode.bytesPerStep < bf16.decode.bytesPerStep);
  const batched = compileTarget({ ...target, batch: 64 }, recipe('w4a16-g128'));
  t.true(batched.decode.tokensPerSecond > w4.decode.tokensPerSecond);
});

test('unknown model, unknown profile and bad deployments are typed one-line errors', (t) => {
  const m = t.throws(() => compileTarget({ ...QWEN235_2XA100, model: 'qwen4-1t' }, recipe('bf16')), { instanceOf: UnknownModelError });
  t.regex(m?.message ?? '', /^model: unknown model "qwen4-1t"/);
  const h = t.throws(() => compileTarget({ ...QWEN235_2XA100, hardware: 'a100-90gb' }, recipe('bf16')), { instanceOf: UnknownHardwareError });
  t.regex(h?.message ?? '', /^hardware: unknown profile "a100-90gb" \(known: a100-40gb, /);
  const d = t.throws(() => compileTarget({ ...QWEN235_2XA100, tensorParallel: 3 }, recipe('bf16')), { instanceOf: InvalidDeploymentError });
  t.is(d?.message, 'target.tensorParallel: 3 must divide gpus 2 (gpus = tensorParallel × pipeline stages)');
  const c = t.throws(
    () => compile({ model: loadModelConfig('qwen3-30b-a3b'), hardware: getHardwareProfile('h200'), deployment: { gpus: 1, tensorParallel: 1, contextLength: 0, batch: 1 }, recipe: recipe('bf16') }),
    { instanceOf: InvalidDeploymentError },
  );
  t.regex(c?.message ?? '', /^deployment\.contextLength: /);
});

test('formatReport prints one line per field and one per violation', (t) => {
  const lines = formatReport(compileTarget({ ...QWEN235_2XA100, gpus: 8, tensorParallel: 8 }, recipe('w4a16-g128')));
  t.true(lines.some((l) => l.startsWith('fits') && l.includes('yes')));
  t.true(lines.some((l) => l.startsWith('kv cache') && l.includes('188.0 KiB/token')));
  t.true(lines.some((l) => l.startsWith('violation') && l.includes('[shard-shape] expert_down')));
  t.true(lines.every((l) => !l.includes('\n')));
});

test('compile charges the KV policy: KIVI int4 g32 on Llama-3.1-70B, scales, zeros, residual and window exact, per GPU under TP2', (t) => {
  const kivi = parseRecipe({ ...recipe('w4a16-g128'), kvCache: { keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 }, recentWindow: 128 } });
  const r = compileTarget({ model: 'llama-3.1-70b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, contextLength: 1000, batch: 3, stack: 'reference' }, kivi);
  // Far from the window, per layer and KV head: K 64 B of codes + 128 channels × 4 B / 32 tokens; V 64 B + 4 groups × 4 B.
  t.is(r.kvCache.bytesPerToken, 80 * 8 * ((64 + 16) + (64 + 16)));
  t.is(r.kvCache.policy, 'K int4/channel/g32 V int4/token/g32 (window 128)');
  // At 1000 tokens: 872 quantizable = 27 key groups (864 tokens) + 8 residual; the window's 128 in bf16.
  const keys = 864 * 64 + 27 * 128 * 4 + (128 + 8) * 256;
  const values = 872 * (64 + 16) + 128 * 256;
  t.is(r.kvCache.totalBytes, 80 * 8 * 3 * (keys + values));
  t.is(r.perGpu.kvBytes, 80 * 4 * 3 * (keys + values));
  t.is(r.stages[0].kvBytes, r.perGpu.kvBytes);
  t.true(formatReport(r).some((l) => l.startsWith('kv cache') && l.includes('K int4/channel/g32 V int4/token/g32 (window 128)')));
});
