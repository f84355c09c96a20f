// Each evolution's deployment target as its Postgres row records it ("model on N×hardware"), for
// listings that start from Temporal and add what only the database knows.
import type { Kysely } from 'kysely';
import { getEvolution } from '../db/evolutions.js';
import type { Database } from '../../schema/db.js';

/** The target of each id that has a row; ids without one are left out. */
export async function evolutionTargets(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, string>> {
  const targets = new Map<string, string>();
  for (const id of ids) {
    const row = await getEvolution(db, id);
    const t = row?.config.target;
    if (t && typeof t === 'object' && !Array.isArray(t)) targets.set(id, `${String(t.model)} on ${String(t.gpus)}×${String(t.hardware)}`);
  }
  return targets;
}
