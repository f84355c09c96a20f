// The critic's judgements in the knowledge graph: improved-over edges to parents, failed-because
// edges to failure-class nodes, and applies-pattern edges from each child to the patterns it
// applied, whose payload (family, evolution, improved, the measured deltas) is the bandit's evidence.
// Upserts only: a retried critic writes the same edges again.
import { upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { Critique } from '../agents/critic.js';
import { candidateNodeId } from './record-outcome.js';
import { failureNodeId } from './seed.js';
import { patternNodeId } from './seed-innovations.js';

export async function writeCritique(db: DbOrTrx, evolutionId: string, family: string, c: Critique, messages: Readonly<Record<string, string>> = {}): Promise<void> {
  const src = candidateNodeId(c.candidateId);
  for (const i of c.improvedOver) {
    await upsertEdge(db, { src, dst: candidateNodeId(i.parent), kind: 'improved-over', payload: { klBefore: i.klBefore, klAfter: i.klAfter } });
  }
  for (const f of c.failedBecause) {
    await upsertNode(db, { id: failureNodeId(f), kind: 'failure', name: f, payload: { failure: f } });
    await upsertEdge(db, { src, dst: failureNodeId(f), kind: 'failed-because', payload: messages[f] ? { message: messages[f] } : {} });
  }
  for (const p of c.patterns) {
    await upsertEdge(db, {
      src,
      dst: patternNodeId(p.pattern),
      kind: 'applies-pattern',
      payload: { family, evolutionId, improved: p.improved, klDelta: p.klDelta, gbDelta: p.gbDelta },
    });
  }
}
