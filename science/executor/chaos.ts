// Opt-in fault injection for operators and tests: a deterministic share of activity attempts
// fail with a retryable transient fault before doing any work.
import { createHash } from 'node:crypto';

export interface ChaosPolicy {
  /** Share of attempts in [0, 1] that fail. */
  transientRate: number;
  seed: number;
}

/** Whether this (activity, attempt) is one chaos fails: a hash, so replays and reruns agree. */
export function chaosStrikes(policy: ChaosPolicy | null, activityId: string, attempt: number): boolean {
  if (!policy || policy.transientRate <= 0) return false;
  const h = createHash('sha256').update(`${policy.seed}:${activityId}:${attempt}`).digest();
  return h.readUInt32LE(0) / 2 ** 32 < policy.transientRate;
}
