// Model lookup: a shipped name (`qwen3-235b-a22b`, also `Qwen/Qwen3-235B-A22B`) or a path to a
// HF config.json (or to the folder holding one).
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidModelConfigError, UnknownModelError, type ModelArchitecture } from '../../schema/model-config.js';
import { ForbiddenKeyError, parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';
import { normaliseModelConfig } from './normalise.js';
import { echo } from '../../schema/echo.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Shipped configs, reproduced verbatim from the Hugging Face model repositories. */
// A Map, not an object: a user's "constructor" or "__proto__" must not find Object.prototype.
const SHIPPED: ReadonlyMap<string, string> = new Map([
  ['qwen3-235b-a22b', 'qwen3-235b-a22b.json'],
  ['qwen3-30b-a3b', 'qwen3-30b-a3b.json'],
  // Dense long-context targets (issue 10): meta-llama/Llama-3.1-70B and Qwen/Qwen2.5-72B.
  ['llama-3.1-70b', 'llama-3.1-70b.json'],
  ['qwen2.5-72b', 'qwen2.5-72b.json'],
]);

/** Real config.json files are a few KiB; a larger one is not a model config. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export function shippedModelNames(): string[] {
  return [...SHIPPED.keys()].sort();
}

/** Reads and normalises a config.json; the architecture is named after its folder (or file). */
export function loadModelConfigFile(path: string, name?: string): ModelArchitecture {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'config.json') : path;
  // A folder at the root (`/`) has no basename: name it by its path instead.
  const label = name ?? ((basename(file) === 'config.json' ? basename(dirname(file)) : basename(file).replace(/\.json$/, '')) || path);
  let text: string;
  try {
    text = readInputText(file, MAX_CONFIG_BYTES);
  } catch (err) {
    if (err instanceof InputFileError) throw new InvalidModelConfigError(echo(label), '(file)', err.message);
    throw err;
  }
  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (err instanceof ForbiddenKeyError) throw new InvalidModelConfigError(echo(label), '__proto__', reason);
    throw new InvalidModelConfigError(echo(label), '(file)', `cannot read ${echo(file)}: ${echo(reason)}`);
  }
  return normaliseModelConfig(raw, echo(label));
}

/** A shipped model by name, or a config.json by path; UnknownModelError when it is neither. */
export function loadModelConfig(nameOrPath: string): ModelArchitecture {
  const key = nameOrPath.trim().toLowerCase().replace(/^(qwen|meta-llama)\//, '');
  const shipped = SHIPPED.get(key);
  if (shipped) return loadModelConfigFile(join(HERE, shipped), key);
  if (existsSync(nameOrPath)) return loadModelConfigFile(nameOrPath);
  throw new UnknownModelError(nameOrPath, shippedModelNames());
}
