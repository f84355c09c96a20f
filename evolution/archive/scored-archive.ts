// The archive views over the proposer's scored candidates.
import { bestFitting, paretoFront, type Measurement } from './archive.js';
import type { ScoredCandidate } from './scored-candidate.js';

const measure = (c: ScoredCandidate): Measurement | null => (c.score ? { id: c.id, fits: c.score.fits, gbPerGpu: c.score.gbPerGpu, kl: c.score.kl } : null);

export function paretoFrontier(candidates: readonly ScoredCandidate[]): ScoredCandidate[] {
  return paretoFront(candidates, measure);
}

export function bestCandidate(candidates: readonly ScoredCandidate[]): ScoredCandidate | null {
  return bestFitting(candidates, measure);
}
