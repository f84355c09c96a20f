// Budgeted bit allocation: the exact cheapest (in predicted loss) servable allocation whose bytes per
// GPU fit a budget, emitted as a recipe that compile admits for the target, or a refusal naming the
// smallest budget that any servable allocation fits.
import type { CompileReport } from '../../schema/compile-report.js';
import { FAILURE_TYPES } from '../../schema/failures.js';
import type { Recipe, WeightBits } from '../../schema/recipe.js';
import { compileFor, type AllocationProblem, type GroupKind } from './problem.js';
import { recipeOf } from './recipe-of.js';
import { ParetoFront } from './solve.js';

export class InfeasibleBudgetError extends Error {
  override readonly name = FAILURE_TYPES.infeasibleBudget;
}

export const GB = 1e9;

/** Bytes as GB with two decimals, rounded up (a budget quoted this way is always enough). */
export function gbCeil(bytes: number): string {
  return (Math.ceil(bytes / 1e7) / 100).toFixed(2);
}

export interface AllocationChoice {
  kind: GroupKind;
  proxyLayer: number | null;
  bits: WeightBits;
  /** Predicted KL (bits per byte) of this group's choice. */
  cost: number;
  bytesPerGpu: number;
  targetLayers: number[];
}

export interface Allocation {
  /** What was asked, and what the solver used: the budget capped at the GPU's memory. */
  budgetBytes: number;
  effectiveBudgetBytes: number;
  /** Summed measured KL of the chosen schemes, bits per byte (the additivity assumption). */
  predictedLoss: number;
  /** Bytes per GPU the allocation predicts, equal to compile's by construction (and checked). */
  bytesPerGpu: number;
  choices: AllocationChoice[];
  recipe: Recipe;
  report: CompileReport;
}

export class Allocator {
  readonly front: ParetoFront;

  constructor(readonly problem: AllocationProblem) {
    this.front = ParetoFront.build(problem.groups.map((g) => g.options.map((o) => ({ weight: o.bytesPerGpu, cost: o.cost }))));
  }

  /** The fewest bytes per GPU any servable allocation needs (every group at its smallest scheme). */
  minBytesPerGpu(): number {
    return this.problem.fixedBytesPerGpu + this.front.minWeight();
  }

  /** Bytes per GPU of the lossless end: every group at its cheapest-in-loss choice (bf16). */
  maxUsefulBytesPerGpu(): number {
    const points = this.front.points();
    return this.problem.fixedBytesPerGpu + points[points.length - 1].weight;
  }

  private where(): string {
    const t = this.problem.target;
    return `${t.model} on ${t.hardware} ×${t.gpus} (TP${t.tensorParallel}, ${t.stack})`;
  }

  allocate(budgetBytes: number, name?: string): Allocation {
    const { problem } = this;
    const min = this.minBytesPerGpu();
    if (min > problem.capacityBytes) {
      // When the stack serves none of the measured widths, say why (e.g. llama.cpp's 32-wide blocks against a g128 profile).
      const why = problem.groups.every((g) => g.options.length === 1) && problem.unservable.length > 0 ? `; it serves none of the profile's g${problem.groupSize} widths (${problem.unservable.find((u) => u.kind === 'experts')?.reason ?? problem.unservable[0].reason})` : '';
      throw new InfeasibleBudgetError(`no servable allocation fits ${this.where()}: the smallest needs ${gbCeil(min)} GB per GPU, the GPU holds ${(problem.capacityBytes / GB).toFixed(2)} GB${why}`);
    }
    const effective = Math.min(Math.floor(budgetBytes), problem.capacityBytes);
    const solution = this.front.solve(effective - problem.fixedBytesPerGpu);
    if (!solution) {
      throw new InfeasibleBudgetError(`budget ${(budgetBytes / GB).toFixed(2)} GB per GPU is infeasible for ${this.where()}: the smallest feasible budget is ${gbCeil(min)} GB per GPU`);
    }
    const bytesPerGpu = problem.fixedBytesPerGpu + solution.weight;
    const recipeName = name ?? `allocated-${(budgetBytes / GB).toFixed(2)}gb-per-gpu`;
    const t = problem.target;
    const recipe = recipeOf(
      problem,
      solution.choice,
      recipeName,
      `Budgeted allocation for ${t.model} on ${t.hardware} ×${t.gpus} (TP${t.tensorParallel}, ${t.stack}): ${(bytesPerGpu / GB).toFixed(2)} GB per GPU within ${(effective / GB).toFixed(2)}, predicted KL ${solution.cost.toExponential(3)} bits/byte (sum of the sensitivity profile's per-block KLs).`,
    );
    const report = compileFor(t, recipe);
    // The solver's byte model is compile's (same shards, same matrix bytes): any gap is a bug here.
    if (report.violations.length > 0 || report.perGpu.totalBytes !== bytesPerGpu) {
      const v = report.violations[0];
      throw new Error(`allocation: compile ${v ? `refuses the allocated recipe: ${v.message}` : `counts ${report.perGpu.totalBytes} bytes per GPU, the allocation ${bytesPerGpu}`}`);
    }
    const choices = problem.groups.map((g, i): AllocationChoice => {
      const o = g.options[solution.choice[i]];
      return { kind: g.kind, proxyLayer: g.proxyLayer, bits: o.bits, cost: o.cost, bytesPerGpu: o.bytesPerGpu, targetLayers: g.targetLayers };
    });
    return { budgetBytes, effectiveBudgetBytes: effective, predictedLoss: solution.cost, bytesPerGpu, choices, recipe, report };
  }
}
