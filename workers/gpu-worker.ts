// The GPU worker: serves quantize and evaluate on gpu-<class>, one activity slot per device.
// Its class comes from nvidia-smi (or --device-class cpu for the reference executor), so it only
// ever takes work meant for its hardware. It needs Temporal and the artifact directory, not Postgres.
import { hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, Worker, type TLSConfig } from '@temporalio/worker';
import { createGpuActivities } from '../activities/gpu.js';
import type { ChaosPolicy } from '../science/executor/chaos.js';
import { ReferenceExecutor } from '../science/executor/reference-executor.js';
import { gpuTaskQueue } from '../schema/workflow-contracts.js';
import { cacheDir, repoRoot, stateDir } from '../engine/stack/paths.js';
import { detectDeviceClass } from './device-probe.js';

export interface GpuWorkerOptions {
  temporalAddress: string;
  namespace: string;
  /** TLS / mTLS towards a remote frontend; absent or null: plain gRPC. */
  tls?: TLSConfig | null;
  /** 'cpu' for the reference executor; absent: detect from nvidia-smi. */
  deviceClass?: string;
  /** Concurrent activities; default one per detected GPU (1 for cpu). */
  slots?: number;
  /** Memory of one slot; default the GPU's memory (cpu: half the machine's). */
  deviceMemoryBytes?: number;
  artifactsDir?: string;
  chaos?: ChaosPolicy | null;
  identity?: string;
}

export interface GpuWorkerHandle {
  worker: Worker;
  deviceClass: string;
  taskQueue: string;
  slots: number;
  close(): Promise<void>;
}

export async function createGpuWorker(options: GpuWorkerOptions): Promise<GpuWorkerHandle> {
  let deviceClass = options.deviceClass;
  let slots = options.slots ?? 1;
  let deviceMemoryBytes = options.deviceMemoryBytes ?? totalmem() / 2;
  if (!deviceClass) {
    const detected = detectDeviceClass();
    deviceClass = detected.deviceClass;
    slots = options.slots ?? detected.gpus.length;
    deviceMemoryBytes = options.deviceMemoryBytes ?? Math.min(...detected.gpus.map((g) => g.memoryMiB)) * 2 ** 20;
  }
  const taskQueue = gpuTaskQueue(deviceClass);
  const identity = options.identity ?? `gpu-${deviceClass}@${hostname()}/${process.pid}`;
  const executor = new ReferenceExecutor({
    artifactsDir: options.artifactsDir ?? join(stateDir(), 'artifacts'),
    deviceMemoryBytes,
    baseDir: repoRoot,
    sensitivityCacheDir: cacheDir(),
  });
  const connection = await NativeConnection.connect({ address: options.temporalAddress, tls: options.tls ?? undefined });
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue,
    identity,
    activities: createGpuActivities({ executor, identity, chaos: options.chaos ?? null }),
    maxConcurrentActivityTaskExecutions: slots,
  });
  return { worker, deviceClass, taskQueue, slots, close: () => connection.close() };
}
