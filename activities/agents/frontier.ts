// The parents a generation starts from: the curator's survivors of the generation before, or — before
// any curation (an evolution recorded by an older evoquant) — the evolution's measured candidates.
import type { DbOrTrx } from '../../engine/db/connection.js';
import { survivorsBefore } from '../../engine/db/evolutions.js';
import type { ScoredCandidate } from '../../evolution/archive/scored-candidate.js';
import { loadArchive } from '../../evolution/knowledge/load-archive.js';

export interface Frontier {
  archive: ScoredCandidate[];
  survivors: ScoredCandidate[];
}

export async function loadFrontier(db: DbOrTrx, evolutionId: string, generation: number): Promise<Frontier> {
  const archive = await loadArchive(db, evolutionId);
  const ids = await survivorsBefore(db, evolutionId, generation);
  const byId = new Map(archive.map((c) => [c.id, c]));
  const survivors = ids.flatMap((id) => byId.get(id) ?? []);
  return { archive, survivors: survivors.length > 0 ? survivors : archive.filter((c) => c.score !== null) };
}
