// Expert pruning and merging on the real proxy: which experts remain, that routing is renormalised
// over them (checked by hand on a real layer), what a merged expert is, what compile saves on
// Qwen3-235B-A22B, which stacks serve it, and what it costs in held-out bits/byte.
import test from 'ava';
import { captureCalibration, type CalibrationSet } from '../science/compression/calibration.js';
import { solveAssignment } from '../science/compression/assignment.js';
import { alignNeurons, keepExperts, mostRouted, reduceExperts, routerSimilarity, type ReducedModel } from '../science/compression/expert-reduction.js';
import { siteKey } from '../science/model/calibration-site.js';
import { loadBrown } from '../science/corpus/brown.js';
import { evaluateHeldOut } from '../science/evaluation/held-out.js';
import { ProxyModel, type ProxyWeights } from '../science/model/forward.js';
import * as names from '../science/model/tensor-names.js';
import { compile, compileTarget } from '../science/physics/compile.js';
import { getHardwareProfile } from '../science/hardware/profiles.js';
import { loadModelConfig } from '../science/model-configs/load.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { InvalidRecipeError, parseRecipe, Recipe, type ExpertReduction } from '../schema/recipe.js';
import type { CompileReport } from '../schema/compile-report.js';
import { techniqueById } from '../evolution/proposer/techniques.js';
import { getServingStack } from '../science/serving-stacks/index.js';
import { CT_WEIGHT_SHAPE_BYTES } from '../science/physics/weight-bytes.js';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { PROXY_DIR, proxy } from './helpers/proxy.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { applyRecipe, prepareModel } from '../science/compression/pipeline.js';
import { loadModel, writeQuantizedModel } from '../science/compression/quantized-format.js';
import { runExport } from '../science/export/run.js';
import { ExportRefusedError } from '../science/export/errors.js';
import { readSafetensors } from '../science/safetensors/format.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let calibration: CalibrationSet;
test.before(async () => {
  calibration = await captureCalibration(proxy().model, loadBrown().train, { tokens: 2048, minTokensPerExpert: 0 });
});

const evidence = () => ({ routedCounts: calibration.routedCounts, routerInputGram: (l: number) => calibration.stats.get(siteKey({ kind: 'moe_input', layer: l }))?.hessian });
const reduce = (mode: ExpertReduction['mode'], fraction: number): ReducedModel => reduceExperts(proxy().weights, { mode, fraction, rankBy: 'routing-frequency' }, evidence());
const tensorOf = (w: ProxyWeights, name: string): Float32Array => w.tensors.get(name)!;

/** Held-out windows as one batch: `count` windows of `seq` bytes. */
function heldOutTokens(count: number, seq: number): Uint8Array {
  const text = loadBrown().heldOut;
  const out = new Uint8Array(count * seq);
  for (let i = 0; i < count; i++) out.set(text.subarray(i * 997, i * 997 + seq), i * seq);
  return out;
}

test('pruning keeps the most-routed experts of every layer, renumbered, with their router rows', (t) => {
  const c = proxy().weights.config;
  const { weights, plan } = reduce('prune', 0.25);
  t.is(weights.config.num_experts, 6);
  t.is(weights.config.num_experts_per_tok, c.num_experts_per_tok);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const counts = calibration.routedCounts[l];
    const kept = plan.kept[l];
    t.is(kept.length, 6);
    // Every removed expert was routed at most as often as every kept one.
    const removed = counts.map((_, e) => e).filter((e) => !kept.includes(e));
    t.true(Math.max(...removed.map((e) => counts[e])) <= Math.min(...kept.map((e) => counts[e])), `layer ${l}: ${counts.join(' ')}`);
    const d = c.hidden_size;
    const router = tensorOf(proxy().weights, names.routerTensor(l));
    const reducedRouter = tensorOf(weights, names.routerTensor(l));
    t.is(reducedRouter.length, 6 * d);
    kept.forEach((orig, i) => {
      t.deepEqual(reducedRouter.subarray(i * d, (i + 1) * d), router.subarray(orig * d, (orig + 1) * d));
      for (const p of ['gate', 'up', 'down'] as const) t.is(tensorOf(weights, names.expertTensor(l, i, p)), tensorOf(proxy().weights, names.expertTensor(l, orig, p)));
    });
    t.false(weights.tensors.has(names.expertTensor(l, 6, 'gate')));
  }
  t.deepEqual(plan.mergedInto, [[], [], [], []]);
  t.deepEqual(mostRouted([5, 9, 9, 1], 2), [1, 2], 'ties go to the lower index');
});

