// Q-Enhance on the dense long-context proxy: a layer-by-layer sensitivity measured per position
// bucket, depth bands read along it, the executor placing 8-bit layers by it, compile pricing it,
// and the operators that propose it only on dense targets.
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { LONG_CONTEXT_TARGET } from '../benchmarks/context/target.js';
import { DENSE_TECHNIQUES } from '../evolution/proposer/dense-techniques.js';
import { servingContext } from '../evolution/proposer/serving-context.js';
import { loadDenseWeights } from '../science/compression/dense-artifact.js';
import { denseSpecs, quantizeDense } from '../science/compression/quantize-dense.js';
import { loadBrown } from '../science/corpus/brown.js';
import { ReferenceExecutor } from '../science/executor/reference-executor.js';
import { compileTarget } from '../science/physics/compile.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { longContextQuantiles, measureLongContextSensitivity } from '../science/sensitivity/long-context.js';
import { LONG_CONTEXT_ORDER, parseRecipe, resolveSpec, type Recipe } from '../schema/recipe.js';
import type { LongContextSensitivity } from '../schema/sensitivity.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const PROXY = join(repo, 'artifacts/dense-proxy');
const W4 = builtinRecipe('w4a16-g128-gptq')!;
const longRange = (share: number, bits: 3 | 4 | 8): Recipe =>
  parseRecipe({ ...W4, name: `w4+long-range-${share}`, depth: [{ from: 0, to: share, order: LONG_CONTEXT_ORDER, override: { bits } }] });

test('the long-context sensitivity of the trained proxy: every layer, every bucket, and the rank it gives', async (t) => {
  const weights = loadDenseWeights(PROXY);
  const profile = await measureLongContextSensitivity(weights, 'test', loadBrown().train, { tokens: 2048 });
  t.is(profile.layers.length, 4);
  t.deepEqual(profile.buckets, [{ from: 0, to: 128 }, { from: 128, to: 512 }, { from: 512, to: 1024 }]);
  for (const l of profile.layers) {
    t.is(l.klBits.length, 3);
    for (const kl of l.klBits) t.true(kl > 0 && kl < 2, `layer ${l.layer}: KL ${kl}`);
  }
  const quantiles = longContextQuantiles(profile);
  t.deepEqual([...quantiles].sort(), [0, 0.25, 0.5, 0.75]);
  const farthest = (layer: number) => profile.layers[layer].klBits[2];
  const top = quantiles.indexOf(0);
  for (let l = 0; l < 4; l++) t.true(farthest(top) >= farthest(l), 'rank 0 is the layer that hurts the far bucket most');
});

test('the rank breaks ties by layer index, so the order is reproducible', (t) => {
  const profile: LongContextSensitivity = {
    version: 1,
    modelHash: 'h',
    bits: 3,
    groupSize: 128,
    tokens: 1024,
    buckets: [{ from: 0, to: 512 }, { from: 512, to: 1024 }],
    layers: [0.1, 0.3, 0.3, 0.2].map((kl, layer) => ({ layer, klBits: [9, kl] })),
  };
  t.deepEqual(longContextQuantiles(profile), [0.75, 0, 0.25, 0.5]);
});

test('an ordered band is read along the measured rank, and along depth where no rank is given', (t) => {
  const r = longRange(0.25, 8);
  const site = { role: 'attn_q' as const, layer: 3, numLayers: 4, expertQuantile: null };
  t.is(resolveSpec(r, { ...site, longContextQuantile: 0 }).bits, 8, 'layer 3 ranked first keeps 8 bits');
  t.is(resolveSpec(r, { ...site, longContextQuantile: 0.5 }).bits, 4);
  t.is(resolveSpec(r, site).bits, 4, 'no rank: by depth, layer 3 of 4 is outside [0, 0.25)');
  t.is(resolveSpec(r, { ...site, layer: 0 }).bits, 8);
  t.throws(() => parseRecipe({ ...W4, depth: [{ from: 0, to: 0.25, order: 'by-vibes', override: { bits: 8 } }] }), { message: /order/ });
});

