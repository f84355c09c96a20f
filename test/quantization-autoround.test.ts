// AutoRound (learned rounding) on the committed proxy's real weights and activations: it beats RTN
// on held-out activations, is bit-reproducible, stores codes on the RTN/GPTQ grid, descends its
// objective, quantizes and evaluates the whole proxy, compiles on vLLM and exports where a tool runs it.
import test from 'ava';
import type { CalibrationSet } from '../science/compression/calibration.js';
import { applyRecipe, prepareModel, type PreparedModel } from '../science/compression/pipeline.js';
import { specsFor } from '../science/compression/quantize-model.js';
import { evaluateHeldOut } from '../science/evaluation/held-out.js';
import { ExportRefusedError } from '../science/export/errors.js';
import { gptqModelConfig } from '../science/export/gptqmodel.js';
import { llmCompressorRecipe } from '../science/export/llmcompressor.js';
import type { ExportModule, QuantizedModelView } from '../science/export/modules.js';
import { linear } from '../science/kernels/matmul.js';
import { siteKey } from '../science/model/calibration-site.js';
import { ProxyModel } from '../science/model/forward.js';
import { proxyModules, type ProxyModule } from '../science/model/modules.js';
import { compileTarget } from '../science/physics/compile.js';
import { autoRoundQuantize, type AutoRoundResult } from '../science/quantization/autoround.js';
import type { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { dequantizeIntGroups, groupCount, maxCode } from '../science/quantization/grid.js';
import { fromFp16Bits } from '../science/quantization/half.js';
import { unpackCodes } from '../science/quantization/packing.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize, type QuantizedLinear } from '../science/quantization/quantized-linear.js';
import { rtnQuantize } from '../science/quantization/rtn.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { TECHNIQUES } from '../evolution/proposer/techniques.js';
import { recipeHash } from '../schema/content-hash.js';
import type { JsonValue } from '../schema/db.js';
import { parseRecipe, QuantSpec, type QuantSpecInput, type Recipe } from '../schema/recipe.js';
import { PROXY_DIR, proxy } from './helpers/proxy.js';
import { realLayerActivations } from './helpers/real-layers.js';

let calibration: CalibrationSet;
let heldOut: CalibrationSet;

test.before(async () => {
  ({ calibration, heldOut } = await realLayerActivations());
});

function moduleOf(tensorPart: string): ProxyModule {
  const m = proxyModules(proxy().weights.config).find((x) => x.tensor.includes(tensorPart));
  if (!m) throw new Error(`no module ${tensorPart}`);
  return m;
}

function hottestExpert(layer: number): number {
  const counts = calibration.routedCounts[layer];
  return counts.indexOf(Math.max(...counts));
}

const weightOf = (m: ProxyModule): Float32Array => proxy().weights.tensors.get(m.tensor)!;
const statsOf = (set: CalibrationSet, m: ProxyModule): CalibrationStats => set.stats.get(siteKey(m.calibration!))!;

async function quantize(m: ProxyModule, spec: QuantSpecInput): Promise<QuantizedLinear> {
  return quantizeLinear(weightOf(m), m.outFeatures, m.inFeatures, statsOf(calibration, m), QuantSpec.parse(spec), { label: m.tensor });
}

/** ‖X Wᵀ − X Ŵᵀ‖² / ‖X Wᵀ‖² on held-out activation rows the quantizer never saw. */
async function heldOutError(m: ProxyModule, wq: Float32Array): Promise<number> {
  const s = statsOf(heldOut, m);
  const x = s.samples();
  const y = await linear(x, weightOf(m), s.sampleCount, m.inFeatures, m.outFeatures);
  const yq = await linear(x, wq, s.sampleCount, m.inFeatures, m.outFeatures);
  let err = 0;
  let norm = 0;
  for (let i = 0; i < y.length; i++) {
    err += (y[i] - yq[i]) ** 2;
    norm += y[i] ** 2;
  }
  return err / norm;
}

/** The calibration objective Σ_r Δ_r·H·Δ_rᵀ / count in float64, straight from H and the weights. */
function objective(w: Float32Array, wq: Float32Array, out: number, n: number, stats: CalibrationStats): number {
  let sum = 0;
  const d = new Float64Array(n);
  for (let r = 0; r < out; r++) {
    for (let j = 0; j < n; j++) d[j] = w[r * n + j] - wq[r * n + j];
    for (let i = 0; i < n; i++) {
      if (d[i] === 0) continue;
      let hi = 0;
      for (let j = 0; j < n; j++) hi += stats.hessian[i * n + j] * d[j];
      sum += d[i] * hi;
    }
  }
  return sum / stats.count;
}

const AUTOROUND = { kind: 'autoround' } as const;
const GPTQ = { kind: 'gptq' } as const;
const SETTINGS = [
  { bits: 4, groupSize: 128 },
  { bits: 3, groupSize: 128 },
  { bits: 2, groupSize: 64 },
] as const;

for (const target of ['attn_q', 'expert_gate', 'expert_down'] as const) {
  test(`AutoRound beats RTN on held-out activations of the proxy's real ${target} at w4g128, w3g128 and w2g64`, async (t) => {
    const layer = 1;
    const m =
      target === 'attn_q'
        ? moduleOf(`layers.${layer}.self_attn.q_proj`)
        : moduleOf(`layers.${layer}.mlp.experts.${hottestExpert(layer)}.${target === 'expert_gate' ? 'gate' : 'down'}_proj`);
    for (const s of SETTINGS) {
      const rtn = await heldOutError(m, dequantize(await quantize(m, { ...s, method: { kind: 'rtn' } })));
      const gptq = await heldOutError(m, dequantize(await quantize(m, { ...s, method: GPTQ })));
      const ar = await heldOutError(m, dequantize(await quantize(m, { ...s, method: AUTOROUND })));
      t.log(`${m.tensor} w${s.bits}g${s.groupSize}: rtn ${rtn.toExponential(3)} autoround ${ar.toExponential(3)} (${(ar / rtn).toFixed(2)}× RTN) gptq ${gptq.toExponential(3)}`);
      t.true(ar < rtn, `AutoRound ${ar} < RTN ${rtn} at w${s.bits}g${s.groupSize}`);
    }
  });
}

test('AutoRound is bit-reproducible, and its stored codes sit on the RTN/GPTQ grid and dequantize as stored', async (t) => {
  const m = moduleOf(`layers.2.mlp.experts.${hottestExpert(2)}.up_proj`);
  const spec = { bits: 3, groupSize: 64, method: AUTOROUND } as const;
  const a = await quantize(m, spec);
  const b = await quantize(m, spec);
  t.deepEqual(a.codes, b.codes);
  t.deepEqual(a.scales, b.scales);
  t.deepEqual(a.zeros, b.zeros);
  t.is(a.channelScales, undefined, 'no per-channel tensor: the stored form is a plain int grid');
  const codes = unpackCodes(a.codes, 3, m.outFeatures * m.inFeatures);
  const zeros = unpackCodes(a.zeros!, 3, m.outFeatures * groupCount(64, m.inFeatures));
  t.true(codes.every((c) => c >= 0 && c <= maxCode(3)));
  t.true(zeros.every((z) => z >= 0 && z <= maxCode(3)));
  // (code − zero)·scale with the stored fp16 scale, recomputed here, is exactly what dequantize gives.
  const wq = dequantize(a);
  const nGroups = groupCount(64, m.inFeatures);
  for (let r = 0; r < m.outFeatures; r++) {
    for (let j = 0; j < m.inFeatures; j++) {
      const g = r * nGroups + Math.floor(j / 64);
      const expect = Math.fround((codes[r * m.inFeatures + j] - zeros[g]) * fromFp16Bits(a.scales[g]));
      if (wq[r * m.inFeatures + j] !== expect) return t.fail(`weight (${r}, ${j}): ${wq[r * m.inFeatures + j]} ≠ ${expect}`);
    }
  }
  const rtn = await quantize(m, { ...spec, method: { kind: 'rtn' } });
  t.notDeepEqual(a.codes, rtn.codes, 'the search moved codes');
});

test('with no step AutoRound is exactly RTN; over 200 steps its objective falls well below RTN and the kept step is the stored one', async (t) => {
  const m = moduleOf(`layers.1.mlp.experts.${hottestExpert(1)}.gate_proj`);
  const w = weightOf(m);
  const stats = statsOf(calibration, m);
  const grid = { bits: 3, groupSize: 128 as const, symmetric: false };
  const rtn = rtnQuantize(w, m.outFeatures, m.inFeatures, grid);
  const none = autoRoundQuantize(w, m.outFeatures, m.inFeatures, stats, { ...grid, iterations: 0, learningRate: 0.005, minMax: true });
  t.deepEqual(none.codes, rtn.codes);
  t.deepEqual(none.scales, rtn.scales);
  t.deepEqual(none.zeros, rtn.zeros);

  const r: AutoRoundResult = autoRoundQuantize(w, m.outFeatures, m.inFeatures, stats, { ...grid, iterations: 200, learningRate: 0.005, minMax: true });
  t.is(r.losses.length, 201);
  const rtnLoss = objective(w, dequantizeIntGroups(rtn, m.outFeatures, m.inFeatures, 3, 128), m.outFeatures, m.inFeatures, stats);
  // losses[0] is RTN's objective; H is rounded to a 2^−K fixed-point grid, hence the tolerance.
  t.true(Math.abs(r.losses[0] - rtnLoss) <= 1e-5 * rtnLoss, `step 0 ${r.losses[0]} vs RTN ${rtnLoss}`);
  const kept = objective(w, dequantizeIntGroups(r, m.outFeatures, m.inFeatures, 3, 128), m.outFeatures, m.inFeatures, stats);
  t.true(Math.abs(r.losses[r.bestStep] - kept) <= 1e-5 * kept, `kept step ${r.losses[r.bestStep]} vs stored ${kept}`);
  t.is(Math.min(...r.losses), r.losses[r.bestStep]);
  const mean = (xs: Float64Array): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const head = mean(r.losses.subarray(1, 21));
  const tail = mean(r.losses.subarray(181));
  t.log(`objective: RTN ${rtnLoss.toExponential(4)}, steps 1–20 ${head.toExponential(4)}, steps 181–200 ${tail.toExponential(4)}, best ${kept.toExponential(4)} at step ${r.bestStep}`);
  t.true(head < r.losses[0] && tail < head, 'the objective descends');
  t.true(kept < 0.6 * rtnLoss, `kept ${kept} < 0.6 × RTN ${rtnLoss}`);
  // Without the min/max factors only the rounding moves: still better than RTN, less than with them.
  const vOnly = autoRoundQuantize(w, m.outFeatures, m.inFeatures, stats, { ...grid, iterations: 200, learningRate: 0.005, minMax: false });
  t.true(vOnly.losses[vOnly.bestStep] < r.losses[0]);
});

test('AutoRound on symmetric grids and with outliers still beats RTN with the same grid and outliers', async (t) => {
  const m = moduleOf('layers.0.self_attn.o_proj');
  for (const extra of [{ symmetric: true }, { outliers: { fraction: 0.01 } }] as const) {
    const spec = { bits: 3, groupSize: 128, ...extra } as const;
    const rtn = await heldOutError(m, dequantize(await quantize(m, { ...spec, method: { kind: 'rtn' } })));
    const ar = await heldOutError(m, dequantize(await quantize(m, { ...spec, method: AUTOROUND })));
    t.log(`${m.tensor} ${JSON.stringify(extra)}: rtn ${rtn.toExponential(3)} autoround ${ar.toExponential(3)}`);
    t.true(ar < rtn, JSON.stringify(extra));
  }
});

test('the autoround gene: defaults, bounds, and every older recipe parses and hashes as before', (t) => {
  const r = parseRecipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround' } } });
  t.deepEqual(r.default.method, { kind: 'autoround', iterations: 200, minMax: true });
  t.throws(() => parseRecipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround', iterations: 1001 } } }), { message: /iterations/ });
  t.throws(() => parseRecipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround', iterations: 0 } } }), { message: /iterations/ });
  t.throws(() => parseRecipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround', learningRate: 2 } } }), { message: /learningRate/ });
  t.throws(() => parseRecipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround', steps: 5 } } }), { message: /steps/ });
  t.throws(() => parseRecipe({ name: 'ar', default: { bits: 8, format: 'fp8', method: { kind: 'autoround' } } }), { message: /fp8/ });
  // Hashes computed on the commit before the gene existed.
  const before: Record<string, string> = {
    'w4a16-g128-gptq': 'b5720b10e26ce633452d4ce6b76dbe5156acfa3bc7d61a49dbcb96185c30cb7e',
    'w3a16-g128-awq': 'cac07ec6aa03994ff86a07b6cb87c70b0880058dcd604031ea69eba5fc8b5517',
    'w2a16-g64-rtn': '7a78d0ba27c09e04521c05a9afac61b28fa8a2b714e7caf0c64d9968320fb4f8',
  };
  // The AWQ builtins have since moved to shared-input scales: the per-module recipe as it was then.
  const bf16 = { bits: 16, format: 'int' } as const;
  const perModuleAwq = parseRecipe({
    name: 'w3a16-g128-awq',
    description: '3-bit weight-only, group 128, asymmetric, AWQ',
    default: { bits: 3, groupSize: 128, symmetric: false, method: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 } },
    roles: { router: bf16, embeddings: bf16, lm_head: bf16 },
  });
  const recipeOf = (name: string): Recipe => (name === 'w3a16-g128-awq' ? perModuleAwq : builtinRecipe(name)!);
  // Recipes of that commit carried the legacy `kvCacheBits: 16`, which the KV policy (`kvCache`,
  // absent for bf16) has since replaced: with it put back, the JSON and its hash are the same.
  const asThen = (r: Recipe): JsonValue => ({ ...(r as unknown as Record<string, JsonValue>), kvCacheBits: 16 });
  for (const [name, hash] of Object.entries(before)) t.is(recipeHash(asThen(recipeOf(name))), hash, name);
  t.is(recipeHash(asThen(parseRecipe({ name: 'm', default: { bits: 4, method: { kind: 'gptq' } } }))), '7a47516a3405202686c532ac005c9c09ebda31b4fc0a2fdb97b90437513b73ef');
  t.false('kvCacheBits' in recipeOf('w4a16-g128-gptq'), 'no recipe carries the legacy field any more');
});

function withAutoRound(name: string, method: Recipe['default']['method'] = { kind: 'autoround', iterations: 200, minMax: true }): Recipe {
  const base = builtinRecipe(name)!;
  return parseRecipe({ ...base, name: name.replace(/-(rtn|gptq)$/, '-autoround'), default: { ...base.default, method } });
}

test('autoround is a gene, not yet a proposer operator (20–50 s of CPU per proxy child); compile on vLLM and the text exports', (t) => {
  // The CPU reference executor makes it too slow for an evolution's children; the GPU executor
  // (issue #9) is where the proposer gets it.
  t.false(TECHNIQUES.some((x) => x.id === 'autoround'));

  // A plain int grid: vLLM serves it with the kernels it gives the same bits and groups under GPTQ.
  const target = { model: PROXY_DIR, hardware: 'a100-80gb', gpus: 1, tensorParallel: 1, stack: 'vllm' };
  for (const name of ['w4a16-g128-gptq', 'w3a16-g128-gptq']) {
    const ar = compileTarget(target, withAutoRound(name));
    const gptq = compileTarget(target, builtinRecipe(name)!);
    t.deepEqual(ar.violations, [], name);
    t.deepEqual(ar.kernels, gptq.kernels);
    t.deepEqual(ar.weightBytes, gptq.weightBytes);
    t.true(ar.fits);
  }

  const recipe = withAutoRound('w4a16-g128-gptq');
  const modules: ExportModule[] = specsFor(proxy().weights, recipe, { routing: calibration.routedCounts }).map(({ module: m, spec }) => ({
    tensor: m.tensor,
    role: m.role,
    projection: ({ embeddings: 'embed', attn_q: 'q', attn_k: 'k', attn_v: 'v', attn_o: 'o', router: 'router', expert_gate: 'gate', expert_up: 'up', expert_down: 'down', lm_head: 'lm_head' } as const)[m.role as 'attn_q'],
    layer: m.layer,
    expert: m.expert,
    inFeatures: m.inFeatures,
    outFeatures: m.outFeatures,
    spec,
  }));
  const view = { dir: 'x', config: proxy().weights.config, recipe, quantization: null as never, modules } satisfies QuantizedModelView;
  const yaml = llmCompressorRecipe(view);
  const modifier = Object.values(Object.values(yaml)[0])[0];
  t.deepEqual(Object.keys(modifier), ['AutoRoundModifier']);
  t.like(modifier.AutoRoundModifier, { iters: 200, lr: 0.005 });
  t.like(Object.values(modifier.AutoRoundModifier!.config_groups)[0].weights, { num_bits: 4, type: 'int', symmetric: false, strategy: 'group', group_size: 128 });
  const vOnly = { ...view, modules: modules.map((m) => ({ ...m, spec: m.spec.bits === 16 ? m.spec : { ...m.spec, method: { kind: 'autoround' as const, iterations: 200, minMax: false } } })) };
  t.throws(() => llmCompressorRecipe(vOnly), { instanceOf: ExportRefusedError, message: /minMax/ });
  t.throws(() => gptqModelConfig(view), { instanceOf: ExportRefusedError, message: /AutoRound/ });
});

let prepared: PreparedModel;

test.serial('a recipe with autoround quantizes the whole proxy and evaluates: bits/byte on held-out text vs RTN and GPTQ', async (t) => {
  prepared ??= await prepareModel(PROXY_DIR);
  // w3g128: where the methods part most (at w4g128 the three lie within 0.006 bits/byte of each other).
  for (const bits of [3] as const) {
    const rows: Record<string, number> = {};
    for (const method of ['rtn', 'gptq', 'autoround'] as const) {
      const recipe = method === 'autoround' ? withAutoRound(`w${bits}a16-g128-gptq`) : builtinRecipe(`w${bits}a16-g128-${method}`)!;
      const started = performance.now();
      const q = await applyRecipe(prepared, recipe);
      const seconds = (performance.now() - started) / 1000;
      t.true(q.modules.filter((m) => m.spec.bits !== 16).every((m) => m.spec.method.kind === method), `${method}: every quantized module`);
      const metrics = await evaluateHeldOut(new ProxyModel(q.weights));
      rows[method] = metrics.bitsPerByte;
      t.log(`w${bits}a16-g128 ${method}: ${metrics.bitsPerByte.toFixed(4)} bits/byte, top-1 ${(100 * metrics.top1).toFixed(2)} % (quantized in ${seconds.toFixed(1)} s)`);
    }
    t.true(rows.autoround < rows.rtn, `w${bits}: AutoRound ${rows.autoround} < RTN ${rows.rtn} bits/byte`);
  }
});
