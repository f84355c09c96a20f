// Evolutions, their generations, candidates, evaluation attempts and results.
// Self-contained on purpose: a migration must mean the same thing forever, so it repeats the
// enumerations instead of importing them from app code.
import { sql, type Kysely, type RawBuilder } from 'kysely';

const oneOf = (column: string, values: readonly string[]): RawBuilder<unknown> =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

const now = sql`now()`;
const emptyTextArray = sql`'{}'::text[]`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('evolution')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addCheckConstraint('evolution_status_check', oneOf('status', ['pending', 'running', 'completed', 'failed', 'cancelled']))
    .execute();
  await db.schema.createIndex('evolution_status_idx').on('evolution').columns(['status', 'created_at']).execute();

  await db.schema
    .createTable('generation')
    .addColumn('evolution_id', 'text', (c) => c.notNull().references('evolution.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('generation_pkey', ['evolution_id', 'number'])
    .addCheckConstraint('generation_number_check', sql`number >= 0`)
    .addCheckConstraint('generation_status_check', oneOf('status', ['running', 'completed', 'failed', 'cancelled']))
    .execute();

  await db.schema
    .createTable('candidate')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('evolution_id', 'text', (c) => c.notNull().references('evolution.id').onDelete('cascade'))
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('recipe', 'jsonb', (c) => c.notNull())
    .addColumn('recipe_hash', 'text', (c) => c.notNull())
    .addColumn('parent_ids', sql`text[]`, (c) => c.notNull().defaultTo(emptyTextArray))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('proposed'))
    .addColumn('violation_codes', sql`text[]`, (c) => c.notNull().defaultTo(emptyTextArray))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    // The natural key: one candidate per recipe per evolution.
    .addUniqueConstraint('candidate_evolution_recipe_key', ['evolution_id', 'recipe_hash'])
    .addCheckConstraint('candidate_status_check', oneOf('status', ['proposed', 'rejected', 'evaluated', 'failed', 'infeasible']))
    .execute();
  await db.schema.createIndex('candidate_generation_idx').on('candidate').columns(['evolution_id', 'generation']).execute();
  await db.schema.createIndex('candidate_status_idx').on('candidate').columns(['evolution_id', 'status']).execute();
  // Has this recipe been tried before, in any evolution?
  await db.schema.createIndex('candidate_recipe_hash_idx').on('candidate').column('recipe_hash').execute();
  // Children of a candidate: parent_ids @> array[id].
  await db.schema.createIndex('candidate_parent_ids_idx').on('candidate').using('gin').column('parent_ids').execute();

  await db.schema
    .createTable('evaluation_attempt')
    .addColumn('candidate_id', 'text', (c) => c.notNull().references('candidate.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('worker_identity', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('error', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('metrics', 'jsonb')
    .addPrimaryKeyConstraint('evaluation_attempt_pkey', ['candidate_id', 'attempt'])
    .addCheckConstraint('evaluation_attempt_attempt_check', sql`attempt >= 1`)
    .addCheckConstraint('evaluation_attempt_outcome_check', sql`outcome is null or ${oneOf('outcome', ['ok', 'failed', 'oom', 'cancelled'])}`)
    .execute();

  await db.schema
    .createTable('result')
    .addColumn('candidate_id', 'text', (c) => c.primaryKey().references('candidate.id').onDelete('cascade'))
    .addColumn('metrics', 'jsonb', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['result', 'evaluation_attempt', 'candidate', 'generation', 'evolution']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
