// The reference executor on the dense long-context proxy: a recipe's weights and KV cache are applied
// for real, the artifact is written in the quantized format, and evaluation reports its buckets.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDenseWeights } from '../science/compression/dense-artifact.js';
import { ReferenceExecutor } from '../science/executor/reference-executor.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { KvPolicy } from '../schema/kv-policy.js';
import type { Recipe } from '../schema/recipe.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'evoquant-dense-exec-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const executor = new ReferenceExecutor({ artifactsDir: dir, deviceMemoryBytes: 8 * 2 ** 30, baseDir: repo });
const W4 = builtinRecipe('w4a16-g128-gptq')!;
const int2: Recipe = { ...W4, name: 'w4+kv-int2', kvCache: KvPolicy.parse({ keys: { format: 'int2', axis: 'token', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 } }) };
const quiet = () => undefined;
const tokens = 2048;

async function run(recipe: Recipe) {
  const q = await executor.quantize({ evolutionId: 'dense', candidateId: recipe.name, recipe, proxy: 'artifacts/dense-proxy', calibrationTokens: 2048 }, quiet);
  const m = await executor.evaluate({ candidateId: recipe.name, artifact: { candidateId: recipe.name, path: q.path, proxyBytes: q.proxyBytes, workerIdentity: 't' }, proxy: 'artifacts/dense-proxy', tokens }, undefined, quiet, quiet);
  return { q, m };
}

test('a dense recipe is quantized with its GPTQ weights and evaluated with its KV cache, bucket by bucket', async (t) => {
  const w4 = await run(W4);
  const kv = await run(int2);
  const stored = loadDenseWeights(kv.q.path);
  t.deepEqual(stored.quantization?.recipe.kvCache, int2.kvCache, 'the artifact keeps the recipe, KV policy included');
  t.true(w4.q.proxyBytes < 0.4 * 2 * 3.15e6, `4-bit weights: ${w4.q.proxyBytes} bytes`);
  for (const { m } of [w4, kv]) {
    t.is(m.longContext?.buckets.length, 3);
    t.deepEqual(m.expertFrequency, []);
    t.is(m.kl, Math.max(...m.longContext!.buckets.map((b) => b.kl)), 'the score is the worst bucket');
    t.true(m.longContext!.retrieval.length >= 5);
  }
  const long = (x: typeof w4) => x.m.longContext!.buckets[2];
  t.log(`long bucket Δ bits/byte: w4 ${(long(w4).bits_per_byte - long(w4).baseline_bits_per_byte).toFixed(4)}, w4 + int2 KV ${(long(kv).bits_per_byte - long(kv).baseline_bits_per_byte).toFixed(4)}`);
  t.true(long(w4).kl > 0, '4-bit weights move the distribution');
  t.true(long(kv).bits_per_byte > long(w4).bits_per_byte + 0.02, 'an int2 cache on top costs far more in the long bucket');
  const again = await executor.quantize({ evolutionId: 'dense', candidateId: W4.name, recipe: W4, proxy: 'artifacts/dense-proxy', calibrationTokens: 2048 }, quiet);
  t.true(again.reused, 'a retry reuses the finished artifact');
});
