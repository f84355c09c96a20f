// Small dense Float64 linear algebra for GPTQ: Cholesky factors of a symmetric positive
// definite matrix and of its inverse. O(n³) in plain JS, fine for n ≤ ~2k.

/** Lower Cholesky factor L (A = L·Lᵀ) of a symmetric n×n matrix, or null if A is not positive definite. */
export function choleskyLower(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let d = a[rowJ + j];
    for (let k = 0; k < j; k++) d -= l[rowJ + k] * l[rowJ + k];
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    l[rowJ + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let s = a[rowI + j];
      for (let k = 0; k < j; k++) s -= l[rowI + k] * l[rowJ + k];
      l[rowI + j] = s / ljj;
    }
  }
  return l;
}

/** Inverse of a lower-triangular matrix (itself lower triangular). */
export function invertLower(l: Float64Array, n: number): Float64Array {
  // Build the transpose T = (L⁻¹)ᵀ row by row so the inner products run over contiguous memory:
  // column j of L⁻¹ solves L·m = e_j by forward substitution.
  const t = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    t[rowJ + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s += l[rowI + k] * t[rowJ + k];
      t[rowJ + i] = -s / l[rowI + i];
    }
  }
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = t[j * n + i];
  return m;
}

/**
 * Upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ·U), what GPTQ needs, without forming A⁻¹.
 * With J the index reversal, factor J·A·J = L·Lᵀ; then A = Ũ·Ũᵀ for the upper Ũ = J·L·J,
 * so A⁻¹ = Ũ⁻ᵀ·Ũ⁻¹ and U = Ũ⁻¹ = J·L⁻¹·J (upper, positive diagonal, hence the Cholesky factor).
 * Returns null when A is not positive definite.
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number): Float64Array | null {
  const rev = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) rev[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  const l = choleskyLower(rev, n);
  if (!l) return null;
  const m = invertLower(l, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)];
  return u;
}
