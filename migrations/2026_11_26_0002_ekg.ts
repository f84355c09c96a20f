// The Evolutionary Knowledge Graph as adjacency tables: typed nodes, typed directed edges,
// indexed from both ends so ancestors and descendants are equally cheap to walk.
import { sql, type Kysely, type RawBuilder } from 'kysely';

const oneOf = (column: string, values: readonly string[]): RawBuilder<unknown> =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

const now = sql`now()`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ekg_node')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addCheckConstraint('ekg_node_kind_check', oneOf('kind', ['technique', 'candidate', 'discovery', 'pattern']))
    .execute();
  // Also serves "all nodes of a kind" through its prefix.
  await db.schema.createIndex('ekg_node_kind_idx').on('ekg_node').columns(['kind', 'name']).execute();

  await db.schema
    .createTable('ekg_edge')
    .addColumn('src', 'text', (c) => c.notNull().references('ekg_node.id').onDelete('cascade'))
    .addColumn('dst', 'text', (c) => c.notNull().references('ekg_node.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('ekg_edge_pkey', ['src', 'dst', 'kind'])
    .addCheckConstraint(
      'ekg_edge_kind_check',
      oneOf('kind', ['derived-from', 'improved-over', 'failed-because', 'requires', 'applies-pattern']),
    )
    .addCheckConstraint('ekg_edge_no_self_loop', sql`src <> dst`)
    .execute();
  // Outgoing (towards ancestors) and incoming (towards descendants) adjacency.
  await db.schema.createIndex('ekg_edge_src_kind_idx').on('ekg_edge').columns(['src', 'kind']).execute();
  await db.schema.createIndex('ekg_edge_dst_kind_idx').on('ekg_edge').columns(['dst', 'kind']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('ekg_edge').ifExists().execute();
  await db.schema.dropTable('ekg_node').ifExists().execute();
}
