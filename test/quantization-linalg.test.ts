import test from 'ava';
import { choleskyLower, invertLower, upperCholeskyOfInverse } from '../science/quantization/linalg.js';
import { gaussian, mulberry32 } from '../science/quantization/prng.js';

function spd(n: number, seed: number): Float64Array {
  const normal = gaussian(mulberry32(seed));
  const a = Float64Array.from({ length: n * n }, normal);
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? 0.1 : 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * a[j * n + k];
    h[i * n + j] = s;
  }
  return h;
}

test('Cholesky factor reproduces the matrix and its triangular inverse is one', (t) => {
  const n = 40;
  const h = spd(n, 1);
  const l = choleskyLower(h, n);
  if (!l) return t.fail('not positive definite');
  const m = invertLower(l, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let llt = 0;
    let lm = 0;
    for (let k = 0; k < n; k++) {
      llt += l[i * n + k] * l[j * n + k];
      lm += l[i * n + k] * m[k * n + j];
    }
    t.true(Math.abs(llt - h[i * n + j]) < 1e-9 * n);
    t.true(Math.abs(lm - (i === j ? 1 : 0)) < 1e-9);
  }
});

test('upperCholeskyOfInverse gives upper U with Uᵀ·U·H = I', (t) => {
  const n = 50;
  const h = spd(n, 2);
  const u = upperCholeskyOfInverse(h, n);
  if (!u) return t.fail('not positive definite');
  for (let i = 0; i < n; i++) {
    t.true(u[i * n + i] > 0);
    for (let j = 0; j < i; j++) t.is(u[i * n + j], 0);
  }
  // (UᵀU)·H
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += u[k * n + i] * u[k * n + j];
    inv[i * n + j] = s;
  }
  let worst = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += inv[i * n + k] * h[k * n + j];
    worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
  }
  t.true(worst < 1e-8, `max |UᵀUH − I| = ${worst}`);
});

test('a matrix that is not positive definite is reported, not factored', (t) => {
  t.is(choleskyLower(Float64Array.from([1, 2, 2, 1]), 2), null);
  t.is(upperCholeskyOfInverse(Float64Array.from([1, 0, 0, -1]), 2), null);
});
