// The archive's views: the Pareto frontier (memory per GPU vs KL) and the best fitting candidate.
import { compareFitness, type ScoredCandidate } from './scored-candidate.js';

function dominates(a: ScoredCandidate, b: ScoredCandidate): boolean {
  const x = a.score!;
  const y = b.score!;
  return x.gbPerGpu <= y.gbPerGpu && x.kl <= y.kl && (x.gbPerGpu < y.gbPerGpu || x.kl < y.kl);
}

/** Measured candidates that fit the target and that no other fitting candidate dominates. */
export function paretoFrontier(candidates: readonly ScoredCandidate[]): ScoredCandidate[] {
  const fitting = candidates.filter((c) => c.score?.fits);
  return fitting.filter((c) => !fitting.some((o) => o !== c && dominates(o, c))).sort((a, b) => a.score!.gbPerGpu - b.score!.gbPerGpu || a.id.localeCompare(b.id));
}

/** The lowest-KL candidate that fits, if any. */
export function bestCandidate(candidates: readonly ScoredCandidate[]): ScoredCandidate | null {
  const fitting = candidates.filter((c) => c.score?.fits);
  return fitting.length ? [...fitting].sort(compareFitness)[0] : null;
}
