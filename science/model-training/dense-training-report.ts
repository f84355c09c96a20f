// The dense proxy's training report: held-out bits/byte per position bucket against the unigram
// floor, and retrieval accuracy by distance against chance; measured, stored next to the weights,
// and rendered for the README.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadBrown } from '../corpus/brown.js';
import { unigramBitsPerByte } from '../evaluation/unigram.js';
import { bucketLabel } from '../long-context/buckets.js';
import { evaluateLongContext, longContextSet } from '../long-context/long-context-set.js';
import { denseLogits } from '../long-context/logits.js';
import { RETRIEVAL_CHANCE } from '../long-context/retrieval.js';
import { loadDenseModel } from '../compression/dense-artifact.js';

export const DENSE_REPORT_FILE = 'training-report.json';
export const DENSE_REPORT_BLOCK = 'dense-proxy-report';
export const DENSE_REPORT_COMMAND = 'node --import tsx science/model-training/dense-report.ts --write-readme';

const Bucket = z.object({ from: z.number().int().min(0), to: z.number().int().positive(), tokens: z.number().int().positive(), bitsPerByte: z.number().positive(), top1: z.number().min(0).max(1) }).strict();
const Retrieval = z.object({ distance: z.number().int().min(0), probes: z.number().int().positive(), letters: z.number().int().positive(), accuracy: z.number().min(0).max(1) }).strict();

export const DenseTrainingReport = z
  .object({
    context: z.number().int().positive(),
    parameters: z.number().int().positive(),
    heldOutBytes: z.number().int().positive(),
    bitsPerByte: z.number().positive(),
    unigramBitsPerByte: z.number().positive(),
    top1: z.number().min(0).max(1),
    buckets: z.array(Bucket).min(1),
    retrieval: z.array(Retrieval).min(1),
    retrievalChance: z.number().min(0).max(1),
  })
  .strict();
export type DenseTrainingReport = z.infer<typeof DenseTrainingReport>;

export async function measureDenseReport(dir: string): Promise<DenseTrainingReport> {
  const brown = loadBrown();
  const model = loadDenseModel(dir);
  const c = model.config;
  const seq = c.max_position_embeddings;
  const metrics = await evaluateLongContext(denseLogits(model), longContextSet(seq, { probesPerDistance: 32 }));
  const parameters = c.vocab_size * c.hidden_size * 2 + c.hidden_size + c.num_hidden_layers * (2 * c.hidden_size + c.hidden_size * c.head_dim * (2 * c.num_attention_heads + 2 * c.num_key_value_heads) + 3 * c.hidden_size * c.intermediate_size);
  return {
    context: seq,
    parameters,
    heldOutBytes: metrics.tokens,
    bitsPerByte: metrics.bitsPerByte,
    unigramBitsPerByte: unigramBitsPerByte(brown.train, brown.heldOut),
    top1: metrics.top1,
    buckets: metrics.buckets.map(({ from, to, tokens, bitsPerByte, top1 }) => ({ from, to, tokens, bitsPerByte, top1 })),
    retrieval: metrics.retrieval,
    retrievalChance: RETRIEVAL_CHANCE,
  };
}

export function readDenseReport(dir: string): DenseTrainingReport {
  const path = join(dir, DENSE_REPORT_FILE);
  const parsed = DenseTrainingReport.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function writeDenseReport(dir: string, report: DenseTrainingReport): void {
  const path = join(dir, DENSE_REPORT_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export function denseReportReadme(r: DenseTrainingReport): string {
  return [
    `${(r.parameters / 1e6).toFixed(2)} M parameters, context ${r.context} bytes. Measured on ${r.heldOutBytes.toLocaleString('en-US')} held-out bytes (windows of the full context):`,
    '',
    `| model | held-out bits/byte | top-1 next byte | ${r.buckets.map((b) => `bits/byte at ${bucketLabel(b)}`).join(' | ')} |`,
    `|---|---:|---:|${r.buckets.map(() => '---:').join('|')}|`,
    `| unigram byte model (add-one smoothed, train split) | ${r.unigramBitsPerByte.toFixed(3)} | — | ${r.buckets.map(() => '—').join(' | ')} |`,
    `| dense proxy (bf16) | **${r.bitsPerByte.toFixed(3)}** | **${pct(r.top1)}** | ${r.buckets.map((b) => b.bitsPerByte.toFixed(3)).join(' | ')} |`,
    '',
    `Retrieval: the share of key letters reproduced exactly (argmax) after the query, by distance in bytes (chance ${pct(r.retrievalChance)}; ${r.retrieval[0].probes} probes of 6 letters per distance):`,
    '',
    `| distance | ${r.retrieval.map((x) => String(x.distance)).join(' | ')} |`,
    `|---|${r.retrieval.map(() => '---:').join('|')}|`,
    `| accuracy | ${r.retrieval.map((x) => pct(x.accuracy)).join(' | ')} |`,
  ].join('\n');
}
