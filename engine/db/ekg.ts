// The Evolutionary Knowledge Graph on adjacency tables: idempotent node/edge upserts, one-hop
// neighbours in either direction, and multi-hop walks (lineage) as recursive CTEs.
import { sql, type RawBuilder } from 'kysely';
import {
  EkgEdgeKind,
  EkgNodeKind,
  JsonObject,
  type EkgEdgeRow,
  type EkgNodeRow,
} from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface EkgNodeInput {
  id: string;
  kind: EkgNodeKind;
  name: string;
  payload?: JsonObject;
}

export interface EkgEdgeInput {
  /** The dependent/newer node: "src derived-from dst", "src failed-because dst". */
  src: string;
  dst: string;
  kind: EkgEdgeKind;
  payload?: JsonObject;
}

/**
 * Insert, or replace name and payload of the existing node (touching updated_at only on a real
 * change). A node never changes kind: asking for another kind under the same id throws.
 */
export async function upsertNode(db: DbOrTrx, input: EkgNodeInput): Promise<EkgNodeRow> {
  const kind = EkgNodeKind.parse(input.kind);
  const payload = JSON.stringify(JsonObject.parse(input.payload ?? {}));
  const written = await db
    .insertInto('ekg_node')
    .values({ id: input.id, kind, name: input.name, payload })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet({
          name: (eb) => eb.ref('excluded.name'),
          payload: (eb) => eb.ref('excluded.payload'),
          updated_at: sql<Date>`now()`,
        })
        .where('ekg_node.kind', '=', kind)
        .where((eb) =>
          eb.or([
            eb('ekg_node.name', 'is distinct from', eb.ref('excluded.name')),
            eb('ekg_node.payload', 'is distinct from', eb.ref('excluded.payload')),
          ]),
        ),
    )
    .returningAll()
    .executeTakeFirst();
  if (written !== undefined) return written;
  const existing = await db.selectFrom('ekg_node').selectAll().where('id', '=', input.id).executeTakeFirstOrThrow();
  if (existing.kind !== kind) throw new Error(`EKG node ${input.id} is a ${existing.kind}, not a ${kind}`);
  return existing;
}

/** Insert, or replace the payload of the existing (src, dst, kind) edge. Both nodes must exist. */
export async function upsertEdge(db: DbOrTrx, input: EkgEdgeInput): Promise<EkgEdgeRow> {
  const kind = EkgEdgeKind.parse(input.kind);
  const payload = JSON.stringify(JsonObject.parse(input.payload ?? {}));
  const written = await db
    .insertInto('ekg_edge')
    .values({ src: input.src, dst: input.dst, kind, payload })
    .onConflict((oc) =>
      oc
        .columns(['src', 'dst', 'kind'])
        .doUpdateSet({ payload: (eb) => eb.ref('excluded.payload') })
        .where('ekg_edge.payload', 'is distinct from', (eb) => eb.ref('excluded.payload')),
    )
    .returningAll()
    .executeTakeFirst();
  return (
    written ??
    (await db
      .selectFrom('ekg_edge')
      .selectAll()
      .where('src', '=', input.src)
      .where('dst', '=', input.dst)
      .where('kind', '=', kind)
      .executeTakeFirstOrThrow())
  );
}

export function getNode(db: DbOrTrx, id: string): Promise<EkgNodeRow | undefined> {
  return db.selectFrom('ekg_node').selectAll().where('id', '=', id).executeTakeFirst();
}

export function nodesByKind(db: DbOrTrx, kind: EkgNodeKind, { limit = 1_000 }: { limit?: number } = {}): Promise<EkgNodeRow[]> {
  return db.selectFrom('ekg_node').selectAll().where('kind', '=', kind).orderBy('name').orderBy('id').limit(limit).execute();
}

export interface Neighbour {
  edge: EkgEdgeRow;
  /** The node at the other end of `edge`. */
  node: EkgNodeRow;
}

type Direction = 'out' | 'in';

async function neighbours(
  db: DbOrTrx,
  id: string,
  direction: Direction,
  kinds: readonly EkgEdgeKind[] | undefined,
): Promise<Neighbour[]> {
  const [near, far] = direction === 'out' ? (['src', 'dst'] as const) : (['dst', 'src'] as const);
  let q = db
    .selectFrom('ekg_edge as e')
    .innerJoin('ekg_node as n', 'n.id', `e.${far}`)
    .select([
      'e.src',
      'e.dst',
      'e.kind as edge_kind',
      'e.payload as edge_payload',
      'e.created_at as edge_created_at',
      'n.id',
      'n.kind',
      'n.name',
      'n.payload',
      'n.created_at',
      'n.updated_at',
    ])
    .where(`e.${near}`, '=', id);
  if (kinds !== undefined) {
    if (kinds.length === 0) return [];
    q = q.where('e.kind', 'in', kinds);
  }
  const rows = await q.orderBy('e.kind').orderBy('n.id').execute();
  return rows.map((r) => ({
    edge: { src: r.src, dst: r.dst, kind: r.edge_kind, payload: r.edge_payload, created_at: r.edge_created_at },
    node: { id: r.id, kind: r.kind, name: r.name, payload: r.payload, created_at: r.created_at, updated_at: r.updated_at },
  }));
}

