// The layer-wise objective every method targets: ‖X·Wᵀ − X·Ŵᵀ‖² over some input rows.
import { linear } from '../kernels/matmul.js';

/** Squared Frobenius norm of X·(W − Ŵ)ᵀ for X [rows, in] and W, Ŵ [out, in]. */
export async function layerOutputError(x: Float32Array, rows: number, w: Float32Array, wq: Float32Array, outFeatures: number, inFeatures: number): Promise<number> {
  if (w.length !== wq.length) throw new RangeError('weights differ in size');
  const delta = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) delta[i] = w[i] - wq[i];
  const y = await linear(x, delta, rows, inFeatures, outFeatures);
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += y[i] * y[i];
  return sum;
}
