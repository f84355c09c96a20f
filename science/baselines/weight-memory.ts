// The README's weight-memory table for the headline model, from compile: weights per recipe against
// the published sizes, the KV cache per token, and the tensor-parallel degree that breaks Marlin.
import { compileTarget } from '../physics/compile.js';
import { formatBytes, formatCount } from '../physics/format.js';
import { builtinRecipe } from '../recipes/builtin.js';
import { HEADLINE_TARGET } from './table.js';
import type { Violation } from '../../schema/compile-report.js';

/** Published figures for Qwen3-235B-A22B: the model card's parameter count and checkpoint sizes. */
const PUBLISHED_PARAMETERS = 235.1e9;
const PUBLISHED_WEIGHTS = new Map<string, { bytes: number; source: string }>([
  ['bf16', { bytes: 470e9, source: 'bf16 checkpoint' }],
  ['fp8-w8a16', { bytes: 236e9, source: 'official FP8 checkpoint' }],
]);

const RECIPES = ['bf16', 'fp8-w8a16', 'w4a16-g128', 'w3a16-g128'] as const;
/** The tensor-parallel degree whose expert shards break the 4-bit kernels' tile. */
const WIDE_TP = 8;

function recipe(name: string) {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`weight-memory: unknown builtin recipe ${name}`);
  return r;
}

/** "the expert_down shards have K = 192 (1536 / 8), which marlin-int's 128-wide K tile does not divide". */
function shardReason(v: Violation): string {
  const { shardK, tileK, kernel, tensorParallel } = v.detail;
  if (typeof shardK !== 'number' || typeof tileK !== 'number' || typeof tensorParallel !== 'number' || typeof kernel !== 'string') return v.message;
  return `the ${v.role ?? 'module'} shards have K = ${shardK} (${shardK * tensorParallel} / ${tensorParallel}), which ${kernel}'s ${tileK}-wide K tile does not divide`;
}

const deviation = (value: number, published: number): number => Math.abs(value / published - 1);

export function weightMemoryReadme(): string {
  const reports = RECIPES.map((name) => ({ name, report: compileTarget(HEADLINE_TARGET, recipe(name)) }));
  const bf16 = reports[0].report;
  const deviations = [deviation(bf16.parameters.total, PUBLISHED_PARAMETERS)];
  const rows = reports.map(({ name, report }, i) => {
    const published = PUBLISHED_WEIGHTS.get(name);
    if (published) deviations.push(deviation(report.weightBytes.total, published.bytes));
    return `| ${name} | ${i === 0 ? formatCount(report.parameters.total) : ''} | ${formatBytes(report.weightBytes.total)} | ${published ? `≈${formatBytes(published.bytes).replace('.00', '')} (${published.source})` : ''} | ${i === 0 ? '—' : `${(100 * report.reduction.weights).toFixed(1)} %`} |`;
  });
  const wide = compileTarget({ ...HEADLINE_TARGET, gpus: WIDE_TP, tensorParallel: WIDE_TP }, recipe('w4a16-g128'));
  const shard = wide.violations.find((v) => v.code === 'shard-shape');
  const kvKiB = bf16.kvCache.bytesPerToken / 1024;
  return [
    `Weight memory for \`${bf16.model.name}\` from \`evoquant compile\` (published: ≈${(PUBLISHED_PARAMETERS / 1e9).toFixed(1)} B parameters; compile is within ${(100 * Math.max(...deviations)).toFixed(1)} % of every published figure):`,
    '',
    '| recipe | parameters | weights | published | reduction vs bf16 |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `The bf16 KV cache is ${Number.isInteger(kvKiB) ? 'exactly ' : ''}${kvKiB.toFixed(Number.isInteger(kvKiB) ? 0 : 1)} KiB per token.`,
    shard
      ? `With TP${WIDE_TP}, w4a16-g128 is rejected with \`shard-shape\`: ${shardReason(shard)}.`
      : `With TP${WIDE_TP}, w4a16-g128 ${wide.violations.length === 0 ? 'compiles without violations' : `is rejected with ${wide.violations.map((v) => `\`${v.code}\``).join(', ')}`}.`,
  ].join('\n');
}
