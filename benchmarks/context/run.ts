// npm run report:context [-- --write-readme]: the longest context that fits per recipe (weights ×
// KV policy) on Llama-3.1-70B / 2×A100-80GB TP2, by compile, with the 128k verdicts at batch 1 and 8
// and the stacks that serve each recipe; writes the README's context-fit block.
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { contextFitMarkdown } from './report.js';
import { contextFitRows, MAX_CONTEXT } from './rows.js';
import { LONG_CONTEXT_TARGET } from './target.js';

const began = Date.now();
const rows = contextFitRows(LONG_CONTEXT_TARGET);
const seconds = ((Date.now() - began) / 1000).toFixed(0);
const t = LONG_CONTEXT_TARGET;
const setting = `Llama-3.1-70B on ${t.gpus}×A100-80GB (TP${t.tensorParallel}, ${(85_899_345_920 / 1e9).toFixed(1)} GB each), by compile (weights, KV cache with its scales, zeros and bf16 windows, runtime overhead on the fullest GPU). "Longest context" is the largest context L such that every context up to L fits (searched up to ${MAX_CONTEXT.toLocaleString('en-US')}; past 131,072 the model needs RoPE scaling). "Served by": the stacks whose rules take both the weights and the KV policy (reference is evoquant's executor, research only). ${rows.length} rows in ${seconds} s.`;
const markdown = contextFitMarkdown(rows, setting);
process.stdout.write(`${markdown}\n`);
if (process.argv.includes('--write-readme')) writeReadmeBlocks([{ name: 'context-fit', command: 'npm run report:context -- --write-readme', body: markdown }]);
