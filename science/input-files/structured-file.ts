// Reads a small JSON or YAML input file (a recipe, an evolution config) strictly: a regular file of at
// most 1 MiB, UTF-8, YAML with the core schema only (no !!js/* or other custom tags: an unresolved
// tag is an error, not a warning), bounded nesting. Every refusal is one line via `fail`.
import { parseDocument } from 'yaml';
import { echo } from '../../schema/echo.js';
import { InputFileError, readInputFile } from './read.js';

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
  if (file === '') throw fail(`${label}: the path is empty`);
  let bytes: Buffer;
  try {
    bytes = readInputFile(file, max);
  } catch (err) {
    if (err instanceof InputFileError) throw fail(`${label}: ${err.message}`);
    throw err;
  }
  const shown = echo(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail(`${label}: ${shown} is not UTF-8 text`);
  }
  let data: unknown;
  try {
    // Plain JSON.parse: a `__proto__` key stays an own property, which the strict schemas then name by path.
    data = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw fail(`${label}: ${shown} is not valid ${format === 'json' ? 'JSON' : 'YAML'} (${echo(firstLine(err).replace(/:$/, ''), 120)})`);
  }
  if (depthOf(data) > MAX_INPUT_DEPTH) throw fail(`${label}: ${shown} nests deeper than ${MAX_INPUT_DEPTH} levels`);
  return data;
}
