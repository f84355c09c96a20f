// PostgreSQL refuses to run as root. When we are root, initdb and postgres run as an
// unprivileged OS user (`postgres`), created here if the system lacks it.
import { execFileSync } from 'node:child_process';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function idOf(flag: '-u' | '-g', name: string): number | undefined {
  try {
    const out = execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const n = Number.parseInt(out.trim(), 10);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export function lookupUser(name: string): OsUser | undefined {
  const uid = idOf('-u', name);
  const gid = idOf('-g', name);
  return uid === undefined || gid === undefined ? undefined : { name, uid, gid };
}

function groupExists(name: string): boolean {
  try {
    execFileSync('getent', ['group', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `user` may access `file` (`x`: search/execute, `w`: write; every parent needs search).
 * Asks the kernel by running test(1) as that user: exact, ACLs included. No shell sees the path.
 */
export function canAccessAs(user: OsUser, file: string, mode: 'x' | 'w' | 'wx'): boolean {
  const tests = mode === 'wx' ? ['-w', file, '-a', '-x', file] : [`-${mode}`, file];
  try {
    execFileSync('test', tests, { uid: user.uid, gid: user.gid, stdio: 'ignore', cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

/** The user, created as a no-login system account when missing. Needs root to create. */
export function ensureOsUser(name = 'postgres'): OsUser {
  const existing = lookupUser(name);
  if (existing !== undefined) return existing;
  if (!isRoot()) throw new Error(`OS user ${name} does not exist and only root can create it`);
  const group = groupExists(name) ? ['-g', name] : ['-U'];
  try {
    execFileSync('useradd', ['--system', ...group, '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`useradd ${name} failed: ${(err as Error).message}`);
  }
  const created = lookupUser(name);
  if (created === undefined) throw new Error(`useradd ${name} reported success but the user is missing`);
  return created;
}
