// Dense fp32 GEMM kernels backed by onnxruntime's CPU MLAS: ~100x a plain JavaScript loop.
import { buildGraph } from './onnx-graph.js';
import { cachedSession, tensor } from './session.js';

function linearGraph(): Uint8Array {
  // Y[m,n] = X[m,k] · W[n,k]^T : the layout of a torch/HF linear weight.
  return buildGraph(
    'linear',
    [{ name: 'x', dims: ['m', 'k'] }, { name: 'w', dims: ['n', 'k'] }],
    [{ name: 'y', dims: ['m', 'n'] }],
    [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], intAttrs: { transB: 1 } }],
  );
}

function matmulGraph(): Uint8Array {
  return buildGraph(
    'matmul',
    [{ name: 'a', dims: ['m', 'k'] }, { name: 'b', dims: ['k', 'n'] }],
    [{ name: 'c', dims: ['m', 'n'] }],
    [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
  );
}

function check(name: string, data: Float32Array, expected: number): void {
  if (data.length !== expected) throw new RangeError(`${name}: expected ${expected} elements, got ${data.length}`);
}

/** Y = X · Wᵀ for X [m,k] and W [n,k] (row-major), as a linear layer computes it. */
export async function linear(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Promise<Float32Array> {
  check('linear x', x, m * k);
  check('linear w', w, n * k);
  if (m === 0) return new Float32Array(0);
  const session = await cachedSession('linear', linearGraph);
  const out = await session.run({ x: tensor(x, [m, k]), w: tensor(w, [n, k]) });
  return out.y.data as Float32Array;
}

/** C = A · B for A [m,k] and B [k,n]. */
export async function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Promise<Float32Array> {
  check('matmul a', a, m * k);
  check('matmul b', b, k * n);
  if (m === 0) return new Float32Array(0);
  const session = await cachedSession('matmul', matmulGraph);
  const out = await session.run({ a: tensor(a, [m, k]), b: tensor(b, [k, n]) });
  return out.c.data as Float32Array;
}