test('with every expert kept the forward pass is the original one, bit for bit', async (t) => {
  const c = proxy().weights.config;
  const all = Array.from({ length: c.num_hidden_layers }, () => Array.from({ length: c.num_experts }, (_, e) => e));
  const same = new ProxyModel(keepExperts(proxy().weights, all));
  const tokens = heldOutTokens(4, 64);
  const [a, b] = [await proxy().model.forward(tokens, 4, 64), await same.forward(tokens, 4, 64)];
  t.deepEqual(b.logits, a.logits);
  t.deepEqual(b.expertCounts, a.expertCounts);
});

/** SwiGLU expert e (original weights) on one row: down · (silu(gate·h) ⊙ up·h). */
function expertOut(w: ProxyWeights, layer: number, e: number, h: Float32Array): Float64Array {
  const { hidden_size: d, moe_intermediate_size: f } = w.config;
  const gate = tensorOf(w, names.expertTensor(layer, e, 'gate'));
  const up = tensorOf(w, names.expertTensor(layer, e, 'up'));
  const down = tensorOf(w, names.expertTensor(layer, e, 'down'));
  const mid = new Float64Array(f);
  for (let i = 0; i < f; i++) {
    let g = 0;
    let u = 0;
    for (let j = 0; j < d; j++) {
      g += gate[i * d + j] * h[j];
      u += up[i * d + j] * h[j];
    }
    mid[i] = (g / (1 + Math.exp(-g))) * u;
  }
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) for (let i = 0; i < f; i++) out[j] += down[j * f + i] * mid[i];
  return out;
}

/** The MoE block by hand over a set of experts: softmax over their logits, top-k, gates renormalised (norm_topk_prob). */
function moeByHand(w: ProxyWeights, layer: number, experts: readonly number[], h: Float32Array): { out: Float64Array; probs: number[]; top: number[]; gates: number[] } {
  const d = w.config.hidden_size;
  const k = w.config.num_experts_per_tok;
  const router = tensorOf(w, names.routerTensor(layer));
  const logits = experts.map((e) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += router[e * d + j] * h[j];
    return s;
  });
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const z = exps.reduce((a, b) => a + b, 0);
  const probs = exps.map((x) => x / z);
  const order = probs.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p || a.i - b.i).slice(0, k);
  const sum = order.reduce((s, o) => s + o.p, 0);
  const gates = order.map((o) => o.p / sum);
  const out = new Float64Array(d);
  order.forEach((o, s) => {
    const y = expertOut(w, layer, experts[o.i], h);
    for (let j = 0; j < d; j++) out[j] += gates[s] * y[j];
  });
  return { out, probs, top: order.map((o) => o.i), gates };
}

