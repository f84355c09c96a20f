// Parent selection: one class per strategy, chosen by the evolution config.
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { ScoredCandidate } from '../archive/scored-candidate.js';

export interface ParentSelection {
  readonly name: string;
  /** One parent from the measured candidates (never empty when called). */
  select(measured: readonly ScoredCandidate[], rng: RandomGenerator): ScoredCandidate;
}
