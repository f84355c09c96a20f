// The proxy's training report: held-out bits/byte against the unigram floor, top-1 accuracy and
// the routing histogram; measured, stored next to the weights, and rendered for the README.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadModel } from '../compression/quantized-format.js';
import { loadBrown } from '../corpus/brown.js';
import { evaluateModel } from '../evaluation/evaluate.js';
import { unigramBitsPerByte } from '../evaluation/unigram.js';
import { evenWindows } from '../evaluation/windows.js';
import { ProxyModel } from '../model/forward.js';

export const REPORT_FILE = 'training-report.json';
/** README.md's block for this report, rewritten by report.ts (see scripts/readme-blocks.ts). */
export const PROXY_REPORT_BLOCK = 'proxy-report';
export const PROXY_REPORT_COMMAND = 'node --import tsx science/model-training/report.ts --write-readme';
const HELD_OUT_BYTES = 65536;
const SEQ = 128;

export const TrainingReport = z
  .object({
    heldOutBytes: z.number().int().positive(),
    bitsPerByte: z.number().positive(),
    unigramBitsPerByte: z.number().positive(),
    top1: z.number().min(0).max(1),
    /** Share of routed (token, slot) pairs per expert, [layer][expert]. */
    expertFrequency: z.array(z.array(z.number().min(0).max(1)).min(1)).min(1),
  })
  .strict();
export type TrainingReport = z.infer<typeof TrainingReport>;

export async function measureTrainingReport(dir: string): Promise<TrainingReport> {
  const brown = loadBrown();
  const metrics = await evaluateModel(new ProxyModel(loadModel(dir)), evenWindows(brown.heldOut, SEQ, HELD_OUT_BYTES));
  return {
    heldOutBytes: metrics.tokens,
    bitsPerByte: metrics.bitsPerByte,
    unigramBitsPerByte: unigramBitsPerByte(brown.train, brown.heldOut),
    top1: metrics.top1,
    expertFrequency: metrics.expertFrequency,
  };
}

export function readTrainingReport(dir: string): TrainingReport {
  const path = join(dir, REPORT_FILE);
  const parsed = TrainingReport.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function writeTrainingReport(dir: string, report: TrainingReport): void {
  const path = join(dir, REPORT_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** The README's proxy-report block: the bits/byte table and the routing shares. */
export function trainingReportReadme(report: TrainingReport): string {
  const ratios = report.expertFrequency.map((layer) => Math.max(...layer) / Math.min(...layer));
  const [least, most] = [Math.min(...ratios), Math.max(...ratios)];
  const uneven = Number.isFinite(most)
    ? `Routing is uneven: the busiest expert of a layer gets ${least.toFixed(1)}× to ${most.toFixed(1)}× the share of its least busy one.`
    : 'Routing is uneven: some experts get no held-out tokens at all.';
  return [
    `Measured on ${report.heldOutBytes.toLocaleString('en-US')} held-out bytes:`,
    '',
    '| model | held-out bits/byte | top-1 next byte |',
    '|---|---:|---:|',
    `| unigram byte model (add-one smoothed, train split) | ${report.unigramBitsPerByte.toFixed(3)} | — |`,
    `| evoquant proxy (bf16) | **${report.bitsPerByte.toFixed(3)}** | **${(100 * report.top1).toFixed(1)} %** |`,
    '',
    uneven,
    "Each expert's share of the routed (token, slot) pairs on held-out text (each layer sums to 1):",
    '',
    '```',
    ...report.expertFrequency.map((layer, l) => `layer ${l}: ${layer.map((f) => f.toFixed(3)).join(' ')}`),
    '```',
  ].join('\n');
}