test('routing is renormalised over the experts that remain: layer 0 of the pruned model against a hand computation', async (t) => {
  const w = proxy().weights;
  const d = w.config.hidden_size;
  const { weights, plan } = reduce('prune', 0.5);
  const kept = plan.kept[0];
  const pruned = new ProxyModel(weights);
  const seq = 32;
  const tokens = heldOutTokens(1, seq);
  const x = proxy().model.embedTokens(tokens, 1, seq);
  const xOrig = x.slice();
  const xPruned = x.slice();
  let h: Float32Array | null = null;
  let origProbs: Float32Array | null = null;
  let probs: Float32Array | null = null;
  let top: Int32Array | null = null;
  await proxy().model.runLayer(0, xOrig, 1, seq, { moeInput: (_l, rows, _n, p) => ((h = rows.slice()), (origProbs = p.slice())) });
  await pruned.runLayer(0, xPruned, 1, seq, { moeInput: (_l, _rows, _n, p, tp) => ((probs = p.slice()), (top = tp.slice())) });
  const E = w.config.num_experts;
  const E2 = kept.length;
  const all = Array.from({ length: E }, (_, e) => e);
  for (let r = 0; r < seq; r++) {
    const row = h!.subarray(r * d, (r + 1) * d);
    // The pruned router's softmax is the original one renormalised over the kept experts.
    const mass = kept.reduce((s, e) => s + origProbs![r * E + e], 0);
    kept.forEach((e, i) => t.true(Math.abs(probs![r * E2 + i] - origProbs![r * E + e] / mass) < 1e-5, `row ${r} expert ${e}`));
    const byHand = moeByHand(w, 0, kept, row);
    t.deepEqual([...top!.subarray(r * 2, r * 2 + 2)], byHand.top, `row ${r}: top-k over the kept experts`);
    t.true(Math.abs(byHand.gates.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'the chosen gates sum to 1, as norm_topk_prob does');
    // Attention is untouched, so the residuals differ by exactly the two MoE outputs.
    const full = moeByHand(w, 0, all, row);
    for (let j = 0; j < d; j++) {
      const expected = xOrig[r * d + j] - full.out[j] + byHand.out[j];
      t.true(Math.abs(xPruned[r * d + j] - expected) < 1e-4 * (1 + Math.abs(expected)), `row ${r} dim ${j}: ${xPruned[r * d + j]} vs ${expected}`);
    }
  }
});

test('the assignment solver finds the optimal permutation (against brute force)', (t) => {
  const n = 6;
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 5; trial++) {
    const cost = Float64Array.from({ length: n * n }, () => Math.round(rand() * 100));
    const assign = solveAssignment(cost, n);
    t.deepEqual([...assign].sort(), [0, 1, 2, 3, 4, 5]);
    const total = (p: ArrayLike<number>): number => Array.from(p).reduce((s, c, r) => s + cost[r * n + c], 0);
    let best = Infinity;
    const permute = (prefix: number[]): void => {
      if (prefix.length === n) best = Math.min(best, total(prefix));
      else for (let c = 0; c < n; c++) if (!prefix.includes(c)) permute([...prefix, c]);
    };
    permute([]);
    t.is(total(assign), best);
  }
});

test('merging folds each removed expert into its most router-similar kept expert: the frequency-weighted average after aligning neurons', (t) => {
  const w = proxy().weights;
  const { hidden_size: d, moe_intermediate_size: f } = w.config;
  const { weights, plan } = reduce('merge', 0.25);
  t.is(weights.config.num_experts, 6);
  const layer = 1;
  const gram = evidence().routerInputGram(layer);
  const router = tensorOf(w, names.routerTensor(layer));
  for (const [removed, into] of plan.mergedInto[layer]) {
    const sims = plan.kept[layer].map((k) => routerSimilarity(router, d, removed, k, gram));
    t.is(plan.kept[layer][sims.indexOf(Math.max(...sims))], into, `expert ${removed} folds into the kept expert with the most similar router logits`);
  }
  const [removed, into] = plan.mergedInto[layer][0];
  t.is(plan.mergedInto[layer].filter(([, k]) => k === into).length, 1, 'the first merged pair is a pair (this layer folds one expert into each target)');
  const mats = (e: number) => ({
    gate: tensorOf(w, names.expertTensor(layer, e, 'gate')),
    up: tensorOf(w, names.expertTensor(layer, e, 'up')),
    down: tensorOf(w, names.expertTensor(layer, e, 'down')),
  });
  const assign = alignNeurons(mats(into), mats(removed), d, f);
  t.deepEqual([...assign].sort((a, b) => a - b), Array.from({ length: f }, (_, i) => i), 'a permutation of the neurons');
  // Aligned neurons are more alike than neurons of the same index.
  const score = (p: (a: number) => number): number => {
    let s = 0;
    const [k, r] = [mats(into), mats(removed)];
    for (let a = 0; a < f; a++) for (let j = 0; j < d; j++) s += k.gate[a * d + j] * r.gate[p(a) * d + j] + k.up[a * d + j] * r.up[p(a) * d + j] + k.down[j * f + a] * r.down[j * f + p(a)];
    return s;
  };
  t.true(score((a) => assign[a]) > score((a) => a));
  const [ck, cr] = [calibration.routedCounts[layer][into], calibration.routedCounts[layer][removed]];
  const merged = plan.kept[layer].indexOf(into);
  const gate = tensorOf(weights, names.expertTensor(layer, merged, 'gate'));
  const down = tensorOf(weights, names.expertTensor(layer, merged, 'down'));
  for (const a of [0, 17, f - 1]) {
    for (const j of [0, 5, d - 1]) {
      const g = (ck * mats(into).gate[a * d + j] + cr * mats(removed).gate[assign[a] * d + j]) / (ck + cr);
      t.true(Math.abs(gate[a * d + j] - g) < 1e-6, `gate[${a}, ${j}]`);
      const dn = (ck * mats(into).down[j * f + a] + cr * mats(removed).down[j * f + assign[a]]) / (ck + cr);
      t.true(Math.abs(down[j * f + a] - dn) < 1e-6, `down[${j}, ${a}]`);
    }
  }
  // An expert nothing folded into is kept as it was.
  const untouched = plan.kept[layer].find((k) => !plan.mergedInto[layer].some(([, into2]) => into2 === k))!;
  t.is(tensorOf(weights, names.expertTensor(layer, plan.kept[layer].indexOf(untouched), 'up')), mats(untouched).up);
});

