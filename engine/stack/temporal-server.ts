// The local Temporal: `temporal server start-dev` on a SQLite file under the state dir, so workflow
// histories survive a restart. Attached servers die with this process; detached ones (for
// `evoquant up`) outlive it and are found again through `<stateDir>/temporal.json`. A server that
// crashed comes back on the address its state file recorded: workers and clients still hold it.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type TLSConfig } from '@temporalio/client';
import type { JsonValue } from '../../schema/db.js';
import { stateDir as defaultStateDir } from './paths.js';
import { freePort, freePortWithOffsets, isPortFree, isPortOpen } from './ports.js';
import { isAliveAs, signalOnExit, stopProcess, type StopOutcome } from './processes.js';
import { readState, removeState, TemporalState, temporalStateFile, writeState } from './state-file.js';
import { resolveTemporalCli, temporalCliPath } from './temporal-cli.js';

export type TemporalLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'never';

export interface TemporalServerOptions {
  /** Holds temporal.db, temporal.log and temporal.json. Default: `stateDir()`. */
  stateDir?: string;
  /** SQLite file; default `<stateDir>/temporal.db`. */
  dbFile?: string;
  /** Frontend gRPC port; default a free port p with p+1000 free for the UI. */
  port?: number;
  /** Web UI port; default port+1000. */
  uiPort?: number;
  /** Serve the Web UI on port+1000 (default true). Tests turn it off to start faster. */
  ui?: boolean;
  namespace?: string;
  logLevel?: TemporalLogLevel;
  /** `--dynamic-config-value K=V` pairs; values are JSON-encoded. */
  dynamicConfig?: Record<string, JsonValue>;
  /** Anything else to pass to `start-dev`. */
  extraArgs?: string[];
  /** attached (default): killed when this process exits. detached: survives it, own process group. */
  mode?: 'attached' | 'detached';
  /** The CLI binary; default resolved by `resolveTemporalCli()`. */
  cli?: string;
  readyTimeoutMs?: number;
  /** When the state dir already has a live server: return it (default) or fail. */
  reuse?: boolean;
}

const HOST = '127.0.0.1';
const UI_OFFSET = 1000;

/** How a server whose process had died was brought back (see `TemporalServer.recovered`). */
export interface TemporalRecovery {
  /** The pid and address the state file recorded. */
  previousPid: number;
  previousAddress: string;
  /** False when the recorded port was taken by something else and a new one was picked (and recorded). */
  sameAddress: boolean;
}

/** A running (or stopped) dev server of one state dir. `restart()` keeps port, db file and address. */
export class TemporalServer {
  private unregisterExit: () => void = () => undefined;

  private constructor(
    private current: TemporalState,
    /** The state dir it was started for. */
    readonly stateDir: string,
    /** Options it was started with, kept so `start()` after `stop()` reproduces them. */
    private readonly options: TemporalServerOptions,
    /** Set when this start replaced a server that had died without `stop()` (a crash, a SIGKILL). */
    readonly recovered?: TemporalRecovery,
  ) {}

  /** Starts a server for `options.stateDir`, adopts the one already running there, or brings back a crashed one. */
  static async start(options: TemporalServerOptions = {}): Promise<TemporalServer> {
    const dir = path.resolve(options.stateDir ?? defaultStateDir());
    mkdirSync(dir, { recursive: true });
    const existing = readTemporalState(dir);
    if (existing !== undefined) {
      if (options.reuse === false) throw new Error(`a Temporal server (pid ${existing.pid}) already runs for ${dir}`);
      await waitForTemporal(existing.address, {
        namespace: existing.namespace,
        timeoutMs: options.readyTimeoutMs ?? 60_000,
        pid: existing.pid,
      });
      return new TemporalServer(existing, dir, options);
    }
    // A state file whose process is gone: the server crashed. Same db file, so same address.
    const crashed = readState(temporalStateFile(dir), TemporalState);
    if (crashed !== undefined && options.port === undefined && path.resolve(options.dbFile ?? crashed.dbFile) === crashed.dbFile) {
      const ui = options.ui ?? crashed.uiPort !== null;
      const state = await launch(dir, {
        ...options,
        ui,
        port: await reusablePort(crashed.port, ui ? [UI_OFFSET] : []),
        uiPort: ui && crashed.uiPort !== null && (await isPortFree(crashed.uiPort)) ? crashed.uiPort : undefined,
        dbFile: crashed.dbFile,
        namespace: options.namespace ?? crashed.namespace,
        // The crashed server's dynamic config, unless the caller brings its own.
        extraArgs: options.extraArgs ?? (options.dynamicConfig === undefined ? crashed.extraArgs : undefined),
      });
      const server = new TemporalServer(state, dir, options, {
        previousPid: crashed.pid,
        previousAddress: crashed.address,
        sameAddress: state.address === crashed.address,
      });
      server.watch();
      return server;
    }
    const server = new TemporalServer(await launch(dir, options), dir, options);
    server.watch();
    return server;
  }

