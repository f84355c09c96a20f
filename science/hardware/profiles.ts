// The shipped hardware profiles (one GPU of each class).
//
// Memory is the device total nvidia-smi reports, in MiB, converted exactly to bytes (MiB × 2^20):
// a100-80gb 81,920 MiB = 85,899,345,920 B. Marketing "80 GB" is that figure in GiB. What the CUDA
// context, NCCL and the allocator take out of it is charged by physics/overhead.ts, not here.
// Bandwidths are peak datasheet numbers (SXM parts); FLOP/s are dense tensor-core peaks.
import { HardwareProfile, UnknownHardwareError } from '../../schema/hardware.js';
import { KERNELS_SM80, KERNELS_SM89, KERNELS_SM90 } from './kernels.js';

const MIB = 2 ** 20;
const mib = (n: number): number => n * MIB;

const NVLINK3 = { kind: 'nvlink', bytesPerSecPerDirection: 300e9, latencySec: 8e-6 } as const;
const NVLINK4 = { kind: 'nvlink', bytesPerSecPerDirection: 450e9, latencySec: 6e-6 } as const;
const PCIE4 = { kind: 'pcie', bytesPerSecPerDirection: 32e9, latencySec: 20e-6 } as const;

/** Sparse outliers and online Hadamard transforms are plain CUDA kernels available on every SM ≥ 8.0. */
const SIDE_KERNELS = { sparseOutliers: true, onlineHadamard: true } as const;
// No KV-cache formats here: a KV cache is stored bytes that the attention kernel dequantizes, so
// what can be cached is the serving stack's rule (science/serving-stacks/*, kind 'kv-cache'), not
// the GPU's. vLLM 0.33.0 vllm/config/cache.py: "CUDA 11.8+ supports fp8 (=fp8_e4m3) and fp8_e5m2"
// with no compute-capability condition; its Triton backend (v1/attention/backends/triton_attn.py
// supported_kv_cache_dtypes) dequantizes fp8 in the kernel on SM 8.0, without FP8 tensor cores.

const profiles: HardwareProfile[] = [
  {
    id: 'a100-40gb',
    name: 'NVIDIA A100-SXM4-40GB',
    sm: 80,
    memoryBytes: mib(40_960),
    memoryNote: '40,960 MiB (nvidia-smi total) = 40 GiB',
    bandwidthBytesPerSec: 1.555e12,
    peakFlops: { bf16: 312e12, fp8: null, int8: 624e12 },
    interconnect: NVLINK3,
    kernels: [...KERNELS_SM80],
    ...SIDE_KERNELS,
  },
  {
    id: 'a100-80gb',
    name: 'NVIDIA A100-SXM4-80GB',
    sm: 80,
    memoryBytes: mib(81_920),
    memoryNote: '81,920 MiB (nvidia-smi total) = 80 GiB ≈ 85.9 GB',
    bandwidthBytesPerSec: 2.039e12,
    peakFlops: { bf16: 312e12, fp8: null, int8: 624e12 },
    interconnect: NVLINK3,
    kernels: [...KERNELS_SM80],
    ...SIDE_KERNELS,
  },
  {
    id: 'h100-80gb',
    name: 'NVIDIA H100 80GB HBM3 (SXM5)',
    sm: 90,
    memoryBytes: mib(81_559),
    memoryNote: '81,559 MiB (nvidia-smi total) ≈ 79.6 GiB ≈ 85.5 GB',
    bandwidthBytesPerSec: 3.35e12,
    peakFlops: { bf16: 989e12, fp8: 1979e12, int8: 1979e12 },
    interconnect: NVLINK4,
    kernels: [...KERNELS_SM90],
    ...SIDE_KERNELS,
  },
  {
    id: 'h200',
    name: 'NVIDIA H200 (SXM, 141 GB HBM3e)',
    sm: 90,
    memoryBytes: mib(143_771),
    memoryNote: '143,771 MiB (nvidia-smi total) ≈ 140.4 GiB ≈ 150.8 GB; marketed as 141 GB',
    bandwidthBytesPerSec: 4.8e12,
    peakFlops: { bf16: 989e12, fp8: 1979e12, int8: 1979e12 },
    interconnect: NVLINK4,
    kernels: [...KERNELS_SM90],
    ...SIDE_KERNELS,
  },
  {
    id: 'l40s',
    name: 'NVIDIA L40S',
    sm: 89,
    memoryBytes: mib(46_068),
    memoryNote: '46,068 MiB (nvidia-smi total) ≈ 48.3 GB; marketed as 48 GB GDDR6',
    bandwidthBytesPerSec: 864e9,
    peakFlops: { bf16: 362e12, fp8: 733e12, int8: 733e12 },
    interconnect: PCIE4,
    kernels: [...KERNELS_SM89],
    ...SIDE_KERNELS,
  },
];

/** Validated once at load, so a typo in the table fails loudly rather than in a compile. */
const PROFILES: ReadonlyMap<string, HardwareProfile> = new Map(profiles.map((p) => [p.id, HardwareProfile.parse(p)]));

export function hardwareProfileIds(): string[] {
  return [...PROFILES.keys()].sort();
}

/** The profile with this id; throws UnknownHardwareError naming the known ones. */
export function getHardwareProfile(id: string): HardwareProfile {
  const profile = PROFILES.get(id.trim().toLowerCase());
  if (!profile) throw new UnknownHardwareError(id, hardwareProfileIds());
  return profile;
}
