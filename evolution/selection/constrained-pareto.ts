// The curator's selection: survivors from a constrained Pareto front over (GB per GPU, KL), both
// minimised, with NSGA-II's crowding distance, and one reserved seat per strategy family (niche) so
// that a family dominated today is still there to be improved tomorrow.
//
// NSGA-II: Deb, Pratap, Agarwal, Meyarivan 2002, "A fast and elitist multiobjective genetic
// algorithm: NSGA-II" (fast non-dominated sort, crowding distance, crowded comparison).
// Constraint handling: Deb 2000, "An efficient constraint handling method for genetic algorithms"
// (feasible beats infeasible; of two infeasible, the smaller violation wins), as NSGA-II's
// constrained domination.
//
// Pure and deterministic: it runs inside an activity whose result is recorded in Temporal history,
// so every tie is broken by id (code-unit order, never localeCompare, whose order depends on ICU).

export interface CurationItem {
  id: string;
  /** Strategy family, e.g. 'gptq', 'awq', 'rtn', 'gptq+expert-layers' (see strategy-niche.ts). */
  niche: string;
  /** Memory per GPU (finite, ≥ 0). */
  gbPerGpu: number;
  /** Loss (KL bits/byte); +Infinity when compiled but not measured (too large). Never NaN. */
  kl: number;
  /** Constraint violation, 0 when feasible (fits and servable); else e.g. GB over the GPU's capacity. */
  violation: number;
}

export interface Curated {
  id: string;
  niche: string;
  /** Constrained non-domination rank: 0 is the first front. */
  rank: number;
  /** Crowding distance within its front (Infinity at a front's boundary); never NaN. */
  crowding: number;
  /** niche-best: kept as its family's best feasible item; front: kept by the crowded comparison. */
  reason: 'niche-best' | 'front';
}

/** A ranked item: the input plus its front and crowding distance. */
export interface RankedItem extends CurationItem {
  rank: number;
  crowding: number;
}

function compareNumbers(a: number, b: number): number {
  // Explicit comparisons: a − b is NaN for two infinities.
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Refuses what would make the order meaningless: NaN anywhere, memory that is not finite, repeated ids. */
function validate(items: readonly CurationItem[], count: number): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`curate: count must be a non-negative integer, got ${count}`);
  const seen = new Set<string>();
  for (const [i, item] of items.entries()) {
    const at = `curate: item ${i} (${JSON.stringify(item.id)})`;
    if (typeof item.id !== 'string') throw new RangeError(`curate: item ${i} has no string id`);
    if (seen.has(item.id)) throw new RangeError(`${at}: id repeats`);
    seen.add(item.id);
    if (typeof item.niche !== 'string') throw new RangeError(`${at}: niche must be a string`);
    if (!Number.isFinite(item.gbPerGpu) || item.gbPerGpu < 0) throw new RangeError(`${at}: gbPerGpu must be finite and ≥ 0, got ${item.gbPerGpu}`);
    if (Number.isNaN(item.kl) || item.kl === Number.NEGATIVE_INFINITY) throw new RangeError(`${at}: kl must be a number or +Infinity (unmeasured), got ${item.kl}`);
    if (Number.isNaN(item.violation) || item.violation < 0) throw new RangeError(`${at}: violation must be ≥ 0 (0 when feasible), got ${item.violation}`);
  }
}

/** Pareto dominance on (gbPerGpu, kl), both minimised. */
function paretoDominates(a: CurationItem, b: CurationItem): boolean {
  return a.gbPerGpu <= b.gbPerGpu && a.kl <= b.kl && (a.gbPerGpu < b.gbPerGpu || a.kl < b.kl);
}

/**
 * Deb's constrained domination: a feasible item dominates every infeasible one; of two infeasible,
 * the smaller violation dominates (equal violations: neither); of two feasible, Pareto dominance.
 */
export function constrainedDominates(a: CurationItem, b: CurationItem): boolean {
  const aFeasible = a.violation === 0;
  const bFeasible = b.violation === 0;
  if (aFeasible && !bFeasible) return true;
  if (!aFeasible && bFeasible) return false;
  if (!aFeasible) return a.violation < b.violation;
  return paretoDominates(a, b);
}

