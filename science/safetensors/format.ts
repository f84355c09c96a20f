// The safetensors container: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { DTYPE_BYTES, isDType, type DType } from './dtypes.js';
import { FAILURE_TYPES } from '../../schema/failures.js';

export interface StoredTensor {
  dtype: DType;
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsFormatError extends Error {
  override readonly name = FAILURE_TYPES.safetensorsFormat;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Parses a safetensors buffer; tensor data are views into it. */
export function parseSafetensors(buf: Uint8Array, source = 'buffer'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new SafetensorsFormatError(`${source}: not a valid safetensors file (${why})`);
  };
  if (buf.byteLength < 8) fail('shorter than its 8-byte header length');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > buf.byteLength) fail(`header length ${headerLen} out of range`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch {
    return fail('header is not JSON');
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !isDType(e.dtype)) fail(`tensor ${name} has unsupported dtype ${String(e.dtype)}`);
    const dtype = e.dtype as DType;
    const shape = e.shape as number[];
    const [start, end] = e.data_offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * DTYPE_BYTES[dtype] || base + end > buf.byteLength) fail(`tensor ${name} has inconsistent offsets`);
    tensors.set(name, { dtype, shape, data: buf.subarray(base + start, base + end) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(new Uint8Array(readFileSync(path)), path);
}

/** Serialises tensors in name order (deterministic bytes), 8-byte aligned as the reference writer does. */
export function serializeSafetensors(file: SafetensorsFile): Uint8Array {
  const names = [...file.tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(file.metadata).length > 0) header.__metadata__ = file.metadata;
  let offset = 0;
  for (const name of names) {
    const t = file.tensors.get(name)!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const name of names) {
    const data = file.tensors.get(name)!.data;
    out.set(data, pos);
    pos += data.byteLength;
  }
  return out;
}

/** Writes atomically: a crash never leaves a half-written model behind. */
export function writeSafetensors(path: string, file: SafetensorsFile): void {
  const tmp = `${path}.tmp-${randomUUID()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, serializeSafetensors(file));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
