// Reads an evolution config file (YAML or JSON) and validates it against the zod contract,
// turning the first problem into one line that names the field: `config.target.gpus: …`.
import type { z } from 'zod';
import { echo } from '../../schema/echo.js';
import { EvolutionConfig } from '../../schema/evolution-config.js';
import { describeIssue as describe, fieldPath as pathOf } from '../../schema/issues.js';
import { readStructuredFile } from '../../science/input-files/structured-file.js';
import { InvalidConfigError } from './errors.js';

const STYLE = { root: 'config', brackets: true } as const;

/** `config.target.gpus`, `config.seedRecipes[1].name`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return pathOf(path, STYLE);
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  return describe(issue, STYLE);
}

/** Validates parsed data; InvalidConfigError names the first field at fault. */
export function parseEvolutionConfig(data: unknown): EvolutionConfig {
  const result = EvolutionConfig.safeParse(data);
  if (!result.success) throw new InvalidConfigError(describeIssue(result.error.issues[0]!));
  return result.data;
}

/** Reads `file` (JSON by .json, otherwise YAML, a superset of JSON; at most 1 MiB) and validates it. */
export function loadEvolutionConfigFile(file: string): EvolutionConfig {
  const data = readStructuredFile(file, {
    label: '--config',
    format: /\.json$/i.test(file) ? 'json' : 'yaml',
    fail: (message) => new InvalidConfigError(message),
  });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidConfigError(`--config: ${echo(file)} must hold a mapping of config fields`);
  }
  return parseEvolutionConfig(data);
}
