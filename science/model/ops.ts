// Elementwise and row-wise kernels of the forward pass (memory-bound, so plain loops suffice).

/** out[r] = x[r] / rms(x[r]) * weight, for rows of width d. */
export function rmsNorm(x: Float32Array, weight: Float32Array, rows: number, d: number, eps: number): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[o + j] * x[o + j];
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[o + j] = x[o + j] * inv * weight[j];
  }
  return out;
}

/** cos/sin tables [T, headDim] in the HF layout (the half-frequency table repeated twice). */
export function ropeTables(seq: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(seq * headDim);
  const sin = new Float32Array(seq * headDim);
  for (let t = 0; t < seq; t++) {
    for (let i = 0; i < half; i++) {
      // Computed in float32 like torch, so positions far out round identically.
      const inv = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
      const a = Math.fround(t * inv);
      cos[t * headDim + i] = cos[t * headDim + i + half] = Math.cos(a);
      sin[t * headDim + i] = sin[t * headDim + i + half] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Softmax of each row in place. */
export function softmaxRows(x: Float32Array, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(x[o + j] - max);
      x[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < width; j++) x[o + j] *= inv;
  }
}

/** log-softmax of one row of width w starting at offset o, written to out. */
export function logSoftmaxRow(x: Float32Array, o: number, w: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < w; j++) if (x[o + j] > max) max = x[o + j];
  let sum = 0;
  for (let j = 0; j < w; j++) sum += Math.exp(x[o + j] - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < w; j++) out[j] = x[o + j] - lse;
}

export function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** The arrays one after another: [gate; up] or [q; k; v] stacked for one GEMM. */
export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
