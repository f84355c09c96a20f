// A candidate in the knowledge graph: its node, where it came from (derived-from its parents,
// applies-pattern its technique) as soon as it is proposed, and its outcome once recorded. What the
// outcome teaches (improved-over, failed-because, the patterns' evidence) is the critic's to write
// (evolution/knowledge/critiques.ts). Every write is an upsert.
import { getNode, upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { JsonObject } from '../../schema/db.js';
import type { CandidateSummary, ProposedCandidate } from '../../schema/workflow-contracts.js';
import { techniqueNodeId } from './seed.js';

export const candidateNodeId = (id: string): string => `candidate:${id}`;

/** The candidate node and its lineage edges, as soon as it is proposed. */
export async function recordProposal(db: DbOrTrx, evolutionId: string, generation: number, c: ProposedCandidate, agents?: JsonObject): Promise<void> {
  await upsertNode(db, { id: candidateNodeId(c.id), kind: 'candidate', name: c.recipe.name, payload: { evolutionId, generation, status: 'proposed', ...(agents ? { agents } : {}) } });
  for (const parent of c.parents) await upsertEdge(db, { src: candidateNodeId(c.id), dst: candidateNodeId(parent), kind: 'derived-from' });
  if (c.technique) await upsertEdge(db, { src: candidateNodeId(c.id), dst: techniqueNodeId(c.technique), kind: 'applies-pattern' });
}

export async function recordOutcome(db: DbOrTrx, evolutionId: string, c: ProposedCandidate, summary: CandidateSummary, failure: string | null): Promise<void> {
  const payload: JsonObject = {
    evolutionId,
    generation: summary.generation,
    status: summary.status,
    fits: summary.fits,
    gbPerGpu: summary.gbPerGpu,
    kl: summary.kl,
    top1: summary.top1,
    // The classes the critic files the candidate under (failed-because edges).
    violations: summary.violations,
    failure,
    error: summary.error,
  };
  // What the agents said of it at proposal time stays with it.
  const before = await getNode(db, candidateNodeId(c.id));
  if (before?.payload.agents !== undefined) payload.agents = before.payload.agents;
  await upsertNode(db, { id: candidateNodeId(c.id), kind: 'candidate', name: c.recipe.name, payload });
}
