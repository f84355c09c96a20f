// Bits/byte, top-1 and KL to a reference, overall and per position bucket, over evaluation windows.
import { logSoftmaxRow } from '../model/ops.js';
import { windowBatch, type EvalWindows } from '../evaluation/windows.js';
import type { PositionBucket } from './buckets.js';
import type { LogitsModel } from './logits.js';

export interface BucketMetrics extends PositionBucket {
  tokens: number;
  bitsPerByte: number;
  top1: number;
  /** Mean KL(reference ‖ model) per byte in bits; null without a reference. */
  klBitsPerByte: number | null;
}

export interface BucketedMetrics {
  tokens: number;
  bitsPerByte: number;
  top1: number;
  klBitsPerByte: number | null;
  buckets: BucketMetrics[];
}

/** Windows per forward call: a 1,024-byte window's score matrices are what bounds memory. */
export const LONG_CONTEXT_BATCH = 2;

async function eachBatch(model: LogitsModel, windows: EvalWindows, visit: (logProbs: Float32Array, targets: Uint8Array, firstWindow: number) => void): Promise<void> {
  const vocab = model.vocab;
  const row = new Float64Array(vocab);
  for (let from = 0; from < windows.count; from += LONG_CONTEXT_BATCH) {
    const to = Math.min(windows.count, from + LONG_CONTEXT_BATCH);
    const { inputs, targets } = windowBatch(windows, from, to);
    const logits = await model.logits(inputs, to - from, windows.seq);
    const logProbs = new Float32Array(logits.length);
    for (let i = 0; i < targets.length; i++) {
      logSoftmaxRow(logits, i * vocab, vocab, row);
      logProbs.set(row, i * vocab);
    }
    visit(logProbs, targets, from);
  }
}

/** Log-probabilities [windows·seq, vocab] of a reference model (the original) on the windows, for KL. */
export async function referenceLogProbs(model: LogitsModel, windows: EvalWindows): Promise<Float32Array> {
  const all = new Float32Array(windows.count * windows.seq * model.vocab);
  await eachBatch(model, windows, (lp, _t, first) => all.set(lp, first * windows.seq * model.vocab));
  return all;
}

interface Sums {
  tokens: number;
  nats: number;
  correct: number;
  kl: number;
}

const LOG2E = Math.LOG2E;

export async function evaluateBuckets(model: LogitsModel, windows: EvalWindows, buckets: readonly PositionBucket[], reference?: Float32Array): Promise<BucketedMetrics> {
  const vocab = model.vocab;
  const seq = windows.seq;
  if (reference && reference.length !== windows.count * seq * vocab) {
    throw new RangeError(`long-context evaluation: reference has ${reference.length / vocab} positions, windows have ${windows.count * seq}`);
  }
  const bucketOf = new Int32Array(seq).fill(-1);
  buckets.forEach((b, i) => {
    for (let p = b.from; p < Math.min(b.to, seq); p++) bucketOf[p] = i;
  });
  const sums: Sums[] = buckets.map(() => ({ tokens: 0, nats: 0, correct: 0, kl: 0 }));
  const total: Sums = { tokens: 0, nats: 0, correct: 0, kl: 0 };
  await eachBatch(model, windows, (lp, targets, firstWindow) => {
    for (let i = 0; i < targets.length; i++) {
      const o = i * vocab;
      const nats = -lp[o + targets[i]];
      let best = 0;
      for (let j = 1; j < vocab; j++) if (lp[o + j] > lp[o + best]) best = j;
      let kl = 0;
      if (reference) {
        const r = (firstWindow * seq + i) * vocab;
        for (let j = 0; j < vocab; j++) {
          const p = Math.exp(reference[r + j]);
          if (p > 0) kl += p * (reference[r + j] - lp[o + j]);
        }
      }
      const b = bucketOf[i % seq];
      for (const s of b >= 0 ? [total, sums[b]] : [total]) {
        s.tokens++;
        s.nats += nats;
        s.correct += best === targets[i] ? 1 : 0;
        s.kl += kl;
      }
    }
  });
  const metrics = (s: Sums) => ({
    tokens: s.tokens,
    bitsPerByte: (s.nats * LOG2E) / s.tokens,
    top1: s.correct / s.tokens,
    klBitsPerByte: reference ? Math.max(0, (s.kl * LOG2E) / s.tokens) : null,
  });
  return { ...metrics(total), buckets: buckets.map((b, i) => ({ from: b.from, to: b.to, ...metrics(sums[i]) })) };
}
