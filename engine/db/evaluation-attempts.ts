// One row per (candidate, Temporal activity attempt): a worker dying mid-evaluation leaves an
// unfinished attempt and the retry gets the next number, so nothing is lost or counted twice.
import { sql } from 'kysely';
import { JsonObject, type AttemptOutcome, type EvaluationAttemptRow } from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface AttemptKey {
  candidateId: string;
  /** Temporal's `Context.current().info.attempt`, from 1. */
  attempt: number;
}

/** Record that a worker began this attempt; repeating it returns the first record. */
export async function startAttempt(
  db: DbOrTrx,
  { candidateId, attempt, workerIdentity }: AttemptKey & { workerIdentity: string },
): Promise<EvaluationAttemptRow> {
  const inserted = await db
    .insertInto('evaluation_attempt')
    .values({ candidate_id: candidateId, attempt, worker_identity: workerIdentity })
    .onConflict((oc) => oc.columns(['candidate_id', 'attempt']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await getAttempt(db, { candidateId, attempt }).then(required));
}

export interface AttemptOutcomeInput extends AttemptKey {
  outcome: AttemptOutcome;
  error?: string | null;
  metrics?: JsonObject | null;
}

/**
 * Close the attempt. The first outcome wins: a late duplicate (say, a cancellation racing a
 * success) leaves the row as it was. Returns the row as stored, or undefined if never started.
 */
export async function finishAttempt(db: DbOrTrx, input: AttemptOutcomeInput): Promise<EvaluationAttemptRow | undefined> {
  const metrics = input.metrics === undefined || input.metrics === null ? null : JsonObject.parse(input.metrics);
  const updated = await db
    .updateTable('evaluation_attempt')
    .set({
      outcome: input.outcome,
      error: input.error ?? null,
      metrics: metrics === null ? null : JSON.stringify(metrics),
      finished_at: sql<Date>`now()`,
    })
    .where('candidate_id', '=', input.candidateId)
    .where('attempt', '=', input.attempt)
    .where('outcome', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return updated ?? getAttempt(db, input);
}

export function getAttempt(db: DbOrTrx, { candidateId, attempt }: AttemptKey): Promise<EvaluationAttemptRow | undefined> {
  return db
    .selectFrom('evaluation_attempt')
    .selectAll()
    .where('candidate_id', '=', candidateId)
    .where('attempt', '=', attempt)
    .executeTakeFirst();
}

export function listAttempts(db: DbOrTrx, candidateId: string): Promise<EvaluationAttemptRow[]> {
  return db.selectFrom('evaluation_attempt').selectAll().where('candidate_id', '=', candidateId).orderBy('attempt').execute();
}

/**
 * Records a successful evaluation that Temporal reports as its `attempt`-th try. Earlier tries were
 * lost (worker died, transient fault) and are recorded as failed; a retry round numbers its attempts
 * after those of the earlier, failed round. Repeating it changes nothing.
 */
export async function recordSucceededAttempt(
  db: DbOrTrx,
  { candidateId, attempt, workerIdentity, metrics }: AttemptKey & { workerIdentity: string; metrics: JsonObject },
): Promise<void> {
  const previous = await listAttempts(db, candidateId);
  const offset = previous.some((a) => a.outcome === 'ok') ? 0 : previous.filter((a) => a.outcome !== null).length;
  for (let lost = 1; lost < attempt; lost++) {
    await startAttempt(db, { candidateId, attempt: offset + lost, workerIdentity: 'unknown (lost attempt)' });
    await finishAttempt(db, { candidateId, attempt: offset + lost, outcome: 'failed', error: 'attempt lost; retried by Temporal (see `evoquant history`)' });
  }
  await startAttempt(db, { candidateId, attempt: offset + attempt, workerIdentity });
  await finishAttempt(db, { candidateId, attempt: offset + attempt, outcome: 'ok', metrics });
}

/** Records a final failure once, as the attempt after those already recorded; repeating it changes nothing. */
export async function recordFailedAttempt(
  db: DbOrTrx,
  { candidateId, outcome, error }: { candidateId: string; outcome: 'failed' | 'oom'; error: string },
): Promise<void> {
  const previous = await listAttempts(db, candidateId);
  if (previous.some((a) => a.outcome === 'failed' || a.outcome === 'oom')) return;
  const attempt = previous.length + 1;
  await startAttempt(db, { candidateId, attempt, workerIdentity: 'unknown' });
  await finishAttempt(db, { candidateId, attempt, outcome, error });
}

function required<T>(row: T | undefined): T {
  if (row === undefined) throw new Error('row vanished between insert and select');
  return row;
}
