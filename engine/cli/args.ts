// Argument parsers that turn bad values into UsageError (exit 2, one line).
import { existsSync, statSync } from 'node:fs';
import { displayPath } from '../../science/input-files/display.js';
import { UsageError } from './errors.js';

/**
 * Plain decimal digits only: "1e9", "0x10", " 5" and "5.0" are refused rather than read as numbers
 * nobody typed. `max` bounds the value where a larger one could only exhaust memory or time.
 */
export function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${displayPath(value)}"`);
    if (n > max) throw new UsageError(`${flag}: ${n} exceeds the maximum of ${max}`);
    return n;
  };
}

export function existingDir(flag: string, path: string): string {
  if (path.trim() === '') throw new UsageError(`${flag}: is empty; name a directory`);
  if (!existsSync(path)) throw new UsageError(`${flag}: ${displayPath(path)} does not exist`);
  if (!statSync(path).isDirectory()) throw new UsageError(`${flag}: ${displayPath(path)} is not a directory`);
  return path;
}
