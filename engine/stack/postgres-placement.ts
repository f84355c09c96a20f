// Where the files that the postgres OS user must reach live. As root, Postgres runs as `postgres`,
// which cannot traverse a checkout under /root (0700) or a `mktemp -d` dir. Then its data dir (and
// if need be a copy of the binaries) go under /var/lib/evoquant: durable, unlike /tmp. The choice
// is recorded in the state dir, so `down` and the next `up` find the same data again.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { canAccessAs, type OsUser } from './os-user.js';
import { binariesIn, type PostgresBinaries } from './postgres-binaries.js';
import { PostgresLocation, postgresLocationFile, readState, removeState, writeState } from './state-file.js';

/** Parent of every relocated data dir and staged binaries copy. */
export const SHARED_BASE = '/var/lib/evoquant';

/** Written into each folder evoquant creates under SHARED_BASE: only such folders are ever removed. */
const OWNER_FILE = 'evoquant-owner.json';
const Owner = z.object({ createdBy: z.literal('evoquant'), createdFor: z.string() });

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** The durable place for the Postgres files of `stateDir` when the postgres user cannot reach it. */
export function relocatedPostgresRoot(stateDir: string): string {
  return path.join(SHARED_BASE, shortHash(canonical(stateDir)), 'postgres');
}

/** The Postgres root of `stateDir` as recorded so far (no side effects): the relocated one, else `<stateDir>/postgres`. */
export function recordedPostgresRoot(stateDir: string): string {
  return readState(postgresLocationFile(stateDir), PostgresLocation)?.rootDir ?? path.join(stateDir, 'postgres');
}

/**
 * The root of the Postgres files of `stateDir` (data/, log, credentials), created where needed:
 * `<stateDir>/postgres`, unless we are root (Postgres then runs as `runAs`) and that user cannot
 * traverse the state dir; then a folder under SHARED_BASE, announced once through `log`.
 * A cluster already in `<stateDir>/postgres` is never moved.
 */
export function placePostgresRoot(stateDir: string, runAs: OsUser | undefined, log: (line: string) => void): string {
  const recorded = readState(postgresLocationFile(stateDir), PostgresLocation);
  if (recorded !== undefined) {
    if (runAs !== undefined && !existsSync(recorded.rootDir)) createRelocatedRoot(recorded.rootDir, stateDir, runAs, log);
    return recorded.rootDir;
  }
  const local = path.join(stateDir, 'postgres');
  if (runAs === undefined || existsSync(path.join(local, 'data', 'PG_VERSION')) || canAccessAs(runAs, stateDir, 'x')) return local;
  const root = relocatedPostgresRoot(stateDir);
  createRelocatedRoot(root, stateDir, runAs, log);
  writeState(postgresLocationFile(stateDir), { rootDir: root, createdAt: new Date().toISOString() } satisfies PostgresLocation);
  return root;
}

function createRelocatedRoot(root: string, stateDir: string, runAs: OsUser, log: (line: string) => void): void {
  const owned = path.dirname(root);
  mkdirTraversable(SHARED_BASE);
  const owner = readOwner(owned);
  if (owner === undefined) {
    if (existsSync(owned)) throw new Error(`${owned} exists but evoquant did not create it; move it away`);
    mkdirTraversable(owned);
    writeOwner(owned, stateDir);
  } else if (owner !== canonical(stateDir)) {
    throw new Error(`${owned} holds the Postgres data of ${owner}, not of ${stateDir}`);
  }
  if (!existsSync(root)) {
    mkdirSync(root, { mode: 0o700 });
    chmodSync(root, 0o700); // mkdir's mode is masked by the umask
    chownSync(root, runAs.uid, runAs.gid);
  }
  log(`Postgres data is in ${root} (OS user ${runAs.name} cannot reach ${stateDir})`);
}

/**
 * Removes the relocated Postgres files of `stateDir` and their record, only when evoquant created
 * them for this state dir. For throwaway state dirs (tests); `down` keeps data. True when removed.
 */
export function removeRelocatedPostgres(stateDir: string): boolean {
  const recorded = readState(postgresLocationFile(stateDir), PostgresLocation);
  if (recorded === undefined) return false;
  const owned = path.dirname(recorded.rootDir);
  if (path.dirname(owned) !== SHARED_BASE || readOwner(owned) !== canonical(stateDir)) return false;
  rmSync(owned, { recursive: true, force: true });
  removeState(postgresLocationFile(stateDir));
  return true;
}

/** `"`, `$`, backquote, backslash and newlines keep their meaning inside the double quotes initdb puts paths in. */
export function isShellSafePath(file: string): boolean {
  return !/["$`\\\n\r]/.test(file);
}

/**
 * Binaries that `runAs` can execute and that initdb can pass through its shell: `bins` itself, or
 * (as root) a copy of its native/ folder under SHARED_BASE, made once per package version and path.
 */
export function reachableBinaries(bins: PostgresBinaries, runAs: OsUser | undefined): PostgresBinaries {
  const safe = isShellSafePath(bins.root);
  if (runAs === undefined) {
    if (safe) return bins;
    throw new Error(`the Postgres binaries path ${bins.root} contains one of " $ \` \\, which initdb passes through /bin/sh; move the checkout`);
  }
  if (safe && canAccessAs(runAs, bins.postgres, 'x') && canAccessAs(runAs, bins.initdb, 'x')) return bins;
  return stageBinaries(bins);
}

/** Where reachableBinaries copies the binaries of package root `root`. */
export function stagedBinariesDir(root: string): string {
  return path.join(SHARED_BASE, `postgres-${packageVersion(root)}-${shortHash(canonical(root))}`);
}

function stageBinaries(bins: PostgresBinaries): PostgresBinaries {
  const target = stagedBinariesDir(bins.root);
  const staged = binariesIn(target);
  if (existsSync(staged.postgres)) return staged;
  mkdirTraversable(SHARED_BASE);
  // Copy aside, then rename: a concurrent or interrupted copy never looks complete.
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    cpSync(path.join(bins.root, 'native'), path.join(tmp, 'native'), { recursive: true, verbatimSymlinks: true });
    writeOwner(tmp, bins.root);
    makeWorldReadable(tmp);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(staged.postgres)) return staged; // another process won the race
    throw new Error(`cannot copy the Postgres binaries to ${target}: ${(err as Error).message}`);
  }
  return staged;
}

function packageVersion(root: string): string {
  try {
    const { version } = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')));
    return version.replace(/[^A-Za-z0-9.+-]/g, '_');
  } catch {
    return 'unknown';
  }
}

/** Dirs 0755, files readable by all and executable by all where executable by the owner. */
function makeWorldReadable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWorldReadable(file);
    else if (entry.isFile()) {
      const mode = statSync(file).mode & 0o777;
      chmodSync(file, mode | 0o444 | (mode & 0o100 ? 0o555 : 0));
    }
  }
}

function mkdirTraversable(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
}

function readOwner(dir: string): string | undefined {
  try {
    return Owner.parse(JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8'))).createdFor;
  } catch {
    return undefined;
  }
}

function writeOwner(dir: string, createdFor: string): void {
  writeFileSync(path.join(dir, OWNER_FILE), `${JSON.stringify({ createdBy: 'evoquant', createdFor: canonical(createdFor) } satisfies z.infer<typeof Owner>)}\n`, { mode: 0o644 });
}
