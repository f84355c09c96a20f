// The KV-cache mutation operators: each applies its one idea, stays a valid recipe, and returns null
// where it does not apply or where the evolution's stack has no format for the cache it makes.
import test from 'ava';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { KV_TECHNIQUES } from '../evolution/proposer/kv-techniques.js';
import { getHardwareProfile } from '../science/hardware/profiles.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { getServingStack } from '../science/serving-stacks/index.js';
import { kvPolicyFailures, kvRuleOf } from '../science/physics/kv-check.js';
import { parseRecipe, Recipe, type RecipeInput } from '../schema/recipe.js';

const op = (id: string) => KV_TECHNIQUES.find((t) => t.id === id)!;
const base = builtinRecipe('w4a16-g128-gptq')!;
const withKv = (kvCache: NonNullable<RecipeInput['kvCache']>): Recipe => parseRecipe({ ...base, kvCache });
const vllm = { table: getServingStack('vllm'), hw: getHardwareProfile('a100-80gb') };
const reference = { table: getServingStack('reference'), hw: getHardwareProfile('a100-80gb') };
const FP8 = { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } } as const;

test('kv-kivi: per-channel keys, per-token values, a 128-token window; refused on vLLM', (t) => {
  for (let seed = 0; seed < 8; seed++) {
    const r = op('kv-kivi').apply(base, xoroshiro128plus(seed), reference)!;
    t.truthy(r);
    t.is(r.kvCache?.keys.format, r.kvCache?.values.format);
    t.like(r.kvCache, { keys: { axis: 'channel' }, values: { axis: 'token' }, recentWindow: 128 });
    t.true(['int4', 'int2'].includes(r.kvCache!.keys.format));
    t.deepEqual(Recipe.parse(r), r);
    t.is(op('kv-kivi').apply(base, xoroshiro128plus(seed), vllm), null);
  }
});

test('the genes over a quantized cache: narrower, window, sinks, pre-RoPE and Hadamard keys; none over bf16', (t) => {
  const int8 = withKv({ keys: { format: 'int8', axis: 'token', groupSize: 128 }, values: { format: 'int8', axis: 'token', groupSize: 128 } });
  const rng = xoroshiro128plus(3);
  const lower = op('kv-lower-bits').apply(int8, rng, reference)!;
  t.true(lower.kvCache!.keys.format === 'int4' || lower.kvCache!.values.format === 'int4');
  const fromFp8 = op('kv-lower-bits').apply(withKv(FP8), rng, reference)!.kvCache!;
  t.deepEqual([fromFp8.keys, fromFp8.values].filter((x) => x.format !== 'fp8_e4m3'), [{ format: 'int4', axis: 'token', groupSize: 32 }]);
  t.true([32, 64, 128, 256].includes(op('kv-recent-window').apply(int8, rng, reference)!.kvCache!.recentWindow));
  t.is(op('kv-recent-window').apply(withKv({ ...int8.kvCache!, recentWindow: 64 }), rng, reference)!.kvCache!.recentWindow, 128);
  t.true([1, 4, 16].includes(op('kv-sink-tokens').apply(int8, rng, reference)!.kvCache!.sinkTokens));
  t.is(op('kv-pre-rope-keys').apply(int8, rng, reference)!.kvCache!.keyPosition, 'pre-rope');
  t.is(op('kv-hadamard-keys').apply(int8, rng, reference)!.kvCache!.keyRotation, 'hadamard');
  // Over a bf16 cache each of them would change nothing: it does not apply.
  for (const id of ['kv-lower-bits', 'kv-recent-window', 'kv-sink-tokens', 'kv-pre-rope-keys', 'kv-hadamard-keys', 'kv-protect-layers']) t.is(op(id).apply(base, rng, reference), null, id);
  // Applied twice where once is the whole idea: null.
  t.is(op('kv-hadamard-keys').apply(op('kv-hadamard-keys').apply(int8, rng, reference)!, rng, reference), null);
});

test('kv-protect-layers: a band of edge layers with a wider cache; on vLLM only bf16 bands over fp8 (skip layers)', (t) => {
  const fp8 = withKv(FP8);
  let served = 0;
  for (let seed = 0; seed < 16; seed++) {
    const ref = op('kv-protect-layers').apply(fp8, xoroshiro128plus(seed), reference)!;
    t.is(ref.kvCache?.layers.length, 1);
    const band = ref.kvCache!.layers[0];
    t.true(band.from === 0 || band.to === 1);
    const onVllm = op('kv-protect-layers').apply(fp8, xoroshiro128plus(seed), vllm);
    if (onVllm) {
      served += 1;
      t.is(onVllm.kvCache!.layers[0].override.keys?.format, 'bf16');
      t.deepEqual(kvPolicyFailures(kvRuleOf(vllm.table)!, onVllm.kvCache!, 80), []);
    }
  }
  t.true(served > 0 && served < 16, `${served} of 16 draws servable on vLLM`);
});

test('on a dense target the expert operators decline, and the KV operators are in the draw', async (t) => {
  const { TECHNIQUES } = await import('../evolution/proposer/techniques.js');
  const { servingContext } = await import('../evolution/proposer/serving-context.js');
  const dense = servingContext({ model: 'llama-3.1-70b', hardware: 'a100-80gb', stack: 'reference' });
  const moe = servingContext({ model: 'qwen3-235b-a22b', hardware: 'a100-80gb', stack: 'reference' });
  for (const id of ['expert-tiers-frequency', 'expert-tiers-sensitivity', 'expert-layer-tiers', 'expert-pruning', 'expert-merging']) {
    const technique = TECHNIQUES.find((x) => x.id === id)!;
    t.is(technique.apply(base, xoroshiro128plus(1), dense), null, `${id} on a dense model`);
    t.not(technique.apply(base, xoroshiro128plus(1), moe), null, `${id} on a MoE model`);
  }
  for (const k of KV_TECHNIQUES) t.true(TECHNIQUES.includes(k), `${k.id} is drawn`);
});
