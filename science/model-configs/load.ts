// Model lookup: a shipped name (`qwen3-235b-a22b`, also `Qwen/Qwen3-235B-A22B`) or a path to a
// HF config.json (or to the folder holding one).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidModelConfigError, UnknownModelError, type ModelArchitecture } from '../../schema/model-config.js';
import { normaliseModelConfig } from './normalise.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Shipped configs, reproduced verbatim from the Hugging Face model repositories. */
const SHIPPED: Readonly<Record<string, string>> = {
  'qwen3-235b-a22b': 'qwen3-235b-a22b.json',
  'qwen3-30b-a3b': 'qwen3-30b-a3b.json',
};

export function shippedModelNames(): string[] {
  return Object.keys(SHIPPED).sort();
}

function shippedKey(name: string): string | undefined {
  const key = name.trim().toLowerCase().replace(/^qwen\//, '');
  return key in SHIPPED ? key : undefined;
}

/** Reads and normalises a config.json; the architecture is named after its folder (or file). */
export function loadModelConfigFile(path: string, name?: string): ModelArchitecture {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'config.json') : path;
  const label = name ?? (basename(file) === 'config.json' ? basename(dirname(file)) : basename(file).replace(/\.json$/, ''));
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InvalidModelConfigError(label, '(file)', `cannot read ${file}: ${reason}`);
  }
  return normaliseModelConfig(raw, label);
}

/** A shipped model by name, or a config.json by path; UnknownModelError when it is neither. */
export function loadModelConfig(nameOrPath: string): ModelArchitecture {
  const key = shippedKey(nameOrPath);
  if (key) return loadModelConfigFile(join(HERE, SHIPPED[key]), key);
  if (existsSync(nameOrPath)) return loadModelConfigFile(nameOrPath);
  throw new UnknownModelError(nameOrPath, shippedModelNames());
}
