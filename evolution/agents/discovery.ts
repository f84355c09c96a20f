// Discoveries: an evolved candidate that beats every manual recipe (the builtins and the seed
// innovations, measured on the same proxy with the same settings) on its target's frontier. Pure.
// A candidate C is a discovery when it fits, no manual recipe that fits is at least as good on both
// memory per GPU and loss, and it loses less than the best manual recipe at equal or less memory
// (when no manual recipe is that small, it must lose no more than the smallest one).

export interface Measured {
  id: string;
  name: string;
  gbPerGpu: number;
  kl: number;
  bitsPerByte: number;
  top1: number;
}

export interface Gains {
  /** The manual recipe compared against. */
  reference: Measured;
  klDelta: number;
  bitsPerByteDelta: number;
  top1Delta: number;
  gbPerGpuDelta: number;
  /** How much of the reference's excess bits/byte over bf16 the discovery removes (1 − Δbpb_C / Δbpb_ref). */
  lossReduction: number | null;
}

export interface DiscoveryJudgement {
  candidate: Measured;
  gains: Gains;
}

/** The manual recipe a candidate is judged against: the lowest-loss one at equal or less memory, else the smallest. */
export function referenceFor(c: Measured, references: readonly Measured[]): Measured | null {
  const within = references.filter((r) => r.gbPerGpu <= c.gbPerGpu).sort((a, b) => a.kl - b.kl || a.gbPerGpu - b.gbPerGpu || (a.id < b.id ? -1 : 1));
  if (within.length > 0) return within[0];
  const smallest = [...references].sort((a, b) => a.gbPerGpu - b.gbPerGpu || a.kl - b.kl);
  return smallest[0] ?? null;
}

/**
 * The candidates that are discoveries, with their gains over the manual recipe they beat. `bf16Bpb`
 * is the unquantized proxy's bits/byte (for the share of the loss removed). Needs at least one reference.
 */
export function judgeDiscoveries(candidates: readonly Measured[], references: readonly Measured[], bf16Bpb: number | null): DiscoveryJudgement[] {
  if (references.length === 0) return [];
  const out: DiscoveryJudgement[] = [];
  for (const c of candidates) {
    if (references.some((r) => r.gbPerGpu <= c.gbPerGpu && r.kl <= c.kl)) continue;
    const ref = referenceFor(c, references)!;
    if (!(c.kl < ref.kl) && !(ref.gbPerGpu > c.gbPerGpu && c.kl <= ref.kl)) continue;
    const excess = (x: number): number | null => (bf16Bpb === null ? null : x - bf16Bpb);
    const ec = excess(c.bitsPerByte);
    const er = excess(ref.bitsPerByte);
    out.push({
      candidate: c,
      gains: {
        reference: ref,
        klDelta: c.kl - ref.kl,
        bitsPerByteDelta: c.bitsPerByte - ref.bitsPerByte,
        top1Delta: c.top1 - ref.top1,
        gbPerGpuDelta: c.gbPerGpu - ref.gbPerGpu,
        lossReduction: ec === null || er === null || er <= 0 ? null : 1 - ec / er,
      },
    });
  }
  return out.sort((a, b) => a.candidate.gbPerGpu - b.candidate.gbPerGpu || a.candidate.kl - b.candidate.kl);
}
