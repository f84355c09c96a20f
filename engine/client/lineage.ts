// The ancestry of an EKG node as a tree: the recursive walk of db/ekg.ts `lineage` finds every
// ancestor and its shortest depth; one hop per found node recovers the edges (and their kinds)
// between them, from which the tree is drawn. A node reached along two paths appears once in
// full and once as a reference, so a DAG never prints exponentially.
import type { Kysely } from 'kysely';
import { getNode, lineage, neighboursOut } from '../db/ekg.js';
import { EKG_EDGE_KINDS, type Database, type EkgEdgeKind } from '../../schema/db.js';
import { EngineRequestError } from './errors.js';

export interface LineageNode {
  id: string;
  kind: string;
  name: string;
  /** Fewest hops from the start node (0 for the start node). */
  depth: number;
}

export interface LineageEdge {
  src: string;
  dst: string;
  kind: EkgEdgeKind;
}

export interface LineageTreeNode {
  node: LineageNode;
  /** The edge that led here from the parent in the tree (null at the root). */
  via: EkgEdgeKind | null;
  /** True when this node was already drawn higher up; its ancestors are not repeated. */
  seen: boolean;
  parents: LineageTreeNode[];
}

export interface Lineage {
  root: LineageNode;
  /** Every ancestor, nearest first. */
  ancestors: LineageNode[];
  edges: LineageEdge[];
  tree: LineageTreeNode;
}

export interface LineageOptions {
  /** Edge kinds to follow (default: all of them). */
  kinds?: readonly EkgEdgeKind[];
  maxDepth?: number;
}

/** `candidate:cand_…`, `technique:…`; a bare candidate id gets the `candidate:` prefix. */
export function ekgNodeId(arg: string): string {
  return arg.includes(':') ? arg : `candidate:${arg}`;
}

export async function lineageOf(db: Kysely<Database>, arg: string, options: LineageOptions = {}): Promise<Lineage> {
  const id = ekgNodeId(arg);
  const kinds = options.kinds ?? EKG_EDGE_KINDS;
  const start = await getNode(db, id);
  if (!start) throw new EngineRequestError(`EKG node ${id} not found`);
  const walked = await lineage(db, id, { kinds, maxDepth: options.maxDepth });
  const nodes = new Map<string, LineageNode>([[id, { id, kind: start.kind, name: start.name, depth: 0 }]]);
  for (const n of walked) nodes.set(n.id, { id: n.id, kind: n.kind, name: n.name, depth: n.depth });

  const edges: LineageEdge[] = [];
  for (const n of nodes.values()) {
    for (const { edge } of await neighboursOut(db, n.id, { kinds })) {
      if (nodes.has(edge.dst)) edges.push({ src: edge.src, dst: edge.dst, kind: edge.kind });
    }
  }

  const drawn = new Set<string>();
  const build = (nodeId: string, via: EkgEdgeKind | null): LineageTreeNode => {
    const node = nodes.get(nodeId)!;
    if (drawn.has(nodeId)) return { node, via, seen: true, parents: [] };
    drawn.add(nodeId);
    const out = edges.filter((e) => e.src === nodeId);
    return { node, via, seen: false, parents: out.map((e) => build(e.dst, e.kind)) };
  };
  const tree = build(id, null);
  return { root: nodes.get(id)!, ancestors: walked.map((n) => nodes.get(n.id)!), edges, tree };
}

/** The tree as indented text lines: `└─ derived-from → candidate:… (w4a16-g128-gptq) [depth 1]`. */
export function formatLineageTree(tree: LineageTreeNode): string[] {
  const label = (t: LineageTreeNode): string => `${t.node.id} (${t.node.name})${t.node.depth > 0 ? ` [depth ${t.node.depth}]` : ''}${t.seen ? ' (see above)' : ''}`;
  const lines = [label(tree)];
  const walk = (t: LineageTreeNode, indent: string): void => {
    t.parents.forEach((p, i) => {
      const last = i === t.parents.length - 1;
      lines.push(`${indent}${last ? '└─' : '├─'} ${p.via} → ${label(p)}`);
      walk(p, `${indent}${last ? '   ' : '│  '}`);
    });
  };
  walk(tree, '');
  return lines;
}
