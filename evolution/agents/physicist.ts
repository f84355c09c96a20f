// The physicist: refuses, before compile, the children the target's stack cannot serve or that
// cannot fit, and says why; a child that is servable but too large is repaired when it can be, by the
// budgeted allocator (science/allocation: the exact least-predicted-loss allocation that fits the
// GPU, from the proxy's measured sensitivity profile) carrying the child's rounding method over.
// Pure: compile and the allocator are injected.
import type { ArchitectProposal } from '../../schema/agents.js';
import { Recipe, type QuantMethod } from '../../schema/recipe.js';
import type { CompileVerdict } from '../../schema/workflow-contracts.js';
import { candidateId } from '../proposer/candidate-id.js';

/** Violation codes that mean "the stack or the GPU cannot run it" (as opposed to "it does not fit"). */
const NOT_SERVABLE = new Set(['not-servable', 'kernel-unsupported', 'shard-shape']);

export interface PhysicistDeps {
  compile: (proposal: ArchitectProposal) => CompileVerdict;
  /** The allocator's recipe filling the GPU (null: no sensitivity profile, or no servable allocation fits). */
  allocateToFit?: () => Recipe | null;
  /** The evolution's candidates so far: a repair that lands on one of them (its own parent, say) is no new child. */
  archiveIds?: ReadonlySet<string>;
}

export interface Repair {
  /** The child as the architect proposed it. */
  originalId: string;
  gbPerGpuBefore: number;
  gbPerGpuAfter: number;
  how: string;
}

export interface PhysicistVerdict {
  accepted: Array<{ proposal: ArchitectProposal; repair: Repair | null }>;
  refused: Array<{ proposal: ArchitectProposal; verdict: CompileVerdict; reason: string }>;
}

/**
 * The allocation's bits with what the child chose that the allocator does not decide: its rounding
 * method on every quantized band, and fewer experts when it prunes or merges (which only lowers the
 * memory the allocation was solved for).
 */
function repaired(allocated: Recipe, child: Recipe, name: string): Recipe | null {
  const method: QuantMethod = child.default.method;
  const next = structuredClone(allocated);
  next.name = name.slice(0, 120);
  if (child.expertReduction) next.expertReduction = structuredClone(child.expertReduction);
  for (const band of next.depth) if (band.override.bits !== undefined && band.override.bits !== 16) band.override.method = method;
  const parsed = Recipe.safeParse(next);
  return parsed.success ? parsed.data : null;
}

export function physicist(evolutionId: string, proposals: readonly ArchitectProposal[], deps: PhysicistDeps): PhysicistVerdict {
  const out: PhysicistVerdict = { accepted: [], refused: [] };
  const taken = new Set([...proposals.map((p) => p.id), ...(deps.archiveIds ?? [])]);
  for (const proposal of proposals) {
    const verdict = deps.compile(proposal);
    const blocking = verdict.violations.filter((v) => NOT_SERVABLE.has(v));
    if (blocking.length > 0) {
      out.refused.push({ proposal, verdict, reason: `not servable on the target: ${verdict.violationMessages.join('; ')}` });
      continue;
    }
    if (verdict.fits || proposal.operation === 'seed') {
      // Seeds are the user's: judged by compile as given, never rewritten.
      out.accepted.push({ proposal, repair: null });
      continue;
    }
    const allocated = deps.allocateToFit?.() ?? null;
    const recipe = allocated ? repaired(allocated, proposal.recipe, `${proposal.recipe.name}+fit`) : null;
    if (recipe) {
      const repaired: ArchitectProposal = { ...proposal, id: candidateId(evolutionId, recipe), recipe };
      const after = deps.compile(repaired);
      if (after.fits && after.violations.length === 0 && !taken.has(repaired.id)) {
        taken.add(repaired.id);
        out.accepted.push({
          proposal: repaired,
          repair: { originalId: proposal.id, gbPerGpuBefore: verdict.gbPerGpu, gbPerGpuAfter: after.gbPerGpu, how: `budgeted allocation to the GPU's capacity, keeping ${proposal.recipe.default.method.kind}${proposal.recipe.expertReduction ? ` and its ${proposal.recipe.expertReduction.mode}` : ''}` },
        });
        continue;
      }
    }
    const why = !allocated ? ' (no allocation to repair it with)' : recipe && taken.has(candidateId(evolutionId, recipe)) ? ' (its repair is a recipe the evolution already has)' : '';
    out.refused.push({ proposal, verdict, reason: `does not fit: ${verdict.violationMessages.join('; ')}${why}` });
  }
  return out;
}
