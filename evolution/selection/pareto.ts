import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { paretoFrontier } from '../archive/archive.js';
import { compareFitness, scoreMeasurement, type ScoredCandidate } from '../archive/scored-candidate.js';
import type { ParentSelection } from './strategy.js';

/** Uniform over the memory/KL frontier, so both ends keep being explored; the fittest when none fits. */
export class ParetoSelection implements ParentSelection {
  readonly name = 'pareto';

  select(measured: readonly ScoredCandidate[], rng: RandomGenerator): ScoredCandidate {
    const frontier = paretoFrontier(measured, scoreMeasurement);
    if (frontier.length > 0) return frontier[uniformInt(rng, 0, frontier.length - 1)];
    return [...measured].sort(compareFitness)[0];
  }
}
