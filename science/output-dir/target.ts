// The rules an output directory must pass before any work starts. evoquant never deletes anything it
// did not create: it writes a new directory, fills an empty one, or (with --force) replaces one that
// carries its own marker. Everything else, and every place whose loss would hurt (the filesystem
// root, the home and current directories, the input model and its ancestors), is refused.
import { accessSync, constants, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { MARKER_FILE, readMarker } from './marker.js';
import { echo } from '../../schema/echo.js';
import { FAILURE_TYPES } from '../../schema/failures.js';

/** An output path that evoquant refuses to write to; the message names the flag. */
export class UnsafeOutputError extends Error {
  override readonly name = FAILURE_TYPES.unsafeOutput;
}

/** Paths evoquant must not overwrite, contain or write into (the input model, a recipe file). */
export interface ProtectedPath {
  path: string;
  /** How the message names it, e.g. "the model directory (--model)". */
  what: string;
}

export interface OutputTargetOptions {
  /** The flag named in messages (default --out). */
  flag?: string;
  /** Replace an existing evoquant output directory. */
  force?: boolean;
  protect?: readonly ProtectedPath[];
}

export interface OutputTarget {
  /** Absolute path to write. */
  path: string;
  /** What is there now: nothing, an empty directory, or a directory evoquant wrote. */
  existing: 'none' | 'empty' | 'evoquant-output';
}

// Linux PATH_MAX and NAME_MAX: longer paths fail in the kernel with ENAMETOOLONG.
const PATH_MAX = 4096;
const NAME_MAX = 255;
// Kernel filesystems: never output directories, and recursive mkdir under /proc spins forever.
const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev'];

/** child is parent or lies below it. */
export function isWithin(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The path with symlinks resolved as far as it exists; the missing tail is appended unchanged. */
export function realTarget(abs: string): string {
  const tail: string[] = [];
  let head = abs;
  for (;;) {
    try {
      return join(realpathSync.native(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return abs;
      tail.push(basename(head));
      head = parent;
    }
  }
}

function realOrSelf(path: string): string {
  try {
    return realpathSync.native(resolve(path));
  } catch {
    return resolve(path);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Checks an output directory argument; throws UnsafeOutputError naming the rule it breaks. */
export function checkOutputTarget(out: string, options: OutputTargetOptions = {}): OutputTarget {
  const flag = options.flag ?? '--out';
  const fail = (why: string): never => {
    throw new UnsafeOutputError(`${flag}: ${why}`);
  };
  if (out.trim() === '') fail('is empty; name the directory to write');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(out)) fail(`${echo(out)} contains control characters`);
  const abs = resolve(out);
  if (Buffer.byteLength(abs) > PATH_MAX || abs.split(sep).some((part) => Buffer.byteLength(part) > NAME_MAX)) fail(`${echo(out)} is too long a path`);
  const shown = echo(out);
  const real = realTarget(abs);

  if (dirname(real) === real) fail(`${shown} is the filesystem root`);
  for (const k of KERNEL_FILESYSTEMS) if (isWithin(real, k)) fail(`${shown} is under ${k}, a kernel filesystem`);
  const places: ProtectedPath[] = [
    { path: homedir(), what: 'the home directory' },
    { path: process.cwd(), what: 'the current directory' },
  ];
  for (const p of places) {
    const pr = realOrSelf(p.path);
    if (isWithin(pr, real)) fail(`${shown} ${pr === real ? 'is' : 'contains'} ${p.what}`);
  }
  for (const p of options.protect ?? []) {
    const pr = realOrSelf(p.path);
    if (isWithin(pr, real)) fail(`${shown} ${pr === real ? 'is' : 'contains'} ${p.what}`);
    if (isWithin(real, pr)) fail(`${shown} is inside ${p.what}`);
  }

  let st;
  try {
    st = lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') fail(`${shown} cannot be examined (${(err as NodeJS.ErrnoException).code})`);
  }
  if (!st) {
    // Nothing there yet: the deepest existing ancestor must be a writable directory.
    let ancestor = dirname(abs);
    while (!existsOrLink(ancestor)) ancestor = dirname(ancestor);
    if (!isDirectory(ancestor)) fail(`${echo(ancestor)} is a file, not a directory, so ${shown} cannot be created`);
    writable(ancestor, fail, shown);
    return { path: abs, existing: 'none' };
  }
  if (st.isSymbolicLink()) fail(`${shown} is a symbolic link; name the directory itself`);
  if (!st.isDirectory()) fail(`${shown} exists and is not a directory`);
  writable(dirname(abs), fail, shown);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch (err) {
    return fail(`${shown} cannot be listed (${(err as NodeJS.ErrnoException).code})`);
  }
  if (entries.length === 0) return { path: abs, existing: 'empty' };
  if (!entries.includes(MARKER_FILE) || !readMarker(abs)) {
    fail(`${shown} already exists and was not written by evoquant (no ${MARKER_FILE}); evoquant replaces only its own output directories, even with --force`);
  }
  if (!options.force) fail(`${shown} already exists (pass --force to replace it)`);
  return { path: abs, existing: 'evoquant-output' };
}

function existsOrLink(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function writable(dir: string, fail: (why: string) => never, shown: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    fail(`${shown} cannot be written: ${echo(dir)} is not writable (${(err as NodeJS.ErrnoException).code})`);
  }
}
