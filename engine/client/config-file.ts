// Reads an evolution config file (YAML or JSON) and validates it against the zod contract,
// turning the first problem into one line that names the field: `config.target.gpus: …`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { EvolutionConfig } from '../../schema/evolution-config.js';
import { InvalidConfigError } from './errors.js';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** `config.target.gpus`, `config.seedRecipes[1].name`. */
export function fieldPath(path: readonly PathKey[]): string {
  let out = 'config';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

/** A union reports "Invalid input"; the branch whose first issue went deepest says what is wrong. */
function deepest(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  let best: Issue = issue;
  let depth = -1;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first === undefined) continue;
    const inner = deepest(first);
    // Branch issues carry paths relative to the union itself.
    const candidate = { ...inner, path: [...issue.path, ...inner.path] } as Issue;
    if (candidate.path.length > depth) {
      best = candidate;
      depth = candidate.path.length;
    }
  }
  return best;
}

export function describeIssue(raw: Issue): string {
  const issue = deepest(raw);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    return keys.length === 1
      ? `${fieldPath([...issue.path, keys[0]!])}: unknown field`
      : `${fieldPath(issue.path)}: unknown fields ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${fieldPath(issue.path)}: ${issue.message}`;
}

/** Validates parsed data; InvalidConfigError names the first field at fault. */
export function parseEvolutionConfig(data: unknown): EvolutionConfig {
  const result = EvolutionConfig.safeParse(data);
  if (!result.success) throw new InvalidConfigError(describeIssue(result.error.issues[0]!));
  return result.data;
}

/** Reads `file` (YAML by .yaml/.yml, JSON by .json, otherwise YAML, a superset of JSON) and validates it. */
export function loadEvolutionConfigFile(file: string): EvolutionConfig {
  if (!existsSync(file)) throw new InvalidConfigError(`--config: ${file} does not exist`);
  if (!statSync(file).isFile()) throw new InvalidConfigError(`--config: ${file} is not a file`);
  const text = readFileSync(file, 'utf8');
  const json = /\.json$/i.test(file);
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InvalidConfigError(`--config: ${file} is not valid ${json ? 'JSON' : 'YAML'} (${reason})`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidConfigError(`--config: ${file} must hold a mapping of config fields`);
  }
  return parseEvolutionConfig(data);
}
