// Export writes nothing for a recipe its stack cannot serve: before any exporter runs, compile checks
// the stored recipe on the proxy's architecture against the target stack's table, with the
// checkpoint format the export produces, and the first not-servable violation refuses the export,
// naming the same rule id and source that `evoquant compile` names.
import { join } from 'node:path';
import type { CompileReport } from '../../schema/compile-report.js';
import type { CheckpointFormat, ServingStackId } from '../../schema/serving-stack.js';
import type { Recipe } from '../../schema/recipe.js';
import { compileTarget } from '../physics/compile.js';
import { getServingStack } from '../serving-stacks/index.js';
import { ExportRefusedError } from './errors.js';
import type { ExportFormat } from './export-format.js';

/** The stack each format is loaded by when none is named, and the checkpoint the format becomes. */
export const EXPORT_TARGETS: Record<ExportFormat, { stack: ServingStackId; checkpoint: CheckpointFormat }> = {
  'compressed-tensors': { stack: 'vllm', checkpoint: 'compressed-tensors' },
  // GPTQModel writes GPTQ checkpoints (4/8-bit symmetric on vLLM: quantization/auto_gptq.py).
  gptqmodel: { stack: 'vllm', checkpoint: 'gptq' },
  // llm-compressor writes compressed-tensors checkpoints.
  llmcompressor: { stack: 'vllm', checkpoint: 'compressed-tensors' },
  'llama.cpp': { stack: 'llama.cpp', checkpoint: 'gguf' },
};

export const DEFAULT_EXPORT_HARDWARE = 'a100-80gb';

export interface ServabilityTarget {
  stack?: string;
  hardware?: string;
  gpus?: number;
}

export interface ServabilityCheck {
  stack: ServingStackId;
  checkpoint: CheckpointFormat;
  report: CompileReport;
}

/** compile's report for the quantized proxy on the export's target; throws on any not-servable violation. */
export function checkServable(quantizedDir: string, recipe: Recipe, format: ExportFormat, target: ServabilityTarget = {}): ServabilityCheck {
  const table = getServingStack(target.stack ?? EXPORT_TARGETS[format].stack);
  const checkpoint = EXPORT_TARGETS[format].checkpoint;
  if (!table.checkpoints.includes(checkpoint)) {
    throw new ExportRefusedError(`export: ${format} becomes a ${checkpoint} checkpoint, which stack ${table.stack} does not load (it loads ${table.checkpoints.join(', ')})`);
  }
  const gpus = target.gpus ?? 1;
  // A model whose experts were pruned or merged is stored with the experts that remain, and compile
  // applies the recipe's fraction to them once more: its byte figures here are not the model's, but
  // servability does not depend on the expert count (the checkpoint rules read the gene itself).
  const report = compileTarget(
    { model: join(quantizedDir, 'config.json'), hardware: target.hardware ?? DEFAULT_EXPORT_HARDWARE, gpus, tensorParallel: gpus, stack: table.stack, checkpoint },
    recipe,
  );
  const refusals = report.violations.filter((v) => v.code === 'not-servable');
  const first = refusals[0];
  if (first) {
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more not-servable violation${refusals.length > 2 ? 's' : ''}; see evoquant compile --stack ${table.stack})` : '';
    throw new ExportRefusedError(`export refused: recipe ${recipe.name} is ${first.message}${more}`);
  }
  return { stack: table.stack, checkpoint, report };
}

/** The rule id a not-servable violation names (compile puts it in detail.rule). */
export function ruleOf(v: CompileReport['violations'][number]): string | null {
  return typeof v.detail.rule === 'string' ? v.detail.rule : null;
}
