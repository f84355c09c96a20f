// The README's search-benchmark block: the setting, the table of medians and spreads per method,
// the sentences whose numbers come from the same run, and the plot's link.
import type { Spread } from './metrics.js';
import { EVALUATION, METHOD_LABELS, POPULATION_SIZE, PROXY, SEED_RECIPES, TARGET_LABEL, type Method } from './setting.js';
import type { BenchSummary } from './summary.js';

export const SEARCH_BLOCK = 'search-benchmark';
export const SEARCH_COMMAND = 'npm run bench:search -- --write-readme';
export const PLOT_PATH = 'benchmarks/search/bench-search.png';
export const RESULTS_PATH = 'benchmarks/search/bench-search.json';

export interface BenchRun {
  seeds: number[];
  budget: number;
  baselineBitsPerByte: number;
  capacityGb: number;
  optuna: string | null;
  wallSeconds: number;
  machine: string;
  /** Seeds whose graph and ablated runs evaluated the same recipes in the same order. */
  identicalEngineSeeds: number | null;
  geneSpaceSize: number;
}

const f4 = (x: number): string => x.toFixed(4);
const range = (s: Spread | null, f: (x: number) => string): string => (s === null ? '—' : `${f(s.median)} (${f(s.min)}–${f(s.max)})`);
const iqr = (s: Spread | null, f: (x: number) => string): string => (s === null ? '—' : `${f(s.median)} (IQR ${f(s.q1)}–${f(s.q3)})`);

export function searchTable(summary: BenchSummary): string {
  const rows = summary.methods.map((m) => {
    const label = METHOD_LABELS[m.method as Method] ?? m.method;
    const best = range(m.best, f4) + (m.noFeasible > 0 ? `, ${m.noFeasible} run(s) with none` : '');
    const within = iqr(m.toWithin, (x) => (x > summary.budget ? `>${summary.budget}` : x.toFixed(1).replace(/\.0$/, ''))) + `; reached ${m.reached}/${m.runs}`;
    return `| ${label} | ${m.runs} | ${best} | ${within} | ${range(m.hypervolume, (x) => x.toFixed(3))} | ${range(m.rejected, (x) => x.toFixed(0))} | ${range(m.seconds, (x) => x.toFixed(0))} |`;
  });
  return [
    '| method | seeds | best feasible Δ bits/byte, median (min–max) | evaluations to within 10% of the best found, median (IQR) | hypervolume of the (GB/GPU, Δ) front, median (min–max) | compile refusals per run | seconds per run |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

export function searchReadme(summary: BenchSummary, run: BenchRun): string {
  const gb = summary.globalBest;
  const lines = [
    `Setting: proxy \`${PROXY}\`, target ${TARGET_LABEL}; every candidate compiled on the target first (refused for free when vLLM cannot serve it or it does not fit), then quantized with ${EVALUATION.calibrationTokens} calibration tokens and evaluated on ${EVALUATION.tokens} held-out bytes by the CPU reference executor. Budget: ${run.budget} evaluations per run, seeds ${run.seeds.join(', ')} for every method. Δ bits/byte is above the unquantized proxy's ${run.baselineBitsPerByte.toFixed(4)} on the same bytes.`,
    `Methods: the engine (\`evoquant start\`, seeds ${SEED_RECIPES.map((s) => `\`${s}\``).join(', ')}, population ${POPULATION_SIZE}, maxCandidates ${run.budget}) with \`agents.guidance: graph\` and with \`agents.guidance: ablated\`; random search drawing uniformly from a gene space of ${run.geneSpaceSize} points (benchmarks/search/gene-space.ts); Optuna ${run.optuna ?? '—'} TPESampler(seed) over the same space. Random search and TPE share one evaluation entry (benchmarks/search/evaluate-recipe.ts).`,
    '',
    searchTable(summary),
    '',
    gb
      ? `Best feasible result of any method: Δ ${f4(gb.delta)} bits/byte (${gb.method}, seed ${gb.seed}, \`${gb.recipeName}\`); "within 10%" means a best-so-far Δ ≤ ${f4(summary.threshold!)}. A run that never got there counts as ${run.budget + 1} evaluations. Hypervolume: the area of the (GB per GPU, Δ) region the run's feasible points dominate, bounded by the GPU's capacity (${run.capacityGb.toFixed(1)} GB) and the worst feasible Δ any method reached plus 10% (${f4(summary.reference.loss)}).`
      : 'No method reached a feasible point.',
    ...(run.identicalEngineSeeds !== null
      ? [`The graph-guided and ablated engine runs evaluated the same recipes in the same order for ${run.identicalEngineSeeds} of ${run.seeds.length} seeds.`]
      : []),
    `Wall-clock: ${(run.wallSeconds / 60).toFixed(1)} minutes on ${run.machine}.`,
    '',
    `![best feasible Δ bits/byte against evaluations, median and IQR over seeds, per method; and the feasible points](${PLOT_PATH})`,
  ];
  return lines.join('\n');
}
