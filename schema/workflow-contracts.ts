// Contracts between the evolution workflows and their activities: what crosses Temporal's
// boundary (workflow history), so it stays small, plain JSON and versionable.
import { z } from 'zod';
import type { EvolutionConfig } from './evolution-config.js';
import type { Recipe } from './recipe.js';
import type { CheckpointModel } from './torch-executor.js';
import type { LongContextSummary } from './long-context.js';

export const CONTROL_TASK_QUEUE = 'evoquant-control';
export const gpuTaskQueue = (pool: string): string => `gpu-${pool}`;

export interface EvolutionInput {
  evolutionId: string;
  config: EvolutionConfig;
  /** Carried over by continue-as-new; absent on the first run. */
  state?: EvolutionState;
}

export interface CandidateSummary {
  id: string;
  generation: number;
  recipeName: string;
  parents: string[];
  technique: string | null;
  status: 'proposed' | 'rejected' | 'evaluated' | 'failed' | 'infeasible';
  violations: string[];
  gbPerGpu: number | null;
  fits: boolean | null;
  kl: number | null;
  top1: number | null;
  relativeAccuracyLoss: number | null;
  error: string | null;
}

export interface EvolutionState {
  nextGeneration: number;
  generations: number;
  maxCandidates: number | null;
  paused: boolean;
  stopRequested: boolean;
  candidates: CandidateSummary[];
  /** Candidates whose evaluation is to be re-run on request. */
  retryQueue: string[];
  retryRounds: number;
  runs: number;
  /** Names of the discoveries recorded when the generations were done (absent in state from before the agents). */
  discoveries?: string[];
}

export interface EvolutionStatus {
  evolutionId: string;
  phase: 'running' | 'paused' | 'stopping' | 'completed';
  generation: number;
  generations: number;
  counts: Record<CandidateSummary['status'], number>;
  /**
   * Candidates compile rejected as not servable on the target's stack: seeds (the user's choice)
   * and the proposer's children (which it moves onto the stack, so these should stay at zero).
   */
  notServable: { seeds: number; children: number };
  best: CandidateSummary | null;
  frontier: CandidateSummary[];
  /** Times the workflow continued as new (history kept bounded). */
  runs: number;
  /** Method names of the discoveries (candidates that beat every manual recipe on the target). */
  discoveries: string[];
}

export interface GenerationInput {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
  /** Re-run the evaluations of these candidates instead of proposing new ones. */
  retryCandidates?: string[];
}

export interface GenerationResult {
  generation: number;
  candidates: CandidateSummary[];
}

export interface ProposedCandidate {
  id: string;
  generation: number;
  recipe: Recipe;
  parents: string[];
  technique: string | null;
}

export interface CompileRequest {
  candidate: ProposedCandidate;
  target: EvolutionConfig['target'];
}

export interface CompileVerdict {
  candidateId: string;
  fits: boolean;
  gbPerGpu: number;
  weightReduction: number;
  decodeTokensPerSecond: number;
  violations: string[];
  violationMessages: string[];
}

export interface QuantizeRequest {
  evolutionId: string;
  candidateId: string;
  recipe: Recipe;
  proxy: string;
  calibrationTokens: number;
  /** A real checkpoint to quantize instead of the proxy (torch executor); absent: the proxy. */
  model?: CheckpointModel;
}

export interface QuantizedArtifact {
  candidateId: string;
  path: string;
  proxyBytes: number;
  workerIdentity: string;
  /** Peak device memory of the quantization (torch executor); absent for the proxy. */
  peakMemoryBytes?: number;
}

export interface EvaluateRequest {
  candidateId: string;
  artifact: QuantizedArtifact;
  proxy: string;
  tokens: number;
  /** The checkpoint the artifact was quantized from (torch executor); absent: the proxy. */
  model?: CheckpointModel;
}

/** Device memory an evaluation measured (torch executor): peak allocated, the device's total (null on CPU), the weights'. */
export interface MeasuredMemory {
  peakBytes: number;
  deviceTotalBytes: number | null;
  weightBytes: number;
}

export interface EvaluationMeasurement {
  candidateId: string;
  bitsPerByte: number;
  top1: number;
  baselineTop1: number;
  kl: number;
  expertFrequency: number[][];
  attempt: number;
  workerIdentity: string;
  resumedFromWindow: number;
  /** Measured by the torch executor; absent for the proxy. */
  measuredMemory?: MeasuredMemory;
  /** The dense long-context proxy's buckets and retrieval; absent for the MoE proxy. */
  longContext?: LongContextSummary;
}

export type RecordRequest =
  | { kind: 'rejected'; evolutionId: string; candidate: ProposedCandidate; verdict: CompileVerdict }
  | { kind: 'evaluated'; evolutionId: string; candidate: ProposedCandidate; verdict: CompileVerdict; artifact: QuantizedArtifact; measurement: EvaluationMeasurement }
  | { kind: 'failed'; evolutionId: string; candidate: ProposedCandidate; verdict: CompileVerdict; failureType: string; message: string; outOfMemory: boolean };

/** Arguments of the evolution's updates, validated before they are accepted into history. */
export const SetBudgetArgs = z
  .object({ generations: z.number().int().min(1).max(10_000).optional(), maxCandidates: z.number().int().min(1).nullable().optional() })
  .strict()
  .refine((b) => b.generations !== undefined || b.maxCandidates !== undefined, { message: 'setBudget needs generations or maxCandidates' });
export type SetBudgetArgs = z.infer<typeof SetBudgetArgs>;

export const RetryArgs = z.object({ candidateIds: z.array(z.string().min(1)).optional() }).strict();
export type RetryArgs = z.infer<typeof RetryArgs>;
