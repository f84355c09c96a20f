// Small process-control helpers for services we start outside Node (Temporal, Postgres).
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when `pid` exists and is not a zombie (a zombie has exited; only its parent has not reaped it). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== 'Z' && state !== 'X') return true;
    // A multi-threaded process (Go's Temporal) shows its leader as a zombie while its other threads
    // are still exiting and still hold its sockets: it is gone only when they are.
    return readdirSync(`/proc/${pid}/task`).some((tid) => tid !== String(pid));
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/** The process's command line, or undefined when it cannot be read (gone, or not Linux). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive and its command line mentions `needle`. Guards against acting on a
 * recycled pid read from a stale state file. Without /proc we can only trust liveness.
 */
export function isAliveAs(pid: number, needle: string): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === undefined || cmd.includes(needle);
}

/** Polls until `pid` is gone; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

export type StopOutcome = 'not-running' | 'exited' | 'killed';

/** Sends `signal` (SIGTERM by default), waits `graceMs`, then SIGKILLs. */
export async function stopProcess(
  pid: number,
  { signal = 'SIGTERM', graceMs = 10_000 }: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<StopOutcome> {
  if (!isAlive(pid)) return 'not-running';
  try {
    process.kill(pid, signal);
  } catch {
    return 'not-running';
  }
  if (await waitForExit(pid, graceMs)) return 'exited';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'exited';
  }
  await waitForExit(pid, 5_000);
  return 'killed';
}

/**
 * Signals `pid` when this Node process exits, so "attached" services do not outlive a crashed test.
 * Only synchronous work is possible in an exit handler, hence a bare signal. Returns an unregister.
 */
export function signalOnExit(pid: number, signal: NodeJS.Signals = 'SIGTERM'): () => void {
  const handler = (): void => {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  };
  process.once('exit', handler);
  return () => {
    process.removeListener('exit', handler);
  };
}
