// Writes an output directory atomically: filled in a uniquely named temporary sibling (no partial
// output on a crash, no collision between writers), marked as evoquant's, then renamed into place.
// An existing target is replaced only when it is empty or carries evoquant's marker.
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { readMarker, writeMarker, type OutputMarker } from './marker.js';
import { UnsafeOutputError } from './target.js';
import { echo } from '../../schema/echo.js';

export interface WriteOutputOptions {
  /** What the marker says the directory holds. */
  what: string;
  details?: OutputMarker['details'];
  /** Replace an existing evoquant output; with false an existing target wins and false is returned. */
  replace: boolean;
}

/** Creates missing parents one level at a time: recursive mkdir spins on some filesystems (/proc). */
export function ensureDirectory(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let head = abs;
  while (!isDir(head)) {
    missing.push(head);
    const parent = dirname(head);
    if (parent === head) break;
    head = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && isDir(d)) continue;
      throw new UnsafeOutputError(`cannot create directory ${echo(d)} (${(err as NodeJS.ErrnoException).code})`);
    }
  }
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

type Existing = 'none' | 'empty' | 'evoquant-output' | 'foreign';

function existingKind(path: string): Existing {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 'none';
  }
  if (!st.isDirectory()) return 'foreign';
  if (readdirSync(path).length === 0) return 'empty';
  return readMarker(path) ? 'evoquant-output' : 'foreign';
}

/** Fills a new directory with `fill` and puts it at `target`; true when it was written. */
export function writeOutputDirectory(target: string, fill: (dir: string) => void, options: WriteOutputOptions): boolean {
  const abs = resolve(target);
  const parent = dirname(abs);
  ensureDirectory(parent);
  const tmp = join(parent, `.${basename(abs)}.tmp-${randomUUID()}`);
  mkdirSync(tmp);
  let old: string | null = null;
  try {
    fill(tmp);
    writeMarker(tmp, options.what, options.details);
    const existing = existingKind(abs);
    if (existing !== 'none' && existing !== 'empty' && !options.replace) {
      // Another writer got there first; what it wrote stays untouched.
      rmSync(tmp, { recursive: true, force: true });
      return false;
    }
    if (existing === 'foreign') throw new UnsafeOutputError(`${echo(abs)} is not empty and was not written by evoquant; left untouched`);
    if (existing === 'evoquant-output') {
      old = join(parent, `.${basename(abs)}.old-${randomUUID()}`);
      renameSync(abs, old);
    }
    // rename(2) replaces an empty directory in one step.
    renameSync(tmp, abs);
    if (old) {
      // Only what evoquant wrote is removed: the marker is checked once more on the moved copy.
      if (readMarker(old)) rmSync(old, { recursive: true, force: true });
      old = null;
    }
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (old) {
      try {
        renameSync(old, abs);
      } catch {
        // The previous output stays at its .old name rather than being lost.
      }
    }
    throw err;
  }
}
