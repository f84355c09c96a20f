// `npm run bench:long-context [-- --write-readme]`: the long-context evolution on the embedded stack
// (Llama-3.1-70B at 128k × 8 sequences on 2×A100-80GB, measured on the dense proxy), then its results
// from Postgres: the table by position bucket, the aim judged against the manual seeds, and the plot.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { resolveEndpoints, withDatabase } from '../../engine/client/connection.js';
import { runOnEmbeddedStack } from '../../engine/cli/demo/run-demo.js';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { repoRoot } from '../search/cli-process.js';
import { benchPython } from '../search/python-env.js';
import { formatLongContextReport, judgeAim, longContextRows, type LongContextRow } from './report.js';
import { LONG_CONTEXT_DEMO_CONFIG } from './setting.js';

const args = process.argv.slice(2);
const writeReadme = args.includes('--write-readme');
// --render: rewrite the block and the plot from the last run's results.json without evolving again.
const renderOnly = args.includes('--render');
const unknown = args.find((a) => a !== '--write-readme' && a !== '--render');
if (unknown) {
  console.error(`bench:long-context: unknown option ${unknown}`);
  process.exit(2);
}

const BLOCK = 'long-context-evolution';
const COMMAND = "npm run bench:long-context -- --write-readme";
const RESULTS = 'benchmarks/long-context/results.json';
const PLOT = 'benchmarks/long-context/long-context.png';
const TITLE = 'Llama-3.1-70B, 128k context × 8 sequences, 2×A100-80GB (reference stack), measured on the dense proxy';

const began = Date.now();
const config = LONG_CONTEXT_DEMO_CONFIG;
interface Stored {
  evolutionId: string;
  seconds: number;
  rows: LongContextRow[];
}
async function evolve(): Promise<Stored> {
  const result = await runOnEmbeddedStack(config, 'target Llama-3.1-70B at 128k ×8 on 2×A100-80GB, dense proxy, pool cpu');
  const rows = await withDatabase(resolveEndpoints(), (db) => longContextRows(db, result.evolutionId));
  return { evolutionId: result.evolutionId, seconds: Math.round((Date.now() - began) / 1000), rows };
}
const { evolutionId, seconds, rows } = renderOnly ? (JSON.parse(readFileSync(join(repoRoot, RESULTS), 'utf8')) as Stored) : await evolve();
const result = { evolutionId };
const verdict = judgeAim(rows);
const table = formatLongContextReport(rows, verdict);
console.log(table);
writeFileSync(join(repoRoot, RESULTS), `${JSON.stringify({ title: TITLE, evolutionId: result.evolutionId, seconds, bestManual: verdict.bestManual?.id ?? null, bestEvolved: verdict.bestEvolved?.id ?? null, met: verdict.met, rows }, null, 2)}\n`);
if (writeReadme) {
  const python = benchPython((line) => console.error(line));
  execFileSync(python, [join(repoRoot, 'benchmarks/long-context/plot_buckets.py'), join(repoRoot, RESULTS), join(repoRoot, PLOT)], { stdio: 'inherit' });
  const t = config.target;
  const body = [
    `Evolution \`${result.evolutionId}\`: ${config.generations} generations × ${config.populationSize} candidates on ${t.model} at ${t.context.toLocaleString('en-US')} tokens × ${t.batch} sequences, ${t.gpus}×${t.hardware} TP${t.tensorParallel} (stack \`${t.stack}\`), measured on the dense proxy (${config.evaluation.tokens.toLocaleString('en-US')} held-out bytes in windows of 1,024, 16 retrieval probes per distance); ${seconds} s on a ${availableParallelism()}-core machine, stack start included. Δ is against the unquantized proxy; retrieval lost is the mean over distances, in points. The seeds (generation 0) are the manual recipes.`,
    '',
    table,
    '',
    `![Δ bits/byte by position bucket and retrieval by distance](${PLOT})`,
  ].join('\n');
  writeReadmeBlocks([{ name: BLOCK, command: COMMAND, body }]);
}
