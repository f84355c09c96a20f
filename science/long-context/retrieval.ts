// The synthetic long-range retrieval task the dense proxy is trained with (train_dense.py writes
// the same format): a key of random capital letters between KEY_OPEN and KEY_CLOSE is written into
// Brown text, and `distance` bytes later KEY_OPEN comes back; the model must then reproduce the
// letters, which it can only read from far back in its context.
import { mulberry32 } from '../quantization/prng.js';

export const KEY_OPEN = 0x02;
export const KEY_CLOSE = 0x03;
export const KEY_LETTERS = 6;
/** Bytes of a written key: KEY_OPEN, the letters, KEY_CLOSE. */
export const KEY_SPAN = KEY_LETTERS + 2;
/** Chance of guessing one letter. */
export const RETRIEVAL_CHANCE = 1 / 26;

export interface RetrievalProbe {
  /** seq + 1 bytes: the model reads the first seq and is scored on the letters after the query. */
  window: Uint8Array;
  /** Position of the query's KEY_OPEN; the logits at query .. query+KEY_LETTERS-1 predict the letters. */
  query: number;
  distance: number;
}

/** Longest distance a probe fits in a window of `seq` bytes. */
export function maxRetrievalDistance(seq: number): number {
  return seq - 2 * KEY_SPAN;
}

/** `perDistance` probes per distance over the filler text, deterministic for a seed. */
export function retrievalProbes(filler: Uint8Array, seq: number, distances: readonly number[], perDistance: number, seed: number): RetrievalProbe[] {
  const rand = mulberry32(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  if (filler.length < seq + 1) throw new RangeError(`retrieval: filler of ${filler.length} bytes is shorter than a window of ${seq + 1}`);
  const probes: RetrievalProbe[] = [];
  for (const distance of distances) {
    if (!Number.isInteger(distance) || distance < 0 || distance > maxRetrievalDistance(seq)) {
      throw new RangeError(`retrieval: distance ${distance} does not fit a window of ${seq} bytes (at most ${maxRetrievalDistance(seq)})`);
    }
    for (let i = 0; i < perDistance; i++) {
      const offset = pick(filler.length - seq);
      const window = filler.slice(offset, offset + seq + 1);
      const at = pick(maxRetrievalDistance(seq) - distance + 1);
      const key = new Uint8Array(KEY_SPAN);
      key[0] = KEY_OPEN;
      for (let j = 1; j <= KEY_LETTERS; j++) key[j] = 0x41 + pick(26);
      key[KEY_SPAN - 1] = KEY_CLOSE;
      const query = at + KEY_SPAN + distance;
      window.set(key, at);
      window.set(key, query);
      probes.push({ window, query, distance });
    }
  }
  return probes;
}
