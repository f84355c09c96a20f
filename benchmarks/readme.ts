// The README's performance block, from one benchmark run: the machine and its load, the tables,
// and the sentences whose numbers come from them.
import type { BenchResult } from './result.js';

export const PERFORMANCE_BLOCK = 'performance';
export const PERFORMANCE_COMMAND = 'npm run bench -- --write-readme';

const gflops = (x: number): string => `${x.toFixed(0)} GFLOP/s`;
const range = (xs: number[], digits: number): string => {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)].map((x) => x.toFixed(digits));
  return lo === hi ? lo : `${lo}–${hi}`;
};

function caption(r: BenchResult): string {
  const m = r.machine;
  const peer = r.numpy ? `numpy ${r.numpy.version} (${r.numpy.blas}) as the peer on the same shapes` : 'no numpy peer (no python3 with numpy was found)';
  return [
    `Medians from \`npm run bench\` on ${m.cores} cores (${m.cpu}), with ${peer}.`,
    `The 1-minute load average was ${m.loadStart.toFixed(1)} when it started (other work on the same cores) and ${m.loadEnd.toFixed(1)} when it ended (the benchmark included).`,
  ].join('\n');
}

function gemmTable(r: BenchResult): string[] {
  return [
    `| fp32 GEMM, Y = X·Wᵀ (median of ${r.reps.gemm}) | evoquant kernel (onnxruntime MLAS) | numpy | evoquant / numpy |`,
    '|---|---:|---:|---:|',
    ...r.gemm.map((g) => `| ${g.label} | ${gflops(g.evoquantGflops)} | ${g.numpyGflops === null ? '—' : gflops(g.numpyGflops)} | ${g.numpyGflops === null ? '—' : (g.evoquantGflops / g.numpyGflops).toFixed(2)} |`),
  ];
}

function gemmSentences(r: BenchResult): string[] {
  const speedups = r.gemm.map((g) => g.evoquantGflops / r.jsLoopGflops);
  const proxy = r.gemm.filter((g) => g.label.startsWith('proxy') && g.numpyGflops !== null);
  const lines = [
    `A plain JavaScript triple loop reaches ${r.jsLoopGflops.toFixed(1)} GFLOP/s on ${r.gemm[0].label}, so the kernels are ${range(speedups, 0)}× faster.`,
  ];
  if (proxy.length > 0) {
    lines.push(`On the proxy's small shapes they reach ${range(proxy.map((g) => g.evoquantGflops / g.numpyGflops!), 2)} of numpy's speed.`);
  }
  lines.push(`One ${r.smallCall.m}×${r.smallCall.k} · ${r.smallCall.n}×${r.smallCall.k}ᵀ call takes ${r.smallCall.microseconds.toFixed(0)} µs end to end: the fixed cost of a call across the N-API boundary.`);
  return lines;
}

function pipelineTable(r: BenchResult): string[] {
  return [
    '| what | measured |',
    '|---|---:|',
    `| proxy evaluation throughput (forward + log-softmax + metrics; median of ${r.reps.evaluation} × ${r.evaluation.tokens.toLocaleString('en-US')} held-out tokens) | ${Math.round(r.evaluation.tokensPerSecond).toLocaleString('en-US')} tokens/s |`,
    ...r.quantize.map((q) => `| quantize the whole proxy, ${q.recipe}${q.note ? ` (${q.note})` : ''} | ${q.seconds.toFixed(2)} s |`),
  ];
}

function candidateSentence(r: BenchResult): string {
  const evalSeconds = 8192 / r.evaluation.tokensPerSecond;
  const costs = r.quantize.map((q) => q.seconds + evalSeconds);
  return `So one CPU candidate (quantize plus an 8,192-token evaluation) costs about ${range(costs, 1)} s here, depending on the method.`;
}

export function performanceReadme(r: BenchResult): string {
  return [caption(r), '', ...gemmTable(r), '', ...gemmSentences(r), '', ...pipelineTable(r), '', candidateSentence(r)].join('\n');
}
