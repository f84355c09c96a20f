// A candidate as evolution sees it: its recipe, lineage and (once measured) its score.
import type { Recipe } from '../../schema/recipe.js';
import { byId, type Measurement } from './archive.js';

export interface CandidateScore {
  fits: boolean;
  gbPerGpu: number;
  /** KL(original ‖ quantized) on held-out proxy text, bits per byte. */
  kl: number;
  top1: number;
  relativeAccuracyLoss: number;
  proxyBytes: number;
}

export interface ScoredCandidate {
  id: string;
  generation: number;
  recipe: Recipe;
  parents: string[];
  technique: string | null;
  /** null while unmeasured, or when compile rejected it or evaluation failed. */
  score: CandidateScore | null;
}

/**
 * A total order: fitting candidates first, by lower KL then less memory; candidates that do not fit
 * yet come after, by less memory first (the closer to fitting, the better a parent); then id.
 */
export function compareFitness(a: ScoredCandidate, b: ScoredCandidate): number {
  if (!a.score || !b.score) return a.score ? -1 : b.score ? 1 : byId(a, b);
  if (a.score.fits !== b.score.fits) return a.score.fits ? -1 : 1;
  if (!a.score.fits) return a.score.gbPerGpu - b.score.gbPerGpu || a.score.kl - b.score.kl || byId(a, b);
  return a.score.kl - b.score.kl || a.score.gbPerGpu - b.score.gbPerGpu || byId(a, b);
}

/** A scored candidate's place in the archive's views (archive.ts); null while unmeasured. */
export function scoreMeasurement(c: ScoredCandidate): Measurement | null {
  return c.score ? { id: c.id, fits: c.score.fits, gbPerGpu: c.score.gbPerGpu, kl: c.score.kl } : null;
}
