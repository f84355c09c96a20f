// Calibration statistics of the dense proxy's linear modules from forward passes on training text,
// at the full context (the activations long-context attention produces are the ones served).
import type { DenseModel } from '../model/dense-forward.js';
import { siteKey, type CalibrationSite } from '../model/calibration-site.js';
import { CalibrationStats } from '../quantization/calibration-stats.js';
import { evenWindows, windowBatch } from '../evaluation/windows.js';
import type { CalibrationSet } from './calibration.js';

export interface DenseCalibrationOptions {
  /** Calibration tokens from the training split (default 8 windows of the full context). */
  tokens?: number;
  maxSamples?: number;
  onProgress?(done: number, total: number): void;
}

const BATCH = 2;

export async function captureDenseCalibration(model: DenseModel, corpus: Uint8Array, options: DenseCalibrationOptions = {}): Promise<CalibrationSet> {
  const c = model.config;
  const seq = c.max_position_embeddings;
  const windows = evenWindows(corpus, seq, options.tokens ?? 8 * seq);
  const stats = new Map<string, CalibrationStats>();
  const d = c.hidden_size;
  for (let from = 0; from < windows.count; from += BATCH) {
    const to = Math.min(windows.count, from + BATCH);
    const { inputs } = windowBatch(windows, from, to);
    // Rows are named by their token's index in the text, so the sampled rows are the same on every CPU.
    const ids = (n: number) => Float64Array.from({ length: n }, (_, r) => from * seq + r);
    const pending: Array<[CalibrationSite, number, Float32Array, number]> = [];
    await model.forward(inputs, to - from, seq, {
      observer: {
        attentionInput: (layer, rows, n) => pending.push([{ kind: 'attention_input', layer }, d, rows, n]),
        attentionOutputInput: (layer, rows, n) => pending.push([{ kind: 'attention_output_input', layer }, c.num_attention_heads * c.head_dim, rows, n]),
        mlpInput: (layer, rows, n) => pending.push([{ kind: 'mlp_input', layer }, d, rows, n]),
        mlpDownInput: (layer, rows, n) => pending.push([{ kind: 'mlp_down_input', layer }, c.intermediate_size, rows, n]),
        headInput: (rows, n) => pending.push([{ kind: 'head_input' }, d, rows, n]),
      },
    });
    for (const [site, width, rows, n] of pending) {
      const key = siteKey(site);
      let s = stats.get(key);
      if (!s) stats.set(key, (s = new CalibrationStats(width, { maxSamples: options.maxSamples })));
      await s.addRows(rows, n, ids(n));
    }
    options.onProgress?.(to, windows.count);
  }
  return { tokens: windows.count * seq, stats, coverage: [], routedCounts: [] };
}
