// Detects the GPU class of this machine from nvidia-smi, e.g. "NVIDIA A100-SXM4-80GB" → a100-80gb.
import { execFileSync } from 'node:child_process';

export interface DetectedGpu {
  index: number;
  name: string;
  memoryMiB: number;
}

const CLASSES: Array<[RegExp, (mib: number) => string]> = [
  [/H200/i, () => 'h200'],
  [/H100/i, () => 'h100-80gb'],
  [/A100/i, (mib) => (mib > 50_000 ? 'a100-80gb' : 'a100-40gb')],
  [/L40S/i, () => 'l40s'],
];

/** The evaluation-pool class of a GPU model name, or null for a GPU evoquant has no profile for. */
export function gpuClassOf(name: string, memoryMiB: number): string | null {
  for (const [pattern, cls] of CLASSES) if (pattern.test(name)) return cls(memoryMiB);
  return null;
}

/** GPUs nvidia-smi reports; an empty list where it is missing or fails. */
export function probeGpus(env: NodeJS.ProcessEnv = process.env): DetectedGpu[] {
  let out: string;
  try {
    out = execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((line) => line.split(',').map((s) => s.trim()))
    .filter((parts) => parts.length >= 3 && parts[1] !== '')
    .map(([index, name, mem]) => ({ index: Number(index), name, memoryMiB: Number(mem) }));
}

/** The GPUs an inherited CUDA_VISIBLE_DEVICES (numeric indices) leaves to this worker; all when unset. */
export function visibleGpus(gpus: DetectedGpu[], env: NodeJS.ProcessEnv = process.env): DetectedGpu[] {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible === undefined || visible.trim() === '') return gpus;
  const indices = visible.split(',').map((s) => Number(s.trim()));
  if (indices.some((i) => !Number.isInteger(i))) return gpus; // UUID form: leave the choice to CUDA
  return gpus.filter((g) => indices.includes(g.index));
}

export interface DeviceClass {
  deviceClass: string;
  gpus: DetectedGpu[];
}

/** The single class of this machine's GPUs; mixed or unknown GPUs are an error an operator must resolve. */
export function detectDeviceClass(env: NodeJS.ProcessEnv = process.env): DeviceClass {
  const gpus = probeGpus(env);
  if (gpus.length === 0) throw new Error('no GPU found by nvidia-smi; run with --device-class cpu for the reference executor');
  const classes = new Set(gpus.map((g) => gpuClassOf(g.name, g.memoryMiB)));
  if (classes.has(null)) throw new Error(`GPU ${gpus.find((g) => gpuClassOf(g.name, g.memoryMiB) === null)!.name} has no evoquant hardware profile`);
  if (classes.size > 1) throw new Error(`mixed GPU classes on one machine (${[...classes].join(', ')}): run one worker per class with --device-class`);
  return { deviceClass: [...classes][0]!, gpus };
}
