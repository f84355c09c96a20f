// Finds (or builds) the `temporal` CLI whose `server start-dev` is our local Temporal.
// Order: $TEMPORAL_CLI, PATH, the project cache, an earlier download, a `go install` into the
// cache, and finally a marker telling the caller to let @temporalio/testing download it (needs internet).
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolsDir } from './paths.js';
import { isAlive } from './processes.js';

/** v1.6.0+ carry a replace directive and cannot be `go install`ed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const cachedCliPath: string = path.join(toolsDir, 'bin', 'temporal');
/** Where temporalCliPath lets @temporalio/testing download its CLI when nothing else exists. */
export const downloadDir: string = path.join(toolsDir, 'download');
/** Makes sure a CLI exists (building or downloading it, with progress); `npm test` runs it before ava. */
export const ENSURE_SCRIPT = 'node --import tsx scripts/ensure-temporal-cli.ts';

export type TemporalCliSource = 'env' | 'path' | 'cache' | 'download' | 'go-install';
export type TemporalCli =
  | { kind: 'path'; path: string; source: TemporalCliSource }
  /** Nothing local: the caller should let @temporalio/testing download a CLI. */
  | { kind: 'download' };

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Try `go install` when nothing is found (default true). It takes minutes the first time. */
  build?: boolean;
  /** Where the binary is cached (default `.tools/bin/temporal`). */
  cachePath?: string;
  /** Where an earlier download lies (default `.tools/download`). */
  downloadDir?: string;
  log?: (line: string) => void;
}

const stderrLog = (line: string): void => {
  process.stderr.write(`[temporal-cli] ${line}\n`);
};

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** First executable named `name` on `$PATH`. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export interface InstalledOptions {
  env?: NodeJS.ProcessEnv;
  cachePath?: string;
  downloadDir?: string;
}

/**
 * The CLI already on this machine ($TEMPORAL_CLI, PATH, the cache, an earlier download), or
 * undefined. Never builds nor downloads: for callers that must not wait minutes (tests).
 */
export function installedTemporalCli(options: InstalledOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return path.resolve(fromEnv);
  }
  const cachePath = options.cachePath ?? cachedCliPath;
  return findOnPath('temporal', env) ?? (isExecutable(cachePath) ? cachePath : downloadedCli(options.downloadDir ?? downloadDir));
}

export async function resolveTemporalCli(options: ResolveOptions = {}): Promise<TemporalCli> {
  const env = options.env ?? process.env;
  const cachePath = options.cachePath ?? cachedCliPath;
  const log = options.log ?? stderrLog;

  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv !== undefined && fromEnv !== '') {
    // An explicit setting that does not work is a configuration error, not a reason to fall back.
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return { kind: 'path', path: path.resolve(fromEnv), source: 'env' };
  }
  const onPath = findOnPath('temporal', env);
  if (onPath !== undefined) return { kind: 'path', path: onPath, source: 'path' };

  // A build started by another process may be finishing: wait for it rather than racing it.
  await waitForOtherBuild(cachePath, log);
  if (isExecutable(cachePath)) return { kind: 'path', path: cachePath, source: 'cache' };
  const downloaded = downloadedCli(options.downloadDir ?? downloadDir);
  if (downloaded !== undefined) return { kind: 'path', path: downloaded, source: 'download' };

  const go = findOnPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if ((options.build ?? true) && go !== undefined) {
    await buildTemporalCli({ go, cachePath, log, env });
    return { kind: 'path', path: cachePath, source: 'go-install' };
  }
  return { kind: 'download' };
}

const lockFileFor = (cachePath: string): string => `${cachePath}.build-lock`;

function lockHolder(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForOtherBuild(cachePath: string, log: (line: string) => void): Promise<void> {
  const lockFile = lockFileFor(cachePath);
  const began = Date.now();
  let lastLog = 0;
  for (;;) {
    const holder = lockHolder(lockFile);
    if (holder === undefined || holder === process.pid) return;
    const waited = Date.now() - began;
    if (waited - lastLog >= 30_000 || lastLog === 0) {
      log(`waiting for the Temporal CLI build of pid ${holder} (${Math.round(waited / 1000)} s)`);
      lastLog = waited || 1;
    }
    await sleep(5_000);
  }
}

export interface BuildOptions {
  go: string;
  cachePath?: string;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  version?: string;
}

/**
 * `go install` the CLI into the cache folder (GOBIN). Guarded by a pid lock file so two processes
 * never build at once. Logs a progress line every 30 s: the first build compiles ~1000 packages.
 */
export async function buildTemporalCli(options: BuildOptions): Promise<string> {
  const cachePath = options.cachePath ?? cachedCliPath;
  const log = options.log ?? stderrLog;
  const version = options.version ?? TEMPORAL_CLI_VERSION;
  const binDir = path.dirname(cachePath);
  mkdirSync(binDir, { recursive: true });

  const lockFile = lockFileFor(cachePath);
  await waitForOtherBuild(cachePath, log);
  if (isExecutable(cachePath)) return cachePath;
  rmSync(lockFile, { force: true }); // stale: its holder is dead
  writeFileSync(lockFile, String(process.pid), { flag: 'wx' });

  try {
    log(`building ${TEMPORAL_CLI_MODULE}@${version} with ${options.go} into ${binDir} (several minutes the first time)`);
    const began = Date.now();
    let packages = 0;
    let tail = '';
    await new Promise<void>((resolve, reject) => {
      const child = spawn(options.go, ['install', '-v', `${TEMPORAL_CLI_MODULE}@${version}`], {
        env: { ...(options.env ?? process.env), GOBIN: binDir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const timer = setInterval(() => {
        log(`still building: ${packages} packages so far, ${Math.round((Date.now() - began) / 1000)} s`);
      }, 30_000);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        packages += chunk.split('\n').filter((l) => l !== '' && !l.startsWith('go: ')).length;
        tail = (tail + chunk).slice(-4_000);
      });
      child.once('error', (err) => {
        clearInterval(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearInterval(timer);
        if (code === 0) resolve();
        else reject(new Error(`go install failed (code ${code}, signal ${signal}):\n${tail}`));
      });
    });
    if (!isExecutable(cachePath)) throw new Error(`go install succeeded but ${cachePath} is missing`);
    log(`built ${cachePath} in ${Math.round((Date.now() - began) / 1000)} s`);
    return cachePath;
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/**
 * Turns a resolution into a binary path. For the `download` marker it lets @temporalio/testing
 * fetch its pinned CLI into `.tools/download` (one short-lived server start), then returns that
 * binary so the rest of the stack can manage it like any other. Needs internet for that case only.
 */
export async function temporalCliPath(cli: TemporalCli, dir: string = downloadDir): Promise<string> {
  if (cli.kind === 'path') return cli.path;
  mkdirSync(dir, { recursive: true });
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: dir }, ui: false },
  });
  await env.teardown();
  const found = downloadedCli(dir);
  if (found === undefined) throw new Error(`@temporalio/testing downloaded nothing usable into ${dir}`);
  return found;
}

/** The newest CLI binary that @temporalio/testing left in `dir`. */
function downloadedCli(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  return names
    .map((name) => path.join(dir, name))
    .filter((file) => path.basename(file).startsWith('temporal') && isExecutable(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}
