// The search benchmark's figures, pure functions of the runs' traces. Δ is bits/byte above the bf16
// proxy's (lower is better); memory is GB per GPU on the target (lower is better).
import type { TracePoint } from './trace.js';

/** Best feasible Δ among a run's evaluations, null when none was feasible. */
export function bestFeasible(points: readonly TracePoint[]): number | null {
  let best: number | null = null;
  for (const p of points) if (p.feasible && p.deltaBitsPerByte !== null && (best === null || p.deltaBitsPerByte < best)) best = p.deltaBitsPerByte;
  return best;
}

/** Best feasible Δ after each of `budget` evaluations (null before the first feasible one); an evaluation left unspent keeps the last value. */
export function bestSoFar(points: readonly TracePoint[], budget: number): Array<number | null> {
  const out: Array<number | null> = [];
  let best: number | null = null;
  for (let i = 0; i < budget; i++) {
    const p = points[i];
    if (p && p.feasible && p.deltaBitsPerByte !== null && (best === null || p.deltaBitsPerByte < best)) best = p.deltaBitsPerByte;
    out.push(best);
  }
  return out;
}

/** The Δ that counts as "within 10%" of the best Δ any method found: best + 10% of |best| (also right for a negative best). */
export function withinThreshold(globalBest: number, fraction = 0.1): number {
  return globalBest + fraction * Math.abs(globalBest);
}

/**
 * Evaluations a run needed to get within 10% of the global best: the first 1-based index i at which
 * its best feasible Δ so far is ≤ the threshold; budget + 1 when it never got there ("not reached").
 */
export function evaluationsToWithin(points: readonly TracePoint[], globalBest: number, budget: number, fraction = 0.1): number {
  const threshold = withinThreshold(globalBest, fraction);
  const curve = bestSoFar(points, budget);
  const i = curve.findIndex((b) => b !== null && b <= threshold);
  return i < 0 ? budget + 1 : i + 1;
}

export interface Point2 {
  memory: number;
  loss: number;
}

/** The non-dominated points (both minimised), sorted by memory; duplicates collapse to one. */
export function paretoFront(points: readonly Point2[]): Point2[] {
  const sorted = [...points].sort((a, b) => a.memory - b.memory || a.loss - b.loss);
  const front: Point2[] = [];
  for (const p of sorted) if (front.length === 0 || p.loss < front[front.length - 1].loss) front.push(p);
  return front;
}

/**
 * Exact 2-D hypervolume (area) dominated by the points and bounded by the reference point, both
 * objectives minimised. Points not strictly better than the reference in both objectives add nothing.
 */
export function hypervolume(points: readonly Point2[], ref: Point2): number {
  const inside = points.filter((p) => p.memory < ref.memory && p.loss < ref.loss);
  const front = paretoFront(inside);
  let area = 0;
  for (let i = 0; i < front.length; i++) {
    const nextMemory = i + 1 < front.length ? front[i + 1].memory : ref.memory;
    area += (nextMemory - front[i].memory) * (ref.loss - front[i].loss);
  }
  return area;
}

/** A run's feasible (memory, Δ) points. */
export function feasiblePoints(points: readonly TracePoint[]): Point2[] {
  return points.filter((p) => p.feasible && p.deltaBitsPerByte !== null && p.gbPerGpu !== null).map((p) => ({ memory: p.gbPerGpu!, loss: p.deltaBitsPerByte! }));
}

/** Linear-interpolated quantile (type 7, as numpy's default) of a non-empty sample. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new Error('quantile of an empty sample');
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo] + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]) - s[lo]);
}

export interface Spread {
  n: number;
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

/** Median, quartiles and range of a sample; null for an empty one. */
export function spread(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  return { n: xs.length, median: quantile(xs, 0.5), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), min: Math.min(...xs), max: Math.max(...xs) };
}
