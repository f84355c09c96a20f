// The candidate aggregate: one recipe proposed within one evolution. Its id is a content hash,
// so proposing the same recipe again (a retried activity, a repeated mutation) is a no-op.
import { sql } from 'kysely';
import { JsonObject, type CandidateRow, type CandidateStatus } from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';
import { candidateIdFor, recipeHash } from '../../schema/content-hash.js';

/** A candidate row to insert (the workflow's ProposedCandidate is what crosses Temporal's boundary). */
export interface NewCandidate {
  /** The proposer's content id and policy hash; default to hashes of (evolution, recipe). */
  id?: string;
  recipeHash?: string;
  evolutionId: string;
  generation: number;
  /** The recipe as plain JSON (already validated against the recipe schema by the caller). */
  recipe: JsonObject;
  parentIds?: readonly string[];
}

/** Insert as `proposed`, or return the existing candidate of this recipe in this evolution untouched. */
export async function proposeCandidate(db: DbOrTrx, input: NewCandidate): Promise<CandidateRow> {
  const recipe = JsonObject.parse(input.recipe);
  const hash = input.recipeHash ?? recipeHash(recipe);
  const id = input.id ?? candidateIdFor(input.evolutionId, hash);
  const inserted = await db
    .insertInto('candidate')
    .values({
      id,
      evolution_id: input.evolutionId,
      generation: input.generation,
      recipe: JSON.stringify(recipe),
      recipe_hash: hash,
      // Sorted and unique, so the row does not depend on the order parents were listed in.
      parent_ids: [...new Set(input.parentIds ?? [])].sort(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await db.selectFrom('candidate').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

export function getCandidate(db: DbOrTrx, id: string): Promise<CandidateRow | undefined> {
  return db.selectFrom('candidate').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Move a candidate to `status`; `violationCodes` (from compile) replace the stored ones when given.
 * Setting the same values again is harmless.
 */
export function setCandidateStatus(
  db: DbOrTrx,
  id: string,
  status: CandidateStatus,
  violationCodes?: readonly string[],
): Promise<CandidateRow | undefined> {
  return db
    .updateTable('candidate')
    .set({
      status,
      updated_at: sql<Date>`now()`,
      ...(violationCodes === undefined ? {} : { violation_codes: [...new Set(violationCodes)].sort() }),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export function listCandidates(
  db: DbOrTrx,
  evolutionId: string,
  { generation, status }: { generation?: number; status?: CandidateStatus } = {},
): Promise<CandidateRow[]> {
  let q = db.selectFrom('candidate').selectAll().where('evolution_id', '=', evolutionId);
  if (generation !== undefined) q = q.where('generation', '=', generation);
  if (status !== undefined) q = q.where('status', '=', status);
  return q.orderBy('generation').orderBy('created_at').orderBy('id').execute();
}

/** The same recipe in any evolution: knowledge carries over between runs. */
export function findCandidatesByRecipeHash(db: DbOrTrx, hash: string): Promise<CandidateRow[]> {
  return db.selectFrom('candidate').selectAll().where('recipe_hash', '=', hash).orderBy('created_at').execute();
}

/** Candidates that list `id` among their parents (served by the GIN index on parent_ids). */
export function childrenOf(db: DbOrTrx, id: string): Promise<CandidateRow[]> {
  return db
    .selectFrom('candidate')
    .selectAll()
    .where('parent_ids', '@>', sql<string[]>`array[${id}]::text[]`)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
