// The search benchmark (a script, not a timed test): the graph-guided engine, the same engine with
// the graph ablated, random search and Optuna's TPE, on one proxy, target, stack, evaluation and
// budget, over several seeds each. Prints the table; writes the traces and the summary as JSON, the
// plot as a PNG, and with --write-readme the README's generated block.
//   npm run bench:search [-- --seeds N] [-- --budget N] [-- --methods graph,ablated,random,tpe] [-- --json] [-- --write-readme] [-- --work-dir DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { repoRoot } from './cli-process.js';
import { engineRun } from './engine-runs.js';
import { EvaluatorClient } from './evaluator-client.js';
import { geneSpaceSize } from './gene-space.js';
import { isInterrupted } from './interrupt.js';
import { benchPython } from './python-env.js';
import { randomSearch } from './random-search.js';
import { PLOT_PATH, RESULTS_PATH, SEARCH_BLOCK, SEARCH_COMMAND, searchReadme, searchTable, type BenchRun } from './readme.js';
import { DEFAULTS, METHOD_LABELS, METHODS, TARGET_LABEL, type Method } from './setting.js';
import { summarize } from './summary.js';
import { tpeSearch } from './tpe.js';
import type { RunTrace } from './trace.js';

function usage(message: string): never {
  process.stderr.write(`bench:search: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { seeds: number; budget: number; methods: Method[]; json: boolean; writeReadme: boolean; workDir: string } {
  const out = { seeds: DEFAULTS.seeds as number, budget: DEFAULTS.budget as number, methods: [...METHODS] as Method[], json: false, writeReadme: false, workDir: join(repoRoot, '.evoquant', 'bench-search') };
  const positive = (flag: string, v: string | undefined, max: number): number => {
    if (v === undefined || !/^[1-9][0-9]*$/.test(v) || Number(v) > max) usage(`${flag} needs a whole number from 1 to ${max}, got ${v ?? 'nothing'}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--write-readme') out.writeReadme = true;
    else if (a === '--seeds') out.seeds = positive(a, argv[++i], 100);
    else if (a === '--budget') out.budget = positive(a, argv[++i], 1000);
    else if (a === '--work-dir') out.workDir = argv[++i] ?? usage('--work-dir needs a directory');
    else if (a === '--methods') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = list.find((m) => !(METHODS as readonly string[]).includes(m));
      if (list.length === 0 || bad !== undefined) usage(`--methods: ${bad ?? 'nothing'} is not one of ${METHODS.join(', ')}`);
      out.methods = [...new Set(list)] as Method[];
    } else usage(`unknown argument ${a} (expected --seeds, --budget, --methods, --json, --write-readme, --work-dir)`);
  }
  if (out.writeReadme && (out.methods.length !== METHODS.length || out.seeds < 5)) usage('--write-readme needs every method and at least 5 seeds');
  return out;
}

const args = parseArgs(process.argv.slice(2));
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const started = performance.now();
mkdirSync(args.workDir, { recursive: true });
const seeds = Array.from({ length: args.seeds }, (_, i) => i + 1);
const python = benchPython(log);

const evaluator = await EvaluatorClient.start(args.workDir);
const { baselineBitsPerByte, capacityGb } = evaluator.info;
log(`bench:search: ${TARGET_LABEL}; budget ${args.budget} evaluations; seeds ${seeds.join(',')}; methods ${args.methods.join(',')}; bf16 proxy ${baselineBitsPerByte.toFixed(4)} bits/byte`);
const traces: RunTrace[] = [];
const done = (t: RunTrace): void => {
  traces.push(t);
  const best = Math.min(...t.evaluations.filter((p) => p.feasible).map((p) => p.deltaBitsPerByte!));
  log(`  ${t.method} seed ${t.seed}: ${t.evaluations.length} evaluations, ${t.rejected} refused by compile, best Δ ${Number.isFinite(best) ? best.toFixed(4) : '—'} (${t.seconds.toFixed(0)} s)`);
};
let optuna: string | null = null;
try {
  await runMethods();
} catch (err) {
  // Interrupted: the signal handler is stopping what the run started and exits when done.
  if (isInterrupted()) await new Promise<never>(() => undefined);
  throw err;
} finally {
  if (!isInterrupted()) await evaluator.close();
}

async function runMethods(): Promise<void> {
  const engineMethods = args.methods.filter((m): m is 'graph' | 'ablated' => m === 'graph' || m === 'ablated');
  const engineCache = join(args.workDir, 'engine-cache');
  for (const seed of seeds) for (const m of engineMethods) done(await engineRun(m, seed, args.budget, baselineBitsPerByte, engineCache, log));
  if (args.methods.includes('random')) for (const seed of seeds) done(await randomSearch(evaluator, seed, args.budget));
  if (args.methods.includes('tpe')) {
    for (const seed of seeds) {
      const t = await tpeSearch(python, args.workDir, seed, args.budget);
      optuna = t.optuna;
      const { optuna: _v, ...trace } = t;
      done(trace);
    }
  }
}

const summary = summarize(traces, args.methods, args.budget, capacityGb);
const sameOrder = (a: RunTrace | undefined, b: RunTrace | undefined): boolean =>
  a !== undefined && b !== undefined && a.evaluations.length === b.evaluations.length && a.evaluations.every((p, i) => p.policyHash === b.evaluations[i].policyHash);
const run: BenchRun = {
  seeds,
  budget: args.budget,
  baselineBitsPerByte,
  capacityGb,
  optuna,
  wallSeconds: (performance.now() - started) / 1000,
  machine: `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'} (shared)`,
  identicalEngineSeeds:
    args.methods.includes('graph') && args.methods.includes('ablated')
      ? seeds.filter((s) => sameOrder(traces.find((t) => t.method === 'graph' && t.seed === s), traces.find((t) => t.method === 'ablated' && t.seed === s))).length
      : null,
  geneSpaceSize: geneSpaceSize(),
};

// The committed results and plot are the README's: other runs keep theirs in the work dir.
const resultsFile = args.writeReadme ? join(repoRoot, RESULTS_PATH) : join(args.workDir, 'bench-search.json');
const plotFile = args.writeReadme ? join(repoRoot, PLOT_PATH) : join(args.workDir, 'bench-search.png');
const title = `search benchmark: ${TARGET_LABEL}, proxy ${summary.budget}-evaluation budget, ${seeds.length} seeds per method`;
writeFileSync(resultsFile, `${JSON.stringify({ title, labels: METHOD_LABELS, run, summary, traces }, null, 1)}\n`);
{
  execFileSync(python, [join(repoRoot, 'benchmarks/search/plot_search.py'), resultsFile, plotFile], { stdio: ['ignore', 2, 2] });
  log(`plot: ${plotFile}`);
}
log(`results: ${resultsFile}`);
if (args.writeReadme) writeReadmeBlocks([{ name: SEARCH_BLOCK, command: SEARCH_COMMAND, body: searchReadme(summary, run) }]);
console.log(args.json ? JSON.stringify({ run, summary, traces }, null, 2) : searchTable(summary));
