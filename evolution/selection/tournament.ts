import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { compareFitness, type ScoredCandidate } from '../archive/scored-candidate.js';
import type { ParentSelection } from './strategy.js';

/** k-way tournament: draw k candidates, keep the fittest. */
export class TournamentSelection implements ParentSelection {
  readonly name = 'tournament';
  constructor(private readonly size = 3) {}

  select(measured: readonly ScoredCandidate[], rng: RandomGenerator): ScoredCandidate {
    let best = measured[uniformInt(rng, 0, measured.length - 1)];
    for (let i = 1; i < this.size; i++) {
      const c = measured[uniformInt(rng, 0, measured.length - 1)];
      if (compareFitness(c, best) < 0) best = c;
    }
    return best;
  }
}
