// The GPU worker: serves quantize and evaluate on gpu-<class>, one activity slot per device.
// Its class comes from nvidia-smi (or --device-class cpu), so it only ever takes work meant for its
// hardware. Proxy requests run on the reference executor; checkpoint requests on the torch executor
// (python/evoquant_torch) where the worker has one, each slot on its own GPU. It needs Temporal and
// the artifact directory, not Postgres.
import { hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, Worker, type TLSConfig } from '@temporalio/worker';
import { createGpuActivities } from '../activities/gpu.js';
import type { ChaosPolicy } from '../science/executor/chaos.js';
import { DispatchingExecutor } from '../science/executor/dispatch.js';
import { pathComponent, ReferenceExecutor } from '../science/executor/reference-executor.js';
import { TorchExecutor } from '../science/executor/torch-executor.js';
import { gpuTaskQueue } from '../schema/workflow-contracts.js';
import { cacheDir, repoRoot, stateDir } from '../engine/stack/paths.js';
import { detectDeviceClass, probeGpus, visibleGpus } from './device-probe.js';
import { defaultExecutor, findTorchEnv, type ExecutorKind } from './torch-env.js';

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
  /** torch: checkpoint requests on the torch executor too; absent: torch where there are GPUs and the Python env is built. */
  executor?: ExecutorKind;
  /**
   * The torch executor's memory cap per process; absent: the slot's memory on cpu, none on a GPU
   * (the whole device is the slot's).
   */
  torchMemoryCapBytes?: number | null;
}

export interface GpuWorkerHandle {
  worker: Worker;
  deviceClass: string;
  taskQueue: string;
  slots: number;
  executor: ExecutorKind;
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
  const artifactsDir = options.artifactsDir ?? join(stateDir(), 'artifacts');
  const reference = new ReferenceExecutor({ artifactsDir, deviceMemoryBytes, baseDir: repoRoot, sensitivityCacheDir: cacheDir() });
  // The GPUs this process may use (the fan-out leaves each child one), in nvidia-smi's numbering.
  const gpus = deviceClass === 'cpu' ? [] : visibleGpus(probeGpus());
  const torchEnv = findTorchEnv();
  const kind = options.executor ?? defaultExecutor(gpus.length > 0, torchEnv);
  let torch: TorchExecutor | null = null;
  if (kind === 'torch') {
    if (!('python' in torchEnv)) throw new Error(`--executor torch: ${torchEnv.missing}`);
    torch = new TorchExecutor({
      artifactsDir,
      process: {
        python: torchEnv.python,
        env: { ...process.env, PYTHONPATH: torchEnv.pythonPath, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' },
      },
      // Per worker (its class and GPUs): the default texts and the reference logits it caches.
      cacheDir: join(cacheDir(), 'torch-executor', pathComponent(`${deviceClass}-${gpus.map((g) => g.index).join('_') || 'cpu'}`)),
      device: deviceClass === 'cpu' ? 'cpu' : 'cuda',
      memoryCapBytes: options.torchMemoryCapBytes !== undefined ? options.torchMemoryCapBytes : deviceClass === 'cpu' ? Math.floor(deviceMemoryBytes) : null,
      baseDir: repoRoot,
      gpus: gpus.map((g) => String(g.index)),
    });
  }
  const executor = new DispatchingExecutor(reference, torch);
  const connection = await NativeConnection.connect({ address: options.temporalAddress, tls: options.tls ?? undefined });
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue,
    identity,
    activities: createGpuActivities({ executor, identity, chaos: options.chaos ?? null }),
    maxConcurrentActivityTaskExecutions: slots,
  });
  return { worker, deviceClass, taskQueue, slots, executor: kind, close: () => connection.close() };
}
