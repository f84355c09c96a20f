// Puts the technique catalogue into the knowledge graph (idempotent): one node per technique and
// `requires` edges between them. Every evolution starts from, and adds to, the same graph.
import { upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { TECHNIQUES } from '../proposer/techniques.js';

export const techniqueNodeId = (id: string): string => `technique:${id}`;
/** A class of failure (a compile rule, an evaluation error type) candidates fail because of. */
export const failureNodeId = (what: string): string => `failure:${what}`;

export async function seedTechniques(db: DbOrTrx): Promise<void> {
  for (const t of TECHNIQUES) {
    await upsertNode(db, { id: techniqueNodeId(t.id), kind: 'technique', name: t.name, payload: { technique: t.id, origin: t.origin, description: t.description } });
  }
  for (const t of TECHNIQUES) {
    for (const r of t.requires) await upsertEdge(db, { src: techniqueNodeId(t.id), dst: techniqueNodeId(r), kind: 'requires' });
  }
}
