// One GPU worker process per device on a multi-GPU machine: each child sees a single GPU
// (CUDA_VISIBLE_DEVICES) and serves one slot, so a crash or OOM takes down one device's work,
// not the machine's. The supervisor forwards stop signals and exits once every child has.
import { availableParallelism } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { DetectedGpu } from './device-probe.js';
import { repoRoot } from '../engine/stack/paths.js';

export interface FanoutOptions {
  deviceClass: string;
  gpus: readonly DetectedGpu[];
  /** Flags for every child besides --device-class, --slot and --device-memory-mb (which the supervisor sets). */
  forwardArgs: readonly string[];
  /** Explicit per-device memory; default each GPU's own. */
  deviceMemoryMb?: number;
  env?: NodeJS.ProcessEnv;
  /** Every output line of a child, tagged with its GPU index. */
  onLine: (gpu: number, line: string, stream: 'stdout' | 'stderr') => void;
  /** Once every child has reported readiness. */
  onAllReady: () => void;
}

const BIN = path.join(repoRoot, 'bin', 'evoquant.mjs');
const READY = /^worker ready:|"event":\s*"ready"/;

export function childArgs(options: FanoutOptions, gpu: DetectedGpu): string[] {
  const memoryMb = options.deviceMemoryMb ?? gpu.memoryMiB;
  return [BIN, 'worker', 'gpu', '--device-class', options.deviceClass, '--slot', String(gpu.index), '--device-memory-mb', String(memoryMb), ...options.forwardArgs];
}

/** Resolves with the exit code the supervisor should exit with: 0 after a requested stop, 1 if a child died on its own. */
export function superviseGpuWorkers(options: FanoutOptions): Promise<number> {
  const env = options.env ?? process.env;
  const children = new Map<number, ChildProcess>();
  const ready = new Set<number>();
  let stopping = false;
  let failed = false;

  return new Promise((resolve) => {
    const stopAll = (signal: NodeJS.Signals): void => {
      stopping = true;
      for (const child of children.values()) if (child.exitCode === null) child.kill(signal);
    };
    const onSignal = (signal: NodeJS.Signals): void => stopAll(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    for (const gpu of options.gpus) {
      const child = spawn(process.execPath, childArgs(options, gpu), {
        // One device per process, and a fair share of the CPU cores for its host-side kernels.
        env: { ...env, CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: String(gpu.index), EVOQUANT_THREADS: String(Math.max(1, Math.floor(availableParallelism() / options.gpus.length))) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.set(gpu.index, child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        options.onLine(gpu.index, line, 'stdout');
        if (READY.test(line) && !ready.has(gpu.index)) {
          ready.add(gpu.index);
          if (ready.size === options.gpus.length) options.onAllReady();
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => options.onLine(gpu.index, line, 'stderr'));
      child.on('exit', (code, signal) => {
        if (!stopping) {
          // One device's worker died on its own: stop the others and let the supervisor's supervisor restart us.
          failed = true;
          options.onLine(gpu.index, `worker exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`, 'stderr');
          stopAll('SIGTERM');
        }
        children.delete(gpu.index);
        if (children.size === 0) {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          resolve(failed ? 1 : 0);
        }
      });
    }
  });
}
