// What a long-context evaluation reports per candidate, next to the overall metrics: each position
// bucket and each retrieval distance against the original model, kept apart so that a recipe that
// wins overall but loses far into the context shows it.
import { z } from 'zod';

const share = z.number().min(0).max(1);
const position = z.number().int().min(0).max(1 << 24);

export const LongContextBucket = z
  .object({
    from: position,
    to: position,
    bits_per_byte: z.number().nonnegative(),
    baseline_bits_per_byte: z.number().nonnegative(),
    /** KL(original ‖ candidate) per byte in this bucket, bits. */
    kl: z.number().nonnegative(),
  })
  .strict();

export const LongContextRetrieval = z.object({ distance: position, accuracy: share, baseline_accuracy: share }).strict();

export const LongContextSummary = z
  .object({
    buckets: z.array(LongContextBucket).min(1).max(64),
    retrieval: z.array(LongContextRetrieval).max(64),
  })
  .strict();
export type LongContextSummary = z.infer<typeof LongContextSummary>;

/** The long bucket: the one furthest into the context. */
export function longBucket(s: LongContextSummary): z.infer<typeof LongContextBucket> {
  return s.buckets[s.buckets.length - 1];
}
