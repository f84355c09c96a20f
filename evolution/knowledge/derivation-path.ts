// The derivation path between two nodes of the knowledge graph (for `evoquant lineage` and the
// chain of thought): the shortest chain of derived-from edges joining them, oldest first, with the
// pattern each step applied. The ancestor walk is db/ekg.ts `ancestorDepths` (`lineage`'s
// shortest depths, without reading the nodes); the path is then recovered backwards from the edges out of the nodes walked.
import { ancestorDepths, edgesFrom } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { EkgEdgeRow } from '../../schema/db.js';

export interface DerivationStep {
  /** The older node. */
  from: string;
  /** The node derived from it. */
  to: string;
  /** The pattern the step applied (from the edge's payload), or null where none was recorded. */
  pattern: string | null;
}

export interface DerivationPath {
  /** Node ids from the ancestor to the descendant. */
  nodes: string[];
  steps: DerivationStep[];
}

/** Shortest derived-from path from `descendant` back to `ancestor`, ancestor first; null if there is none. */
async function pathUp(db: DbOrTrx, descendant: string, ancestor: string, maxDepth: number): Promise<DerivationPath | null> {
  const walked = await ancestorDepths(db, descendant, { kinds: ['derived-from'], maxDepth });
  const depth = new Map<string, number>([[descendant, 0], ...walked.map((n) => [n.id, n.depth] as const)]);
  const top = depth.get(ancestor);
  if (top === undefined || ancestor === descendant) return null;
  // The edges out of every node nearer than the ancestor, in one query; then back down from the
  // ancestor, each step to a node one hop nearer the descendant (the smallest id, for a stable answer).
  const nearer = [...depth].filter(([, d]) => d < top).map(([id]) => id);
  const into = new Map<string, EkgEdgeRow[]>();
  for (const e of await edgesFrom(db, nearer, ['derived-from'])) into.set(e.dst, [...(into.get(e.dst) ?? []), e]);
  const steps: DerivationStep[] = [];
  let cur = ancestor;
  while (cur !== descendant) {
    const d = depth.get(cur)!;
    const next = (into.get(cur) ?? []).find((e) => depth.get(e.src) === d - 1);
    if (!next) throw new Error(`derivation path: no edge into ${cur} at depth ${d - 1} (graph changed during the walk?)`);
    const pattern = next.payload.pattern;
    steps.push({ from: cur, to: next.src, pattern: typeof pattern === 'string' ? pattern : null });
    cur = next.src;
  }
  return { nodes: [ancestor, ...steps.map((s) => s.to)], steps };
}

/**
 * The derivation path between `a` and `b`, whichever is the ancestor, oldest first; null when
 * neither derives from the other (within `maxDepth` hops).
 */
export async function derivationPath(db: DbOrTrx, a: string, b: string, { maxDepth = 32 }: { maxDepth?: number } = {}): Promise<DerivationPath | null> {
  if (a === b) return { nodes: [a], steps: [] };
  return (await pathUp(db, a, b, maxDepth)) ?? (await pathUp(db, b, a, maxDepth));
}