/** Edges leaving `id` (what it derives from, requires, failed because of) with their targets. */
export function neighboursOut(db: DbOrTrx, id: string, { kinds }: { kinds?: readonly EkgEdgeKind[] } = {}): Promise<Neighbour[]> {
  return neighbours(db, id, 'out', kinds);
}

/** Edges arriving at `id` (what derives from it, improves over it) with their sources. */
export function neighboursIn(db: DbOrTrx, id: string, { kinds }: { kinds?: readonly EkgEdgeKind[] } = {}): Promise<Neighbour[]> {
  return neighbours(db, id, 'in', kinds);
}

/** Every edge of the given kinds leaving any of `ids`, by src then dst (one query for a whole set of nodes). */
export function edgesFrom(db: DbOrTrx, ids: readonly string[], kinds: readonly EkgEdgeKind[]): Promise<EkgEdgeRow[]> {
  if (ids.length === 0 || kinds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('ekg_edge')
    .selectAll()
    .where('src', '=', sql<string>`any(${[...ids]}::text[])`)
    .where('kind', 'in', kinds)
    .orderBy('src')
    .orderBy('dst')
    .orderBy('kind')
    .execute();
}

export interface WalkOptions {
  /** Edge kinds to follow (default: derived-from and improved-over, the genealogical ones). */
  kinds?: readonly EkgEdgeKind[];
  /** Hops at most (default 32). Also what bounds a walk around a cycle. */
  maxDepth?: number;
}

export type WalkedNode = EkgNodeRow & {
  /** Fewest hops from the start node. */
  depth: number;
};

const GENEALOGY: readonly EkgEdgeKind[] = ['derived-from', 'improved-over'];

/**
 * Ancestors of `nodeId`: everything reachable along outgoing edges of the given kinds, each with
 * its shortest distance, nearest first. The start node itself is not included.
 */
export function lineage(db: DbOrTrx, nodeId: string, options: WalkOptions = {}): Promise<WalkedNode[]> {
  return walk(db, nodeId, 'out', options);
}

/** Descendants of `nodeId`: the same walk along incoming edges. */
export function descendants(db: DbOrTrx, nodeId: string, options: WalkOptions = {}): Promise<WalkedNode[]> {
  return walk(db, nodeId, 'in', options);
}

/** `lineage` without the node rows: ids and shortest depths only (no node is read), nearest first. */
export async function ancestorDepths(db: DbOrTrx, nodeId: string, options: WalkOptions = {}): Promise<Array<{ id: string; depth: number }>> {
  const levels = walkLevels(nodeId, 'out', options);
  if (levels === null) return [];
  const { rows } = await sql<{ id: string; depth: number }>`${levels}
    select l.id, w.depth from walk w cross join unnest(w.level) l(id) order by w.depth, l.id`.execute(db);
  return rows.map((r) => ({ id: r.id, depth: Number(r.depth) }));
}

async function walk(db: DbOrTrx, nodeId: string, direction: Direction, options: WalkOptions): Promise<WalkedNode[]> {
  const levels = walkLevels(nodeId, direction, options);
  if (levels === null) return [];
  const { rows } = await sql<EkgNodeRow & { depth: number }>`${levels}
    select n.*, w.depth from walk w cross join unnest(w.level) l(id) join ekg_node n on n.id = l.id
    order by w.depth, n.id`.execute(db);
  return rows.map((r) => ({ ...r, depth: Number(r.depth) }));
}

/** The recursive `walk(level, seen, depth)` CTE, one row per level; null when nothing can be walked. */
function walkLevels(nodeId: string, direction: Direction, options: WalkOptions): RawBuilder<unknown> | null {
  const kinds = options.kinds ?? GENEALOGY;
  const maxDepth = options.maxDepth ?? 32;
  if (kinds.length === 0 || maxDepth < 1) return null;
  const [near, far] = direction === 'out' ? (['src', 'dst'] as const) : (['dst', 'src'] as const);
  // Breadth first, one row per level: `level` holds the nodes first reached at `depth`, `seen`
  // every node reached so far. A node is expanded once, at its shortest depth (EXCEPT drops what
  // was seen, by hashing). A walk over (id, depth) rows would expand a node once per distinct
  // depth it can be reached at: in an evolution whose children have parents 1–3 generations back
  // that is most depths, which made descendants of an early candidate 10× slower. The depth bound
  // still ends the walk; `seen` alone already ends it around a cycle.
  return sql`with recursive walk(level, seen, depth) as (
      select array(select distinct e.${sql.ref(far)} from ekg_edge e
                   where e.${sql.ref(near)} = ${nodeId} and e.kind = any(${kinds}::text[]) and e.${sql.ref(far)} <> ${nodeId}),
             array[${nodeId}]::text[], 1
      union all
      select next.level, w.seen || w.level, w.depth + 1
      from walk w
      cross join lateral (
        select array(select e.${sql.ref(far)} from unnest(w.level) l(id) join ekg_edge e on e.${sql.ref(near)} = l.id
                     where e.kind = any(${kinds}::text[])
                     except select unnest(w.seen || w.level)) as level
      ) next
      where w.depth < ${maxDepth} and cardinality(w.level) > 0
    )`;
}
