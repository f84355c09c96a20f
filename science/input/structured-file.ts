// Reads a small JSON or YAML input file (a recipe, an evolution config) strictly: a regular file of at
// most 1 MiB, UTF-8, YAML with the core schema only (no !!js/* or other custom tags: an unresolved
// tag is an error, not a warning), bounded nesting. Every refusal is one line via `fail`.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { echo } from '../../schema/echo.js';

export const MAX_INPUT_BYTES = 1024 * 1024;
/** Deeper than any recipe or config; keeps zod's recursive checks far from the stack limit. */
export const MAX_INPUT_DEPTH = 32;

export type InputFormat = 'json' | 'yaml';

export interface ReadOptions {
  /** How the error names the input: `--config`, `recipe`. */
  label: string;
  format: InputFormat;
  /** The error to throw, carrying the one-line message. */
  fail: (message: string) => Error;
  maxBytes?: number;
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] ?? '';

/** Reads at most `limit` + 1 bytes, so a file that lies about its size (/proc, a growing file) still stops. */
function readCapped(file: string, limit: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (d > MAX_INPUT_DEPTH) break;
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { schema: 'core', prettyErrors: true, uniqueKeys: true, customTags: [] });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw problem;
  return doc.toJS({ maxAliasCount: 100 });
}

/** The parsed document, or `fail(…)` naming the file and what is wrong with it. */
export function readStructuredFile(file: string, options: ReadOptions): unknown {
  const { label, format, fail } = options;
  const max = options.maxBytes ?? MAX_INPUT_BYTES;
  const shown = echo(file);
  if (file === '') throw fail(`${label}: the path is empty`);
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' || code === 'ENOTDIR' ? `${label}: ${shown} does not exist` : `${label}: cannot read ${shown} (${code ?? echo(firstLine(err))})`);
  }
  if (stat.isDirectory()) throw fail(`${label}: ${shown} is a directory, not a file`);
  // A FIFO or device would block or never end.
  if (!stat.isFile()) throw fail(`${label}: ${shown} is not a regular file`);
  if (stat.size > max) throw fail(`${label}: ${shown} is ${stat.size} bytes; input files may hold at most ${max} bytes`);
  let bytes: Buffer;
  try {
    bytes = readCapped(file, max);
  } catch (err) {
    throw fail(`${label}: cannot read ${shown} (${(err as NodeJS.ErrnoException).code ?? echo(firstLine(err))})`);
  }
  if (bytes.length > max) throw fail(`${label}: ${shown} holds more than ${max} bytes; input files may hold at most ${max} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail(`${label}: ${shown} is not UTF-8 text`);
  }
  let data: unknown;
  try {
    data = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw fail(`${label}: ${shown} is not valid ${format === 'json' ? 'JSON' : 'YAML'} (${echo(firstLine(err).replace(/:$/, ''), 120)})`);
  }
  if (depthOf(data) > MAX_INPUT_DEPTH) throw fail(`${label}: ${shown} nests deeper than ${MAX_INPUT_DEPTH} levels`);
  return data;
}
