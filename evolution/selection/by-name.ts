// The parent-selection strategy an evolution config names.
import { ParetoSelection } from './pareto.js';
import type { ParentSelection } from './strategy.js';
import { TournamentSelection } from './tournament.js';

export function selectionStrategy(name: 'tournament' | 'pareto'): ParentSelection {
  return name === 'tournament' ? new TournamentSelection() : new ParetoSelection();
}
