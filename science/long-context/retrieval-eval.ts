// Retrieval accuracy by distance: the share of key letters the model predicts exactly (argmax)
// after the query, which it can only do by attending `distance` bytes back.
import { LONG_CONTEXT_BATCH } from './bucketed-eval.js';
import type { LogitsModel } from './logits.js';
import { KEY_LETTERS, type RetrievalProbe } from './retrieval.js';

export interface RetrievalMetrics {
  distance: number;
  probes: number;
  /** Letters scored: probes × KEY_LETTERS. */
  letters: number;
  accuracy: number;
}

export async function evaluateRetrieval(model: LogitsModel, probes: readonly RetrievalProbe[]): Promise<RetrievalMetrics[]> {
  if (probes.length === 0) return [];
  const seq = probes[0].window.length - 1;
  const vocab = model.vocab;
  const byDistance = new Map<number, { probes: number; correct: number }>();
  for (let from = 0; from < probes.length; from += LONG_CONTEXT_BATCH) {
    const batch = probes.slice(from, from + LONG_CONTEXT_BATCH);
    const tokens = new Uint8Array(batch.length * seq);
    batch.forEach((p, b) => {
      if (p.window.length !== seq + 1) throw new RangeError('retrieval: probes of different lengths');
      tokens.set(p.window.subarray(0, seq), b * seq);
    });
    const logits = await model.logits(tokens, batch.length, seq);
    batch.forEach((p, b) => {
      const entry = byDistance.get(p.distance) ?? { probes: 0, correct: 0 };
      entry.probes++;
      for (let j = 0; j < KEY_LETTERS; j++) {
        const o = (b * seq + p.query + j) * vocab;
        let best = 0;
        for (let v = 1; v < vocab; v++) if (logits[o + v] > logits[o + best]) best = v;
        if (best === p.window[p.query + 1 + j]) entry.correct++;
      }
      byDistance.set(p.distance, entry);
    });
  }
  return [...byDistance.entries()]
    .sort(([a], [b]) => a - b)
    .map(([distance, e]) => ({ distance, probes: e.probes, letters: e.probes * KEY_LETTERS, accuracy: e.correct / (e.probes * KEY_LETTERS) }));
}
