// Discrete choices over measured losses: the earliest candidate within a relative margin of the
// best wins, so losses that differ only by float noise give the same choice on every machine.

/**
 * Index of the first finite loss ≤ (1 + margin)·min, where min is the smallest finite loss;
 * 0 when none is finite. Losses must be non-negative (squared errors).
 */
export function pickWithMargin(losses: ArrayLike<number>, margin: number): number {
  if (!(margin >= 0)) throw new RangeError(`pickWithMargin: margin must be ≥ 0, got ${margin}`);
  let min = Infinity;
  for (let i = 0; i < losses.length; i++) if (losses[i] < min) min = losses[i];
  if (!Number.isFinite(min)) return 0;
  const bound = min + margin * Math.abs(min);
  for (let i = 0; i < losses.length; i++) if (losses[i] <= bound) return i;
  return 0;
}
