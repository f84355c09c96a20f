// The README's generated blocks of deterministic numbers must be what their commands produce now.
// The performance block is noisy: only its command rewrites it, and it is not checked here.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { README_PATH, readBlock } from '../scripts/readme-blocks.js';
import { BASELINES_BLOCK, BASELINES_COMMAND, WEIGHT_MEMORY_BLOCK, baselinesReadme } from '../science/baselines/readme.js';
import { baselineTable } from '../science/baselines/table.js';
import { weightMemoryReadme } from '../science/baselines/weight-memory.js';
import { PROXY_REPORT_BLOCK, PROXY_REPORT_COMMAND, measureTrainingReport, readTrainingReport, trainingReportReadme } from '../science/model-training/training-report.js';
import { PERFORMANCE_BLOCK } from '../benchmarks/readme.js';
import { PROXY_DIR } from './helpers/proxy.js';

const readme = readFileSync(README_PATH, 'utf8');
const stale = (name: string, command: string) => `README.md's generated ${name} block is stale: run \`${command}\``;

test('weight-memory block matches compile', (t) => {
  t.is(readBlock(readme, WEIGHT_MEMORY_BLOCK), weightMemoryReadme(), stale(WEIGHT_MEMORY_BLOCK, BASELINES_COMMAND));
});

test('proxy-report block and training-report.json match a fresh measurement of the committed proxy', async (t) => {
  const measured = await measureTrainingReport(PROXY_DIR);
  t.deepEqual(readTrainingReport(PROXY_DIR), measured, `artifacts/proxy/training-report.json is stale: run \`${PROXY_REPORT_COMMAND}\``);
  t.is(readBlock(readme, PROXY_REPORT_BLOCK), trainingReportReadme(measured), stale(PROXY_REPORT_BLOCK, PROXY_REPORT_COMMAND));
});

test('baselines block matches evoquant baselines on the committed proxy', async (t) => {
  t.timeout(4 * 60_000);
  const rows = await baselineTable(PROXY_DIR);
  t.is(readBlock(readme, BASELINES_BLOCK), baselinesReadme(rows), stale(BASELINES_BLOCK, BASELINES_COMMAND));
});

test('the performance block exists once, so npm run bench -- --write-readme has a place to write', (t) => {
  t.notThrows(() => readBlock(readme, PERFORMANCE_BLOCK));
});
