// A validated reply becomes children: a plan applies the named operators in order to the parent's
// recipe (with the serving context, as the default proposer does), a recipe stands as given; either
// is then moved onto what the stack serves. Duplicates of the archive or of each other are dropped,
// and at most populationSize are kept. Deterministic in (seed, generation).
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { ArchitectProposal, type ChainOfThought } from '../../../schema/agents.js';
import type { Recipe } from '../../../schema/recipe.js';
import { servableRecipe } from '../../../science/physics/servable-recipe.js';
import { candidateId } from '../../proposer/candidate-id.js';
import { techniqueById, type ServingContext } from '../../proposer/techniques.js';
import type { ArchitectParent } from './prompt.js';
import type { LlmReply } from './reply-schema.js';

export interface MaterializeInput {
  reply: LlmReply;
  parents: readonly ArchitectParent[];
  chain: ChainOfThought;
  evolutionId: string;
  generation: number;
  populationSize: number;
  archiveIds: ReadonlySet<string>;
  serving: ServingContext;
  seed: number;
}

export interface Materialized {
  proposals: ArchitectProposal[];
  /** One line per reply proposal that gave no child, saying why. */
  dropped: string[];
}

export function materialize(input: MaterializeInput): Materialized {
  // Its own stream: the default architect's draws (seed * 100_003 + generation) stay untouched.
  const rng = xoroshiro128plus((input.seed * 100_003 + input.generation) ^ 0x4c4c4d);
  const byId = new Map(input.parents.map((p) => [p.id, p]));
  const seen = new Set(input.archiveIds);
  const proposals: ArchitectProposal[] = [];
  const dropped: string[] = [];
  input.reply.proposals.forEach((p, i) => {
    const at = `proposals[${i}]`;
    if (proposals.length >= input.populationSize) {
      dropped.push(`${at}: over the population size ${input.populationSize}`);
      return;
    }
    const parent = byId.get(p.parent);
    // The reply schema admits only the prompt's parents: a miss here is a caller's bug.
    if (!parent) throw new Error(`materialize: parent ${p.parent} was not offered`);
    let recipe: Recipe;
    let technique: string | null = null;
    let name: string;
    if ('plan' in p) {
      let current: Recipe = parent.recipe;
      for (const { operator } of p.plan) {
        const next = techniqueById(operator).apply(current, rng, input.serving);
        if (!next) {
          dropped.push(`${at}: operator ${operator} does not apply to ${current.name} on this stack`);
          return;
        }
        current = next;
      }
      recipe = current;
      const ops = p.plan.map((s) => s.operator);
      // Credit goes to the chain step's operator when the plan carries it, else to the plan's first move.
      const stepOperator = p.step === null ? undefined : input.chain.steps[p.step]?.operator;
      technique = stepOperator !== undefined && ops.includes(stepOperator) ? stepOperator : ops[0];
      name = `${parent.recipe.name}+${ops.join('+')}`;
    } else {
      recipe = p.recipe;
      name = `${parent.recipe.name}+llm`;
    }
    const snapped = servableRecipe(input.serving.table, input.serving.hw, recipe, input.serving.roles);
    if (!snapped) {
      dropped.push(`${at}: no servable recipe near it on the stack`);
      return;
    }
    const child: Recipe = { ...snapped, name: name.slice(0, 120), description: p.rationale };
    const id = candidateId(input.evolutionId, child);
    if (seen.has(id)) {
      dropped.push(`${at}: the same policy as ${input.archiveIds.has(id) ? 'a candidate already in the archive' : 'an earlier proposal'}`);
      return;
    }
    seen.add(id);
    proposals.push(
      ArchitectProposal.parse({ id, generation: input.generation, recipe: child, parents: [parent.id], technique, operation: 'llm', step: p.step }),
    );
  });
  return { proposals, dropped };
}
