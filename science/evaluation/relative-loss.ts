// Relative top-1 accuracy loss against a baseline: the figure compression papers quote.
export function relativeAccuracyLoss(baselineTop1: number, top1: number): number {
  return baselineTop1 > 0 ? (baselineTop1 - top1) / baselineTop1 : 0;
}
