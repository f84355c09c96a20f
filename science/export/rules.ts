// Regex rule lists that tools read "first match wins": one rule per (module kind, spec), covering
// every layer where that kind has that spec. The rules of one export are disjoint (each module kind
// and layer sits in exactly one), so their order never changes a module's spec; it is still kept
// stable: module kinds in the order given (model order), then each rule's first layer.

export interface RuleUnit<V> {
  /** The module kind, e.g. "q" or "experts". */
  kind: string;
  /** Null for modules outside the layers (embeddings, lm_head). */
  layer: number | null;
  /** Units of one kind with equal keys share a rule. */
  key: string;
  value: V;
}

export interface GroupedRule<V> {
  kind: string;
  /** Ascending; empty for modules outside the layers. */
  layers: number[];
  key: string;
  value: V;
}

export function groupRules<V>(units: readonly RuleUnit<V>[], kindOrder: readonly string[]): GroupedRule<V>[] {
  const byKindAndKey = new Map<string, GroupedRule<V>>();
  for (const u of units) {
    if (!kindOrder.includes(u.kind)) throw new Error(`rule kind ${u.kind} has no place in the rule order`);
    const id = `${u.kind}\u0000${u.key}`;
    const rule = byKindAndKey.get(id) ?? { kind: u.kind, layers: [], key: u.key, value: u.value };
    if (u.layer !== null && !rule.layers.includes(u.layer)) rule.layers.push(u.layer);
    byKindAndKey.set(id, rule);
  }
  const rules = [...byKindAndKey.values()];
  for (const r of rules) r.layers.sort((a, b) => a - b);
  const first = (r: GroupedRule<V>): number => r.layers[0] ?? -1;
  return rules.sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || first(a) - first(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The value every module of one (kind, layer) shares, or the two that differ. */
export function uniformPerUnit<T>(
  items: readonly T[],
  unitOf: (item: T) => string,
  keyOf: (item: T) => string,
): { ok: true; byUnit: Map<string, T> } | { ok: false; unit: string; a: T; b: T } {
  const byUnit = new Map<string, T>();
  for (const item of items) {
    const unit = unitOf(item);
    const seen = byUnit.get(unit);
    if (seen === undefined) byUnit.set(unit, item);
    else if (keyOf(seen) !== keyOf(item)) return { ok: false, unit, a: seen, b: item };
  }
  return { ok: true, byUnit };
}
