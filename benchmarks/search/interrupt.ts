// Ctrl-C (or SIGTERM) in the middle of a run: stop what this benchmark started — its own child
// processes, by their pids, and the stack of the engine run in flight — then exit 130.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void>>();
let installed = false;
let interrupted = false;

/** True once SIGINT or SIGTERM arrived: the cleanup runs and then exits the process. */
export const isInterrupted = (): boolean => interrupted;

function install(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: NodeJS.Signals): void => {
    interrupted = true;
    process.stderr.write(`bench:search: ${signal}, stopping what it started…\n`);
    void (async () => {
      for (const fn of cleanups) await fn().catch((err: unknown) => process.stderr.write(`  cleanup: ${String(err)}\n`));
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      process.exit(130);
    })();
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

/** Tracks a child until it exits. */
export function trackChild<T extends ChildProcess>(child: T): T {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs `fn` on interruption; the returned function unregisters it. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  install();
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}