  get state(): TemporalState {
    return this.current;
  }

  get address(): string {
    return this.current.address;
  }

  get namespace(): string {
    return this.current.namespace;
  }

  get pid(): number {
    return this.current.pid;
  }

  isRunning(): boolean {
    return isAliveAs(this.current.pid, 'temporal');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; removes the state file. */
  async stop(graceMs = 10_000): Promise<StopOutcome> {
    this.unregisterExit();
    this.unregisterExit = () => undefined;
    return stopTemporalServerState(this.current, this.stateDir, graceMs);
  }

  /** Starts again after stop(): same port, db file and arguments, so histories and `address` persist. */
  async start(): Promise<void> {
    if (this.isRunning()) return;
    this.current = await launch(this.stateDir, {
      ...this.options,
      port: this.current.port,
      uiPort: this.current.uiPort ?? undefined,
      ui: this.current.uiPort !== null,
      dbFile: this.current.dbFile,
      cli: this.current.cli,
      namespace: this.current.namespace,
      extraArgs: this.current.extraArgs,
      dynamicConfig: undefined, // already folded into extraArgs
    });
    this.watch();
  }

  async restart(graceMs = 10_000): Promise<void> {
    await this.stop(graceMs);
    await this.start();
  }

  private watch(): void {
    // Attached: do not let a crashed test leave the server behind.
    this.unregisterExit = this.options.mode === 'detached' ? () => undefined : signalOnExit(this.current.pid, 'SIGTERM');
  }
}

/** Starts (or adopts) the dev server of `options.stateDir`. */
export function startTemporalServer(options: TemporalServerOptions = {}): Promise<TemporalServer> {
  return TemporalServer.start(options);
}

/** The recorded server of `dir`, if its process is still alive. */
export function readTemporalState(dir: string = defaultStateDir()): TemporalState | undefined {
  const state = readState(temporalStateFile(dir), TemporalState);
  return state !== undefined && isAliveAs(state.pid, 'temporal') ? state : undefined;
}

/**
 * `preferred` when it is free; otherwise a new port (the caller records it in the state file, which
 * is where workers started from the state dir look for the moved server). A killed server's
 * connections can hold its port for a few seconds after it died (FIN-WAIT with unsent data): that is
 * waited out; a port where something else listens is given up at once.
 */
async function reusablePort(preferred: number, offsets: readonly number[], drainMs = 45_000): Promise<number> {
  const deadline = Date.now() + drainMs;
  for (;;) {
    if (await isPortFree(preferred)) return preferred;
    if ((await isPortOpen(preferred)) || Date.now() >= deadline) return freePortWithOffsets(offsets);
    await sleep(250);
  }
}

/**
 * The workflow histories are nobody else's to read. The server must create temporal.db itself (it
 * only lays out the schema in a file that does not exist yet), so it runs under umask 077, and
 * SQLite gives the -wal/-shm siblings the database file's mode. chmod fixes files an older version
 * left world-readable.
 */
function protectDatabaseFiles(dbFile: string): void {
  for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/** spawn() forks synchronously, so the child inherits `mask` and nothing else in this process sees it. */
function spawnWithUmask(mask: number, ...args: Parameters<typeof spawn>): ReturnType<typeof spawn> {
  const previous = process.umask(mask);
  try {
    return spawn(...args);
  } finally {
    process.umask(previous);
  }
}

/** Spawns `start-dev`, waits until the frontend answers, records the state file. */
async function launch(dir: string, options: TemporalServerOptions): Promise<TemporalState> {
  const namespace = options.namespace ?? 'default';
  const cli = options.cli ?? (await temporalCliPath(await resolveTemporalCli()));
  const ui = options.ui ?? true;
  const port = options.port ?? (await freePortWithOffsets(ui ? [UI_OFFSET] : []));
  // The UI port is not part of the address workers hold: when port+1000 is taken, any free one does.
  const uiPort = ui ? (options.uiPort ?? ((await isPortFree(port + UI_OFFSET)) ? port + UI_OFFSET : await freePort())) : null;
  const dbFile = path.resolve(options.dbFile ?? path.join(dir, 'temporal.db'));
  const logFile = path.join(dir, 'temporal.log');
  mkdirSync(path.dirname(dbFile), { recursive: true });
  protectDatabaseFiles(dbFile);
  const extraArgs = [
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
    ...(options.extraArgs ?? []),
  ];
  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', HOST,
    '--port', String(port),
    ...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]),
    '--namespace', namespace,
    '--log-level', options.logLevel ?? 'warn',
    ...extraArgs,
  ];

  const logFd = openSync(logFile, 'a', 0o600);
  let pid: number;
  try {
    const child = spawnWithUmask(0o077, cli, args, { detached: options.mode === 'detached', stdio: ['ignore', logFd, logFd] });
    pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', reject);
    });
    // Never let the server hold this process open; its lifetime is managed explicitly.
    child.unref();
  } finally {
    closeSync(logFd);
  }

  try {
    await waitForTemporal(`${HOST}:${port}`, { namespace, timeoutMs: options.readyTimeoutMs ?? 60_000, pid, logFile });
  } catch (err) {
    await stopProcess(pid, { graceMs: 2_000 });
    throw err;
  }
  const state: TemporalState = {
    pid,
    port,
    uiPort,
    address: `${HOST}:${port}`,
    namespace,
    dbFile,
    logFile,
    cli,
    extraArgs,
    startedAt: new Date().toISOString(),
  };
  writeState(temporalStateFile(dir), state);
  return state;
}

