// The compile verdict of one candidate on the evolution's target, its serving stack included
// (absent: vllm, DEFAULT_STACK). Pure: the control activity only wraps it.
import { compileTarget } from '../science/physics/compile.js';
import type { CompileRequest, CompileVerdict } from '../schema/workflow-contracts.js';

export function compileVerdict({ candidate, target }: CompileRequest): CompileVerdict {
  const report = compileTarget(
    { model: target.model, hardware: target.hardware, gpus: target.gpus, tensorParallel: target.tensorParallel ?? target.gpus, contextLength: target.context, batch: target.batch, stack: target.stack },
    candidate.recipe,
  );
  return {
    candidateId: candidate.id,
    fits: report.fits,
    gbPerGpu: report.perGpu.totalBytes / 1e9,
    weightReduction: report.reduction.weights,
    decodeTokensPerSecond: report.decode.tokensPerSecond,
    violations: [...new Set(report.violations.map((v) => v.code))].sort(),
    violationMessages: report.violations.map((v) => v.message),
  };
}
