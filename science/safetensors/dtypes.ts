// Element types of the safetensors format and their conversions to and from float32.
import { getFloat16, setFloat16 } from '@petamoriken/float16';

// F8_E4M3: fp8 e4m3fn bytes as compressed-tensors' float-quantized checkpoints store them.
export const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, I32: 4, U8: 1, I64: 8, F8_E4M3: 1 } as const;
export type DType = keyof typeof DTYPE_BYTES;

export function isDType(x: string): x is DType {
  return Object.hasOwn(DTYPE_BYTES, x);
}

/** Decodes raw little-endian bytes of a float dtype to float32. */
export function toFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = getFloat16(view, i * 2, true);
      return out;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new TypeError(`safetensors: dtype ${dtype} is not a float type`);
  }
}

/** Rounds float32 to bfloat16 bits (round to nearest even), as torch does. */
export function bf16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return 0x7fc0; // NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encodes float32 values in a float dtype's little-endian bytes. */
export function fromFloat32(values: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  const out = new Uint8Array(values.length * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'F32') view.setFloat32(i * 4, values[i], true);
    else if (dtype === 'F16') setFloat16(view, i * 2, values[i], true);
    else view.setUint16(i * 2, bf16Bits(values[i]), true);
  }
  return out;
}