/** Fast non-dominated sort (NSGA-II, O(M·N²)): fronts of indices into `items`, front 0 first. */
export function nonDominatedFronts(items: readonly CurationItem[]): number[][] {
  const n = items.length;
  const dominated: number[][] = items.map(() => []);
  const dominatedBy = new Array<number>(n).fill(0);
  for (let p = 0; p < n; p++) {
    for (let q = p + 1; q < n; q++) {
      if (constrainedDominates(items[p], items[q])) {
        dominated[p].push(q);
        dominatedBy[q]++;
      } else if (constrainedDominates(items[q], items[p])) {
        dominated[q].push(p);
        dominatedBy[p]++;
      }
    }
  }
  const fronts: number[][] = [];
  let current = items.map((_, i) => i).filter((i) => dominatedBy[i] === 0);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const p of current) {
      for (const q of dominated[p]) {
        if (--dominatedBy[q] === 0) next.push(q);
      }
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

type Objective = 'gbPerGpu' | 'kl';
const OBJECTIVES: readonly Objective[] = ['gbPerGpu', 'kl'];

/**
 * The gap between two neighbours along one objective, normalised by the range of the front's
 * finite values. A gap to an unmeasured (+Infinity) point is infinite: the last measured point is
 * a boundary of the measured front. Halves avoid overflow when the finite range exceeds MAX_VALUE.
 */
function normalisedGap(hi: number, lo: number, min: number, max: number): number {
  if (hi === lo) return 0;
  if (hi === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const range = max - min;
  if (Number.isFinite(range)) return range > 0 ? (hi - lo) / range : 0;
  return (hi / 2 - lo / 2) / (max / 2 - min / 2);
}

/**
 * Crowding distance of each member of one front (indices into `items`), keyed by index.
 * Computed over the front's distinct objective vectors, as Fortin & Parizeau 2013 ("Revisiting the
 * NSGA-II crowding-distance computation") recommend, so that duplicates cannot fake a wide spread;
 * unlike them, a vector's distance goes to its first copy by id and the other copies get 0, so a
 * duplicate is the last of its front to survive.
 */
export function crowdingDistances(items: readonly CurationItem[], front: readonly number[]): Map<number, number> {
  const byVector = [...front].sort(
    (a, b) => compareNumbers(items[a].gbPerGpu, items[b].gbPerGpu) || compareNumbers(items[a].kl, items[b].kl) || compareIds(items[a].id, items[b].id),
  );
  const distance = new Map<number, number>(front.map((i) => [i, 0]));
  const unique: number[] = [];
  for (const i of byVector) {
    const last = unique[unique.length - 1];
    if (last === undefined || items[last].gbPerGpu !== items[i].gbPerGpu || items[last].kl !== items[i].kl) unique.push(i);
  }
  if (unique.length <= 2) {
    for (const i of unique) distance.set(i, Number.POSITIVE_INFINITY);
    return distance;
  }
  for (const m of OBJECTIVES) {
    const other: Objective = m === 'kl' ? 'gbPerGpu' : 'kl';
    // Vectors are distinct, so (m, other) orders them totally.
    const sorted = [...unique].sort((a, b) => compareNumbers(items[a][m], items[b][m]) || compareNumbers(items[a][other], items[b][other]));
    const finite = sorted.map((i) => items[i][m]).filter(Number.isFinite);
    const min = finite.length > 0 ? finite[0] : 0;
    const max = finite.length > 0 ? finite[finite.length - 1] : 0;
    distance.set(sorted[0], Number.POSITIVE_INFINITY);
    distance.set(sorted[sorted.length - 1], Number.POSITIVE_INFINITY);
    for (let k = 1; k < sorted.length - 1; k++) {
      const i = sorted[k];
      distance.set(i, distance.get(i)! + normalisedGap(items[sorted[k + 1]][m], items[sorted[k - 1]][m], min, max));
    }
  }
  return distance;
}

/** Every item with its constrained non-domination rank and its crowding distance, in input order. */
export function rankItems(items: readonly CurationItem[]): RankedItem[] {
  validate(items, 0);
  const rank = new Array<number>(items.length);
  const crowding = new Array<number>(items.length);
  for (const [r, front] of nonDominatedFronts(items).entries()) {
    for (const [i, d] of crowdingDistances(items, front)) {
      rank[i] = r;
      crowding[i] = d;
    }
  }
  return items.map((item, i) => ({ ...item, rank: rank[i], crowding: crowding[i] }));
}

/** NSGA-II's crowded comparison, made total: rank asc, crowding desc, kl asc, gbPerGpu asc, id. */
export function crowdedCompare(a: RankedItem, b: RankedItem): number {
  return (
    compareNumbers(a.rank, b.rank) ||
    compareNumbers(b.crowding, a.crowding) ||
    compareNumbers(a.kl, b.kl) ||
    compareNumbers(a.gbPerGpu, b.gbPerGpu) ||
    compareIds(a.id, b.id)
  );
}

/**
 * `count` survivors, best first. First each niche's best feasible item (by the crowded comparison),
 * niches in the order of their best item, as many as `count` allows; then the rest by the crowded
 * comparison. Niche seats go to feasible items only, so an infeasible item survives only when fewer
 * than `count` items are feasible, the smallest violations first.
 */
export function curate(items: readonly CurationItem[], count: number): Curated[] {
  validate(items, count);
  const ranked = rankItems(items).sort(crowdedCompare);

  const nicheBest = new Map<string, RankedItem>();
  for (const item of ranked) {
    // `ranked` is sorted, so the first feasible item seen of a niche is its best.
    if (item.violation === 0 && !nicheBest.has(item.niche)) nicheBest.set(item.niche, item);
  }
  const reserved = new Set([...nicheBest.values()].sort(crowdedCompare).slice(0, count).map((item) => item.id));

  const survivors: Curated[] = [];
  let left = count - reserved.size;
  for (const item of ranked) {
    const isReserved = reserved.has(item.id);
    if (!isReserved && left === 0) continue;
    if (!isReserved) left--;
    survivors.push({ id: item.id, niche: item.niche, rank: item.rank, crowding: item.crowding, reason: isReserved ? 'niche-best' : 'front' });
  }
  return survivors;
}
