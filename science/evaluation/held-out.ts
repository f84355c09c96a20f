// The standard evaluation: held-out Brown text, with the reference distribution cached per model.
import { PromiseCache } from '../caching/promise-cache.js';
import { loadBrown } from '../corpus/brown.js';
import { PROXY_WINDOW_BYTES } from '../../schema/proxy-config.js';
import type { ProxyModel } from '../model/forward.js';
import { evaluateModel, referenceLogProbs, type EvalMetrics, type EvalProgress } from './evaluate.js';
import { evenWindows, type EvalWindows } from './windows.js';

/** Default number of predicted held-out bytes per evaluation. */
export const DEFAULT_EVAL_TOKENS = 32768;

/** Bytes of context per evaluation window. */
export const HELD_OUT_SEQ = PROXY_WINDOW_BYTES;

/** The most bytes an evaluation can predict: every whole window the held-out split holds. */
export function maxHeldOutTokens(seq = HELD_OUT_SEQ): number {
  return Math.floor(loadBrown().heldOut.length / (seq + 1)) * seq;
}

export function heldOutWindows(tokens = DEFAULT_EVAL_TOKENS, seq = HELD_OUT_SEQ): EvalWindows {
  return evenWindows(loadBrown().heldOut, seq, tokens);
}

const references = new PromiseCache<Float32Array>();

/** Reference log-probabilities of a model (by hash) on the given windows, computed once per process. */
export function cachedReference(key: string, model: ProxyModel, windows: EvalWindows): Promise<Float32Array> {
  return references.get(`${key}:${windows.count}:${windows.seq}`, () => referenceLogProbs(model, windows));
}

export interface HeldOutOptions {
  tokens?: number;
  reference?: { key: string; model: ProxyModel };
  onProgress?(done: number, total: number): void;
  resume?: EvalProgress;
  onBatch?(progress: EvalProgress): void;
}

export async function evaluateHeldOut(model: ProxyModel, options: HeldOutOptions = {}): Promise<EvalMetrics> {
  const windows = heldOutWindows(options.tokens);
  const reference = options.reference ? await cachedReference(options.reference.key, options.reference.model, windows) : undefined;
  return evaluateModel(model, windows, { reference, onProgress: options.onProgress, resume: options.resume, onBatch: options.onBatch });
}
