// A target's family, the unit the patterns' statistics are kept per: the model's architecture, the
// serving stack, and how hard the memory budget is (the bf16 weights' share of what the GPUs hold).
// Families are `arch/stack/regime` strings; the bandit pools across families that share a prefix.
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { compileTarget } from '../../science/physics/compile.js';
import { loadModelConfig } from '../../science/model-configs/load.js';
import { DEFAULT_STACK } from '../../schema/serving-stack.js';
import type { EvolutionTarget } from '../../schema/evolution-config.js';

export type Regime = 'roomy' | 'moderate' | 'tight';

/** bf16 bits per weight the memory allows: ≥ 12 roomy (8-bit and up fit), ≥ 5 moderate (4-bit fits), below that tight. */
export function regimeOf(bitsAffordable: number): Regime {
  return bitsAffordable >= 12 ? 'roomy' : bitsAffordable >= 5 ? 'moderate' : 'tight';
}

export function targetFamily(target: EvolutionTarget): string {
  const arch = loadModelConfig(target.model);
  const bf16 = builtinRecipe('bf16');
  if (!bf16) throw new Error('builtin recipe bf16 is missing');
  const report = compileTarget(
    { model: target.model, hardware: target.hardware, gpus: target.gpus, tensorParallel: target.tensorParallel ?? target.gpus, contextLength: target.context, batch: target.batch, stack: target.stack },
    bf16,
  );
  // Bits per weight that would fit: the weights' share of capacity (what is not KV cache and overhead).
  const { capacityBytes, totalBytes, weightBytes } = report.perGpu;
  const bits = (16 * Math.max(0, capacityBytes - (totalBytes - weightBytes))) / Math.max(1, weightBytes);
  return `${arch.moe ? 'moe' : 'dense'}/${target.stack ?? DEFAULT_STACK}/${regimeOf(bits)}`;
}
