// The long-context evolution: Llama-3.1-70B at 128k context with 8 sequences in flight on one server
// with 2×A100-80GB, where only a cache of 4 bits or fewer fits (compile's KV
// physics; see the README's context-fit table). Measured on the dense long-context proxy with the CPU
// reference executor, on the reference stack (KIVI-style caches are research genes no production
// stack serves). The seeds are the manual recipes the aim is judged against.
import { EvolutionConfig } from '../../schema/evolution-config.js';
import { KvPolicy } from '../../schema/kv-policy.js';
import type { Recipe } from '../../schema/recipe.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';

const W4 = builtinRecipe('w4a16-g128-gptq')!;
const withKv = (name: string, description: string, kvCache: KvPolicy): Recipe => ({ ...W4, name, description, kvCache });

/** The manual long-context recipes: 4-bit GPTQ weights with a uniform int4 cache (llama.cpp's q4_1 layout) or vLLM's fp8 cache. */
export const MANUAL_LONG_CONTEXT_SEEDS: Recipe[] = [
  withKv('w4-gptq+kv-int4', '4-bit GPTQ weights, int4 KV per token in groups of 32 (uniform, no windows)', KvPolicy.parse({ keys: { format: 'int4', axis: 'token', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 } })),
  withKv('w4-gptq+kv-fp8', '4-bit GPTQ weights, fp8 e4m3 KV (vLLM)', KvPolicy.parse({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } })),
];

export const LONG_CONTEXT_DEMO_CONFIG: EvolutionConfig = EvolutionConfig.parse({
  name: 'long-context-llama-3.1-70b-128k-2xa100',
  target: { model: 'llama-3.1-70b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, context: 131072, batch: 8, stack: 'reference' },
  pool: 'cpu',
  proxy: 'artifacts/dense-proxy',
  generations: 4,
  populationSize: 4,
  seed: 11,
  seedRecipes: MANUAL_LONG_CONTEXT_SEEDS,
  evaluation: { tokens: 16384, calibrationTokens: 8192 },
});
