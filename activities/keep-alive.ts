// Heartbeats that prove a worker is alive while an activity runs, whatever the activity reports
// itself. With a heartbeat timeout, a crashed worker's task is retried within seconds instead of
// after its start-to-close timeout; a healthy worker in a stage without progress callbacks is
// not mistaken for a dead one.
import { Context } from '@temporalio/activity';

/**
 * Runs `work` while re-sending its latest heartbeat every third of the heartbeat timeout (none
 * when the activity has no heartbeat timeout). A worker that dies or blocks its event loop stops
 * beating and is still detected. Until `work` beats with its own details, the previous attempt's
 * are repeated: the server keeps only the latest details, and an empty beat would erase the
 * checkpoint a resumed attempt needs.
 */
export async function withKeepAlive<T>(work: (beat: (details: unknown) => void) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let latest: unknown = ctx.info.heartbeatDetails;
  const beat = (details: unknown): void => {
    latest = details;
    ctx.heartbeat(details);
  };
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  const timer = timeoutMs ? setInterval(() => ctx.heartbeat(latest), Math.max(100, timeoutMs / 3)) : undefined;
  try {
    return await work(beat);
  } finally {
    clearInterval(timer);
  }
}

type AsyncFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

/** The same activities, each run under `withKeepAlive` (for activities that never heartbeat). */
export function keepingAlive<T extends AsyncFunctions>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (...args: never[]) => withKeepAlive(() => fn(...args));
  }
  return wrapped as T;
}
