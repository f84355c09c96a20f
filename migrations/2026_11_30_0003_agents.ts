// The agents' records: chain-of-thought nodes (the scout's reasoning, linked to the children it
// produced by `reasoned-by` edges and to the innovations it cites), failure classes as nodes of their
// own (`failure:<class>`; until now they were mislabelled `discovery` nodes, a name the real
// discoveries now take), the curator's survivors per generation, and the reference recipes (builtins
// and seed innovations) measured on an evolution's target so that discoveries can be judged.
import { sql, type Kysely, type RawBuilder } from 'kysely';

const oneOf = (column: string, values: readonly string[]): RawBuilder<unknown> =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

const NODE_KINDS_BEFORE = ['technique', 'candidate', 'discovery', 'pattern', 'innovation', 'hardware', 'kernel', 'serving-stack'];
const NODE_KINDS = [...NODE_KINDS_BEFORE, 'chain-of-thought', 'failure'];
const EDGE_KINDS_BEFORE = ['derived-from', 'improved-over', 'failed-because', 'requires', 'applies-pattern', 'implemented-by'];
const EDGE_KINDS = [...EDGE_KINDS_BEFORE, 'reasoned-by', 'cites'];

async function setChecks(db: Kysely<unknown>, nodeKinds: readonly string[], edgeKinds: readonly string[]): Promise<void> {
  await db.schema.alterTable('ekg_node').dropConstraint('ekg_node_kind_check').execute();
  await db.schema.alterTable('ekg_node').addCheckConstraint('ekg_node_kind_check', oneOf('kind', nodeKinds)).execute();
  await db.schema.alterTable('ekg_edge').dropConstraint('ekg_edge_kind_check').execute();
  await db.schema.alterTable('ekg_edge').addCheckConstraint('ekg_edge_kind_check', oneOf('kind', edgeKinds)).execute();
}

/** Re-homes the nodes (and their edges) whose id starts with `from` under `to`, as `kind`. */
async function renameNodes(db: Kysely<unknown>, from: string, to: string, fromKind: string, kind: string): Promise<void> {
  const pattern = `${from}%`;
  await sql`insert into ekg_node (id, kind, name, payload, created_at, updated_at)
    select ${to} || substr(id, ${from.length + 1}), ${kind}, name, payload, created_at, updated_at
    from ekg_node where kind = ${fromKind} and id like ${pattern}
    on conflict (id) do nothing`.execute(db);
  await sql`insert into ekg_edge (src, dst, kind, payload, created_at)
    select src, ${to} || substr(dst, ${from.length + 1}), kind, payload, created_at
    from ekg_edge where dst like ${pattern} and dst in (select id from ekg_node where kind = ${fromKind})
    on conflict (src, dst, kind) do nothing`.execute(db);
  // Edges into the old nodes cascade with them.
  await sql`delete from ekg_node where kind = ${fromKind} and id like ${pattern}`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setChecks(db, NODE_KINDS, EDGE_KINDS);
  await renameNodes(db, 'discovery:', 'failure:', 'discovery', 'failure');

  await db.schema.alterTable('generation').addColumn('survivors', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`)).execute();

  await db.schema
    .createTable('reference_result')
    .addColumn('evolution_id', 'text', (c) => c.notNull().references('evolution.id').onDelete('cascade'))
    .addColumn('recipe_hash', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('recipe', 'jsonb', (c) => c.notNull())
    .addColumn('metrics', 'jsonb', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('reference_result_pkey', ['evolution_id', 'recipe_hash'])
    .addCheckConstraint('reference_result_source_check', oneOf('source', ['builtin', 'innovation', 'seed']))
    .execute();
  // Measured before, in any evolution, with the same settings? (metrics carry the settings' key.)
  await db.schema.createIndex('reference_result_recipe_hash_idx').on('reference_result').column('recipe_hash').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('reference_result').ifExists().execute();
  await db.schema.alterTable('generation').dropColumn('survivors').execute();
  // Discoveries and chains have no place in the older schema; failure classes go back to their old name.
  await sql`delete from ekg_edge where kind not in (${sql.join(EDGE_KINDS_BEFORE.map((k) => sql.lit(k)))})`.execute(db);
  await sql`delete from ekg_node where kind in ('chain-of-thought', 'discovery')`.execute(db);
  await renameNodes(db, 'failure:', 'discovery:', 'failure', 'discovery');
  await setChecks(db, NODE_KINDS_BEFORE, EDGE_KINDS_BEFORE);
}
