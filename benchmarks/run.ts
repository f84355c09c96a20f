// Performance benchmark (not a test): GEMM GFLOP/s of the kernels against numpy and a plain
// JavaScript loop, proxy evaluation throughput and quantization time. Medians of repeated runs.
//   npm run bench [-- --json] [-- --write-readme]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeReadmeBlocks } from '../scripts/readme-blocks.js';
import { captureCalibration } from '../science/compression/calibration.js';
import { loadModel } from '../science/compression/quantized-format.js';
import { quantizeProxy } from '../science/compression/quantize-model.js';
import { loadBrown } from '../science/corpus/brown.js';
import { evaluateModel } from '../science/evaluation/evaluate.js';
import { evenWindows } from '../science/evaluation/windows.js';
import { linear } from '../science/kernels/matmul.js';
import { ProxyModel } from '../science/model/forward.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { PERFORMANCE_BLOCK, PERFORMANCE_COMMAND, performanceReadme } from './readme.js';
import type { BenchResult, GemmResult } from './result.js';

const FLAGS = new Set(['--json', '--write-readme']);
const args = process.argv.slice(2);
const unknown = args.find((a) => !FLAGS.has(a));
if (unknown) {
  console.error(`bench: unknown argument ${unknown} (expected ${[...FLAGS].join(', ')})`);
  process.exit(2);
}

const PROXY = fileURLToPath(new URL('../artifacts/proxy', import.meta.url));
const REPS = { gemm: 15, evaluation: 3, quantize: 1 };
const EVAL_TOKENS = 16384;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeMs(reps: number, f: () => unknown): Promise<number> {
  await f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return median(times);
}

function pythonWithNumpy(): string | null {
  for (const py of [process.env.PYTHON, '.tools/venv/bin/python', 'python3'].filter((p): p is string => !!p)) {
    try {
      if (py.includes('/') && !existsSync(py)) continue;
      execFileSync(py, ['-c', 'import numpy'], { stdio: 'ignore' });
      return py;
    } catch {
      // try the next interpreter
    }
  }
  return null;
}

/** Y = X·Wᵀ in plain JavaScript: the baseline the kernels exist to beat. */
function jsLinear(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
      y[i * n + j] = s;
    }
  }
  return y;
}

const inputs = (m: number, k: number, n: number) => ({
  x: Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)),
  w: Float32Array.from({ length: n * k }, (_, i) => Math.cos(i)),
});

const SHAPES: Array<Omit<GemmResult, 'evoquantGflops' | 'numpyGflops'>> = [
  { label: '512×512 · 512×512ᵀ', m: 512, k: 512, n: 512 },
  { label: '1024×1024 · 1024×1024ᵀ', m: 1024, k: 1024, n: 1024 },
  { label: 'proxy qkv, 4096 tokens (4096×128 · 256×128ᵀ)', m: 4096, k: 128, n: 256 },
  { label: 'proxy expert gate+up, 1024 tokens (1024×128 · 512×128ᵀ)', m: 1024, k: 128, n: 512 },
];

const loadStart = loadavg()[0];
const py = pythonWithNumpy();
let numpy: BenchResult['numpy'] = null;
const gemm: GemmResult[] = [];
for (const shape of SHAPES) {
  const { m, k, n } = shape;
  const { x, w } = inputs(m, k, n);
  const ms = await timeMs(REPS.gemm, () => linear(x, w, m, k, n));
  let numpyGflops: number | null = null;
  if (py) {
    const out = execFileSync(py, [fileURLToPath(new URL('./numpy-gemm.py', import.meta.url)), String(m), String(k), String(n), String(REPS.gemm)]);
    const np = JSON.parse(out.toString()) as { numpy: string; blas: string; gflops: number };
    numpy = { version: np.numpy, blas: np.blas };
    numpyGflops = np.gflops;
  }
  gemm.push({ ...shape, evoquantGflops: (2 * m * k * n) / ms / 1e6, numpyGflops });
}

const small = { m: 1, k: 128, n: 128 };
const smallIn = inputs(small.m, small.k, small.n);
const smallMs = await timeMs(200, () => linear(smallIn.x, smallIn.w, small.m, small.k, small.n));

const loop = SHAPES[0];
const loopIn = inputs(loop.m, loop.k, loop.n);
const loopMs = await timeMs(3, () => jsLinear(loopIn.x, loopIn.w, loop.m, loop.k, loop.n));

const weights = loadModel(PROXY);
const model = new ProxyModel(weights);
const brown = loadBrown();
const windows = evenWindows(brown.heldOut, 128, EVAL_TOKENS);
const evalMs = await timeMs(REPS.evaluation, () => evaluateModel(model, windows));

const calibration = await captureCalibration(model, brown.train, { tokens: 8192 });
const quantize: BenchResult['quantize'] = [];
for (const name of ['w4a16-g128-rtn', 'w4a16-g128-gptq', 'w4a16-g128-awq']) {
  const recipe = builtinRecipe(name)!;
  const ms = await timeMs(REPS.quantize, () => quantizeProxy(weights, recipe, { calibration }));
  const method = recipe.default.method;
  const note = method.kind === 'awq' ? `${method.scaleGrid}-point scale grid${method.clip ? ' + clipping search' : ''}` : undefined;
  quantize.push({ recipe: name, seconds: ms / 1000, ...(note ? { note } : {}) });
}

const result: BenchResult = {
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', loadStart, loadEnd: loadavg()[0] },
  numpy,
  reps: REPS,
  gemm,
  smallCall: { ...small, microseconds: smallMs * 1000 },
  jsLoopGflops: (2 * loop.m * loop.k * loop.n) / loopMs / 1e6,
  evaluation: { tokens: EVAL_TOKENS, tokensPerSecond: (EVAL_TOKENS / evalMs) * 1000 },
  quantize,
};

const body = performanceReadme(result);
if (args.includes('--write-readme')) writeReadmeBlocks([{ name: PERFORMANCE_BLOCK, command: PERFORMANCE_COMMAND, body }]);
console.log(args.includes('--json') ? JSON.stringify(result, null, 2) : body);
