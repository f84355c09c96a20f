// Deterministic evaluation windows over a byte corpus: evenly spaced, never random.

export interface EvalWindows {
  /** [count, seq + 1] bytes: inputs are the first seq, targets the last seq. */
  bytes: Uint8Array;
  count: number;
  seq: number;
}

/** `tokens` predicted positions as ceil(tokens / seq) windows of seq+1 bytes, spread evenly over the corpus. */
export function evenWindows(corpus: Uint8Array, seq: number, tokens: number): EvalWindows {
  const span = seq + 1;
  const maxWindows = Math.floor(corpus.length / span);
  const count = Math.min(maxWindows, Math.ceil(tokens / seq));
  if (count < 1) throw new RangeError(`corpus of ${corpus.length} bytes is too short for windows of ${span}`);
  const stride = Math.floor(corpus.length / count);
  const bytes = new Uint8Array(count * span);
  for (let w = 0; w < count; w++) bytes.set(corpus.subarray(w * stride, w * stride + span), w * span);
  return { bytes, count, seq };
}

/** Inputs and targets of windows [from, to) as contiguous [batch, seq] arrays. */
export function windowBatch(w: EvalWindows, from: number, to: number): { inputs: Uint8Array; targets: Uint8Array } {
  const span = w.seq + 1;
  const inputs = new Uint8Array((to - from) * w.seq);
  const targets = new Uint8Array((to - from) * w.seq);
  for (let i = from; i < to; i++) {
    inputs.set(w.bytes.subarray(i * span, i * span + w.seq), (i - from) * w.seq);
    targets.set(w.bytes.subarray(i * span + 1, (i + 1) * span), (i - from) * w.seq);
  }
  return { inputs, targets };
}
