// Argument parsers that turn bad values into UsageError (exit 2, one line).
import { existsSync, statSync } from 'node:fs';
import { UsageError } from './errors.js';

export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${value}"`);
    return n;
  };
}

export function existingDir(flag: string, path: string): string {
  if (!existsSync(path)) throw new UsageError(`${flag}: ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new UsageError(`${flag}: ${path} is not a directory`);
  return path;
}
