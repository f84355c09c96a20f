// Long-running workers as `evoquant worker control|gpu` runs them: wait for Temporal, create the
// worker (workers/*.ts), announce readiness in one line, serve until SIGINT/SIGTERM, shut down
// cleanly (in-flight activities are cancelled and retried elsewhere by Temporal). A worker of the
// embedded stack follows its state file when Temporal comes back on another address.
import { setTimeout as sleep } from 'node:timers/promises';
import { DefaultLogger, Runtime, type LogLevel, type Worker } from '@temporalio/worker';
import type { ChaosPolicy } from '../science/executor/chaos.js';
import { createDb } from '../engine/db/connection.js';
import { migrateToLatest } from '../engine/db/migrate.js';
import { CONTROL_TASK_QUEUE } from '../schema/workflow-contracts.js';
import { readTemporalState, waitForTemporal } from '../engine/stack/temporal-server.js';
import { createControlWorker } from './control-worker.js';
import { createGpuWorker } from './gpu-worker.js';
import { waitForMovedTemporal, type FollowOptions } from './follow-stack.js';
import type { ExecutorKind } from './torch-env.js';
import { requireDatabaseUrl, type Endpoints } from '../engine/client/connection.js';

export interface ReadyInfo {
  role: 'control' | 'gpu';
  taskQueue: string;
  /** Concurrent evaluations (GPU workers); null for the control worker, whose work is short. */
  slots: number | null;
  identity: string;
  temporalAddress: string;
  namespace: string;
  /** GPU workers: whether checkpoint requests run here (torch) or only the proxy (reference). */
  executor?: ExecutorKind;
}

export interface LaunchedWorker {
  worker: Worker;
  ready: ReadyInfo;
  /** Releases connections (and the database pool) after the worker stopped. */
  close(): Promise<void>;
}

/** `worker ready: gpu-cpu (1 slot) as gpu-cpu@host/123 on 127.0.0.1:7233` — what tests and operators wait for. */
export function readyLine(info: ReadyInfo): string {
  // Which executor runs quantize/evaluate: the proxy always goes to the reference executor's CPU kernels.
  const executor = info.executor === 'torch' ? 'torch executor for checkpoints, reference executor for the proxy' : 'reference executor';
  const role = info.slots === null ? ' (workflows, propose/compile/record)' : ` (${info.slots} slot${info.slots === 1 ? '' : 's'}, ${executor})`;
  return `worker ready: ${info.taskQueue}${role} as ${info.identity} on ${info.temporalAddress}`;
}

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK logs every state change at INFO; a CLI worker's own lines (ready, stopped) should stand
 * out, so it logs from WARN unless EVOQUANT_LOG_LEVEL says otherwise. Must run before the first
 * connection creates the default runtime; a second call is a no-op.
 */
export function installWorkerRuntime(env: NodeJS.ProcessEnv = process.env): void {
  const wanted = (env.EVOQUANT_LOG_LEVEL ?? 'WARN').toUpperCase();
  const level = LOG_LEVELS.find((l) => l === wanted) ?? 'WARN';
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // Already installed (or instantiated by an earlier connection): keep it.
  }
}

/** Compose starts workers and Temporal together: give the server time to come up instead of failing. */
async function awaitTemporal(endpoints: Endpoints, timeoutMs: number): Promise<void> {
  await waitForTemporal(endpoints.temporalAddress, { namespace: endpoints.namespace, tls: endpoints.tls, timeoutMs });
}

export interface ControlLaunchOptions {
  identity?: string;
  /** Migrate the database first (default true: a production stack has nobody else to do it). */
  migrate?: boolean;
  waitTimeoutMs?: number;
}

export async function launchControlWorker(endpoints: Endpoints, options: ControlLaunchOptions = {}): Promise<LaunchedWorker> {
  const databaseUrl = requireDatabaseUrl(endpoints);
  installWorkerRuntime();
  await awaitTemporal(endpoints, options.waitTimeoutMs ?? 60_000);
  if (options.migrate ?? true) {
    // The migrator takes a lock, so several control workers booting at once is safe.
    const db = createDb(databaseUrl, { max: 1, applicationName: 'evoquant-migrate' });
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
  }
  const handle = await createControlWorker({
    temporalAddress: endpoints.temporalAddress,
    namespace: endpoints.namespace,
    tls: endpoints.tls,
    databaseUrl,
    identity: options.identity,
  });
  return {
    worker: handle.worker,
    ready: {
      role: 'control',
      taskQueue: CONTROL_TASK_QUEUE,
      slots: null,
      identity: handle.worker.options.identity,
      temporalAddress: endpoints.temporalAddress,
      namespace: endpoints.namespace,
    },
    close: handle.close,
  };
}

export interface GpuLaunchOptions {
  /** `cpu` or a hardware profile id; required here (detection and fan-out happen in the caller). */
  deviceClass: string;
  slots: number;
  deviceMemoryBytes?: number;
  artifactsDir?: string;
  chaos?: ChaosPolicy | null;
  identity?: string;
  waitTimeoutMs?: number;
  executor?: ExecutorKind;
  torchMemoryCapBytes?: number | null;
}