test('quantizing needs the measurement: refused without it, and the 8-bit layer is the measured one with it', async (t) => {
  const weights = loadDenseWeights(PROXY);
  const recipe = longRange(0.25, 8);
  await t.throwsAsync(() => quantizeDense(weights, recipe, { calibration: { stats: new Map() } as never }), { message: /long-context sensitivity/ });
  const quantiles = [0.5, 0.75, 0, 0.25];
  const bitsOf = new Map<number, Set<number>>();
  for (const { module, spec } of denseSpecs(weights, recipe, quantiles)) {
    if (module.layer === null) continue;
    bitsOf.set(module.layer, (bitsOf.get(module.layer) ?? new Set()).add(spec.bits));
  }
  t.deepEqual([...bitsOf.entries()].map(([l, b]) => [l, [...b]]), [[0, [4]], [1, [4]], [2, [8]], [3, [4]]]);
});

test('the reference executor measures the rank once, caches it, and stores more bytes for the protected layer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'evoquant-q-enhance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cache = join(dir, 'cache');
  const executor = new ReferenceExecutor({ artifactsDir: join(dir, 'artifacts'), deviceMemoryBytes: 8 * 2 ** 30, baseDir: repo, sensitivityCacheDir: cache });
  const stages = new Set<string>();
  const run = (recipe: Recipe) =>
    executor.quantize({ evolutionId: 'q', candidateId: recipe.name, recipe, proxy: 'artifacts/dense-proxy', calibrationTokens: 1024 }, (p) => stages.add(p.stage));
  const plain = await run(W4);
  t.false(stages.has('sensitivity'), 'a recipe without an ordered band measures nothing');
  const protectedRun = await run(longRange(0.25, 8));
  t.true(stages.has('sensitivity'));
  t.is(readdirSync(cache).filter((f) => f.startsWith('long-context-sensitivity-')).length, 1);
  // One of four layers' seven linear modules at 8 instead of 4 bits.
  t.true(protectedRun.proxyBytes > plain.proxyBytes + 0.5 * 0.25 * 2.36e6 * 0.5 * 0.9, `${protectedRun.proxyBytes} vs ${plain.proxyBytes}`);
});

test('compile places an ordered band by depth: the same layers count, the same bytes, and a note says so', (t) => {
  const byRank = compileTarget(LONG_CONTEXT_TARGET, longRange(0.25, 8));
  const byDepth = compileTarget(LONG_CONTEXT_TARGET, parseRecipe({ ...W4, depth: [{ from: 0, to: 0.25, override: { bits: 8 } }] }));
  t.is(byRank.perGpu.weightBytes, byDepth.perGpu.weightBytes);
  t.true(byRank.perGpu.weightBytes > compileTarget(LONG_CONTEXT_TARGET, W4).perGpu.weightBytes);
  t.true(byRank.notes.some((n) => n.includes(LONG_CONTEXT_ORDER)));
});

test('Q-Enhance operators: long-range layers up on dense targets, other layers down in the trade, nothing on MoE targets', (t) => {
  const [up, trade] = ['q-enhance-long-range-layers', 'q-enhance-trade-bits'].map((id) => DENSE_TECHNIQUES.find((x) => x.id === id)!);
  const dense = servingContext({ model: 'llama-3.1-70b', hardware: 'a100-80gb', stack: 'reference' });
  const moe = servingContext({ model: 'qwen3-235b-a22b', hardware: 'a100-80gb', stack: 'reference' });
  for (let seed = 0; seed < 6; seed++) {
    const a = up.apply(W4, xoroshiro128plus(seed), dense)!;
    t.is(a.default.bits, 4);
    t.is(a.depth.at(-1)?.order, LONG_CONTEXT_ORDER);
    t.is(a.depth.at(-1)?.override.bits, 8);
    t.true([0.125, 0.25].includes(a.depth.at(-1)!.to));
    t.is(up.apply(a, xoroshiro128plus(seed), dense), null, 'one long-range band per recipe');
    const b = trade.apply(W4, xoroshiro128plus(seed), dense)!;
    t.is(b.default.bits, 3);
    t.is(b.depth.at(-1)?.override.bits, 4);
    t.is(up.apply(W4, xoroshiro128plus(seed), moe), null);
    t.is(trade.apply(W4, xoroshiro128plus(seed), moe), null);
    t.is(up.apply(W4, xoroshiro128plus(seed), undefined), null, 'no serving context: the model may have no dense proxy');
  }
  t.is(up.apply(builtinRecipe('bf16')!, xoroshiro128plus(0), dense), null);
});
