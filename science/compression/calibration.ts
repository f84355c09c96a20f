// Captures calibration statistics for every linear module from real forward passes on training
// text, and tops up experts the router rarely picks so that none is left uncalibrated.
import type { ProxyModel } from '../model/forward.js';
import { siteKey, type CalibrationSite } from '../model/calibration-site.js';
import { CalibrationStats } from '../quantization/calibration-stats.js';
import { evenWindows, windowBatch } from '../evaluation/windows.js';

export interface ExpertCoverage {
  layer: number;
  expert: number;
  /** Calibration tokens the router sent to this expert. */
  routed: number;
  /** Tokens added by balancing: those with the highest router probability for it among the rest. */
  added: number;
}

export interface CalibrationSet {
  tokens: number;
  stats: ReadonlyMap<string, CalibrationStats>;
  coverage: ExpertCoverage[];
  /** Routed tokens per expert during calibration, [layer][expert]. */
  routedCounts: number[][];
}

export interface CalibrationOptions {
  /** Calibration tokens taken from the training split (default 8192). */
  tokens?: number;
  seq?: number;
  batch?: number;
  /** Every expert gets at least this many tokens (default 256); 0 disables balancing. */
  minTokensPerExpert?: number;
  maxSamples?: number;
  onProgress?(done: number, total: number): void;
}

interface MoeCapture {
  /** Token index (in the calibration text) of each batch's first row. */
  base: number[];
  rows: Float32Array[];
  counts: number[];
  probs: Float32Array[];
  top: Int32Array[];
}

/** The most calibration tokens a corpus gives at this window length: every whole window it holds. */
export function maxCalibrationTokens(corpusBytes: number, seq: number): number {
  return Math.floor(corpusBytes / (seq + 1)) * seq;
}

export async function captureCalibration(model: ProxyModel, corpus: Uint8Array, options: CalibrationOptions = {}): Promise<CalibrationSet> {
  const c = model.config;
  const seq = options.seq ?? c.max_position_embeddings;
  const windows = evenWindows(corpus, seq, options.tokens ?? 8192);
  const batch = options.batch ?? 32;
  const minTokens = options.minTokensPerExpert ?? 256;
  const stats = new Map<string, CalibrationStats>();
  const statFor = (site: CalibrationSite, width: number): CalibrationStats => {
    const key = siteKey(site);
    let s = stats.get(key);
    if (!s) {
      s = new CalibrationStats(width, { maxSamples: options.maxSamples });
      stats.set(key, s);
    }
    return s;
  };
  const moe: MoeCapture[] = Array.from({ length: c.num_hidden_layers }, () => ({ base: [], rows: [], counts: [], probs: [], top: [] }));
  const routedCounts = Array.from({ length: c.num_hidden_layers }, () => new Array<number>(c.num_experts).fill(0));
  const d = c.hidden_size;
  const f = c.moe_intermediate_size;

  for (let from = 0; from < windows.count; from += batch) {
    const to = Math.min(windows.count, from + batch);
    const { inputs } = windowBatch(windows, from, to);
    // Rows are named by their token's index in the text, so the sampled rows are the same on every CPU.
    const base = from * seq;
    const allIds = (n: number): Float64Array => Float64Array.from({ length: n }, (_, r) => base + r);
    const pending: Array<[CalibrationSite, number, Float32Array, number, ArrayLike<number>]> = [];
    // Rows routed to each expert of the current batch, by layer: expertDownInput sees them in this order.
    const routedIdx = new Map<string, number[]>();
    await model.forward(inputs, to - from, seq, {
      attentionInput: (layer, rows, n) => pending.push([{ kind: 'attention_input', layer }, d, rows, n, allIds(n)]),
      attentionOutputInput: (layer, rows, n) => pending.push([{ kind: 'attention_output_input', layer }, c.num_attention_heads * c.head_dim, rows, n, allIds(n)]),
      moeInput: (layer, rows, n, probs, top) => {
        pending.push([{ kind: 'moe_input', layer }, d, rows, n, allIds(n)]);
        const m = moe[layer];
        m.base.push(base);
        m.rows.push(rows);
        m.counts.push(n);
        m.probs.push(probs);
        m.top.push(top);
        // Each expert calibrates on exactly the rows routed to it, as in serving.
        for (let e = 0; e < c.num_experts; e++) {
          const idx: number[] = [];
          for (let r = 0; r < n; r++) for (let s = 0; s < c.num_experts_per_tok; s++) if (top[r * c.num_experts_per_tok + s] === e) idx.push(r);
          const ids = idx.map((r) => base + r);
          routedIdx.set(`${layer}/${e}`, ids);
          if (idx.length > 0) pending.push([{ kind: 'expert_input', layer, expert: e }, d, gatherRows(rows, d, idx), idx.length, ids]);
          routedCounts[layer][e] += idx.length;
        }
      },
      expertDownInput: (layer, expert, rows, n) => {
        const ids = routedIdx.get(`${layer}/${expert}`);
        if (!ids || ids.length !== n) throw new Error(`calibration: expert ${layer}/${expert} got ${n} rows, the router sent ${ids?.length ?? 0}`);
        pending.push([{ kind: 'expert_down_input', layer, expert }, f, rows, n, ids]);
      },
      headInput: (rows, n) => pending.push([{ kind: 'head_input' }, d, rows, n, allIds(n)]),
    });
    for (const [site, width, rows, n, ids] of pending) await statFor(site, width).addRows(rows, n, ids);
    options.onProgress?.(to, windows.count);
  }

  const coverage: ExpertCoverage[] = [];
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    for (let e = 0; e < c.num_experts; e++) {
      const routed = routedCounts[layer][e];
      const missing = Math.max(0, minTokens - routed);
      let added = 0;
      if (missing > 0) {
        const rows = topUpRows(moe[layer], c.num_experts, c.num_experts_per_tok, d, e, missing);
        added = rows.count;
        if (added > 0) {
          await statFor({ kind: 'expert_input', layer, expert: e }, d).addRows(rows.data, rows.count, rows.ids);
          const hidden = await model.expertHidden(layer, e, rows.data, rows.count);
          await statFor({ kind: 'expert_down_input', layer, expert: e }, f).addRows(hidden, rows.count, rows.ids);
        }
      }
      coverage.push({ layer, expert: e, routed, added });
    }
  }
  return { tokens: windows.count * seq, stats, coverage, routedCounts };
}

function gatherRows(rows: Float32Array, width: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(rows.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** The `wanted` tokens not routed to `expert` with the highest router probability for it. */
function topUpRows(m: MoeCapture, E: number, k: number, d: number, expert: number, wanted: number): { data: Float32Array; count: number; ids: number[] } {
  const candidates: Array<{ p: number; batch: number; row: number }> = [];
  m.rows.forEach((_, b) => {
    const n = m.counts[b];
    for (let r = 0; r < n; r++) {
      let routed = false;
      for (let s = 0; s < k; s++) if (m.top[b][r * k + s] === expert) routed = true;
      if (!routed) candidates.push({ p: m.probs[b][r * E + expert], batch: b, row: r });
    }
  });
  // Stable order on ties keeps calibration deterministic.
  candidates.sort((a, b) => b.p - a.p || a.batch - b.batch || a.row - b.row);
  const chosen = candidates.slice(0, wanted);
  const data = new Float32Array(chosen.length * d);
  chosen.forEach((ch, i) => data.set(m.rows[ch.batch].subarray(ch.row * d, (ch.row + 1) * d), i * d));
  return { data, count: chosen.length, ids: chosen.map((ch) => m.base[ch.batch] + ch.row) };
}
