// The evolution's past candidates read back from Postgres and the knowledge graph, in the shape the
// proposer works on (evolution/archive).
import { listCandidates } from '../../engine/db/candidates.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { getNode, neighboursOut } from '../../engine/db/ekg.js';
import { getResult } from '../../engine/db/results.js';
import { Recipe } from '../../schema/recipe.js';
import type { ScoredCandidate } from '../archive/scored-candidate.js';
import { candidateNodeId } from './record-outcome.js';

/**
 * The evolution's candidates as the proposer sees them. A candidate compile rejected only for not
 * fitting keeps its memory figure (and an infinite KL): it can still be a parent, so an evolution
 * seeded with recipes that are all too large can work its way down to one that fits.
 */
export async function loadArchive(db: DbOrTrx, evolutionId: string): Promise<ScoredCandidate[]> {
  const rows = await listCandidates(db, evolutionId);
  const out: ScoredCandidate[] = [];
  for (const row of rows) {
    const result = row.status === 'evaluated' ? await getResult(db, row.id) : undefined;
    const m = result?.metrics;
    const tooLarge = row.status === 'rejected' && row.violation_codes.length === 1 && row.violation_codes[0] === 'does-not-fit';
    const compiled = tooLarge ? (await getNode(db, candidateNodeId(row.id)))?.payload : undefined;
    out.push({
      id: row.id,
      generation: row.generation,
      recipe: Recipe.parse(row.recipe),
      parents: row.parent_ids,
      technique: null,
      score: m
        ? {
            fits: m.fits,
            gbPerGpu: m.gb_per_gpu,
            kl: m.kl,
            top1: m.top1,
            relativeAccuracyLoss: typeof m.relative_accuracy_loss === 'number' ? m.relative_accuracy_loss : 0,
            proxyBytes: m.proxy_bytes,
          }
        : typeof compiled?.gbPerGpu === 'number'
          ? { fits: false, gbPerGpu: compiled.gbPerGpu, kl: Number.POSITIVE_INFINITY, top1: 0, relativeAccuracyLoss: 1, proxyBytes: 0 }
          : null,
    });
  }
  return out;
}

/** The technique the candidate's proposal applied, as its applies-pattern edge records it. */
export async function appliedTechnique(db: DbOrTrx, candidateId: string): Promise<string | null> {
  const applied = await neighboursOut(db, candidateNodeId(candidateId), { kinds: ['applies-pattern'] });
  const t = applied[0]?.node.payload.technique;
  return typeof t === 'string' ? t : null;
}
