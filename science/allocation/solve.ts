// The exact multiple-choice knapsack: pick one option per group, minimise the summed cost subject to
// the summed weight staying within a budget.
//
// Exact by construction, with no discretisation of the budget: a dynamic program over the Pareto
// front of (weight, cost) pairs. After group g the front holds, for every reachable total weight that
// some choice of groups 0..g achieves more cheaply than every lighter choice, one cheapest choice.
// Any optimal solution's prefix over groups 0..g can be swapped for the front point of weight ≤ its
// own and cost ≤ its own without breaking the budget (weights and costs add), so the optimum over
// the final front is the optimum over all choices. Weights are integers (bytes), so sums are exact.

export interface KnapsackOption {
  /** Integer, non-negative (bytes). */
  weight: number;
  /** Non-negative (predicted loss). */
  cost: number;
}

export interface KnapsackSolution {
  /** Chosen option index per group. */
  choice: number[];
  weight: number;
  cost: number;
}

interface FrontPoint {
  weight: number;
  cost: number;
  /** Index into the previous front, and the option taken for this group. */
  parent: number;
  option: number;
}

/** Every Pareto-optimal total (lightest first, each strictly cheaper than the one before). */
export class ParetoFront {
  private constructor(private readonly layers: FrontPoint[][]) {}

  static build(groups: readonly (readonly KnapsackOption[])[]): ParetoFront {
    for (const [g, options] of groups.entries()) {
      if (options.length === 0) throw new Error(`knapsack: group ${g} has no option`);
      for (const o of options) {
        if (!Number.isSafeInteger(o.weight) || o.weight < 0) throw new Error(`knapsack: group ${g}: weight ${o.weight} is not a non-negative integer`);
        if (!Number.isFinite(o.cost) || o.cost < 0) throw new Error(`knapsack: group ${g}: cost ${o.cost} is not finite and non-negative`);
      }
    }
    const layers: FrontPoint[][] = [[{ weight: 0, cost: 0, parent: -1, option: -1 }]];
    for (const options of groups) {
      const prev = layers[layers.length - 1];
      const candidates: FrontPoint[] = [];
      prev.forEach((p, i) => options.forEach((o, k) => candidates.push({ weight: p.weight + o.weight, cost: p.cost + o.cost, parent: i, option: k })));
      // Lightest first; among equal weights the cheapest, then the earliest option (deterministic).
      candidates.sort((a, b) => a.weight - b.weight || a.cost - b.cost || a.parent - b.parent || a.option - b.option);
      const next: FrontPoint[] = [];
      for (const c of candidates) if (next.length === 0 || c.cost < next[next.length - 1].cost) next.push(c);
      layers.push(next);
    }
    return new ParetoFront(layers);
  }

  /** The final front's (weight, cost) pairs, lightest first. */
  points(): Array<{ weight: number; cost: number }> {
    return this.layers[this.layers.length - 1].map((p) => ({ weight: p.weight, cost: p.cost }));
  }

  /** The lightest total weight any choice reaches. */
  minWeight(): number {
    return this.layers[this.layers.length - 1][0].weight;
  }

  /** A cheapest choice whose weight is within the budget, or null when none is. */
  solve(budget: number): KnapsackSolution | null {
    const last = this.layers[this.layers.length - 1];
    // Costs fall as weights rise: the heaviest point within budget is the cheapest.
    let lo = 0;
    let hi = last.length - 1;
    if (last[0].weight > budget) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (last[mid].weight <= budget) lo = mid;
      else hi = mid - 1;
    }
    const choice: number[] = new Array<number>(this.layers.length - 1);
    let index = lo;
    for (let g = this.layers.length - 1; g >= 1; g--) {
      const p = this.layers[g][index];
      choice[g - 1] = p.option;
      index = p.parent;
    }
    return { choice, weight: last[lo].weight, cost: last[lo].cost };
  }
}

/** One-shot: the cheapest choice within the budget, or null. */
export function solveKnapsack(groups: readonly (readonly KnapsackOption[])[], budget: number): KnapsackSolution | null {
  return ParetoFront.build(groups).solve(budget);
}
