// Measures the sensitivity profile: quantize one block alone (RTN) at each bit width and measure
// the KL it causes, re-running only the layers at and after the block from cached residuals.
import { evenWindows, windowBatch } from '../evaluation/windows.js';
import { ProxyModel, type ProxyWeights } from '../model/forward.js';
import { proxyModules, type ProxyModule } from '../model/modules.js';
import { logSoftmaxRow } from '../model/ops.js';
import { quantizeLinear } from '../quantization/quantize-linear.js';
import { dequantize } from '../quantization/quantized-linear.js';
import type { WeightBits } from '../../schema/recipe.js';
import { SENSITIVITY_BITS, type SensitivityBlock, type SensitivityProfile } from '../../schema/sensitivity.js';

export interface SensitivityOptions {
  /** Tokens of training text measured on (default 2048). */
  tokens?: number;
  bits?: readonly WeightBits[];
  groupSize?: 32 | 64 | 128 | 256;
  onProgress?(done: number, total: number): void;
}

interface Block {
  block: SensitivityBlock;
  modules: ProxyModule[];
  /** First decoder layer whose output changes; -1 for the embeddings, L for lm_head. */
  startLayer: number;
}

function blocksOf(weights: ProxyWeights): Block[] {
  const L = weights.config.num_hidden_layers;
  const modules = proxyModules(weights.config);
  const blocks: Block[] = [];
  for (const m of modules) {
    if (m.expert !== null) continue;
    blocks.push({ block: { kind: 'role', role: m.role, layer: m.layer, expert: null }, modules: [m], startLayer: m.role === 'embeddings' ? -1 : m.layer ?? L });
  }
  for (let layer = 0; layer < L; layer++) {
    for (let expert = 0; expert < weights.config.num_experts; expert++) {
      blocks.push({
        block: { kind: 'expert', role: null, layer, expert },
        modules: modules.filter((m) => m.layer === layer && m.expert === expert),
        startLayer: layer,
      });
    }
  }
  return blocks;
}

export async function measureSensitivity(weights: ProxyWeights, modelHash: string, corpus: Uint8Array, options: SensitivityOptions = {}): Promise<SensitivityProfile> {
  const c = weights.config;
  const bitsList = options.bits ?? SENSITIVITY_BITS;
  const groupSize = options.groupSize ?? 128;
  const seq = c.max_position_embeddings;
  const windows = evenWindows(corpus, seq, options.tokens ?? 2048);
  const { inputs } = windowBatch(windows, 0, windows.count);
  const batch = windows.count;
  const n = batch * seq;
  const vocab = c.vocab_size;

  // Residual stream entering each layer, and the reference distribution.
  const base = new ProxyModel(weights);
  const residuals: Float32Array[] = [];
  const x = base.embedTokens(inputs, batch, seq);
  const counts: number[][] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    residuals.push(x.slice());
    counts.push(await base.runLayer(l, x, batch, seq));
  }
  residuals.push(x.slice());
  const reference = logProbs(await base.head(x, n), n, vocab);

  const blocks = blocksOf(weights);
  const total = blocks.length * bitsList.length;
  let done = 0;
  const entries: SensitivityProfile['entries'] = [];
  for (const b of blocks) {
    const klBits: Record<string, number> = {};
    for (const bits of bitsList) {
      const tensors = new Map(weights.tensors);
      for (const m of b.modules) {
        const q = await quantizeLinear(weights.tensors.get(m.tensor)!, m.outFeatures, m.inFeatures, null, { bits, format: 'int', groupSize, symmetric: false, method: { kind: 'rtn' } }, { label: m.tensor });
        tensors.set(m.tensor, dequantize(q));
      }
      const model = new ProxyModel({ config: c, tensors });
      const h = b.startLayer < 0 ? model.embedTokens(inputs, batch, seq) : residuals[b.startLayer].slice();
      for (let l = Math.max(0, b.startLayer); l < c.num_hidden_layers; l++) await model.runLayer(l, h, batch, seq);
      klBits[String(bits)] = klBitsPerToken(reference, logProbs(await model.head(h, n), n, vocab), n, vocab);
      options.onProgress?.(++done, total);
    }
    entries.push({ block: b.block, params: b.modules.reduce((s, m) => s + m.outFeatures * m.inFeatures, 0), klBits });
  }
  return {
    version: 1,
    modelHash,
    groupSize,
    bits: [...bitsList],
    tokens: n,
    entries,
    routingFrequency: counts.map((layer) => {
      const sum = layer.reduce((a, v) => a + v, 0);
      return layer.map((v) => v / sum);
    }),
  };
}

function logProbs(logits: Float32Array, n: number, vocab: number): Float32Array {
  const out = new Float32Array(n * vocab);
  const row = new Float64Array(vocab);
  for (let i = 0; i < n; i++) {
    logSoftmaxRow(logits, i * vocab, vocab, row);
    for (let j = 0; j < vocab; j++) out[i * vocab + j] = row[j];
  }
  return out;
}

function klBitsPerToken(ref: Float32Array, q: Float32Array, n: number, vocab: number): number {
  let kl = 0;
  for (let i = 0; i < n * vocab; i++) kl += Math.exp(ref[i]) * (ref[i] - q[i]);
  return Math.max(0, (kl * Math.LOG2E) / n);
}

/** Per [layer][expert] damage used to rank experts: KL summed over the sub-8-bit widths. */
export function expertSensitivityScores(profile: SensitivityProfile, numLayers: number, numExperts: number): number[][] {
  const scores = Array.from({ length: numLayers }, () => new Array<number>(numExperts).fill(0));
  for (const e of profile.entries) {
    if (e.block.kind !== 'expert' || e.block.layer === null || e.block.expert === null) continue;
    scores[e.block.layer][e.block.expert] = Object.entries(e.klBits)
      .filter(([bits]) => Number(bits) < 8)
      .reduce((s, [, kl]) => s + kl, 0);
  }
  return scores;
}
