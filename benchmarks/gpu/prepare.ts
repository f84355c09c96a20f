// Prepares the GPU check of the torch executor (benchmarks/gpu/torch_executor_gpu.py) on this
// machine, where Node runs: the GPU machine has Python and torch, but neither Node nor our
// TypeScript. It writes into <out>:
//   model/config.json      Qwen3-235B-A22B's config with 4 of its 94 layers: every layer is the
//                          real one (128 experts of 1536, 64 heads, 4 KV heads), 11.2 B parameters
//   cpu-model/config.json  one such layer with 16 experts: the CPU-path comparison
//   specs.json             the recipe resolved per (role, layer) by schema/recipe.ts resolveSpec,
//                          for both models, so the Python side applies exactly what compile priced
//   prediction.json        compile's report for the 4-layer model on one H200 (weight and checkpoint bytes)
//   calibration.txt        Brown's training split (the executor's default calibration text)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBrown } from '../../science/corpus/brown.js';
import { loadModelConfigFile } from '../../science/model-configs/load.js';
import { compileTarget } from '../../science/physics/compile.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { MODULE_ROLES, resolveSpec, type QuantSpec } from '../../schema/recipe.js';
import qwen3 from '../../science/model-configs/qwen3-235b-a22b.json' with { type: 'json' };

const RECIPE = 'w4a16-g128-gptq';

function specsByRoleAndLayer(numLayers: number): Record<string, Record<string, QuantSpec>> {
  const recipe = builtinRecipe(RECIPE);
  if (!recipe) throw new Error(`no builtin recipe ${RECIPE}`);
  const out: Record<string, Record<string, QuantSpec>> = {};
  for (const role of MODULE_ROLES) {
    out[role] = {};
    const layered = role !== 'embeddings' && role !== 'lm_head';
    for (const layer of layered ? Array.from({ length: numLayers }, (_, i) => i) : [null]) {
      out[role][String(layer)] = resolveSpec(recipe, { role, layer, numLayers, expertQuantile: null });
    }
  }
  return out;
}

const outDir = resolve(process.argv[2] ?? '.gpu-run');
const model = { ...qwen3, num_hidden_layers: 4, max_window_layers: 4 };
const cpuModel = { ...qwen3, num_hidden_layers: 1, max_window_layers: 1, num_experts: 16 };
for (const [dir, config] of [['model', model], ['cpu-model', cpuModel]] as const) {
  mkdirSync(join(outDir, dir), { recursive: true });
  writeFileSync(join(outDir, dir, 'config.json'), JSON.stringify(config, null, 2));
}
writeFileSync(join(outDir, 'specs.json'), JSON.stringify({ recipe: RECIPE, model: specsByRoleAndLayer(4), cpuModel: specsByRoleAndLayer(1) }, null, 2));
const recipe = builtinRecipe(RECIPE)!;
const report = compileTarget({ model: join(outDir, 'model', 'config.json'), hardware: 'h200', gpus: 1, tensorParallel: 1 }, recipe);
// Sanity: the config compile read is the file written above.
const parsed = loadModelConfigFile(join(outDir, 'model', 'config.json'));
writeFileSync(
  join(outDir, 'prediction.json'),
  JSON.stringify({ recipe: RECIPE, hardware: 'h200', layers: parsed.numLayers, parameters: report.parameters, weightBytes: report.weightBytes, checkpointBytes: report.checkpointBytes, perGpu: report.perGpu }, null, 2),
);
writeFileSync(join(outDir, 'calibration.txt'), loadBrown().train);
console.log(`gpu check prepared in ${outDir}: ${(report.parameters.total / 1e9).toFixed(2)} B parameters, compile predicts ${(report.weightBytes.total / 1e9).toFixed(3)} GB of weights as vLLM holds them, ${(report.checkpointBytes.total / 1e9).toFixed(3)} GB as the checkpoint stores them`);
