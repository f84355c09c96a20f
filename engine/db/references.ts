// Reference results: the manual recipes (builtins, seed innovations) measured on an evolution's
// target, against which its discoveries are judged. One row per (evolution, recipe); a row measured
// with the same settings in another evolution can be copied instead of measured again.
import { sql } from 'kysely';
import { JsonObject, ResultMetrics, type ReferenceResultRow, type ReferenceSource } from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface NewReference {
  evolutionId: string;
  recipeHash: string;
  name: string;
  source: ReferenceSource;
  recipe: JsonObject;
  metrics: ResultMetrics & { settings: string };
}

/** Idempotent: a second write of the same reference changes nothing. */
export async function recordReference(db: DbOrTrx, r: NewReference): Promise<void> {
  await db
    .insertInto('reference_result')
    .values({ evolution_id: r.evolutionId, recipe_hash: r.recipeHash, name: r.name, source: r.source, recipe: JSON.stringify(JsonObject.parse(r.recipe)), metrics: JSON.stringify(ResultMetrics.parse(r.metrics)) })
    .onConflict((oc) => oc.columns(['evolution_id', 'recipe_hash']).doNothing())
    .execute();
}

export function listReferences(db: DbOrTrx, evolutionId: string): Promise<ReferenceResultRow[]> {
  return db.selectFrom('reference_result').selectAll().where('evolution_id', '=', evolutionId).orderBy('name').execute();
}

/** The same recipe measured with the same settings in any evolution, if any. */
export function findReferenceMeasurement(db: DbOrTrx, recipeHash: string, settings: string): Promise<ReferenceResultRow | undefined> {
  return db
    .selectFrom('reference_result')
    .selectAll()
    .where('recipe_hash', '=', recipeHash)
    .where(sql<string>`metrics->>'settings'`, '=', settings)
    .orderBy('recorded_at')
    .limit(1)
    .executeTakeFirst();
}
