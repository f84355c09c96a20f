// Performance benchmark (not a test): GEMM GFLOP/s of the kernels against numpy, proxy evaluation
// throughput and quantization time. Medians of repeated runs; run on an otherwise idle machine.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { captureCalibration } from '../science/compression/calibration.js';
import { loadModel } from '../science/compression/quantized-format.js';
import { quantizeProxy } from '../science/compression/quantize-model.js';
import { loadBrown } from '../science/corpus/brown.js';
import { evaluateModel } from '../science/evaluation/evaluate.js';
import { evenWindows } from '../science/evaluation/windows.js';
import { linear } from '../science/kernels/matmul.js';
import { ProxyModel } from '../science/model/forward.js';
import { builtinRecipe } from '../science/recipes/builtin.js';

const PROXY = fileURLToPath(new URL('../artifacts/proxy', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeMs(reps: number, f: () => Promise<unknown>): Promise<number> {
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

const shapes: Array<[string, number, number, number]> = [
  ['square 512', 512, 512, 512],
  ['square 1024', 1024, 1024, 1024],
  ['proxy qkv (4096 tokens)', 4096, 128, 256],
  ['proxy expert gate+up (1024 tokens)', 1024, 128, 512],
];

const rows: Array<Record<string, string | number>> = [];
const py = pythonWithNumpy();
for (const [name, m, k, n] of shapes) {
  const x = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
  const w = Float32Array.from({ length: n * k }, (_, i) => Math.cos(i));
  const ms = await timeMs(15, () => linear(x, w, m, k, n));
  const gflops = (2 * m * k * n) / ms / 1e6;
  const row: Record<string, string | number> = { gemm: name, shape: `${m}×${k}·${n}×${k}ᵀ`, evoquantGflops: +gflops.toFixed(1) };
  if (py) {
    const np = JSON.parse(execFileSync(py, [fileURLToPath(new URL('./numpy-gemm.py', import.meta.url)), String(m), String(k), String(n), '15']).toString()) as { gflops: number };
    row.numpyGflops = +np.gflops.toFixed(1);
    row.ratio = +(gflops / np.gflops).toFixed(2);
  }
  rows.push(row);
}
console.log('GEMM (fp32, median of 15):');
console.table(rows);

const weights = loadModel(PROXY);
const model = new ProxyModel(weights);
const brown = loadBrown();
const windows = evenWindows(brown.heldOut, 128, 16384);
const evalMs = await timeMs(3, () => evaluateModel(model, windows));
console.log(`proxy evaluation: ${((16384 / evalMs) * 1000).toFixed(0)} tokens/s (median of 3 × 16384 held-out tokens)`);

const calibration = await captureCalibration(model, brown.train, { tokens: 8192 });
for (const name of ['w4a16-g128-rtn', 'w4a16-g128-gptq', 'w4a16-g128-awq']) {
  const ms = await timeMs(1, () => quantizeProxy(weights, builtinRecipe(name)!, { calibration }));
  console.log(`quantize whole proxy with ${name}: ${(ms / 1000).toFixed(2)} s`);
}
