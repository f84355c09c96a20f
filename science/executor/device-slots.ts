// The GPUs of a worker's slots: each executor process runs on one GPU, chosen here and handed to
// it through CUDA_VISIBLE_DEVICES (slot i → the i-th GPU of the worker), so two concurrent
// activities never share a device. A run waits for a free GPU when there are more slots than GPUs.
export class DeviceSlots {
  private readonly free: string[];
  private readonly waiting: Array<(gpu: string) => void> = [];

  /** `gpus`: CUDA device ids in PCI bus order (nvidia-smi's index). */
  constructor(gpus: readonly string[]) {
    if (gpus.length === 0) throw new Error('DeviceSlots needs at least one GPU');
    this.free = [...gpus];
  }

  /** Runs `work` with a GPU of its own; the GPU is returned when it settles. */
  async with<T>(work: (gpu: string) => Promise<T>): Promise<T> {
    const gpu = this.free.shift() ?? (await new Promise<string>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(gpu);
    } finally {
      const next = this.waiting.shift();
      if (next) next(gpu);
      else this.free.unshift(gpu);
    }
  }
}

/** The environment of an executor process that runs on `gpu` (bus order, so ids mean nvidia-smi's). */
export function gpuEnv(base: NodeJS.ProcessEnv, gpu: string): NodeJS.ProcessEnv {
  return { ...base, CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: gpu };
}
