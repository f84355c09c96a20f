// From a recipe to the torch executor's per-module plan: every module a checkpoint describes gets
// the spec resolveSpec gives its site (role, layer; no expert ranks: the torch executor measures no
// per-expert sensitivity). A recipe asking for what the executor does not implement is refused
// before a process is spawned, with the same UnsupportedRecipe the Python side would raise.
import { recipeHash } from '../../schema/content-hash.js';
import type { JsonValue } from '../../schema/db.js';
import { autoRoundLearningRate, awqSharesScales, resolveSpec, type QuantSpec, type Recipe, LONG_CONTEXT_ORDER, ordersByLongContext } from '../../schema/recipe.js';
import type { CalibrationText, DescribeResult, QuantizationPlan, TorchModuleSpec } from '../../schema/torch-executor.js';
import { UnsupportedRecipeError } from './errors.js';
import { checkAwqFold } from './torch-awq-fold.js';

/** The spec as the executor takes it, or why it cannot. */
function torchSpec(spec: QuantSpec, module: string): TorchModuleSpec {
  const refuse = (what: string): never => {
    throw new UnsupportedRecipeError(`the torch executor does not implement ${what} yet (module ${module}); measure this recipe on the proxy`);
  };
  if (spec.outliers) refuse('fp16 outliers');
  if (spec.rotation) refuse('Hadamard rotation');
  return { bits: spec.bits, format: spec.format, groupSize: spec.groupSize as TorchModuleSpec['groupSize'], symmetric: spec.symmetric, method: torchMethod(spec.method) };
}

function torchMethod(m: QuantSpec['method']): TorchModuleSpec['method'] {
  switch (m.kind) {
    case 'rtn':
      return { kind: 'rtn' };
    case 'gptq':
      return { kind: 'gptq', damp: m.damp, blockSize: m.blockSize, actOrder: m.actOrder };
    case 'awq':
      return { kind: 'awq', scaleGrid: m.scaleGrid, clip: m.clip, clipGrid: m.clipGrid, maxShrink: m.maxShrink, ...(awqSharesScales(m) ? { scales: 'shared-input' as const } : {}) };
    case 'autoround':
      return { kind: 'autoround', iterations: m.iterations, learningRate: autoRoundLearningRate(m), minMax: m.minMax };
  }
}

/**
 * The plan of `recipe` over a described checkpoint. `recipeHash` keys the executor's resume and
 * reuse, so it covers what the artifact depends on: the resolved specs and the calibration.
 */
export function planOf(recipe: Recipe, described: DescribeResult, calibration: CalibrationText): QuantizationPlan {
  if (recipe.experts) throw new UnsupportedRecipeError('the torch executor does not implement per-expert tiers (recipe.experts) yet; expertLayers is supported');
  if (recipe.expertReduction) throw new UnsupportedRecipeError('the torch executor does not implement expert pruning or merging (recipe.expertReduction) yet');
  if (ordersByLongContext(recipe)) throw new UnsupportedRecipeError(`the torch executor does not measure long-context sensitivity yet (a depth band with order ${LONG_CONTEXT_ORDER}); the reference executor does`);
  const modules: Record<string, TorchModuleSpec> = {};
  for (const m of described.modules) {
    const spec = resolveSpec(recipe, { role: m.role, layer: m.layer, numLayers: described.numLayers, expertQuantile: null });
    modules[m.name] = torchSpec(spec, m.name);
  }
  checkAwqFold(described, modules);
  const hash = recipeHash(JSON.parse(JSON.stringify({ modules, calibration })) as JsonValue);
  return { recipeName: recipe.name, recipeHash: hash, modules };
}
