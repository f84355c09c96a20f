// The seed graph of innovations: innovation nodes, and the hardware, kernel and serving-stack nodes
// they require; `implemented-by` edges tie an innovation to the mutation operators (technique
// nodes) that apply its genes. Only the CHECK constraints widen: existing rows keep their history.
import { sql, type Kysely, type RawBuilder } from 'kysely';

const oneOf = (column: string, values: readonly string[]): RawBuilder<unknown> =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

const NODE_KINDS_BEFORE = ['technique', 'candidate', 'discovery', 'pattern'];
const NODE_KINDS = [...NODE_KINDS_BEFORE, 'innovation', 'hardware', 'kernel', 'serving-stack'];
const EDGE_KINDS_BEFORE = ['derived-from', 'improved-over', 'failed-because', 'requires', 'applies-pattern'];
const EDGE_KINDS = [...EDGE_KINDS_BEFORE, 'implemented-by'];

async function setChecks(db: Kysely<unknown>, nodeKinds: readonly string[], edgeKinds: readonly string[]): Promise<void> {
  await db.schema.alterTable('ekg_node').dropConstraint('ekg_node_kind_check').execute();
  await db.schema.alterTable('ekg_node').addCheckConstraint('ekg_node_kind_check', oneOf('kind', nodeKinds)).execute();
  await db.schema.alterTable('ekg_edge').dropConstraint('ekg_edge_kind_check').execute();
  await db.schema.alterTable('ekg_edge').addCheckConstraint('ekg_edge_kind_check', oneOf('kind', edgeKinds)).execute();
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setChecks(db, NODE_KINDS, EDGE_KINDS);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // What the older schema cannot hold goes (edges to removed nodes cascade).
  await sql`delete from ekg_edge where kind not in (${sql.join(EDGE_KINDS_BEFORE.map((k) => sql.lit(k)))})`.execute(db);
  await sql`delete from ekg_node where kind not in (${sql.join(NODE_KINDS_BEFORE.map((k) => sql.lit(k)))})`.execute(db);
  await setChecks(db, NODE_KINDS_BEFORE, EDGE_KINDS_BEFORE);
}