test('a reduction that leaves fewer experts than top-k is refused (pipeline) and a violation (compile)', (t) => {
  const w = proxy().weights;
  const topK7 = { config: { ...w.config, num_experts_per_tok: 7 }, tensors: w.tensors };
  t.throws(() => reduceExperts(topK7, { mode: 'prune', fraction: 0.25, rankBy: 'routing-frequency' }, evidence()), {
    instanceOf: InvalidRecipeError,
    message: /removes 2 of 8 experts per layer, leaving fewer than the 7 the router picks per token/,
  });
  t.throws(() => parseRecipe({ ...builtinRecipe('w4a16-g128-gptq')!, expertReduction: { mode: 'prune', fraction: 0.8 } }), { instanceOf: InvalidRecipeError });
  const qwen = loadModelConfig('qwen3-235b-a22b');
  const greedy = { ...qwen, moe: { ...qwen.moe!, numExpertsPerTok: 100 } };
  const recipe = parseRecipe({ ...builtinRecipe('w4a16-g128-gptq')!, name: 'p25', expertReduction: { mode: 'prune', fraction: 0.25 } });
  const r = compile({ model: greedy, hardware: getHardwareProfile('a100-80gb'), deployment: { gpus: 2, tensorParallel: 2 }, recipe, stack: 'reference' });
  t.deepEqual(r.violations.map((v) => v.code), ['too-few-experts']);
  t.regex(r.violations[0].message, /leaves 96 of 128 experts per layer, fewer than the 100 the router picks per token/);
});

const QWEN_2XA100 = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, stack: 'vllm' } as const;
const expertBytes = (r: CompileReport, by: 'weightBytes' | 'checkpointBytes'): number => r[by].byRole.expert_gate + r[by].byRole.expert_up + r[by].byRole.expert_down;

test('compile: pruning a quarter of Qwen3-235B-A22B\'s experts saves a quarter of its expert bytes, and their router rows, on each of 2×A100', (t) => {
  const base = builtinRecipe('w4a16-g128-gptq')!;
  const full = compileTarget(QWEN_2XA100, base);
  for (const mode of ['prune', 'merge'] as const) {
    const reduced = compileTarget(QWEN_2XA100, parseRecipe({ ...base, name: `${mode}25`, expertReduction: { mode, fraction: 0.25 } }));
    t.is(reduced.model.numExperts, 96);
    t.deepEqual(reduced.violations, [], `${mode}: servable on vllm through the compressed-tensors checkpoint`);
    const layers = 94;
    const routerRows = 32 * 4096 * 2 * layers;
    // Every expert of a layer has the same spec: exactly a quarter of the expert bytes go.
    t.is(expertBytes(reduced, 'weightBytes'), expertBytes(full, 'weightBytes') * 0.75);
    t.is(expertBytes(reduced, 'checkpointBytes'), expertBytes(full, 'checkpointBytes') * 0.75);
    t.is(full.weightBytes.total - reduced.weightBytes.total, expertBytes(full, 'weightBytes') / 4 + routerRows);
    t.is(full.checkpointBytes.total - reduced.checkpointBytes.total, expertBytes(full, 'checkpointBytes') / 4 + routerRows);
    // TP2 gives each GPU half of every expert's codes and scales (and a whole weight_shape pair of
    // its own); routers are replicated.
    const shapes = 32 * 3 * layers * CT_WEIGHT_SHAPE_BYTES;
    t.is(full.perGpu.weightBytes - reduced.perGpu.weightBytes, (expertBytes(full, 'weightBytes') / 4 - shapes) / 2 + shapes + routerRows);
    t.is(full.perGpu.totalBytes - reduced.perGpu.totalBytes, full.perGpu.weightBytes - reduced.perGpu.weightBytes, 'KV cache and overhead do not change');
    t.is(reduced.weightBytes.bf16Total, full.weightBytes.bf16Total, 'savings are against the published model');
    t.true(reduced.reduction.weights > full.reduction.weights);
    t.is(full.parameters.total - reduced.parameters.total, 32 * layers * (3 * 4096 * 1536 + 4096));
    t.regex(reduced.notes.join('\n'), /removes|folds away/);
    t.log(`${mode} 25%: ${(full.perGpu.totalBytes / 1e9).toFixed(2)} → ${(reduced.perGpu.totalBytes / 1e9).toFixed(2)} GB per GPU (${((full.perGpu.totalBytes - reduced.perGpu.totalBytes) / 1e9).toFixed(2)} GB saved)`);
  }
});

