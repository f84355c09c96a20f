// Q-Enhance's evidence on a dense model: quantize one decoder layer alone (RTN) and measure the KL
// each position bucket suffers. The layers that hurt the farthest bucket most are the long-range
// ones a recipe can keep at higher precision (DepthBand.order 'long-context-sensitivity').
import { evenWindows } from '../evaluation/windows.js';
import { DenseModel, type DenseWeights } from '../model/dense-forward.js';
import { denseModules } from '../model/dense-modules.js';
import { quantizeLinear } from '../quantization/quantize-linear.js';
import { dequantize } from '../quantization/quantized-linear.js';
import { evaluateBuckets, referenceLogProbs } from '../long-context/bucketed-eval.js';
import { positionBuckets } from '../long-context/buckets.js';
import { denseLogits } from '../long-context/logits.js';
import type { LongContextSensitivity } from '../../schema/sensitivity.js';

export interface LongContextSensitivityOptions {
  /** Predicted positions of training text measured on (default 4 full windows). */
  tokens?: number;
  /** The width each layer is quantized to alone (default 3: where layers differ measurably). */
  bits?: 2 | 3 | 4;
  groupSize?: 32 | 64 | 128 | 256;
  onProgress?(done: number, total: number): void;
}

export async function measureLongContextSensitivity(
  weights: DenseWeights,
  modelHash: string,
  corpus: Uint8Array,
  options: LongContextSensitivityOptions = {},
): Promise<LongContextSensitivity> {
  const c = weights.config;
  const seq = c.max_position_embeddings;
  const bits = options.bits ?? 3;
  const groupSize = options.groupSize ?? 128;
  const windows = evenWindows(corpus, seq, options.tokens ?? 4 * seq);
  const buckets = positionBuckets(seq);
  const reference = await referenceLogProbs(denseLogits(new DenseModel(weights)), windows);
  const modules = denseModules(c);
  const layers: LongContextSensitivity['layers'] = [];
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    const tensors = new Map(weights.tensors);
    for (const m of modules.filter((x) => x.layer === layer)) {
      const q = await quantizeLinear(weights.tensors.get(m.tensor)!, m.outFeatures, m.inFeatures, null, { bits, format: 'int', groupSize, symmetric: false, method: { kind: 'rtn' } }, { label: m.tensor });
      tensors.set(m.tensor, dequantize(q));
    }
    const metrics = await evaluateBuckets(denseLogits(new DenseModel({ config: c, tensors })), windows, buckets, reference);
    layers.push({ layer, klBits: metrics.buckets.map((b) => b.klBitsPerByte ?? 0) });
    options.onProgress?.(layer + 1, c.num_hidden_layers);
  }
  return { version: 1, modelHash, bits, groupSize, tokens: windows.count * seq, buckets: buckets.map(({ from, to }) => ({ from, to })), layers };
}

/**
 * Each layer's rank quantile in [0, 1) by the KL of the farthest bucket, most hurt first (ties by
 * layer index, so the order is reproducible): what a long-context-ordered depth band is read along.
 */
export function longContextQuantiles(profile: LongContextSensitivity): number[] {
  const n = profile.layers.length;
  const last = (l: LongContextSensitivity['layers'][number]): number => l.klBits[l.klBits.length - 1] ?? 0;
  const order = [...profile.layers].sort((a, b) => last(b) - last(a) || a.layer - b.layer);
  const quantiles = new Array<number>(n).fill(0);
  order.forEach((l, rank) => (quantiles[l.layer] = rank / n));
  return quantiles;
}
