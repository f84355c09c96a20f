// pickWithMargin: float noise below the margin never changes a discrete choice over losses.
import test from 'ava';
import fc from 'fast-check';
import { AWQ_LOSS_MARGIN } from '../science/quantization/awq.js';
import { pickWithMargin } from '../science/quantization/pick.js';
import { mulberry32 } from '../science/quantization/prng.js';

const M = AWQ_LOSS_MARGIN;

test('the earliest loss within the margin of the best wins; beyond it the best wins', (t) => {
  t.is(pickWithMargin([5, 3, 2, 4], M), 2);
  t.is(pickWithMargin([5, 2 * (1 + M / 2), 2, 4], M), 1, 'within the margin: the earlier grid point');
  t.is(pickWithMargin([5, 2 * (1 + 2 * M), 2, 4], M), 2, 'beyond the margin: the better one');
  t.is(pickWithMargin([0, 0, 0], M), 0);
  t.is(pickWithMargin([1, 0, 0], M), 1);
  t.is(pickWithMargin([NaN, 3, 2], M), 2, 'NaN is never picked');
  t.is(pickWithMargin([Infinity, Infinity], M), 0);
  t.is(pickWithMargin([], M), 0);
  t.throws(() => pickWithMargin([1], -1), { instanceOf: RangeError, message: /margin/ });
});

test('near-tied losses perturbed by fp32-GEMM-sized noise keep their pick; a strict argmin flips', (t) => {
  // An AWQ-like loss curve whose best three grid points tie within 1e-7 (as rounding leaves them).
  const base = [5, 3, 2 * (1 + 1e-7), 2, 2 * (1 + 2e-7), 2.5, 4];
  const rand = mulberry32(11);
  const strict = new Set<number>();
  for (let trial = 0; trial < 200; trial++) {
    const noisy = base.map((v) => v * (1 + 3e-7 * (2 * rand() - 1)));
    t.is(pickWithMargin(noisy, M), 2);
    strict.add(pickWithMargin(noisy, 0));
  }
  t.true(strict.size > 1, 'margin 0 (strict argmin) is not robust here, so the margin is what holds the pick');
});

test('property: relative noise ε ≤ margin/10 never changes the pick of losses clear of the margin boundary', (t) => {
  const eps = M / 10;
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
      (losses, noise) => {
        const min = Math.min(...losses);
        const boundary = min * (1 + M);
        // Only a loss within ~ε of (1+margin)·min can move across the boundary.
        fc.pre(losses.every((v) => v <= boundary * (1 - 3 * eps) || v >= boundary * (1 + 3 * eps)));
        const noisy = losses.map((v, i) => v * (1 + eps * noise[i]));
        return pickWithMargin(noisy, M) === pickWithMargin(losses, M);
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});
