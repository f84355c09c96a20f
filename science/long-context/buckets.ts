// Position buckets of a long-context score: a recipe that wins overall but loses far into the
// context must show it, so every metric is also reported per range of positions.

export interface PositionBucket {
  /** First position (0-based index of the predicted byte in its window), inclusive. */
  from: number;
  /** Last position, exclusive. */
  to: number;
}

/** 0–127, 128–511, 512–1023, 1024–2047, … (doubling from 512) up to the window length. */
export function positionBuckets(seq: number): PositionBucket[] {
  const edges = [128, 512];
  while (edges[edges.length - 1] < seq) edges.push(edges[edges.length - 1] * 2);
  const ends = [...edges.filter((e) => e < seq), seq];
  return ends.map((to, i) => ({ from: i === 0 ? 0 : ends[i - 1], to }));
}

export function bucketLabel(b: PositionBucket): string {
  return `${b.from}–${b.to - 1}`;
}
