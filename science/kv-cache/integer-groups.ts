// KIVI's asymmetric integer quantization of a cache slab [tokens, channels] (one KV head of one
// sequence): min/max per group, scale and zero stored in fp16, codes in 0 .. 2^bits - 1.
// Per token: a group is `group` consecutive channels of one token. Per channel: `group` consecutive
// tokens of one channel; only complete groups are quantized (KIVI keeps the rest in its residual).
import { roundFp16 } from '../quantization/half.js';

function quantizeRun(x: Float32Array, indices: (i: number) => number, count: number, levels: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = x[indices(i)];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const zero = roundFp16(min);
  const scale = roundFp16((max - min) / levels);
  if (!(scale > 0)) {
    for (let i = 0; i < count; i++) x[indices(i)] = zero;
    return;
  }
  for (let i = 0; i < count; i++) {
    const at = indices(i);
    const q = Math.min(levels, Math.max(0, Math.round((x[at] - zero) / scale)));
    x[at] = q * scale + zero;
  }
}

/** Quantizes and dequantizes slab [tokens, channels] in place, one group of `group` channels per token. */
export function fakeQuantizePerToken(x: Float32Array, tokens: number, channels: number, bits: number, group: number): void {
  const g = Math.min(group, channels);
  const levels = 2 ** bits - 1;
  for (let t = 0; t < tokens; t++) {
    for (let c0 = 0; c0 < channels; c0 += g) {
      const base = t * channels + c0;
      quantizeRun(x, (i) => base + i, Math.min(g, channels - c0), levels);
    }
  }
}

/**
 * Quantizes and dequantizes slab [tokens, channels] in place, one group of `group` tokens per channel
 * from token `start` on (the tokens before it are bf16 sinks); an incomplete last group is left as it is.
 */
export function fakeQuantizePerChannel(x: Float32Array, tokens: number, channels: number, bits: number, group: number, start = 0): void {
  const levels = 2 ** bits - 1;
  for (let t0 = start; t0 + group <= tokens; t0 += group) {
    for (let c = 0; c < channels; c++) quantizeRun(x, (i) => (t0 + i) * channels + c, group, levels);
  }
}