test('servability: vLLM serves the reduced compressed-tensors checkpoint evoquant writes; its GPTQ and GGUF exports keep every expert', (t) => {
  // Symmetric, so that the GPTQ checkpoint's own limit (4/8-bit symmetric) holds.
  const gptq = builtinRecipe('w4a16-g128-gptq')!;
  const symmetric = parseRecipe({ ...gptq, name: 'sym', default: { ...gptq.default, symmetric: true } });
  const recipe = parseRecipe({ ...symmetric, name: 'p25', expertReduction: { mode: 'prune', fraction: 0.25 } });
  const notServable = (r: CompileReport): string[] => r.violations.filter((v) => v.code === 'not-servable').map((v) => String(v.detail.rule));
  t.deepEqual(notServable(compileTarget({ ...QWEN_2XA100, checkpoint: 'compressed-tensors' }, recipe)), []);
  t.deepEqual(notServable(compileTarget({ ...QWEN_2XA100, checkpoint: 'gptq' }, recipe)), ['vllm.checkpoint.gptq.evoquant']);
  t.deepEqual(notServable(compileTarget({ ...QWEN_2XA100, checkpoint: 'gptq' }, symmetric)), [], 'the same recipe without the reduction');
  t.true(notServable(compileTarget({ ...QWEN_2XA100, stack: 'llama.cpp' }, recipe)).includes('llama.cpp.checkpoint.gguf.evoquant'));
  t.deepEqual(notServable(compileTarget({ ...QWEN_2XA100, stack: 'reference' }, recipe)), []);
});

test('the operators add or step up a reduction, switch its mode, and decline where the checkpoint keeps every expert', (t) => {
  const base = builtinRecipe('w4a16-g128-gptq')!;
  const prune = techniqueById('expert-pruning');
  const merge = techniqueById('expert-merging');
  const first = prune.apply(base, xoroshiro128plus(1))!;
  t.is(first.expertReduction?.mode, 'prune');
  t.true([0.125, 0.25].includes(first.expertReduction!.fraction));
  const stepped = prune.apply(first, xoroshiro128plus(1))!;
  t.true(stepped.expertReduction!.fraction > first.expertReduction!.fraction);
  const switched = merge.apply(first, xoroshiro128plus(1))!;
  t.deepEqual(switched.expertReduction, { ...first.expertReduction!, mode: 'merge' });
  t.is(prune.apply({ ...base, expertReduction: { mode: 'prune', fraction: 0.5, rankBy: 'routing-frequency' } }, xoroshiro128plus(1)), null, 'half is the most it removes');
  t.notThrows(() => Recipe.parse(stepped));
  const llama = { table: getServingStack('llama.cpp'), hw: getHardwareProfile('a100-80gb') };
  const vllm = { table: getServingStack('vllm'), hw: getHardwareProfile('a100-80gb') };
  t.is(prune.apply(base, xoroshiro128plus(1), llama), null);
  t.not(prune.apply(base, xoroshiro128plus(1), vllm), null);
  t.is(merge.apply(base, xoroshiro128plus(1), { ...vllm, roles: new Set(['attn_q', 'dense_mlp'] as const) }), null, 'a dense model has no experts to reduce');
});

