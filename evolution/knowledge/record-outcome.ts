// Writes what one candidate taught us into the knowledge graph: its node, where it came from
// (derived-from its parents, applies-pattern its technique), whether it improved over its parent,
// and why it failed (failed-because a violation or failure kind). Every write is an upsert.
import { getNode, upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { JsonObject } from '../../schema/db.js';
import type { CandidateSummary, ProposedCandidate } from '../../schema/workflow-contracts.js';
import { discoveryNodeId, techniqueNodeId } from './seed.js';

export const candidateNodeId = (id: string): string => `candidate:${id}`;

/** The candidate node and its lineage edges, as soon as it is proposed. */
export async function recordProposal(db: DbOrTrx, evolutionId: string, generation: number, c: ProposedCandidate): Promise<void> {
  await upsertNode(db, { id: candidateNodeId(c.id), kind: 'candidate', name: c.recipe.name, payload: { evolutionId, generation, status: 'proposed' } });
  for (const parent of c.parents) await upsertEdge(db, { src: candidateNodeId(c.id), dst: candidateNodeId(parent), kind: 'derived-from' });
  if (c.technique) await upsertEdge(db, { src: candidateNodeId(c.id), dst: techniqueNodeId(c.technique), kind: 'applies-pattern' });
}

function better(child: CandidateSummary, parent: JsonObject): boolean {
  if (!child.fits || child.kl === null) return false;
  if (parent.fits !== true) return true;
  return typeof parent.kl === 'number' && child.kl < parent.kl;
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
  };
  await upsertNode(db, { id: candidateNodeId(c.id), kind: 'candidate', name: c.recipe.name, payload });
  for (const code of summary.violations) {
    await upsertNode(db, { id: discoveryNodeId(code), kind: 'discovery', name: code, payload: { kind: 'violation' } });
    await upsertEdge(db, { src: candidateNodeId(c.id), dst: discoveryNodeId(code), kind: 'failed-because' });
  }
  if (failure) {
    await upsertNode(db, { id: discoveryNodeId(failure), kind: 'discovery', name: failure, payload: { kind: 'failure' } });
    await upsertEdge(db, { src: candidateNodeId(c.id), dst: discoveryNodeId(failure), kind: 'failed-because', payload: { message: summary.error ?? '' } });
  }
  if (summary.status !== 'evaluated') return;
  for (const parent of c.parents) {
    const node = await getNode(db, candidateNodeId(parent));
    if (node && better(summary, node.payload)) {
      await upsertEdge(db, { src: candidateNodeId(c.id), dst: candidateNodeId(parent), kind: 'improved-over', payload: { klBefore: node.payload.kl ?? null, klAfter: summary.kl } });
    }
  }
}
