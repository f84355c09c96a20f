// The physicist activity: judges the architect's children against the target before compile
// (refusing what the stack cannot serve or what cannot fit, repairing by the allocator what it can),
// then writes the generation's candidates — accepted and refused — with the reasoning that produced
// them. Once per generation: a retry returns what the first attempt wrote.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { proposeCandidate, listCandidates } from '../../engine/db/candidates.js';
import { getNode } from '../../engine/db/ekg.js';
import { lockGeneration, startGeneration } from '../../engine/db/evolutions.js';
import { ArchitectOperation, ArchitectProposal } from '../../schema/agents.js';
import type { Database, JsonObject } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { Recipe } from '../../schema/recipe.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import type { CompileVerdict, ProposedCandidate } from '../../schema/workflow-contracts.js';
import { Allocator } from '../../science/allocation/allocate.js';
import { buildProblem } from '../../science/allocation/problem.js';
import { loadModelConfig } from '../../science/model-configs/load.js';
import { physicist, type Repair } from '../../evolution/agents/physicist.js';
import { chainId } from '../../evolution/agents/scout.js';
import { linkReasoning } from '../../evolution/knowledge/chains.js';
import { candidateNodeId, recordProposal } from '../../evolution/knowledge/record-outcome.js';
import { policyHash } from '../../evolution/proposer/candidate-id.js';
import { compileVerdict } from '../compile-verdict.js';

export interface PhysicistDepsActivity {
  db: Kysely<Database>;
}

export interface PhysicistRequest {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
  proposals: ArchitectProposal[];
  /** The proxy's sensitivity profile, for repairs by allocation (null: refuse what does not fit). */
  profile: SensitivityProfile | null;
}

export type AcceptedCandidate = ProposedCandidate & { operation: ArchitectOperation; step: number | null; repair: Repair | null };

export interface PhysicistResult {
  /** Set (and nothing written) when a child needs repair and no profile was given: call again with one. */
  needsProfile?: boolean;
  accepted: AcceptedCandidate[];
  refused: Array<{ candidate: ProposedCandidate; verdict: CompileVerdict; reason: string }>;
}

/** What the physicist said of a candidate, kept in its node's payload. */
const AgentsNote = z.looseObject({
  operation: ArchitectOperation,
  step: z.number().int().nullable(),
  decision: z.enum(['accepted', 'refused']),
  reason: z.string().nullable(),
  repair: z.looseObject({ originalId: z.string(), gbPerGpuBefore: z.number(), gbPerGpuAfter: z.number(), how: z.string() }).nullable(),
  technique: z.string().nullable(),
  parents: z.array(z.string()),
});

/** The allocator's recipe filling the GPU, or null where allocation plans cannot reach this target. */
export function allocatorFor(config: EvolutionConfig, profile: SensitivityProfile | null): (() => Recipe | null) | undefined {
  if (!profile) return undefined;
  const t = config.target;
  if ((t.tensorParallel ?? t.gpus) !== t.gpus) return undefined;
  let allocator: Allocator;
  try {
    allocator = new Allocator(buildProblem({ target: { model: t.model, hardware: t.hardware, gpus: t.gpus, tensorParallel: t.tensorParallel ?? t.gpus, contextLength: t.context, batch: t.batch, stack: t.stack }, profile }));
  } catch {
    return undefined;
  }
  let cached: Recipe | null | undefined;
  return () => {
    if (cached === undefined) {
      try {
        cached = allocator.allocate(allocator.problem.capacityBytes, 'allocated-to-fit').recipe;
      } catch {
        cached = null;
      }
    }
    return cached;
  };
}

/**
 * The allocator prices a MoE target's role groups and experts by the MoE proxy's profile; a dense
 * target (the long-context line) has no such groups, so its children that do not fit are refused
 * instead of repaired, and no profile is measured for them.
 */
function allocatorApplies(config: EvolutionConfig): boolean {
  try {
    return loadModelConfig(config.target.model).moe !== null;
  } catch {
    return false;
  }
}

export function createPhysicist({ db }: PhysicistDepsActivity) {
  return {
    async physicist({ evolutionId, generation, config, proposals, profile }: PhysicistRequest): Promise<PhysicistResult> {
      return db.transaction().execute(async (trx) => {
        await lockGeneration(trx, evolutionId, generation);
        const existing = await listCandidates(trx, evolutionId, { generation });
        if (existing.length > 0) {
          const out: PhysicistResult = { accepted: [], refused: [] };
          for (const row of existing) {
            const note = AgentsNote.safeParse((await getNode(trx, candidateNodeId(row.id)))?.payload.agents);
            const candidate: ProposedCandidate = { id: row.id, generation, recipe: Recipe.parse(row.recipe), parents: note.success ? note.data.parents : row.parent_ids, technique: note.success ? note.data.technique : null };
            if (note.success && note.data.decision === 'refused') {
              out.refused.push({ candidate, verdict: compileVerdict({ candidate, target: config.target }), reason: note.data.reason ?? '' });
            } else {
              out.accepted.push({ ...candidate, operation: note.success ? note.data.operation : 'seed', step: note.success ? note.data.step : null, repair: note.success ? (note.data.repair as Repair | null) : null });
            }
          }
          return out;
        }
        const compile = (p: ArchitectProposal): CompileVerdict => compileVerdict({ candidate: p, target: config.target });
        if (!profile && allocatorApplies(config) && proposals.some((p) => p.operation !== 'seed' && !compile(p).fits)) return { needsProfile: true, accepted: [], refused: [] };
        const archiveIds = new Set((await listCandidates(trx, evolutionId)).map((c) => c.id));
        const verdict = physicist(evolutionId, proposals, {
          compile,
          archiveIds,
          allocateToFit: allocatorFor(config, profile),
        });
        await startGeneration(trx, evolutionId, generation);
        const chain = chainId(evolutionId, generation);
        const hasChain = (await getNode(trx, chain)) !== undefined;
        const write = async (p: ArchitectProposal, decision: 'accepted' | 'refused', reason: string | null, repair: Repair | null): Promise<void> => {
          await proposeCandidate(trx, { id: p.id, recipeHash: policyHash(p.recipe), evolutionId, generation, recipe: JSON.parse(JSON.stringify(p.recipe)) as JsonObject, parentIds: p.parents });
          const note = { operation: p.operation, step: p.step, decision, reason, repair, technique: p.technique, parents: p.parents };
          await recordProposal(trx, evolutionId, generation, p, JSON.parse(JSON.stringify(note)) as JsonObject);
          if (hasChain && p.operation !== 'seed') await linkReasoning(trx, chain, p);
        };
        for (const a of verdict.accepted) await write(a.proposal, 'accepted', null, a.repair);
        for (const r of verdict.refused) await write(r.proposal, 'refused', r.reason, null);
        return {
          accepted: verdict.accepted.map(({ proposal: p, repair }) => ({ id: p.id, generation, recipe: p.recipe, parents: p.parents, technique: p.technique, operation: p.operation, step: p.step, repair })),
          refused: verdict.refused.map(({ proposal: p, verdict: v, reason }) => ({ candidate: { id: p.id, generation, recipe: p.recipe, parents: p.parents, technique: p.technique }, verdict: v, reason })),
        };
      });
    },
  };
}
