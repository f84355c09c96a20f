// Argument parsers that turn bad values into UsageError (exit 2, one line).
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { z } from 'zod';
import { echo } from '../../schema/echo.js';
import { CandidateId, EkgNodeId, EvolutionId } from '../../schema/ids.js';
import { UsageError } from './errors.js';

/**
 * Plain decimal digits only: "1e9", "0x10", " 5" and "5.0" are refused rather than read as numbers
 * nobody typed. `max` bounds the value where a larger one could only exhaust memory or time.
 */
export function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${echo(value)}"`);
    if (n > max) throw new UsageError(`${flag}: ${n} exceeds the maximum of ${max}`);
    return n;
  };
}

export function existingDir(flag: string, path: string): string {
  if (path.trim() === '') throw new UsageError(`${flag}: is empty; name a directory`);
  if (!existsSync(path)) throw new UsageError(`${flag}: ${echo(path)} does not exist`);
  if (!statSync(path).isDirectory()) throw new UsageError(`${flag}: ${echo(path)} is not a directory`);
  return path;
}

/** Throws UsageError `<label>: <why>` unless `value` is a valid id of `schema`. */
export function checkId(schema: z.ZodType<string>, label: string, value: unknown): void {
  const result = schema.safeParse(value);
  if (!result.success) {
    const why = result.error.issues[0]?.message ?? 'invalid id';
    const shown = typeof value === 'string' && value !== '' && result.error.issues[0]?.code === 'invalid_format' ? ` (got "${echo(value, 40)}")` : '';
    throw new UsageError(`${label}: ${why}${shown}`);
  }
}

/**
 * Ids are checked here, once, by the names commands give them, for every command: a positional
 * `<id>` is an evolution id and `<node>` an EKG node id; `--id` an evolution id and `--candidate`
 * candidate ids. Runs as commander's preAction hook, so a bad id never reaches a connection.
 */
const ID_ARGUMENTS = new Map<string, z.ZodType<string>>([
  ['id', EvolutionId],
  ['node', EkgNodeId],
  ['candidate', EkgNodeId],
]);
const ID_OPTIONS = new Map<string, z.ZodType<string>>([
  ['id', EvolutionId],
  ['candidate', CandidateId],
]);

export function checkCommandIds(command: Command): void {
  command.registeredArguments.forEach((arg, i) => {
    const schema = ID_ARGUMENTS.get(arg.name());
    if (schema === undefined) return;
    const value: unknown = command.processedArgs[i];
    for (const v of Array.isArray(value) ? value : [value]) checkId(schema, `<${arg.name()}>`, v);
  });
  const opts = command.opts<Record<string, unknown>>();
  for (const option of command.options) {
    const key = option.attributeName();
    const schema = ID_OPTIONS.get(key);
    if (schema === undefined || !Object.hasOwn(opts, key) || opts[key] === undefined) continue;
    const value = opts[key];
    for (const v of Array.isArray(value) ? value : [value]) checkId(schema, option.long ?? `--${key}`, v);
  }
}