export async function launchGpuWorker(endpoints: Endpoints, options: GpuLaunchOptions): Promise<LaunchedWorker> {
  installWorkerRuntime();
  await awaitTemporal(endpoints, options.waitTimeoutMs ?? 60_000);
  const handle = await createGpuWorker({
    temporalAddress: endpoints.temporalAddress,
    namespace: endpoints.namespace,
    tls: endpoints.tls,
    deviceClass: options.deviceClass,
    slots: options.slots,
    deviceMemoryBytes: options.deviceMemoryBytes,
    artifactsDir: options.artifactsDir,
    chaos: options.chaos ?? null,
    identity: options.identity,
    executor: options.executor,
    torchMemoryCapBytes: options.torchMemoryCapBytes,
  });
  return {
    worker: handle.worker,
    ready: {
      role: 'gpu',
      taskQueue: handle.taskQueue,
      slots: handle.slots,
      identity: handle.worker.options.identity,
      temporalAddress: endpoints.temporalAddress,
      namespace: endpoints.namespace,
      executor: handle.executor,
    },
    close: handle.close,
  };
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface ServeHooks {
  onReady?: (info: ReadyInfo) => void;
  onStopping?: (signal: NodeJS.Signals) => void;
  /** The worker now polls `info.temporalAddress`, having left `from`. */
  onMoved?: (info: ReadyInfo, from: string) => void;
  /** A relaunch at the new address failed; it is retried. */
  onMoveFailed?: (address: string, err: unknown) => void;
  onWarning?: (message: string) => void;
}

/**
 * Following the embedded stack's state file: `relaunch` builds the same worker against another
 * address. The SDK's NativeConnection cannot change address, so the worker is shut down and made
 * again in this process (same pid and identity); an activity it held is lost and retried by Temporal.
 */
export interface FollowStack extends Pick<FollowOptions, 'stateDir' | 'intervalMs' | 'graceMs'> {
  relaunch: (address: string) => Promise<LaunchedWorker>;
  /** How long the old worker may take to shut down before the new one is built anyway (default 10 s). */
  releaseMs?: number;
}

/** The follow settings for `endpoints`: only a worker whose Temporal came from the state dir follows it. */
export function followStackOf(endpoints: Endpoints, relaunch: (endpoints: Endpoints) => Promise<LaunchedWorker>): FollowStack | undefined {
  if (endpoints.source.temporal !== 'stack') return undefined;
  return { stateDir: endpoints.stateDir, relaunch: (address) => relaunch({ ...endpoints, temporalAddress: address }) };
}

/**
 * Runs the worker until a stop signal (or its own failure), then closes it. `onReady` fires once
 * polling has begun; `onStopping` when a signal arrives. Rejects if the worker fails. With `follow`,
 * a worker whose Temporal moved (see follow-stack.ts) is rebuilt at the new address.
 */
export async function serveUntilStopped(launched: LaunchedWorker, hooks: ServeHooks = {}, follow?: FollowStack): Promise<void> {
  let current: LaunchedWorker | undefined = launched;
  let stopping = false;
  const stopped = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    if (!stopping) hooks.onStopping?.(signal);
    stopping = true;
    stopped.abort();
    // The SDK's runtime may already have begun the shutdown on the same signal.
    if (current?.worker.getState() === 'RUNNING') current.worker.shutdown();
  };
  for (const s of STOP_SIGNALS) process.on(s, stop);
  try {
    let from: string | undefined;
    while (current !== undefined) {
      const { worker, ready } = current;
      const running = worker.run();
      // A signal that came while the worker was being rebuilt: serve nothing, stop now.
      if (stopping) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
      else if (from === undefined) hooks.onReady?.(ready);
      else hooks.onMoved?.(ready, from);

      const watch = new AbortController();
      const moved =
        follow === undefined
          ? new Promise<undefined>(() => undefined)
          : waitForMovedTemporal(
              { stateDir: follow.stateDir, intervalMs: follow.intervalMs, graceMs: follow.graceMs, address: ready.temporalAddress, namespace: ready.namespace },
              watch.signal,
            );
      const outcome = await Promise.race([running.then(() => undefined), moved]).finally(() => watch.abort());
      if (outcome === undefined || follow === undefined || stopping) {
        if (outcome !== undefined && worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        break;
      }
      // Temporal moved: let go of the old address (its polls fail anyway), then rebuild. A poll stuck
      // on whatever now holds the old port must not keep the worker from moving: wait a bounded time.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      const old = current;
      const releaseMs = follow.releaseMs ?? 10_000;
      if (!(await settlesWithin(running.then(() => old.close()), releaseMs))) {
        hooks.onWarning?.(`the worker on ${ready.temporalAddress} did not shut down within ${releaseMs} ms; moving on without it`);
      }
      current = undefined;
      from = ready.temporalAddress;
      current = await relaunchUntilStopped(follow, outcome, () => stopping, stopped.signal, hooks);
    }
  } finally {
    for (const s of STOP_SIGNALS) process.removeListener(s, stop);
    await current?.close().catch(() => undefined);
  }
}

/** True when `promise` settles (either way) within `ms`; the timer never outlives it. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true, () => true), sleep(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** Relaunches at `address` (then wherever the state file says) until it works or a stop signal arrives. */
async function relaunchUntilStopped(
  follow: FollowStack,
  address: string,
  isStopping: () => boolean,
  signal: AbortSignal,
  hooks: ServeHooks,
): Promise<LaunchedWorker | undefined> {
  let target = address;
  while (!isStopping()) {
    try {
      return await follow.relaunch(target);
    } catch (err) {
      hooks.onMoveFailed?.(target, err);
      await sleep(follow.intervalMs ?? 2_000, undefined, { signal }).catch(() => undefined);
      target = readTemporalState(follow.stateDir)?.address ?? target;
    }
  }
  return undefined;
}
