// The watchdog of a worker started from the state dir: the SDK's connection keeps retrying the
// address it was given, so when the embedded Temporal comes back elsewhere (its old port was taken
// while it was down), only the state file knows. This waits until the state file names another live
// server, the old address has stopped answering for `graceMs` and the new one answers.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSConfig } from '@temporalio/client';
import { probeTemporal, readTemporalState } from '../engine/stack/temporal-server.js';

export interface FollowOptions {
  stateDir: string;
  /** The address the worker is connected to now. */
  address: string;
  namespace: string;
  tls?: TLSConfig | null;
  /** How often the state file is read (default 2 s). */
  intervalMs?: number;
  /** How long the old address must have failed before the worker moves (default 5 s). */
  graceMs?: number;
}

/** Resolves with the address the worker should move to; undefined once `signal` aborts. */
export async function waitForMovedTemporal(options: FollowOptions, signal: AbortSignal): Promise<string | undefined> {
  const intervalMs = options.intervalMs ?? 2_000;
  const graceMs = options.graceMs ?? 5_000;
  const probe = { namespace: options.namespace, tls: options.tls, timeoutMs: Math.min(2_000, intervalMs) };
  let failingSince: number | undefined;
  while (!signal.aborted) {
    // Reading a small JSON file is cheap; the old address is only probed once the file disagrees.
    const recorded = readTemporalState(options.stateDir);
    if (recorded === undefined || recorded.address === options.address) {
      failingSince = undefined;
    } else if ((await probeTemporal(options.address, probe)) === undefined) {
      // Still answering where we are: not ours to leave (someone else's server on a new address).
      failingSince = undefined;
    } else {
      failingSince ??= Date.now();
      if (Date.now() - failingSince >= graceMs && (await probeTemporal(recorded.address, probe)) === undefined) {
        return signal.aborted ? undefined : recorded.address;
      }
    }
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}
