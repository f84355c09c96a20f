// What the calibration-recipe formats (gptqmodel, llmcompressor, and llama.cpp's tensor-type file)
// cannot carry: they tell a tool how to quantize the original model, with one algorithm run over the
// whole model. Genes that have no field there are refused by name rather than silently dropped.
import type { ExportModule } from './modules.js';
import { specKey } from './modules.js';
import { ExportRefusedError } from './errors.js';
import type { QuantMethod, Recipe } from '../../schema/recipe.js';

/**
 * These formats quantize the original model, with every expert: a recipe that pruned or merged
 * experts has no field there (compressed-tensors, written from the reduced model, carries it).
 */
export function refuseExpertReduction(format: string, recipe: Pick<Recipe, 'expertReduction'>): void {
  const r = recipe.expertReduction;
  if (r) throw new ExportRefusedError(`${format}: the recipe ${r.mode === 'prune' ? 'prunes' : 'merges'} ${r.fraction} of the experts, and ${format} quantizes the original model with every expert; export it as compressed-tensors`);
}

export function quantized(modules: readonly ExportModule[]): ExportModule[] {
  return modules.filter((m) => m.spec.bits !== 16);
}

/** The one method every quantized module uses; refuses rotation, outliers and mixed methods. */
export function singleMethod(format: string, modules: readonly ExportModule[]): QuantMethod {
  const q = quantized(modules);
  const first = q[0];
  if (!first) throw new ExportRefusedError(`${format}: the recipe quantizes no module (all bf16); there is nothing for the tool to do`);
  for (const m of q) {
    if (m.spec.rotation) throw new ExportRefusedError(`${format}: ${m.tensor} uses a Hadamard rotation with evoquant's seeded signs, which ${format} has no field for`);
    if (m.spec.outliers) throw new ExportRefusedError(`${format}: ${m.tensor} keeps sparse fp16 outliers, which ${format} has no field for`);
    if (specKey(m.spec.method) !== specKey(first.spec.method)) {
      throw new ExportRefusedError(`${format}: the recipe mixes methods (${first.spec.method.kind} on ${first.tensor}, ${m.spec.method.kind} on ${m.tensor}); ${format} runs one algorithm per model`);
    }
  }
  return first.spec.method;
}
