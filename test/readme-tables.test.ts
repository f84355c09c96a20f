// The README's generated blocks of deterministic numbers must be what their commands produce now.
// The performance block is noisy: only its command rewrites it, and it is not checked here.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { README_PATH, readBlock } from '../scripts/readme-blocks.js';
import { BASELINES_BLOCK, BASELINES_COMMAND, WEIGHT_MEMORY_BLOCK, baselinesReadme } from '../science/baselines/readme.js';
import { BASELINE_RECIPES, baselineTable, markdownTable, type BaselineRow } from '../science/baselines/table.js';
import { weightMemoryReadme } from '../science/baselines/weight-memory.js';
import { PROXY_REPORT_BLOCK, PROXY_REPORT_COMMAND, measureTrainingReport, readTrainingReport, trainingReportReadme } from '../science/model-training/training-report.js';
import { PERFORMANCE_BLOCK } from '../benchmarks/readme.js';
import { GRAPH_QUERIES_BLOCK } from '../benchmarks/graph/readme.js';
import { blockDiff } from './helpers/block-diff.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { DENSE_REPORT_BLOCK, DENSE_REPORT_COMMAND, denseReportReadme, readDenseReport } from '../science/model-training/dense-training-report.js';

const DENSE_DIR = fileURLToPath(new URL('../artifacts/dense-proxy', import.meta.url));

const readme = readFileSync(README_PATH, 'utf8');
const stale = (name: string, command: string) => `README.md's generated ${name} block is stale: run \`${command}\``;
/** The stale message plus what moved, README → measured. */
const staleDiff = (name: string, command: string, readmeText: string, measured: string) =>
  `${stale(name, command)}\n${blockDiff(readmeText, measured)}`;

test('weight-memory block matches compile', (t) => {
  const block = readBlock(readme, WEIGHT_MEMORY_BLOCK);
  t.is(block, weightMemoryReadme(), staleDiff(WEIGHT_MEMORY_BLOCK, BASELINES_COMMAND, block, weightMemoryReadme()));
});

test('proxy-report block and training-report.json match a fresh measurement of the committed proxy', async (t) => {
  const measured = await measureTrainingReport(PROXY_DIR);
  t.deepEqual(readTrainingReport(PROXY_DIR), measured, `artifacts/proxy/training-report.json is stale: run \`${PROXY_REPORT_COMMAND}\``);
  const block = readBlock(readme, PROXY_REPORT_BLOCK);
  t.is(block, trainingReportReadme(measured), staleDiff(PROXY_REPORT_BLOCK, PROXY_REPORT_COMMAND, block, trainingReportReadme(measured)));
});

// `evoquant baselines` takes 1–2 minutes on 2 idle cores. ava fails a file that reports nothing for
// its timeout, so one serial test per row reports as the rows arrive, then the block is compared.
const expectedRows = new Map<string, { resolve(r: BaselineRow): void; reject(e: unknown): void; row: Promise<BaselineRow> }>();
for (const name of BASELINE_RECIPES) {
  let resolve!: (r: BaselineRow) => void;
  let reject!: (e: unknown) => void;
  const row = new Promise<BaselineRow>((res, rej) => ((resolve = res), (reject = rej)));
  row.catch(() => undefined);
  expectedRows.set(name, { resolve, reject, row });
}
let table: Promise<BaselineRow[]> | null = null;
function measuredTable(): Promise<BaselineRow[]> {
  if (!table) {
    table = baselineTable(PROXY_DIR, { onRow: (r) => expectedRows.get(r.recipe)?.resolve(r) });
    table.catch((e: unknown) => expectedRows.forEach((d) => d.reject(e)));
  }
  return table;
}

const baselinesBlock = readBlock(readme, BASELINES_BLOCK);
for (const name of BASELINE_RECIPES) {
  test.serial(`baselines row ${name} matches evoquant baselines`, async (t) => {
    void measuredTable();
    const row = await expectedRows.get(name)!.row;
    const [head, sep, line] = markdownTable([row]).split('\n');
    const readmeLine = baselinesBlock.split('\n').find((l) => l.startsWith(`| ${name} |`));
    const readmeTable = [head, sep, ...(readmeLine ? [readmeLine] : [])].join('\n');
    t.is(readmeLine, line, staleDiff(BASELINES_BLOCK, BASELINES_COMMAND, readmeTable, markdownTable([row])));
  });
}

test.serial('baselines block (table and what it shows) matches evoquant baselines', async (t) => {
  const measured = baselinesReadme(await measuredTable());
  t.is(baselinesBlock, measured, staleDiff(BASELINES_BLOCK, BASELINES_COMMAND, baselinesBlock, measured));
});

test('dense-proxy-report block matches artifacts/dense-proxy/training-report.json', (t) => {
  const report = readDenseReport(DENSE_DIR);
  const block = readBlock(readme, DENSE_REPORT_BLOCK);
  t.is(block, denseReportReadme(report), staleDiff(DENSE_REPORT_BLOCK, DENSE_REPORT_COMMAND, block, denseReportReadme(report)));
});

test('the long-context evolution block exists once, so npm run bench:long-context -- --write-readme has a place to write', (t) => {
  t.notThrows(() => readBlock(readme, 'long-context-evolution'));
});

test('the performance block exists once, so npm run bench -- --write-readme has a place to write', (t) => {
  t.notThrows(() => readBlock(readme, PERFORMANCE_BLOCK));
});

test('the graph-queries block exists once, so npm run bench:graph -- --write-readme has a place to write', (t) => {
  t.notThrows(() => readBlock(readme, GRAPH_QUERIES_BLOCK));
});
