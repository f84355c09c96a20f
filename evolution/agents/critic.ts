// The critic: what a generation's children teach, as judgements the knowledge graph records —
// improved-over its parent, or failed-because a class of failure — and, per child, the patterns it
// applied with their measured effect on loss and memory (the bandit's evidence). Pure.
import type { ArchitectOperation, ChainStep } from '../../schema/agents.js';
import type { EvolutionPattern } from '../../schema/innovation.js';
import type { Recipe } from '../../schema/recipe.js';
import { recipePatterns } from './recipe-patterns.js';

/** A candidate's outcome as the critic reads it (the candidate node's payload). */
export interface Outcome {
  status: 'proposed' | 'rejected' | 'evaluated' | 'failed' | 'infeasible';
  fits: boolean | null;
  gbPerGpu: number | null;
  kl: number | null;
}

export interface CriticChild {
  id: string;
  recipe: Recipe;
  parents: ReadonlyArray<{ id: string; recipe: Recipe; outcome: Outcome }>;
  technique: string | null;
  operation: ArchitectOperation;
  step: ChainStep | null;
  outcome: Outcome;
  /** Failure classes: compile's violation codes and the evaluation's failure type. */
  failures: string[];
}

export interface PatternOutcome {
  pattern: EvolutionPattern;
  improved: boolean;
  /** child − parent, null where either is unmeasured. */
  klDelta: number | null;
  gbDelta: number | null;
}

export interface Critique {
  candidateId: string;
  improvedOver: Array<{ parent: string; klBefore: number | null; klAfter: number }>;
  failedBecause: string[];
  patterns: PatternOutcome[];
}

/** The pattern an operator applies when no chain step names one (ablated and uniform children). */
const OPERATOR_PATTERN: Partial<Record<string, EvolutionPattern>> = {
  gptq: 'error-compensation',
  awq: 'activation-awareness',
  'outlier-retention': 'outlier-isolation',
  'hadamard-rotation': 'rotation-incoherence',
  'expert-tiers-frequency': 'mixed-precision-sensitivity-routing',
  'expert-tiers-sensitivity': 'mixed-precision-sensitivity-routing',
  'expert-layer-tiers': 'mixed-precision-sensitivity-routing',
  'attention-precision': 'mixed-precision-sensitivity-routing',
  'edge-layer-protection': 'mixed-precision-sensitivity-routing',
  'expert-pruning': 'pruning-merging',
  'expert-merging': 'pruning-merging',
};

/** Better than the parent: it fits and (the parent did not, or) it loses less. */
export function improvesOn(child: Outcome, parent: Outcome): boolean {
  if (child.status !== 'evaluated' || child.fits !== true || child.kl === null) return false;
  if (parent.fits !== true || parent.status !== 'evaluated') return true;
  return parent.kl !== null && child.kl < parent.kl;
}

function appliedPatterns(child: CriticChild): EvolutionPattern[] {
  const out = new Set<EvolutionPattern>();
  if (child.step) out.add(child.step.pattern);
  const own = recipePatterns(child.recipe);
  for (const parent of child.parents) {
    const before = recipePatterns(parent.recipe);
    for (const p of own) if (!before.has(p)) out.add(p);
  }
  const byOperator = child.technique ? OPERATOR_PATTERN[child.technique] : undefined;
  if (byOperator) out.add(byOperator);
  return [...out].sort();
}

const delta = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);

export function critique(child: CriticChild): Critique {
  const improvedOver = child.parents.filter((p) => improvesOn(child.outcome, p.outcome)).map((p) => ({ parent: p.id, klBefore: p.outcome.kl, klAfter: child.outcome.kl! }));
  // Deltas against the first parent (a crossover's deltas are against the lineage it started from).
  const first = child.parents[0]?.outcome;
  const measuredPair = first && first.status === 'evaluated' && child.outcome.status === 'evaluated';
  const patterns = child.parents.length === 0 ? [] : appliedPatterns(child).map((pattern) => ({
    pattern,
    improved: improvedOver.length > 0,
    klDelta: measuredPair ? delta(child.outcome.kl, first.kl) : null,
    gbDelta: first ? delta(child.outcome.gbPerGpu, first.gbPerGpu) : null,
  }));
  return { candidateId: child.id, improvedOver, failedBecause: [...new Set(child.failures)].sort(), patterns };
}
