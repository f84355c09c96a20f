// The executor a GPU worker serves with: proxy requests go to the reference executor (CPU kernels
// on the proxy), checkpoint requests (`model` set) to the torch executor. A worker without one
// refuses checkpoint requests as UnsupportedModel (final: every attempt on it would fail the same).
import type { EvalProgress } from '../evaluation/evaluate.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import type { EvaluateRequest, QuantizeRequest } from '../../schema/workflow-contracts.js';
import { UnsupportedModelError } from './errors.js';
import type { EvaluateOutcome, Executor, Progress, QuantizeOutcome } from './executor.js';

export class DispatchingExecutor implements Executor {
  constructor(
    private readonly reference: Executor,
    private readonly torch: Executor | null,
  ) {}

  private forModel(req: { model?: { checkpoint: string }; candidateId: string }): Executor {
    if (req.model === undefined) return this.reference;
    if (this.torch === null) {
      throw new UnsupportedModelError(
        `candidate ${req.candidateId}: checkpoint ${req.model.checkpoint} needs the torch executor; this worker runs only the reference executor (start it with --executor torch)`,
      );
    }
    return this.torch;
  }

  async quantize(req: QuantizeRequest, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<QuantizeOutcome> {
    return this.forModel(req).quantize(req, onProgress, signal);
  }

  async evaluate(
    req: EvaluateRequest,
    resume: EvalProgress | undefined,
    onBatch: (p: EvalProgress) => void,
    onProgress: (p: Progress) => void,
    signal?: AbortSignal,
  ): Promise<EvaluateOutcome> {
    return this.forModel(req).evaluate(req, resume, onBatch, onProgress, signal);
  }

  async sensitivityProfile(proxy: string, calibrationTokens: number, onProgress: (p: Progress) => void): Promise<SensitivityProfile> {
    return this.reference.sensitivityProfile(proxy, calibrationTokens, onProgress);
  }
}
