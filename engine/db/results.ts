// Exactly one result per candidate. The first recorded result stands; a retried activity that
// records again gets the stored row back and `inserted: false`.
import { z } from 'zod';
import { ResultMetrics, type CandidateStatus, type ResultRow } from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface RecordedResult {
  row: ResultRow;
  /** false when a result already existed (this call changed nothing). */
  inserted: boolean;
}

/** Validates the metrics (finite numbers, ranges) before anything is written. */
export async function recordResult(
  db: DbOrTrx,
  candidateId: string,
  metrics: z.input<typeof ResultMetrics>,
): Promise<RecordedResult> {
  const parsed = ResultMetrics.parse(metrics);
  const inserted = await db
    .insertInto('result')
    .values({ candidate_id: candidateId, metrics: JSON.stringify(parsed) })
    .onConflict((oc) => oc.column('candidate_id').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted !== undefined) return { row: inserted, inserted: true };
  const row = await db.selectFrom('result').selectAll().where('candidate_id', '=', candidateId).executeTakeFirstOrThrow();
  return { row, inserted: false };
}

export function getResult(db: DbOrTrx, candidateId: string): Promise<ResultRow | undefined> {
  return db.selectFrom('result').selectAll().where('candidate_id', '=', candidateId).executeTakeFirst();
}

export interface EvolutionResult extends ResultRow {
  generation: number;
  recipe_hash: string;
  status: CandidateStatus;
}

/** Every result of an evolution with its candidate's generation, oldest first. */
export function listResults(db: DbOrTrx, evolutionId: string): Promise<EvolutionResult[]> {
  return db
    .selectFrom('result')
    .innerJoin('candidate', 'candidate.id', 'result.candidate_id')
    .select([
      'result.candidate_id',
      'result.metrics',
      'result.recorded_at',
      'candidate.generation',
      'candidate.recipe_hash',
      'candidate.status',
    ])
    .where('candidate.evolution_id', '=', evolutionId)
    .orderBy('result.recorded_at')
    .orderBy('result.candidate_id')
    .execute();
}
