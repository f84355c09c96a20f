// The stack as a user runs it: `evoquant up` on a state dir, `evoquant worker …` as real child
// processes that find Temporal and Postgres through that state dir alone (no TEMPORAL_ADDRESS or
// DATABASE_URL), and `evoquant <command>` runs against it.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../engine/stack/paths.js';
import { BIN, spawnCli, type CliRun } from './cli.js';
import { bundlePath } from './engine-env.js';
import { WorkerProcess } from './worker-process.js';


/** Environment of a user who relies on the state dir: every variable that would override it is empty. */
export function stateDirEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    EVOQUANT_HOME: dir,
    TEMPORAL_ADDRESS: '',
    TEMPORAL_NAMESPACE: '',
    DATABASE_URL: '',
    EVOQUANT_TEMPORAL_TLS_CA: '',
    EVOQUANT_TEMPORAL_TLS_CERT: '',
    EVOQUANT_TEMPORAL_TLS_KEY: '',
    EVOQUANT_TEMPORAL_TLS_SERVER_NAME: '',
    ...extra,
  };
}

/** Copies the current workflow bundle into `dir`'s cache, so its workers skip webpack. */
export async function seedWorkflowBundle(dir: string): Promise<void> {
  const bundle = await bundlePath();
  mkdirSync(path.join(dir, 'cache'), { recursive: true });
  copyFileSync(bundle, path.join(dir, 'cache', path.basename(bundle)));
}

/** `evoquant args…` as a child process, killed after `timeoutMs`. */
export function evoquant(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<CliRun> {
  return spawnCli(args, { cwd: repoRoot, env, timeoutMs });
}

/** `evoquant worker args…` as a long-running child; resolves once it printed its `worker ready:` line. */
export async function startCliWorker(args: string[], env: NodeJS.ProcessEnv, name = args.join(' ')): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new WorkerProcess(child, name);
  const deadline = Date.now() + 120_000;
  while (!/^worker ready:/m.test(proc.output)) {
    if (!proc.alive() || Date.now() > deadline) {
      await proc.kill();
      throw new Error(`evoquant worker ${name} did not become ready:\n${proc.output.slice(-4_000)}`);
    }
    await sleep(50);
  }
  return proc;
}
