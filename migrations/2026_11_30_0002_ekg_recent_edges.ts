// Incoming edges of one kind, newest first, with their source in the index: a technique or
// failure node has an edge from every candidate that applied it or failed for it, and the graph
// queries (engine/db/ekg.ts, engine/db/ekg-queries.ts) take the most recent few of them, or walk
// descendants level by level. With created_at in the key that is a short index range instead of a
// sort of the node's whole in-degree, and with src included a walk reads no table pages. It
// supersedes the (dst, kind) index, whose every use this one serves. Self-contained, as every
// migration is.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index ekg_edge_dst_kind_created_idx on ekg_edge (dst, kind, created_at) include (src)`.execute(db);
  await db.schema.dropIndex('ekg_edge_dst_kind_idx').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('ekg_edge_dst_kind_idx').on('ekg_edge').columns(['dst', 'kind']).execute();
  await db.schema.dropIndex('ekg_edge_dst_kind_created_idx').execute();
}
