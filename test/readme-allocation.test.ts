// The README's allocation block (predicted against measured loss at 10 budgets) must be what
// `evoquant allocate --report` produces now; the sensitivity profile is measured afresh here. ava
// fails a file that reports nothing for its timeout, so the profile and each budget are a test.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { README_PATH, readBlock } from '../scripts/readme-blocks.js';
import { Allocator } from '../science/allocation/allocate.js';
import { buildProblem } from '../science/allocation/problem.js';
import {
  ALLOCATION_BLOCK,
  ALLOCATION_COMMAND,
  allocationMarkdown,
  measureBudget,
  README_TARGET,
  reportBaseline,
  reportBudgets,
  rowMarkdown,
  summarise,
  type AllocationReportRow,
  type ReportBaseline,
} from '../science/allocation/report.js';
import { ensureSensitivity, prepareModel } from '../science/compression/pipeline.js';
import { blockDiff } from './helpers/block-diff.js';
import { PROXY_DIR } from './helpers/proxy.js';

const block = readBlock(readFileSync(README_PATH, 'utf8'), ALLOCATION_BLOCK);
const stale = (measured: string, readme: string): string => `README.md's generated ${ALLOCATION_BLOCK} block is stale: run \`${ALLOCATION_COMMAND}\`\n${blockDiff(readme, measured)}`;
const BUDGETS = 10;
let allocator: Allocator;
let baseline: ReportBaseline;
const rows: AllocationReportRow[] = [];

test.serial('the sensitivity profile of the proxy is measured and priced for the target', async (t) => {
  const prepared = await prepareModel(PROXY_DIR);
  const profile = await ensureSensitivity(prepared);
  allocator = new Allocator(buildProblem({ target: { ...README_TARGET }, profile }));
  baseline = await reportBaseline(prepared);
  t.is(reportBudgets(allocator, BUDGETS).length, BUDGETS);
});

for (let i = 0; i < BUDGETS; i++) {
  test.serial(`allocation row ${i + 1} matches evoquant allocate --report`, async (t) => {
    const budget = reportBudgets(allocator, BUDGETS)[i];
    const row = await measureBudget(allocator, baseline, budget);
    rows.push(row);
    const line = rowMarkdown(row);
    const readmeLine = block.split('\n').find((l) => l.startsWith(`| ${row.budgetGb.toFixed(2)} |`)) ?? '(no row)';
    t.is(readmeLine, line, stale(line, readmeLine));
  });
}

test.serial('allocation block (table and correlations) matches evoquant allocate --report', (t) => {
  const measured = allocationMarkdown(summarise(allocator, baseline, rows));
  t.is(block, measured, stale(measured, block));
});
