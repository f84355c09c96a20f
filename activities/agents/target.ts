// An evolution target as compile takes it.
import type { CompileTargetInput } from '../../science/physics/compile.js';
import type { EvolutionTarget } from '../../schema/evolution-config.js';

export function compileInput(t: EvolutionTarget): CompileTargetInput {
  return { model: t.model, hardware: t.hardware, gpus: t.gpus, tensorParallel: t.tensorParallel ?? t.gpus, contextLength: t.context, batch: t.batch, stack: t.stack };
}
