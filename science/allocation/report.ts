// Predicted against measured: allocate at budgets spanning the feasible range, quantize the proxy
// with each allocated recipe (RTN, asymmetric, the profile's group size: what the profile measured),
// and measure KL and bits/byte on held-out text the profile never saw.
import { applyRecipe, type PreparedModel } from '../compression/pipeline.js';
import { evaluateHeldOut } from '../evaluation/held-out.js';
import { ProxyModel } from '../model/forward.js';
import { GB, type Allocation, type Allocator } from './allocate.js';
import { pearson, spearman } from './correlation.js';

export interface AllocationReportRow {
  budgetGb: number;
  /** Bytes per GPU of the allocated recipe, from compile. */
  bytesPerGpu: number;
  predictedKl: number;
  measuredKl: number;
  bitsPerByte: number;
  /** (bits/byte − baseline bits/byte) / baseline bits/byte. */
  relativeLoss: number;
  /** Per proxy layer: attention q/k/v, o and experts bits, e.g. "8·8·3". */
  layers: string[];
  lmHeadBits: number;
}

export interface AllocationReport {
  target: string;
  baselineBitsPerByte: number;
  tokens: number;
  proxyLayers: number;
  rows: AllocationReportRow[];
  correlation: { pearsonKl: number; spearmanKl: number; pearsonRelative: number; spearmanRelative: number };
}

/** `count` budgets evenly spaced from the smallest feasible one to the GPU's memory (or the bf16 size). */
export function reportBudgets(allocator: Allocator, count: number): number[] {
  const lo = Math.ceil(allocator.minBytesPerGpu() / 1e7) * 1e7;
  const hi = Math.floor(Math.min(allocator.problem.capacityBytes, allocator.maxUsefulBytesPerGpu()) / 1e7) * 1e7;
  if (count < 2 || hi <= lo) return [lo];
  return Array.from({ length: count }, (_, i) => Math.round((lo + ((hi - lo) * i) / (count - 1)) / 1e7) * 1e7);
}

function layerSummary(a: Allocation, proxyLayers: number): string[] {
  return Array.from({ length: proxyLayers }, (_, l) =>
    (['qkv', 'attn_o', 'experts'] as const).map((k) => String(a.choices.find((c) => c.kind === k && c.proxyLayer === l)?.bits ?? 16)).join('·'),
  );
}

export interface ReportOptions {
  budgets?: number;
  tokens?: number;
  onProgress?(text: string): void;
}

/** The proxy before quantization: the reference of every measured KL and relative loss. */
export interface ReportBaseline {
  prepared: PreparedModel;
  model: ProxyModel;
  bitsPerByte: number;
  tokens: number;
  evalTokens: number | undefined;
}

export async function reportBaseline(prepared: PreparedModel, tokens?: number): Promise<ReportBaseline> {
  const model = new ProxyModel(prepared.weights);
  const m = await evaluateHeldOut(model, { tokens });
  return { prepared, model, bitsPerByte: m.bitsPerByte, tokens: m.tokens, evalTokens: tokens };
}

/** Allocates at one budget, quantizes the proxy with the recipe and measures it. */
export async function measureBudget(allocator: Allocator, baseline: ReportBaseline, budget: number, onProgress?: (text: string) => void): Promise<AllocationReportRow> {
  onProgress?.(`allocate ${(budget / GB).toFixed(2)} GB per GPU`);
  const a = allocator.allocate(budget);
  const qp = await applyRecipe(baseline.prepared, a.recipe);
  onProgress?.(`evaluate ${(budget / GB).toFixed(2)} GB per GPU`);
  const m = await evaluateHeldOut(new ProxyModel(qp.weights), { tokens: baseline.evalTokens, reference: { key: baseline.prepared.hash, model: baseline.model } });
  return {
    budgetGb: budget / GB,
    bytesPerGpu: a.report.perGpu.totalBytes,
    predictedKl: a.predictedLoss,
    measuredKl: m.klBitsPerByte ?? Number.NaN,
    bitsPerByte: m.bitsPerByte,
    relativeLoss: (m.bitsPerByte - baseline.bitsPerByte) / baseline.bitsPerByte,
    layers: layerSummary(a, allocator.problem.proxyLayers),
    lmHeadBits: a.choices.find((c) => c.kind === 'lm_head')?.bits ?? 16,
  };
}

export function summarise(allocator: Allocator, baseline: ReportBaseline, rows: AllocationReportRow[]): AllocationReport {
  const predicted = rows.map((r) => r.predictedKl);
  const t = allocator.problem.target;
  return {
    target: `${t.model} on ${t.hardware} ×${t.gpus} (TP${t.tensorParallel}, ${t.stack})`,
    baselineBitsPerByte: baseline.bitsPerByte,
    tokens: baseline.tokens,
    proxyLayers: allocator.problem.proxyLayers,
    rows,
    correlation: {
      pearsonKl: pearson(predicted, rows.map((r) => r.measuredKl)),
      spearmanKl: spearman(predicted, rows.map((r) => r.measuredKl)),
      pearsonRelative: pearson(predicted, rows.map((r) => r.relativeLoss)),
      spearmanRelative: spearman(predicted, rows.map((r) => r.relativeLoss)),
    },
  };
}

export async function allocationReport(allocator: Allocator, prepared: PreparedModel, options: ReportOptions = {}): Promise<AllocationReport> {
  const baseline = await reportBaseline(prepared, options.tokens);
  const rows: AllocationReportRow[] = [];
  for (const budget of reportBudgets(allocator, options.budgets ?? 10)) rows.push(await measureBudget(allocator, baseline, budget, options.onProgress));
  return summarise(allocator, baseline, rows);
}

export const ALLOCATION_BLOCK = 'allocation';
/** The target of the README's block: the headline case. */
export const README_TARGET = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2 } as const;
export const ALLOCATION_COMMAND = 'evoquant allocate --report --write-readme';

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

export function rowMarkdown(row: AllocationReportRow): string {
  return `| ${row.budgetGb.toFixed(2)} | ${(row.bytesPerGpu / GB).toFixed(2)} | ${row.predictedKl.toExponential(2)} | ${row.measuredKl.toExponential(2)} | ${row.bitsPerByte.toFixed(4)} | ${(100 * row.relativeLoss).toFixed(2)}% | ${row.layers.join(' ')} | ${row.lmHeadBits} |`;
}

export function allocationMarkdown(r: AllocationReport): string {
  const lines = [
    `Target ${r.target}; proxy baseline ${r.baselineBitsPerByte.toFixed(4)} bits/byte on ${r.tokens} held-out bytes.`,
    'Per proxy layer, bits of q/k/v · o · experts (16 = bf16).',
    '',
    `| budget GB/GPU | compile GB/GPU | predicted KL (bits/byte) | measured KL (bits/byte) | bits/byte | measured relative loss | layers 0…${r.proxyLayers - 1} | lm_head |`,
    '|---:|---:|---:|---:|---:|---:|---|---:|',
    ...r.rows.map(rowMarkdown),
    '',
    `Predicted KL against measured KL: Pearson ${fmt(r.correlation.pearsonKl)}, Spearman ${fmt(r.correlation.spearmanKl)}. ` +
      `Against measured relative loss: Pearson ${fmt(r.correlation.pearsonRelative)}, Spearman ${fmt(r.correlation.spearmanRelative)}.`,
  ];
  return lines.join('\n');
}
