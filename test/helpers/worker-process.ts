// Workers as child processes, so a test can SIGKILL them mid-activity.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { repoRoot } from '../../engine/stack/paths.js';
import { isAlive, waitForExit } from '../../engine/stack/processes.js';
import type { EngineEnv } from './engine-env.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const WORKER_SCRIPT = path.join(repoRoot, 'test', 'fixtures', 'worker.ts');
const FAKE_NVIDIA_SMI = path.join(repoRoot, 'test', 'fixtures', 'nvidia-smi.sh');
/** Printed by test/fixtures/worker.ts once it polls (kept in sync by hand: importing it would start a worker). */
const READY_LINE = 'evoquant-test-worker ready';

export interface GpuWorkerArgs {
  /** Omit to let the worker probe nvidia-smi. */
  deviceClass?: string;
  deviceMemoryBytes?: number;
  artifactsDir?: string;
  chaos?: { transientRate: number; seed: number };
  identity?: string;
  /** Extra environment, e.g. a PATH with a fake nvidia-smi. */
  env?: NodeJS.ProcessEnv;
  executor?: 'torch' | 'reference';
}

export interface WorkerReady {
  kind: 'control' | 'gpu';
  taskQueue: string;
  identity: string;
  pid: number;
  deviceClass?: string;
  slots?: number;
  executor?: 'torch' | 'reference';
}

export class WorkerProcess {
  private log = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.stdout?.on('data', (b: Buffer) => (this.log += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal === null ? code : null)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get output(): string {
    return this.log;
  }

  alive(): boolean {
    return isAlive(this.pid);
  }

  /** SIGKILL: no shutdown hooks, no goodbye to Temporal, in-flight tasks are simply lost. */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful shutdown (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive()) return;
    this.child.kill('SIGTERM');
    if (!(await waitForExit(this.pid, graceMs))) await this.kill();
    await this.exited;
  }
}

function workerArgs(args: GpuWorkerArgs): string[] {
  const out: string[] = [];
  if (args.deviceClass !== undefined) out.push('--device-class', args.deviceClass);
  if (args.deviceMemoryBytes !== undefined) out.push('--device-memory-bytes', String(args.deviceMemoryBytes));
  if (args.artifactsDir !== undefined) out.push('--artifacts-dir', args.artifactsDir);
  if (args.chaos !== undefined) out.push('--chaos-rate', String(args.chaos.transientRate), '--chaos-seed', String(args.chaos.seed));
  if (args.identity !== undefined) out.push('--identity', args.identity);
  if (args.executor !== undefined) out.push('--executor', args.executor);
  return out;
}

/**
 * Starts test/fixtures/worker.ts as a child process and waits for its ready line. The test's
 * teardown kills it, so a failing test never leaves a worker polling the next test's queues.
 */
export async function startWorker(
  t: ExecutionContext,
  env: EngineEnv,
  kind: 'control' | 'gpu',
  args: GpuWorkerArgs = {},
): Promise<{ proc: WorkerProcess; ready: WorkerReady }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, kind, ...workerArgs(args)], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...args.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      DATABASE_URL: env.databaseUrl,
      EVOQUANT_HOME: env.home,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new WorkerProcess(child, `${kind}${args.identity ? ` ${args.identity}` : ''}`);
  t.teardown(() => proc.kill());
  const deadline = Date.now() + 90_000;
  for (;;) {
    const line = proc.output.split('\n').find((l) => l.startsWith(READY_LINE));
    if (line !== undefined) return { proc, ready: JSON.parse(line.slice(READY_LINE.length)) as WorkerReady };
    if (!proc.alive() || Date.now() > deadline) {
      await proc.kill();
      throw new Error(`${proc.name} worker did not become ready:\n${proc.output.slice(-4_000)}`);
    }
    await sleep(50);
  }
}

/** A PATH whose first entry holds a fake `nvidia-smi` reporting `gpus` lines (index, name, MiB). */
export function fakeNvidiaSmiPath(t: ExecutionContext, gpus: string[]): NodeJS.ProcessEnv {
  const root = makeTempDir('fake-gpu');
  t.teardown(() => removeTempDir(root));
  const dir = path.join(root, 'bin');
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'nvidia-smi');
  copyFileSync(FAKE_NVIDIA_SMI, target);
  chmodSync(target, 0o755);
  return { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_GPUS: gpus.join('\n') };
}

/** A fresh artifacts dir for the GPU workers of one test (shared by a killed worker and its successor). */
export function artifactsDir(t: ExecutionContext): string {
  const dir = makeTempDir('artifacts');
  t.teardown(() => removeTempDir(dir));
  return dir;
}