/** Stops the server recorded in `dir` (for `evoquant down`); 'not-running' when there is none. */
export async function stopTemporalServer(dir: string = defaultStateDir(), graceMs = 10_000): Promise<StopOutcome> {
  const state = readState(temporalStateFile(dir), TemporalState);
  if (state === undefined) return 'not-running';
  return stopTemporalServerState(state, dir, graceMs);
}

async function stopTemporalServerState(state: TemporalState, dir: string, graceMs: number): Promise<StopOutcome> {
  const outcome = isAliveAs(state.pid, 'temporal') ? await stopProcess(state.pid, { graceMs }) : 'not-running';
  removeState(temporalStateFile(dir));
  return outcome;
}

export interface WaitOptions {
  namespace?: string;
  timeoutMs?: number;
  /** Fail fast when this process dies while we wait. */
  pid?: number;
  /** Quoted in the error when the server dies or times out. */
  logFile?: string;
  /** TLS towards the frontend (a remote or proxied server; the dev server itself speaks plain gRPC). */
  tls?: TLSConfig | null;
}

/** Resolves once the frontend answers DescribeNamespace, i.e. the server can take workflows. */
export async function waitForTemporal(address: string, options: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (options.pid !== undefined && !isAliveAs(options.pid, 'temporal')) {
      throw new Error(`Temporal server (pid ${options.pid}) exited during startup${logTail(options.logFile)}`);
    }
    const failure = await probeTemporal(address, options);
    if (failure === undefined) return;
    if (Date.now() >= deadline) {
      throw new Error(`Temporal at ${address} not ready: ${failure}${logTail(options.logFile)}`);
    }
    await sleep(200);
  }
}

/** One DescribeNamespace round trip: undefined when the server answers, else why it did not. */
export async function probeTemporal(
  address: string,
  options: { namespace?: string; tls?: TLSConfig | null; timeoutMs?: number } = {},
): Promise<string | undefined> {
  let connection: Connection | undefined;
  try {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const open = await Connection.connect({ address, tls: options.tls ?? undefined, connectTimeout: timeoutMs });
    connection = open;
    // A port held by something that accepts TCP but never answers gRPC must not hang the probe.
    await open.withDeadline(Date.now() + timeoutMs, () => open.workflowService.describeNamespace({ namespace: options.namespace ?? 'default' }));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

function logTail(logFile: string | undefined): string {
  if (logFile === undefined) return '';
  try {
    return `\n--- ${logFile} (tail) ---\n${readFileSync(logFile, 'utf8').slice(-2_000)}`;
  } catch {
    return '';
  }
}
