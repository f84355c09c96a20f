// The evolution aggregate: one row per Temporal workflow, plus its generations.
// Writes are idempotent so that a retried activity never fails or duplicates.
import { sql, type Transaction } from 'kysely';
import {
  JsonObject,
  type Database,
  type EvolutionRow,
  type EvolutionStatus,
  type GenerationRow,
  type GenerationStatus,
} from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface NewEvolution {
  /** The Temporal workflow id. */
  id: string;
  config: JsonObject;
  status?: EvolutionStatus;
}

/** Insert, or return the existing row untouched (the first config wins). */
export async function createEvolution(db: DbOrTrx, input: NewEvolution): Promise<EvolutionRow> {
  const config = JsonObject.parse(input.config);
  const inserted = await db
    .insertInto('evolution')
    .values({ id: input.id, config: JSON.stringify(config), status: input.status ?? 'running' })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await db.selectFrom('evolution').selectAll().where('id', '=', input.id).executeTakeFirstOrThrow());
}

export function getEvolution(db: DbOrTrx, id: string): Promise<EvolutionRow | undefined> {
  return db.selectFrom('evolution').selectAll().where('id', '=', id).executeTakeFirst();
}

export function setEvolutionStatus(db: DbOrTrx, id: string, status: EvolutionStatus): Promise<EvolutionRow | undefined> {
  return db
    .updateTable('evolution')
    .set({ status, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export function listEvolutions(
  db: DbOrTrx,
  { status, limit = 100 }: { status?: EvolutionStatus; limit?: number } = {},
): Promise<EvolutionRow[]> {
  let q = db.selectFrom('evolution').selectAll();
  if (status !== undefined) q = q.where('status', '=', status);
  return q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
}

/** Insert a running generation, or return the existing one (its started_at is kept). */
export async function startGeneration(db: DbOrTrx, evolutionId: string, number: number): Promise<GenerationRow> {
  const inserted = await db
    .insertInto('generation')
    .values({ evolution_id: evolutionId, number })
    .onConflict((oc) => oc.columns(['evolution_id', 'number']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return (
    inserted ??
    (await db
      .selectFrom('generation')
      .selectAll()
      .where('evolution_id', '=', evolutionId)
      .where('number', '=', number)
      .executeTakeFirstOrThrow())
  );
}

/** Close a generation; finished_at is set once, so repeating the call changes nothing. */
export function finishGeneration(
  db: DbOrTrx,
  evolutionId: string,
  number: number,
  status: Exclude<GenerationStatus, 'running'>,
): Promise<GenerationRow | undefined> {
  return db
    .updateTable('generation')
    .set({ status, finished_at: sql<Date>`coalesce(finished_at, now())` })
    .where('evolution_id', '=', evolutionId)
    .where('number', '=', number)
    .returningAll()
    .executeTakeFirst();
}

export function listGenerations(db: DbOrTrx, evolutionId: string): Promise<GenerationRow[]> {
  return db.selectFrom('generation').selectAll().where('evolution_id', '=', evolutionId).orderBy('number').execute();
}

export function latestGeneration(db: DbOrTrx, evolutionId: string): Promise<GenerationRow | undefined> {
  return db
    .selectFrom('generation')
    .selectAll()
    .where('evolution_id', '=', evolutionId)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Serialises the transactions that write one (evolution, generation) until `trx` ends: two
 * overlapping attempts of one activity then see each other's rows instead of both writing.
 */
export async function lockGeneration(trx: Transaction<Database>, evolutionId: string, generation: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${evolutionId}), ${generation})`.execute(trx);
}

/** The curator's survivors of a generation, best first (repeating the call with the same ids changes nothing). */
export async function setSurvivors(db: DbOrTrx, evolutionId: string, number: number, survivors: readonly string[]): Promise<void> {
  await db.updateTable('generation').set({ survivors: [...survivors] }).where('evolution_id', '=', evolutionId).where('number', '=', number).execute();
}

/** The survivors of the latest generation before `generation` that has any. */
export async function survivorsBefore(db: DbOrTrx, evolutionId: string, generation: number): Promise<string[]> {
  const row = await db
    .selectFrom('generation')
    .select('survivors')
    .where('evolution_id', '=', evolutionId)
    .where('number', '<', generation)
    .where(sql<boolean>`cardinality(survivors) > 0`)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.survivors ?? [];
}
