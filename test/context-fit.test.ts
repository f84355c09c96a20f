// The long-context target's KV physics: Llama-3.1-70B at 128k on 2×A100-80GB, what fits at batch 1
// and at batch 8, and the longest-context search against compile itself.
import test from 'ava';
import { contextFitMarkdown } from '../benchmarks/context/report.js';
import { contextFitRow, rowRecipe } from '../benchmarks/context/rows.js';
import { LONG_CONTEXT_BATCH8_TARGET, LONG_CONTEXT_TARGET } from '../benchmarks/context/target.js';
import { compileTarget } from '../science/physics/compile.js';
import { longestContextThatFits } from '../science/physics/context-fit.js';
import { MANUAL_KV_POLICIES } from '../science/recipes/kv-policies.js';

const kv = (name: string) => MANUAL_KV_POLICIES.find((p) => p.name === name)!;
const GIB = 2 ** 30;

test('Llama-3.1-70B bf16 KV is 320 KiB per token, 40 GiB for one 128k sequence, half of it per GPU under TP2', (t) => {
  const r = compileTarget(LONG_CONTEXT_TARGET, rowRecipe('bf16', kv('kv-bf16')));
  t.is(r.kvCache.bytesPerToken, 80 * 8 * 128 * 2 * 2);
  t.is(r.kvCache.bytesPerToken, 327_680);
  t.is(r.kvCache.totalBytes, 40 * GIB);
  t.is(r.perGpu.kvBytes, 20 * GIB);
  t.is(r.kvCache.policy, 'bf16');
});

test('the 128k target: bf16 weights and cache do not fit; 4-bit weights or an fp8 cache do at batch 1; at batch 8 only 4-bit weights with a cache of 4 bits or below', (t) => {
  const fits = (target: typeof LONG_CONTEXT_TARGET | typeof LONG_CONTEXT_BATCH8_TARGET, w: string, k: string) => compileTarget(target, rowRecipe(w, kv(k))).fits;
  const bf16 = compileTarget(LONG_CONTEXT_TARGET, rowRecipe('bf16', kv('kv-bf16')));
  t.false(bf16.fits);
  t.deepEqual(bf16.violations.map((v) => v.code), ['does-not-fit']);
  t.true(fits(LONG_CONTEXT_TARGET, 'bf16', 'kv-fp8'));
  t.true(fits(LONG_CONTEXT_TARGET, 'w4a16-g128-gptq', 'kv-bf16'));
  for (const w of ['bf16', 'w8a16']) for (const k of MANUAL_KV_POLICIES) t.false(fits(LONG_CONTEXT_BATCH8_TARGET, w, k.name) && k.name !== 'kv-kivi2-sinks', `${w} + ${k.name} at batch 8`);
  t.false(fits(LONG_CONTEXT_BATCH8_TARGET, 'w4a16-g128-gptq', 'kv-bf16'));
  t.false(fits(LONG_CONTEXT_BATCH8_TARGET, 'w4a16-g128-gptq', 'kv-fp8'));
  t.true(fits(LONG_CONTEXT_BATCH8_TARGET, 'w4a16-g128-gptq', 'kv-int4-token'));
  t.true(fits(LONG_CONTEXT_BATCH8_TARGET, 'w4a16-g128-gptq', 'kv-kivi4'));
  // The fp8 cache is what vLLM serves on it; KIVI is research-only.
  t.deepEqual(compileTarget(LONG_CONTEXT_TARGET, rowRecipe('w4a16-g128-gptq', kv('kv-fp8'))).violations, []);
  const kivi = compileTarget(LONG_CONTEXT_TARGET, rowRecipe('w4a16-g128-gptq', kv('kv-kivi4')));
  t.true(kivi.violations.every((v) => v.code === 'not-servable' && v.detail.rule === 'vllm.kv-cache.dtypes'));
  t.is(kivi.kvCache.policy, 'K int4/channel/g32 V int4/token/g32 (window 128)');
});

test('the longest context that fits: it fits, every shorter one in the last group fits, and one more token does not', (t) => {
  const { contextLength: _c, ...target } = LONG_CONTEXT_TARGET;
  for (const [w, k] of [['bf16', 'kv-bf16'], ['w4a16-g128-gptq', 'kv-fp8'], ['bf16', 'kv-kivi4'], ['bf16', 'kv-kivi2-sinks']] as const) {
    const recipe = rowRecipe(w, kv(k));
    const found = longestContextThatFits(target, recipe, 1 << 20);
    t.false(found.atLeast, `${w} + ${k}`);
    const at = (contextLength: number) => compileTarget({ ...target, contextLength }, recipe).fits;
    t.true(at(found.tokens));
    t.false(at(found.tokens + 1), `${w} + ${k}: one more token does not fit`);
    for (let c = found.tokens - 1; c > found.tokens - 40; c--) t.true(at(c));
  }
  // bf16: the edge by hand. KV per GPU per token = 327,680 / 2; weights and overhead are fixed past the 8k prefill chunk.
  const bf16 = compileTarget({ ...target, contextLength: 65_536 }, rowRecipe('bf16', kv('kv-bf16')));
  const fixed = bf16.perGpu.totalBytes - bf16.perGpu.kvBytes;
  t.is(longestContextThatFits(target, rowRecipe('bf16', kv('kv-bf16')), 1 << 20).tokens, Math.floor((bf16.perGpu.capacityBytes - fixed) / (327_680 / 2)));
  // Past the ceiling the search says so.
  const far = longestContextThatFits(target, rowRecipe('w4a16-g128-gptq', kv('kv-kivi2-sinks')), 200_000);
  t.deepEqual([far.tokens, far.atLeast], [200_000, true]);
});

test('the context-fit table: one row per weights × KV policy, the stacks that serve each', (t) => {
  const row = contextFitRow(LONG_CONTEXT_TARGET, 'w4a16-g128-gptq', kv('kv-fp8'), 1 << 20);
  t.true(row.fits.b1);
  t.false(row.fits.b8);
  t.deepEqual(row.servedBy, ['reference', 'vllm']);
  t.deepEqual(contextFitRow(LONG_CONTEXT_TARGET, 'bf16', kv('kv-int4-token'), 1 << 20).servedBy, ['reference', 'llama.cpp']);
  const md = contextFitMarkdown([row], 'setting');
  t.regex(md, /\| `w4a16-g128-gptq` \| `kv-fp8`: .* \| 163,840 \| yes \(33\.8\) \| [\d,]+ \| no \(109\.0\) \| [\d,]+ \| reference, vllm \|/);
});
