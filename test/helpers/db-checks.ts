// Database checks of the durability tests: nothing duplicated, every candidate's facts.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../schema/db.js';

/** Rows of `table` minus distinct rows over its natural key: 0 when nothing is duplicated. */
export async function duplicates(db: Kysely<Database>, table: keyof Database, key: string[]): Promise<number> {
  const cols = sql.join(key.map((k) => sql.ref(k)));
  const r = await sql<{ total: string; distinct: string }>`select count(*) as total, count(distinct (${cols})) as distinct from ${sql.table(table)}`.execute(db);
  const row = r.rows[0];
  return Number(row.total) - Number(row.distinct);
}

export interface CandidateFacts {
  id: string;
  recipeName: string;
  generation: number;
  parents: string[];
  status: string;
  results: number;
  attempts: Array<{ attempt: number; outcome: string | null; worker: string }>;
}

export async function candidateFacts(db: Kysely<Database>, evolution: string): Promise<CandidateFacts[]> {
  const rows = await db
    .selectFrom('candidate')
    .select(['id', 'generation', 'status', 'parent_ids', 'recipe'])
    .select((eb) => eb.selectFrom('result').whereRef('result.candidate_id', '=', 'candidate.id').select(eb.fn.countAll<string>().as('n')).as('results'))
    .where('evolution_id', '=', evolution)
    .orderBy('generation')
    .orderBy('id')
    .execute();
  const out: CandidateFacts[] = [];
  for (const r of rows) {
    const attempts = await db
      .selectFrom('evaluation_attempt')
      .select(['attempt', 'outcome', 'worker_identity'])
      .where('candidate_id', '=', r.id)
      .orderBy('attempt')
      .execute();
    out.push({
      id: r.id,
      recipeName: typeof r.recipe.name === 'string' ? r.recipe.name : '',
      generation: r.generation,
      parents: r.parent_ids,
      status: r.status,
      results: Number(r.results ?? 0),
      attempts: attempts.map((a) => ({ attempt: a.attempt, outcome: a.outcome, worker: a.worker_identity })),
    });
  }
  return out;
}
