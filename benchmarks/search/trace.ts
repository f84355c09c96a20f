// What one run of one method leaves behind: its evaluations in the order they were made.
import { z } from 'zod';

export const TracePoint = z
  .object({
    /** 1-based position in the run's evaluation budget. */
    index: z.number().int().min(1),
    recipeName: z.string(),
    policyHash: z.string().nullable(),
    /** Evaluated, fits the target's GPU and servable on its stack. */
    feasible: z.boolean(),
    deltaBitsPerByte: z.number().nullable(),
    gbPerGpu: z.number().nullable(),
  })
  .strict();
export type TracePoint = z.infer<typeof TracePoint>;

export const RunTrace = z
  .object({
    method: z.string(),
    seed: z.number().int(),
    /** At most the budget, in evaluation order. */
    evaluations: z.array(TracePoint),
    /** Candidates compile refused (not servable or does not fit): free, not counted in the budget. */
    rejected: z.number().int().min(0),
    seconds: z.number(),
    /** Engine runs: the evolution id, to inspect it (evoquant history). */
    evolutionId: z.string().optional(),
  })
  .strict();
export type RunTrace = z.infer<typeof RunTrace>;
