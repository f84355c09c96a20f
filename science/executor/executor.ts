// What the GPU activities need from an executor: quantize a candidate, evaluate its artifact,
// measure a proxy's sensitivity profile. The reference executor (CPU kernels on the proxy) and the
// torch executor (real checkpoints) implement it; a worker picks one (or a dispatcher of both).
import type { EvalProgress } from '../evaluation/evaluate.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import type { LongContextSummary } from '../../schema/long-context.js';
import type { EvaluateRequest, MeasuredMemory, QuantizeRequest } from '../../schema/workflow-contracts.js';

export interface Progress {
  stage: 'load' | 'calibrate' | 'sensitivity' | 'quantize' | 'write' | 'evaluate' | 'reference';
  done: number;
  total: number;
}

export interface QuantizeOutcome {
  path: string;
  /** Bytes of the stored quantized weights. */
  proxyBytes: number;
  /** A previous attempt's identical artifact was kept. */
  reused: boolean;
  /** Peak device memory while quantizing, where the executor measures it. */
  peakMemoryBytes?: number;
}

export interface EvaluateOutcome {
  bitsPerByte: number;
  top1: number;
  kl: number;
  baselineTop1: number;
  expertFrequency: number[][];
  measuredMemory?: MeasuredMemory;
  /** The dense long-context proxy's buckets and retrieval (kl is then the worst bucket's). */
  longContext?: LongContextSummary;
}

export interface Executor {
  quantize(req: QuantizeRequest, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<QuantizeOutcome>;
  /**
   * `resume`/`onBatch`: an evaluation that can continue from a heartbeat's windows (the reference
   * executor); the torch executor caches the reference's logits on disk instead and ignores them.
   */
  evaluate(
    req: EvaluateRequest,
    resume: EvalProgress | undefined,
    onBatch: (p: EvalProgress) => void,
    onProgress: (p: Progress) => void,
    signal?: AbortSignal,
  ): Promise<EvaluateOutcome>;
  sensitivityProfile(proxy: string, calibrationTokens: number, onProgress: (p: Progress) => void): Promise<SensitivityProfile>;
}
