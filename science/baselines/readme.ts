// The README's baselines section body: what each row is, the table, and what it shows, all from
// one measured set of rows.
import { baselineFindings } from './findings.js';
import { HEADLINE_TARGET, markdownTable, type BaselineRow } from './table.js';

/** The README blocks `evoquant baselines --write-readme` rewrites (see scripts/readme-blocks.ts). */
export const BASELINES_COMMAND = 'evoquant baselines --write-readme';
export const BASELINES_BLOCK = 'baselines';
export const WEIGHT_MEMORY_BLOCK = 'weight-memory';

export function baselinesReadme(rows: readonly BaselineRow[]): string {
  if (rows.length === 0) throw new Error('baselines: no rows to write');
  const { heldOutBytes, calibrationBytes } = rows[0];
  const t = HEADLINE_TARGET;
  const caption = [
    '`evoquant baselines` on the committed proxy. Each row is the following:',
    '',
    `- calibrated on ${calibrationBytes.toLocaleString('en-US')} Brown training bytes (every expert covered);`,
    `- evaluated on ${heldOutBytes.toLocaleString('en-US')} held-out bytes;`,
    '- KL is measured against the bf16 proxy;',
    '- proxy bytes are everything the quantized safetensors store (codes, fp16 scales, zeros, AWQ',
    '  channel scales, fp16 outliers, bf16 norms);',
    `- the last two columns come from compiling the same recipe for \`${t.model}\` on ${t.gpus} × \`${t.hardware}\``,
    `  (TP${t.tensorParallel}, ${(t.contextLength ?? 4096).toLocaleString('en-US')}-token context, batch ${t.batch ?? 1}).`,
  ];
  return [...caption, '', markdownTable(rows), '', baselineFindings(rows)].join('\n');
}
