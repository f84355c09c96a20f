// The context-that-fits table as markdown, pure: one row per weights × KV policy.
import type { ContextFitRow } from './rows.js';

const tokens = (n: number): string => n.toLocaleString('en-US');
const longest = (f: ContextFitRow['longest']['b1']): string => (f.tokens === 0 ? 'none' : `${f.atLeast ? '≥ ' : ''}${tokens(f.tokens)}`);
const fit = (yes: boolean, gb: number): string => `${yes ? 'yes' : 'no'} (${gb.toFixed(1)})`;

export function contextFitMarkdown(rows: readonly ContextFitRow[], setting: string): string {
  const lines = [
    setting,
    '',
    '| weights | KV cache | KV bytes/token | fits 128k, batch 1 (GB/GPU) | longest context, batch 1 | fits 128k, batch 8 (GB/GPU) | longest context, batch 8 | served by |',
    '| --- | --- | ---: | --- | ---: | --- | ---: | --- |',
    ...rows.map(
      (r) =>
        `| \`${r.weights}\` | \`${r.kv}\`: ${r.kvOrigin} | ${tokens(Math.round(r.kvBytesPerToken))} | ${fit(r.fits.b1, r.gbPerGpu.b1)} | ${longest(r.longest.b1)} | ${fit(r.fits.b8, r.gbPerGpu.b8)} | ${longest(r.longest.b8)} | ${r.servedBy.join(', ')} |`,
    ),
  ];
  return lines.join('\n');
}
