// The standard long-context evaluation of a proxy: evenly spaced held-out Brown windows of the full
// context, scored per position bucket, and retrieval probes over held-out filler at fixed distances.
import { loadBrown } from '../corpus/brown.js';
import { evenWindows, type EvalWindows } from '../evaluation/windows.js';
import { evaluateBuckets, referenceLogProbs, type BucketedMetrics } from './bucketed-eval.js';
import { positionBuckets, type PositionBucket } from './buckets.js';
import type { LogitsModel } from './logits.js';
import { maxRetrievalDistance, retrievalProbes, type RetrievalProbe } from './retrieval.js';
import { evaluateRetrieval, type RetrievalMetrics } from './retrieval-eval.js';

export interface LongContextSet {
  windows: EvalWindows;
  buckets: PositionBucket[];
  probes: RetrievalProbe[];
}

export interface LongContextSetOptions {
  /** Predicted bytes scored for bits/byte (whole windows of `seq`). */
  tokens?: number;
  /** Retrieval probes per distance. */
  probesPerDistance?: number;
  seed?: number;
}

export const DEFAULT_LONG_CONTEXT_WINDOWS = 32;
export const DEFAULT_PROBES_PER_DISTANCE = 16;
const PROBE_SEED = 20261201;

/** Distances from a few bytes to the far end of the window, where only long-range attention helps. */
export function retrievalDistances(seq: number): number[] {
  const far = maxRetrievalDistance(seq);
  return [...new Set([16, 128, 256, 512, 768, far].filter((d) => d <= far))].sort((a, b) => a - b);
}

export function longContextSet(seq: number, options: LongContextSetOptions = {}): LongContextSet {
  const heldOut = loadBrown().heldOut;
  return {
    windows: evenWindows(heldOut, seq, options.tokens ?? DEFAULT_LONG_CONTEXT_WINDOWS * seq),
    buckets: positionBuckets(seq),
    probes: retrievalProbes(heldOut, seq, retrievalDistances(seq), options.probesPerDistance ?? DEFAULT_PROBES_PER_DISTANCE, options.seed ?? PROBE_SEED),
  };
}

export interface LongContextMetrics extends BucketedMetrics {
  retrieval: RetrievalMetrics[];
}

/** The reference side of a comparison: the original model's log-probabilities on the set's windows. */
export function longContextReference(original: LogitsModel, set: LongContextSet): Promise<Float32Array> {
  return referenceLogProbs(original, set.windows);
}

export async function evaluateLongContext(model: LogitsModel, set: LongContextSet, reference?: Float32Array): Promise<LongContextMetrics> {
  const bucketed = await evaluateBuckets(model, set.windows, set.buckets, reference);
  return { ...bucketed, retrieval: await evaluateRetrieval(model, set.probes) };
}
