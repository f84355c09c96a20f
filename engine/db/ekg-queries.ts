// Read queries over the knowledge graph that the agents ask at every generation, each one SQL
// statement so that they stay cheap on a graph of a million nodes (benchmarks/graph-queries.ts):
// the neighbourhood of a few seed nodes (what the scout retrieves) and an evolution's Pareto
// frontier (what the scout reasons from).
import { sql } from 'kysely';
import { EkgEdgeKind, EkgNodeKind, type EkgEdgeRow, type EkgNodeRow } from '../../schema/db.js';
import type { DbOrTrx } from './connection.js';

export interface SubgraphOptions {
  /** Hops from the seeds, along edges in either direction (0: the seeds alone). */
  hops: number;
  /** Edge kinds to follow (default: all). */
  edgeKinds?: readonly EkgEdgeKind[];
  /** Node kinds to step onto (default: all). The seeds are kept whatever their kind. */
  nodeKinds?: readonly EkgNodeKind[];
  /** Nodes at most; the walk stops once it has reached this many. */
  limit: number;
  /**
   * Neighbours taken per node and direction at each hop, the most recent edges first (default 32).
   * A technique node has an applies-pattern edge from every candidate that used it: without this
   * cap one hub would fill the limit before the other seeds' neighbourhoods were reached.
   */
  fanout?: number;
}

export type SubgraphNode = EkgNodeRow & {
  /** Fewest hops from any seed. */
  depth: number;
};

/** Rows as json_agg writes them: timestamps as ISO strings. */
type SubgraphNodeJson = Omit<SubgraphNode, 'created_at' | 'updated_at'> & { created_at: string; updated_at: string };
type EdgeJson = Omit<EkgEdgeRow, 'created_at'> & { created_at: string };

export interface Subgraph {
  /** Nearest first, then by id. */
  nodes: SubgraphNode[];
  /** Every edge between two returned nodes (of the followed kinds), by src, dst, kind. */
  edges: EkgEdgeRow[];
  /** The walk reached the limit: there is more graph within `hops` than was returned (what the fanout left out is not counted). */
  truncated: boolean;
}

const count = (name: string, n: number, min: number): number => {
  if (!Number.isInteger(n) || n < min) throw new Error(`subgraph: ${name} must be an integer ≥ ${min}, got ${n}`);
  return n;
};

/**
 * The nodes within `hops` of `seedIds` (edges followed both ways) and the edges between them: a
 * breadth-first walk as one recursive query, nearest nodes first. At most `fanout` neighbours per
 * node and direction per hop (newest edge first), and the walk is cut at `limit` nodes, so a hub
 * cannot make the answer (or its cost) grow with the graph.
 */
