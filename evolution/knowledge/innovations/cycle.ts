// A real cycle check on derivation edges: depth-first search with three colours. Returns one cycle
// (its ids, first repeated at the end) or null when the derivation graph is a DAG.

export interface DerivationNode {
  id: string;
  derivedFrom: ReadonlyArray<{ from: string }>;
}

export function derivationCycle(nodes: readonly DerivationNode[]): string[] | null {
  const parents = new Map(nodes.map((n) => [n.id, n.derivedFrom.map((d) => d.from)]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    const s = state.get(id);
    if (s === 'done') return null;
    if (s === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const p of parents.get(id) ?? []) {
      const found = visit(p);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const n of nodes) {
    const found = visit(n.id);
    if (found) return found;
  }
  return null;
}
