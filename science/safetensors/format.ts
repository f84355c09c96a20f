// The safetensors container: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { InputFileError, readInputFile } from '../input-files/read.js';
import { DTYPE_BYTES, isDType, type DType } from './dtypes.js';
import { echo } from '../../schema/echo.js';
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
// Real tensors have at most a handful of dimensions; the bound keeps a hostile header cheap to check.
const MAX_DIMS = 8;

const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const HeaderEntry = z
  .object({
    dtype: z.string(),
    shape: z.array(offset).max(MAX_DIMS),
    data_offsets: z.tuple([offset, offset]),
  })
  .strict();
const Metadata = z.record(z.string(), z.string());

/** Parses a safetensors buffer; tensor data are views into it. */
export function parseSafetensors(buf: Uint8Array, source = 'buffer'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new SafetensorsFormatError(`${source}: not a valid safetensors file (${why})`);
  };
  if (buf.byteLength < 8) fail('shorter than its 8-byte header length');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > buf.byteLength) fail(`header length ${headerLen} out of range`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  } catch {
    return fail('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const base = 8 + headerLen;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  // Object.entries yields own keys only, "__proto__" included, and they go into a Map.
  for (const [name, entry] of Object.entries(header)) {
    const shownName = echo(name);
    if (name === '__metadata__') {
      const m = Metadata.safeParse(entry);
      if (!m.success) fail('__metadata__ must map strings to strings');
      metadata = Object.fromEntries(Object.entries(m.data ?? {}).filter(([k]) => k !== '__proto__'));
      continue;
    }
    const parsed = HeaderEntry.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(`tensor ${shownName}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
    }
    const e = parsed.data;
    if (!isDType(e.dtype)) return fail(`tensor ${shownName} has unsupported dtype ${echo(e.dtype)}`);
    const dtype: DType = e.dtype;
    const [start, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (start > end || end - start !== count * DTYPE_BYTES[dtype] || base + end > buf.byteLength) fail(`tensor ${shownName} has inconsistent offsets`);
    tensors.set(name, { dtype, shape: e.shape, data: buf.subarray(base + start, base + end) });
  }
  if (tensors.size === 0) fail('it holds no tensors');
  return { tensors, metadata };
}

/** Node reads at most 2 GiB into one buffer; the CPU reference executor's proxies are far smaller. */
export const MAX_SAFETENSORS_BYTES = 2 ** 31 - 1;

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readInputFile(path, MAX_SAFETENSORS_BYTES);
  } catch (err) {
    if (err instanceof InputFileError) throw new SafetensorsFormatError(err.message);
    throw err;
  }
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
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
