// "What the table shows": sentences computed from the baseline rows, so the orders and percentages
// in the README are true of the numbers beside them.
import { builtinRecipe } from '../recipes/builtin.js';
import type { BaselineRow } from './table.js';

const UNIFORM = /^w(\d+)a16-g\d+-(rtn|gptq|awq)$/;
const REFERENCE_4BIT = 'w4a16-g128-rtn';

interface MethodRow {
  method: string;
  row: BaselineRow;
}

const WORDS = new Map([[2, 'two'], [3, 'three'], [4, 'four']]);
const countWord = (n: number): string => WORDS.get(n) ?? String(n);
const pct = (x: number, digits = 2): string => `${(100 * x).toFixed(digits)} %`;
const kl = (x: number): string => x.toExponential(2);

/** Uniform weight-only rows by bit width, highest bits first. */
function byBits(rows: readonly BaselineRow[]): Array<[number, MethodRow[]]> {
  const groups = new Map<number, MethodRow[]>();
  for (const row of rows) {
    const m = UNIFORM.exec(row.recipe);
    if (!m) continue;
    const bits = Number(m[1]);
    groups.set(bits, [...(groups.get(bits) ?? []), { method: m[2].toUpperCase(), row }]);
  }
  return [...groups].filter(([, g]) => g.length > 1).sort((a, b) => b[0] - a[0]);
}

/** "GPTQ < AWQ < RTN" by ascending error; equal values read "=". */
function order(group: readonly MethodRow[], error: (r: BaselineRow) => number): string {
  const sorted = [...group].sort((a, b) => error(a.row) - error(b.row));
  return sorted.map((m, i) => (i === 0 ? m.method : `${error(sorted[i - 1].row) === error(m.row) ? '=' : '<'} ${m.method}`)).join(' ');
}

function listBits(bits: readonly number[]): string {
  return bits.length === 1 ? `${bits[0]}` : `${bits.slice(0, -1).join(', ')} and ${bits[bits.length - 1]}`;
}

/** One clause per distinct order: "GPTQ < AWQ < RTN at every bit width" or split by bit width. */
function orderClause(groups: Array<[number, MethodRow[]]>, error: (r: BaselineRow) => number): string {
  const byOrder = new Map<string, number[]>();
  for (const [bits, group] of groups) {
    const o = order(group, error);
    byOrder.set(o, [...(byOrder.get(o) ?? []), bits]);
  }
  if (byOrder.size === 1) return `${[...byOrder.keys()][0]} at every bit width`;
  return [...byOrder].map(([o, bits]) => `${o} at ${listBits(bits)} bits`).join(', and ');
}

function orderSentences(rows: readonly BaselineRow[]): string[] {
  const groups = byBits(rows);
  if (groups.length === 0) return [];
  const klError = (r: BaselineRow) => r.klBitsPerByte;
  const top1Error = (r: BaselineRow) => -r.top1;
  const lines = [
    `At equal bits, KL orders the methods ${orderClause(groups, klError)}; top-1 loss orders them ${orderClause(groups, top1Error)}.`,
  ];
  const bf16 = rows.find((r) => r.recipe === 'bf16');
  for (const [bits, group] of groups) {
    if (order(group, klError) === order(group, top1Error) || !bf16) continue;
    const top1s = group.map((m) => m.row.top1);
    const spread = Math.max(...top1s) - Math.min(...top1s);
    const se = Math.sqrt((bf16.top1 * (1 - bf16.top1)) / bf16.heldOutBytes);
    lines.push(
      `At ${bits} bits the top-1 figures of the ${countWord(group.length)} methods lie within ${(100 * spread).toFixed(2)} points of each other, ${spread < se ? 'less' : 'more'} than one standard error of a top-1 measured on ${bf16.heldOutBytes.toLocaleString('en-US')} bytes (${(100 * se).toFixed(2)} points).`,
    );
  }
  const [lowest, lowGroup] = groups[groups.length - 1];
  if (bf16 && bf16.top1 > 0) {
    const kept = [...lowGroup].sort((a, b) => b.row.top1 - a.row.top1).map((m) => `${m.method} ${pct(m.row.top1 / bf16.top1, 0)}`);
    lines.push(`At ${lowest} bits the methods keep this much of bf16's top-1 accuracy: ${kept.join(', ')}.`);
  }
  return lines.map((l) => `- ${l}`);
}

function comparison(value: number, reference: number, less: string, more: string): string {
  return value < reference ? less : value > reference ? more : 'the same';
}

function mixedSentences(rows: readonly BaselineRow[]): string[] {
  const ref = rows.find((r) => r.recipe === REFERENCE_4BIT);
  const mixed = rows.filter((r) => r.recipe.startsWith('moe-') || r.recipe.startsWith('research-moe-'));
  if (!ref || mixed.length === 0) return [];
  const lines = [
    `- The mixed MoE recipes against uniform 4-bit \`${ref.recipe}\` (${ref.targetGbPerGpu.toFixed(1)} GB/GPU, KL ${kl(ref.klBitsPerByte)}, top-1 loss ${pct(ref.relativeAccuracyLoss)}):`,
  ];
  for (const r of mixed) {
    const gb = r.targetGbPerGpu.toFixed(1);
    const dGb = Math.abs(r.targetGbPerGpu - ref.targetGbPerGpu).toFixed(1);
    const memory = comparison(Number(gb), Number(ref.targetGbPerGpu.toFixed(1)), `${dGb} GB less`, `${dGb} GB more`);
    const klCmp = comparison(r.klBitsPerByte, ref.klBitsPerByte, 'lower', 'higher');
    const lossCmp = comparison(r.relativeAccuracyLoss, ref.relativeAccuracyLoss, 'lower', 'higher');
    const description = builtinRecipe(r.recipe)?.description;
    lines.push(
      `  - \`${r.recipe}\`: ${gb} GB/GPU (${memory}), KL ${kl(r.klBitsPerByte)} (${klCmp}), top-1 loss ${pct(r.relativeAccuracyLoss)} (${lossCmp}); ${r.targetFits ? 'fits' : 'does not fit'}; ${r.targetNotServable.length === 0 ? 'servable on vllm' : `not servable on vllm (${r.targetNotServable.join(', ')})`}.${description ? ` ${description}.` : ''}`,
    );
  }
  return lines;
}

function unfitSentences(rows: readonly BaselineRow[]): string[] {
  return rows
    .filter((r) => !r.targetFits)
    .map((r) => `- \`${r.recipe}\` needs ${r.targetGbPerGpu.toFixed(1)} GB per GPU and is rejected (${r.targetViolations.join(', ')}).`);
}

export function baselineFindings(rows: readonly BaselineRow[]): string {
  return ['What the table shows:', '', ...orderSentences(rows), ...mixedSentences(rows), ...unfitSentences(rows)].join('\n');
}
