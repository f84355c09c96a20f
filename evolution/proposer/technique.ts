// What a compression technique is to evolution: a knowledge-graph node and a mutation operator
// over recipes, applied in the evolution's serving context.
import type { HardwareProfile } from '../../schema/hardware.js';
import type { ModuleRole, Recipe } from '../../schema/recipe.js';
import type { ServingStackTable } from '../../schema/serving-stack.js';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** The evolution's deployment as an operator sees it: the stack's table and the GPU. */
export interface ServingContext {
  table: ServingStackTable;
  hw: HardwareProfile;
  /** The roles the target model has (absent: every role a recipe can address). */
  roles?: ReadonlySet<ModuleRole>;
}

export interface Technique {
  id: string;
  name: string;
  /** Where the idea comes from, for the knowledge graph. */
  origin: string;
  description: string;
  /** Other techniques this one builds on (EKG `requires` edges). */
  requires: string[];
  /**
   * A mutated copy, or null when the technique does not apply to this recipe or introduces a gene
   * the serving stack (when given) has no format for.
   */
  apply(recipe: Recipe, rng: RandomGenerator, serving?: ServingContext): Recipe | null;
}

