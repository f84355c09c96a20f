// The baselines table: classic PTQ methods and mixed MoE recipes on the proxy (measured) next to
// what each recipe costs Qwen3-235B-A22B on 2×A100-80GB (compiled), and whether vLLM serves it.
import { applyRecipe, prepareModel, type PipelineOptions } from '../compression/pipeline.js';
import { evaluateHeldOut } from '../evaluation/held-out.js';
import { relativeAccuracyLoss } from '../evaluation/relative-loss.js';
import { ProxyModel } from '../model/forward.js';
import { compileTarget } from '../physics/compile.js';
import { builtinRecipe } from '../recipes/builtin.js';
import type { TargetInput } from '../../schema/deployment.js';

export const BASELINE_RECIPES = [
  'bf16',
  'w4a16-g128-rtn',
  'w4a16-g128-gptq',
  'w4a16-g128-awq',
  'w3a16-g128-rtn',
  'w3a16-g128-gptq',
  'w3a16-g128-awq',
  'w2a16-g64-rtn',
  'w2a16-g64-gptq',
  'w2a16-g64-awq',
  'moe-layers-sensitive4-rest3',
  'moe-layers-sensitive4-rest2',
  'moe-edges8-experts3-gptq',
  'moe-edges8-experts3',
  'moe-prune25-w4a16-g128',
  'research-moe-hot4-cold3',
  'research-moe-sensitive4-rest2-outliers',
] as const;

export const HEADLINE_TARGET: TargetInput = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, contextLength: 4096, batch: 1 };

export interface BaselineRow {
  recipe: string;
  bitsPerByte: number;
  top1: number;
  relativeAccuracyLoss: number;
  klBitsPerByte: number;
  proxyBytes: number;
  targetGbPerGpu: number;
  targetFits: boolean;
  targetViolations: string[];
  /** Rules of the target's serving stack (vllm) the recipe breaks; empty when it is servable. */
  targetNotServable: string[];
  /** Held-out bytes evaluated and calibration bytes captured (the same for every row). */
  heldOutBytes: number;
  calibrationBytes: number;
}

export interface BaselineOptions extends PipelineOptions {
  tokens?: number;
  recipes?: readonly string[];
  onRow?(row: BaselineRow): void;
}

export async function baselineTable(proxyDir: string, options: BaselineOptions = {}): Promise<BaselineRow[]> {
  const prepared = await prepareModel(proxyDir, options);
  const reference = { key: prepared.hash, model: new ProxyModel(prepared.weights) };
  const baseTop1 = (await evaluateHeldOut(reference.model, { tokens: options.tokens })).top1;
  const rows: BaselineRow[] = [];
  for (const name of options.recipes ?? BASELINE_RECIPES) {
    const recipe = builtinRecipe(name);
    if (!recipe) throw new Error(`baselines: unknown builtin recipe ${name}`);
    const qp = await applyRecipe(prepared, recipe, options);
    const metrics = await evaluateHeldOut(new ProxyModel(qp.weights), { tokens: options.tokens, reference });
    const report = compileTarget(HEADLINE_TARGET, recipe);
    const row: BaselineRow = {
      recipe: recipe.name,
      bitsPerByte: metrics.bitsPerByte,
      top1: metrics.top1,
      relativeAccuracyLoss: relativeAccuracyLoss(baseTop1, metrics.top1),
      klBitsPerByte: metrics.klBitsPerByte ?? 0,
      proxyBytes: qp.bytes.total,
      targetGbPerGpu: report.perGpu.totalBytes / 1e9,
      targetFits: report.fits,
      targetViolations: [...new Set(report.violations.map((v) => v.code))],
      targetNotServable: [...new Set(report.violations.flatMap((v) => (v.code === 'not-servable' && typeof v.detail.rule === 'string' ? [v.detail.rule] : [])))].sort(),
      heldOutBytes: metrics.tokens,
      calibrationBytes: prepared.calibration.tokens,
    };
    rows.push(row);
    options.onRow?.(row);
  }
  return rows;
}

export function markdownTable(rows: readonly BaselineRow[]): string {
  const head = '| recipe | bits/byte | top-1 | rel. acc. loss | KL (bits/byte) | proxy bytes | Qwen3-235B GB/GPU (2×A100-80GB) | fits | servable on vllm |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---|---|';
  const lines = rows.map(
    (r) =>
      `| ${r.recipe} | ${r.bitsPerByte.toFixed(4)} | ${(100 * r.top1).toFixed(2)}% | ${(100 * r.relativeAccuracyLoss).toFixed(2)}% | ${r.klBitsPerByte.toExponential(2)} | ${r.proxyBytes.toLocaleString('en-US')} | ${r.targetGbPerGpu.toFixed(1)} | ${r.targetFits ? 'yes' : `no (${r.targetViolations.join(', ')})`} | ${r.targetNotServable.length === 0 ? 'yes' : `no (${r.targetNotServable.join(', ')})`} |`,
  );
  return [head, sep, ...lines].join('\n');
}
