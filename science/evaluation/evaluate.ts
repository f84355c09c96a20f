// Measures a model on held-out text: bits/byte, top-1 next-byte accuracy, KL to a reference, routing.
import type { ProxyModel } from '../model/forward.js';
import { logSoftmaxRow } from '../model/ops.js';
import { windowBatch, type EvalWindows } from './windows.js';

export interface EvalMetrics {
  tokens: number;
  bitsPerByte: number;
  top1: number;
  /** Mean KL(reference ‖ model) per byte, in bits; null without a reference. */
  klBitsPerByte: number | null;
  /** Share of routed (token, slot) pairs per expert, [layer][expert]; each layer sums to 1. */
  expertFrequency: number[][];
}

/** Running sums after `nextWindow` windows: enough to resume an interrupted evaluation. */
export interface EvalProgress {
  nextWindow: number;
  nats: number;
  correct: number;
  kl: number;
  counts: number[][];
}

export interface EvalOptions {
  batch?: number;
  /** Continue from an earlier run's progress instead of window 0. */
  resume?: EvalProgress;
  /** Called after every batch with the sums so far (for heartbeats). */
  onBatch?(progress: EvalProgress): void;
  /** Log-probabilities [tokens, vocab] of the reference model on the same windows. */
  reference?: Float32Array;
  onProgress?(doneWindows: number, totalWindows: number): void;
}

const LOG2E = Math.LOG2E;

/** Runs the model over every window, calling `visit` with each batch's log-probabilities. */
async function eachBatch(
  model: ProxyModel,
  windows: EvalWindows,
  batch: number,
  visit: (logProbs: Float32Array, targets: Uint8Array, firstToken: number, counts: number[][], nextWindow: number) => void,
  onProgress?: (done: number, total: number) => void,
  startWindow = 0,
): Promise<void> {
  const vocab = model.config.vocab_size;
  const row = new Float64Array(vocab);
  for (let from = startWindow; from < windows.count; from += batch) {
    const to = Math.min(windows.count, from + batch);
    const { inputs, targets } = windowBatch(windows, from, to);
    const { logits, expertCounts } = await model.forward(inputs, to - from, windows.seq);
    const n = targets.length;
    const logProbs = new Float32Array(n * vocab);
    for (let i = 0; i < n; i++) {
      logSoftmaxRow(logits, i * vocab, vocab, row);
      for (let j = 0; j < vocab; j++) logProbs[i * vocab + j] = row[j];
    }
    visit(logProbs, targets, from * windows.seq, expertCounts, to);
    onProgress?.(to, windows.count);
  }
}

/** Log-probabilities of a reference model (usually the unquantized one) for later KL measurements. */
export async function referenceLogProbs(model: ProxyModel, windows: EvalWindows, batch = 32): Promise<Float32Array> {
  const vocab = model.config.vocab_size;
  const all = new Float32Array(windows.count * windows.seq * vocab);
  await eachBatch(model, windows, batch, (lp, _t, first) => all.set(lp, first * vocab));
  return all;
}

function resumable(p: EvalProgress, windows: EvalWindows, layers: number, experts: number): boolean {
  const finite = [p.nats, p.correct, p.kl].every(Number.isFinite);
  const inRange = Number.isInteger(p.nextWindow) && p.nextWindow >= 0 && p.nextWindow <= windows.count;
  const shaped = Array.isArray(p.counts) && p.counts.length === layers && p.counts.every((l) => Array.isArray(l) && l.length === experts);
  return finite && inRange && shaped;
}

export async function evaluateModel(model: ProxyModel, windows: EvalWindows, options: EvalOptions = {}): Promise<EvalMetrics> {
  const vocab = model.config.vocab_size;
  const tokens = windows.count * windows.seq;
  const reference = options.reference;
  if (reference && reference.length !== tokens * vocab) {
    throw new RangeError(`evaluate: reference has ${reference.length / vocab} positions, windows have ${tokens}`);
  }
  // A checkpoint from another model shape or window set (an older deploy) is ignored, not trusted.
  const resume = options.resume && resumable(options.resume, windows, model.config.num_hidden_layers, model.config.num_experts) ? options.resume : undefined;
  let nats = resume?.nats ?? 0;
  let correct = resume?.correct ?? 0;
  let kl = resume?.kl ?? 0;
  const counts = resume?.counts.map((l) => [...l]) ?? Array.from({ length: model.config.num_hidden_layers }, () => new Array<number>(model.config.num_experts).fill(0));
  await eachBatch(
    model,
    windows,
    options.batch ?? 32,
    (lp, targets, first, batchCounts, nextWindow) => {
      for (let i = 0; i < targets.length; i++) {
        const o = i * vocab;
        nats -= lp[o + targets[i]];
        let best = 0;
        for (let j = 1; j < vocab; j++) if (lp[o + j] > lp[o + best]) best = j;
        if (best === targets[i]) correct++;
        if (reference) {
          const r = (first + i) * vocab;
          for (let j = 0; j < vocab; j++) {
            const p = Math.exp(reference[r + j]);
            if (p > 0) kl += p * (reference[r + j] - lp[o + j]);
          }
        }
      }
      batchCounts.forEach((layer, l) => layer.forEach((c, e) => (counts[l][e] += c)));
      options.onBatch?.({ nextWindow, nats, correct, kl, counts: counts.map((l) => [...l]) });
    },
    options.onProgress,
    resume?.nextWindow ?? 0,
  );
  return {
    tokens,
    bitsPerByte: (nats * LOG2E) / tokens,
    top1: correct / tokens,
    klBitsPerByte: reference ? Math.max(0, (kl * LOG2E) / tokens) : null,
    expertFrequency: counts.map((layer) => {
      const total = layer.reduce((a, b) => a + b, 0);
      return layer.map((c) => (total > 0 ? c / total : 0));
    }),
  };
}
