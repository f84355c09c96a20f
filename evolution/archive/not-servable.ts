// How many candidates compile rejected because the target's serving stack cannot run them: the
// seeds (the user's choice) apart from the proposer's children (which it keeps servable).
import type { CandidateSummary } from '../../schema/workflow-contracts.js';

export interface NotServableCounts {
  seeds: number;
  children: number;
}

export function notServableCounts(candidates: readonly Pick<CandidateSummary, 'status' | 'violations' | 'parents'>[]): NotServableCounts {
  const counts: NotServableCounts = { seeds: 0, children: 0 };
  for (const c of candidates) {
    if (c.status === 'rejected' && c.violations.includes('not-servable')) counts[c.parents.length === 0 ? 'seeds' : 'children']++;
  }
  return counts;
}
