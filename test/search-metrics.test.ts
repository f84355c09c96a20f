// The search benchmark's figures (benchmarks/search/metrics.ts) on hand-checkable traces.
import test from 'ava';
import fc from 'fast-check';
import { bestFeasible, bestSoFar, evaluationsToWithin, hypervolume, paretoFront, quantile, spread, withinThreshold } from '../benchmarks/search/metrics.js';
import type { TracePoint } from '../benchmarks/search/trace.js';

const pt = (index: number, delta: number | null, gb = 70, feasible = delta !== null): TracePoint => ({
  index,
  recipeName: `r${index}`,
  policyHash: `h${index}`,
  feasible,
  deltaBitsPerByte: delta,
  gbPerGpu: gb,
});

test('best feasible Δ ignores infeasible evaluations, null when none is feasible', (t) => {
  t.is(bestFeasible([pt(1, 0.3), pt(2, 0.05, 90, false), pt(3, 0.2)]), 0.2);
  t.is(bestFeasible([pt(1, null)]), null);
  t.is(bestFeasible([]), null);
});

test('best so far is monotone, null before the first feasible evaluation, and padded to the budget', (t) => {
  t.deepEqual(bestSoFar([pt(1, null), pt(2, 0.4), pt(3, 0.5), pt(4, 0.1)], 6), [null, 0.4, 0.4, 0.1, 0.1, 0.1]);
});

test('evaluations to within 10%: first index whose best so far reaches best + 10% of |best|; budget + 1 when never', (t) => {
  const run = [pt(1, 0.5), pt(2, 0.3), pt(3, 0.21), pt(4, 0.2)];
  t.true(Math.abs(withinThreshold(0.2) - 0.22) < 1e-12);
  t.is(evaluationsToWithin(run, 0.2, 4), 3);
  t.is(evaluationsToWithin(run, 0.1, 4), 5);
  // Only the budget counts: a hit after it is not reached.
  t.is(evaluationsToWithin(run, 0.2, 2), 3);
  // A negative best (quantization noise helping) still means "10% of its size worse at most".
  t.true(Math.abs(withinThreshold(-0.2) + 0.18) < 1e-12);
  t.is(evaluationsToWithin([pt(1, -0.15), pt(2, -0.19)], -0.2, 2), 2);
});

test('pareto front keeps the non-dominated points, sorted by memory', (t) => {
  t.deepEqual(paretoFront([{ memory: 70, loss: 0.3 }, { memory: 72, loss: 0.2 }, { memory: 74, loss: 0.25 }, { memory: 69, loss: 0.3 }]), [
    { memory: 69, loss: 0.3 },
    { memory: 72, loss: 0.2 },
  ]);
});

test('hypervolume: exact area of the staircase under the reference point', (t) => {
  const ref = { memory: 80, loss: 1 };
  t.is(hypervolume([], ref), 0);
  t.is(hypervolume([{ memory: 70, loss: 0.5 }], ref), 10 * 0.5);
  // Two steps: [70,75)×0.5 + [75,80)×0.8
  t.true(Math.abs(hypervolume([{ memory: 70, loss: 0.5 }, { memory: 75, loss: 0.2 }, { memory: 76, loss: 0.6 }], ref) - (5 * 0.5 + 5 * 0.8)) < 1e-12);
  // Points outside the reference box add nothing.
  t.is(hypervolume([{ memory: 85, loss: 0.1 }, { memory: 70, loss: 1.5 }], ref), 0);
});

test('hypervolume never shrinks when a point is added and never exceeds the box (property)', (t) => {
  const point = fc.record({ memory: fc.double({ min: 0, max: 100, noNaN: true }), loss: fc.double({ min: 0, max: 2, noNaN: true }) });
  fc.assert(
    fc.property(fc.array(point, { maxLength: 12 }), point, (ps, extra) => {
      const ref = { memory: 80, loss: 1 };
      const before = hypervolume(ps, ref);
      const after = hypervolume([...ps, extra], ref);
      return after >= before - 1e-9 && after <= 80 * 1 + 1e-9;
    }),
  );
  t.pass();
});

test('quantiles interpolate as numpy does; spread reports median, quartiles and range', (t) => {
  t.is(quantile([1, 2, 3, 4], 0.5), 2.5);
  t.is(quantile([3, 1, 2], 0.5), 2);
  t.is(quantile([1, 2, 3, 4, 5], 0.25), 2);
  t.deepEqual(spread([5, 1, 3]), { n: 3, median: 3, q1: 2, q3: 4, min: 1, max: 5 });
  t.is(spread([]), null);
});