export async function subgraph(db: DbOrTrx, seedIds: readonly string[], options: SubgraphOptions): Promise<Subgraph> {
  const hops = count('hops', options.hops, 0);
  const limit = count('limit', options.limit, 1);
  const fanout = count('fanout', options.fanout ?? 32, 1);
  const edgeKinds = (options.edgeKinds ?? EkgEdgeKind.options).map((k) => EkgEdgeKind.parse(k));
  const nodeKinds = options.nodeKinds?.map((k) => EkgNodeKind.parse(k));
  if (seedIds.length === 0) return { nodes: [], edges: [], truncated: false };

  // Newest edges first. Out of a node there are a few edges (what it derives from, applies,
  // requires): one index probe and a sort of those few. Into a node there can be one edge per
  // candidate of the graph, so per edge kind the newest `fanout` come from the (dst, kind,
  // created_at) index range, then the newest `fanout` of those: a hub's in-degree is never sorted.
  // The node-kind filter looks up the far end's node.
  const kindOk = (far: 'src' | 'dst') =>
    nodeKinds === undefined ? sql`true` : sql`exists (select 1 from ekg_node n where n.id = e.${sql.ref(far)} and n.kind = any(${nodeKinds}::text[]))`;
  const out = sql`select e.dst as id from ekg_edge e
    where e.src = w.id and e.kind = any(${edgeKinds}::text[]) and ${kindOk('dst')}
    order by e.created_at desc limit ${fanout}`;
  const into = sql`select x.id from unnest(${edgeKinds}::text[]) k(kind) cross join lateral (
      select e.src as id, e.created_at from ekg_edge e
      where e.dst = w.id and e.kind = k.kind and ${kindOk('src')}
      order by e.created_at desc limit ${fanout}) x
    order by x.created_at desc limit ${fanout}`;

  // UNION drops a (node, depth) pair seen before; reading only limit + 1 rows of the walk stops
  // the recursion itself (Postgres evaluates a recursive query only as far as it is read). Nodes
  // and the edges between them come back in one statement, one row of two JSON arrays: one round
  // trip, which matters most on a busy server.
  const { rows } = await sql<{ nodes: SubgraphNodeJson[] | null; edges: EdgeJson[] | null; walked: string }>`
    with recursive walk(id, depth) as (
      select n.id, 0 from ekg_node n where n.id = any(${[...new Set(seedIds)]}::text[])
      union
      select nb.id, w.depth + 1 from walk w
      cross join lateral ((${out}) union all (${into})) nb
      where w.depth < ${hops}
    ), cut as (select id, depth from walk limit ${limit + 1}),
    picked as (select id, min(depth) as depth from cut group by id order by 2, 1 limit ${limit}),
    found as (select n.*, p.depth from picked p join ekg_node n on n.id = p.id),
    links as (
      select e.* from ekg_edge e
      where e.src in (select id from picked) and e.dst in (select id from picked) and e.kind = any(${edgeKinds}::text[])
    )
    select (select json_agg(f order by f.depth, f.id) from found f) as nodes,
           (select json_agg(l order by l.src, l.dst, l.kind) from links l) as edges,
           (select count(*) from cut) as walked`.execute(db);
  const row = rows[0];
  const truncated = Number(row.walked) > limit;
  const nodes = (row.nodes ?? []).map((n) => ({ ...n, created_at: new Date(n.created_at), updated_at: new Date(n.updated_at) }));
  const edges = (row.edges ?? []).map((e) => ({ ...e, created_at: new Date(e.created_at) }));
  return { nodes, edges, truncated };
}

export interface FrontierPoint {
  candidateId: string;
  gbPerGpu: number;
  kl: number;
}

/**
 * The Pareto frontier of an evolution's evaluated candidates that fit: least memory per GPU and
 * least KL, by memory (then id). The same set as evolution/archive/archive.ts `paretoFrontier`: a
 * candidate is dominated by one with less memory and no more KL, or with equal memory and less KL;
 * equal points dominate neither each other.
 */
export async function evolutionFrontier(db: DbOrTrx, evolutionId: string): Promise<FrontierPoint[]> {
  // Its cost follows the evolution, not the graph: the candidates come from the (evolution_id,
  // status) index and each result by its key (a scalar subquery, so the planner cannot choose to
  // scan every result instead). Then one sorted pass, no pairwise comparison: in (memory, KL) order
  // the running minimum KL of the rows before, read at the first row of each memory value, is the
  // least KL of strictly smaller memory; a point is on the front when its KL is below that and is
  // the least at its own memory.
  const { rows } = await sql<{ candidate_id: string; gb_per_gpu: number; kl: number }>`
    with evaluated as (
      select c.id, (select r.metrics from result r where r.candidate_id = c.id) as metrics
      from candidate c where c.evolution_id = ${evolutionId} and c.status = 'evaluated'
    ), measured as (
      select id as candidate_id, (metrics->>'gb_per_gpu')::float8 as gb_per_gpu, (metrics->>'kl')::float8 as kl
      from evaluated where metrics->'fits' = 'true'::jsonb
    ), running as (
      select *,
        min(kl) over (order by gb_per_gpu, kl, candidate_id collate "C" rows between unbounded preceding and 1 preceding) as kl_before,
        min(kl) over (partition by gb_per_gpu) as kl_same_memory
      from measured
    ), ranked as (
      select *, first_value(kl_before) over (partition by gb_per_gpu order by kl, candidate_id collate "C") as kl_less_memory
      from running
    )
    select candidate_id, gb_per_gpu, kl from ranked
    where (kl_less_memory is null or kl_less_memory > kl) and kl_same_memory = kl
    order by gb_per_gpu, candidate_id collate "C"`.execute(db);
  return rows.map((r) => ({ candidateId: r.candidate_id, gbPerGpu: Number(r.gb_per_gpu), kl: Number(r.kl) }));
}
