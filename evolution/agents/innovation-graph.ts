// The innovations as the scout reasons over them: ideas with their patterns and operators, and the
// derivation edges between them. Read from Postgres by evolution/knowledge/innovation-graph.ts.
import type { z } from 'zod';
import type { EvolutionPattern, InnovationGenes } from '../../schema/innovation.js';

export interface GraphInnovation {
  id: string;
  name: string;
  year: number;
  keyIdea: string;
  patterns: EvolutionPattern[];
  executable: boolean;
  genes: z.infer<typeof InnovationGenes> | null;
  /** Mutation operators (technique ids) that apply its genes. */
  operators: string[];
}

export interface GraphDerivation {
  /** The older innovation. */
  from: string;
  /** The innovation derived from it. */
  to: string;
  pattern: EvolutionPattern | null;
}

export interface InnovationGraph {
  innovations: Map<string, GraphInnovation>;
  derivations: GraphDerivation[];
}
