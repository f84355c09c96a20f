// The unigram byte model: the floor any real language model must beat by a wide margin.

/** Add-one smoothed byte frequencies of a training corpus, as log2 probabilities. */
export function unigramLog2Probs(train: Uint8Array): Float64Array {
  const counts = new Float64Array(256).fill(1);
  for (const b of train) counts[b]++;
  const total = train.length + 256;
  return counts.map((c) => Math.log2(c / total));
}

/** Bits per byte of the unigram model on held-out bytes. */
export function unigramBitsPerByte(train: Uint8Array, heldOut: Uint8Array): number {
  const lp = unigramLog2Probs(train);
  let bits = 0;
  for (const b of heldOut) bits -= lp[b];
  return bits / heldOut.length;
}
