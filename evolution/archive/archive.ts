// The archive's views: the Pareto frontier (memory per GPU vs KL) and the best fitting candidate.
// Pure and generic over how an item exposes its measurement, so the workflow (over candidate
// summaries) and the proposer (over scored candidates) share one definition.

export interface Measurement {
  id: string;
  fits: boolean;
  gbPerGpu: number;
  kl: number;
}

/** Code-unit order: unlike localeCompare, independent of ICU data (workflow code must be deterministic). */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function dominates(x: Measurement, y: Measurement): boolean {
  return x.gbPerGpu <= y.gbPerGpu && x.kl <= y.kl && (x.gbPerGpu < y.gbPerGpu || x.kl < y.kl);
}

function fittingOf<T>(items: readonly T[], measure: (item: T) => Measurement | null): Array<{ item: T; m: Measurement }> {
  return items.flatMap((item) => {
    const m = measure(item);
    return m && m.fits ? [{ item, m }] : [];
  });
}

/** Measured items that fit the target and that no other fitting item dominates, by memory. */
export function paretoFrontier<T>(items: readonly T[], measure: (item: T) => Measurement | null): T[] {
  const fitting = fittingOf(items, measure);
  return fitting
    .filter((c) => !fitting.some((o) => o !== c && dominates(o.m, c.m)))
    .sort((a, b) => a.m.gbPerGpu - b.m.gbPerGpu || byId(a.m, b.m))
    .map((c) => c.item);
}

/** The lowest-KL item that fits (then least memory, then id), if any. */
export function bestCandidate<T>(items: readonly T[], measure: (item: T) => Measurement | null): T | null {
  const fitting = fittingOf(items, measure);
  fitting.sort((a, b) => a.m.kl - b.m.kl || a.m.gbPerGpu - b.m.gbPerGpu || byId(a.m, b.m));
  return fitting[0]?.item ?? null;
}
