// From the runs' traces to the benchmark's figures per method: pure, so the table and the plot are
// functions of the recorded traces alone.
import { bestFeasible, bestSoFar, evaluationsToWithin, feasiblePoints, hypervolume, spread, withinThreshold, type Point2, type Spread } from './metrics.js';
import type { RunTrace } from './trace.js';

export interface MethodSummary {
  method: string;
  runs: number;
  /** Best feasible Δ bits/byte per run (runs with none feasible left out, counted in `noFeasible`). */
  best: Spread | null;
  noFeasible: number;
  /** Evaluations to within 10% of the global best; runs that never got there count as budget + 1. */
  toWithin: Spread | null;
  reached: number;
  hypervolume: Spread | null;
  rejected: Spread | null;
  seconds: Spread | null;
  /** Best-so-far Δ after each evaluation, one row per run (null before its first feasible one). */
  curves: Array<Array<number | null>>;
  /** Every run's feasible (GB per GPU, Δ) points. */
  points: Point2[];
}

export interface BenchSummary {
  budget: number;
  globalBest: { delta: number; method: string; seed: number; recipeName: string } | null;
  threshold: number | null;
  reference: Point2;
  methods: MethodSummary[];
}

export function summarize(traces: readonly RunTrace[], methods: readonly string[], budget: number, capacityGb: number): BenchSummary {
  let globalBest: BenchSummary['globalBest'] = null;
  let worst = 0;
  for (const t of traces) {
    for (const p of t.evaluations.slice(0, budget)) {
      if (!p.feasible || p.deltaBitsPerByte === null) continue;
      if (globalBest === null || p.deltaBitsPerByte < globalBest.delta) globalBest = { delta: p.deltaBitsPerByte, method: t.method, seed: t.seed, recipeName: p.recipeName };
      worst = Math.max(worst, p.deltaBitsPerByte);
    }
  }
  // The GPU's capacity and the worst Δ any method reached plus 10%: one box for every method.
  const reference = { memory: capacityGb, loss: worst + 0.1 * Math.abs(worst) };
  const out = methods.map((method): MethodSummary => {
    const runs = traces.filter((t) => t.method === method);
    const bests = runs.map((r) => bestFeasible(r.evaluations.slice(0, budget))).filter((b): b is number => b !== null);
    const toWithin = globalBest === null ? [] : runs.map((r) => evaluationsToWithin(r.evaluations, globalBest!.delta, budget));
    return {
      method,
      runs: runs.length,
      best: spread(bests),
      noFeasible: runs.length - bests.length,
      toWithin: spread(toWithin),
      reached: toWithin.filter((n) => n <= budget).length,
      hypervolume: spread(runs.map((r) => hypervolume(feasiblePoints(r.evaluations.slice(0, budget)), reference))),
      rejected: spread(runs.map((r) => r.rejected)),
      seconds: spread(runs.map((r) => r.seconds)),
      curves: runs.map((r) => bestSoFar(r.evaluations, budget)),
      points: runs.flatMap((r) => feasiblePoints(r.evaluations.slice(0, budget))),
    };
  });
  return { budget, globalBest, threshold: globalBest === null ? null : withinThreshold(globalBest.delta), reference, methods: out };
}