test('held-out bits/byte: pruning a quarter of the experts costs accuracy but stays finite; merging measured against pruning at the same count', async (t) => {
  const tokens = 4096;
  const base = (await evaluateHeldOut(proxy().model, { tokens })).bitsPerByte;
  const measured: Record<string, number> = {};
  for (const fraction of [0.25, 0.5]) {
    for (const mode of ['prune', 'merge'] as const) {
      const m = await evaluateHeldOut(new ProxyModel(reduce(mode, fraction).weights), { tokens });
      measured[`${mode}-${fraction}`] = m.bitsPerByte;
      t.true(Number.isFinite(m.bitsPerByte), `${mode} ${fraction}`);
      t.true(m.bitsPerByte > base, `${mode} ${fraction}: ${m.bitsPerByte} vs ${base}`);
      // Each layer's routed tokens are spread over 8 experts: removing experts loses what they knew.
      t.true(m.bitsPerByte < 8, 'far from a broken model (8 bits/byte is a uniform guess)');
    }
    t.true(measured[`prune-${fraction}`] < 8);
  }
  t.true(measured['prune-0.5'] > measured['prune-0.25'], 'removing more experts costs more');
  t.true(measured['merge-0.5'] > measured['merge-0.25']);
  // What we measure on this proxy: merging is within a few percent of pruning, not better (its
  // 8 experts were trained apart, so even aligned neurons average into a blurrier expert).
  t.true(Math.abs(measured['merge-0.25'] / measured['prune-0.25'] - 1) < 0.1);
  t.log(`bits/byte: unreduced ${base.toFixed(4)}; ${Object.entries(measured).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('; ')}`);
});

test('quantize → stored model → eval → export: a pruned recipe is a quantized model with 6 experts, and compressed-tensors writes it as one', async (t) => {
  const dir = makeTempDir('prune');
  t.teardown(() => removeTempDir(dir));
  const prepared = await prepareModel(PROXY_DIR, { calibration: { tokens: 512 }, weights: proxy().weights });
  // Symmetric, so that only the expert reduction keeps the GPTQ checkpoint from taking it.
  const rtn = builtinRecipe('w4a16-g128-rtn')!;
  const recipe = parseRecipe({ ...rtn, name: 'prune25-w4', default: { ...rtn.default, symmetric: true }, expertReduction: { mode: 'prune', fraction: 0.25 } });
  const qp = await applyRecipe(prepared, recipe);
  t.is(qp.weights.config.num_experts, 6);
  t.is(qp.modules.filter((m) => m.module.role === 'expert_up').length, 4 * 6, 'quantization applies to the experts that remain');
  const unreduced = await applyRecipe(prepared, builtinRecipe('w4a16-g128-rtn')!);
  t.true(qp.bytes.total < unreduced.bytes.total);
  const out = join(dir, 'q');
  writeQuantizedModel(out, qp, prepared.weights.config);
  const loaded = loadModel(out);
  t.is(loaded.config.num_experts, 6);
  t.deepEqual(loaded.quantization?.expert_reduction?.kept, qp.expertReduction?.kept);
  t.deepEqual(loaded.quantization?.recipe.expertReduction, recipe.expertReduction);
  const m = await evaluateHeldOut(new ProxyModel(loaded), { tokens: 1024 });
  t.true(Number.isFinite(m.bitsPerByte));
  t.is(m.expertFrequency[0].length, 6);

  const ct = join(dir, 'ct');
  await runExport({ quantizedDir: out, format: 'compressed-tensors', out: ct, replace: false });
  const config = JSON.parse(readFileSync(join(ct, 'config.json'), 'utf8')) as { num_local_experts: number };
  t.is(config.num_local_experts, 6);
  const tensors = [...readSafetensors(join(ct, 'model.safetensors')).tensors.keys()];
  const ids = new Set(tensors.flatMap((n) => /experts\.(\d+)\./.exec(n)?.[1] ?? []));
  t.deepEqual([...ids].map(Number).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'experts renumbered 0..5');
  const err = await t.throwsAsync(runExport({ quantizedDir: out, format: 'llmcompressor', out: join(dir, 'llmc'), replace: false }), { instanceOf: ExportRefusedError });
  t.regex(err?.message ?? '', /llmcompressor quantizes the original model with every expert/);
  // The GPTQ export is refused by the rule compile names for that checkpoint.
  const gptq = await t.throwsAsync(runExport({ quantizedDir: out, format: 'gptqmodel', out: join(dir, 'gptq'), replace: false }), { instanceOf: ExportRefusedError });
  t.regex(gptq?.message ?? '', /keeps every expert: no expert pruning \[vllm\.checkpoint\.gptq\.evoquant;/);
});
