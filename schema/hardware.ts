// Hardware profiles: what one GPU of a class holds, moves and computes, and which weight formats
// have a serving kernel on it. The tables themselves live in hardware/.
import { z } from 'zod';
import { FAILURE_TYPES } from './failures.js';

export const ActivationFormat = z.enum(['bf16', 'fp8', 'int8']);
export type ActivationFormat = z.infer<typeof ActivationFormat>;

const posInt = z.number().int().positive();

/**
 * One serving kernel family: the weight format it reads, the activation format it multiplies in,
 * and the shape it needs. N is the output dimension, K the reduction (input) dimension of a shard.
 */
export const KernelFormat = z
  .object({
    id: z.string().min(1),
    description: z.string(),
    weight: z.enum(['bf16', 'int', 'fp8']),
    bits: z.array(z.union([z.literal(2), z.literal(3), z.literal(4), z.literal(8), z.literal(16)])).min(1),
    /** Group sizes (along K) it dequantizes, 'channel' for one scale per output row; ignored for bf16. */
    groupSizes: z.array(z.union([z.literal('channel'), posInt])),
    activations: ActivationFormat,
    /** Whether it reads a zero point per group (asymmetric grids); symmetric grids always pass. */
    zeroPoints: z.boolean(),
    /** A shard's N must be a multiple of tileN and its K a multiple of tileK (and of the group size). */
    tileN: posInt,
    tileK: posInt,
  })
  .strict();
export type KernelFormat = z.infer<typeof KernelFormat>;

export const HardwareProfile = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    name: z.string(),
    /** Compute capability × 10: 80 for SM 8.0 (A100), 89 for L40S, 90 for H100/H200. */
    sm: posInt,
    /** Device memory in bytes, exactly the total nvidia-smi reports (MiB × 2^20). */
    memoryBytes: posInt,
    memoryNote: z.string(),
    /** Peak HBM/GDDR bandwidth, bytes per second. */
    bandwidthBytesPerSec: z.number().positive(),
    /** Dense (no sparsity) tensor-core peaks, operations per second; null where the format has no tensor cores. */
    peakFlops: z
      .object({
        bf16: z.number().positive(),
        fp8: z.number().positive().nullable(),
        int8: z.number().positive(),
      })
      .strict(),
    interconnect: z
      .object({
        kind: z.enum(['nvlink', 'pcie']),
        /** Per GPU, per direction. */
        bytesPerSecPerDirection: z.number().positive(),
        /** Fixed cost of one small collective (all-reduce of a decode step's activations). */
        latencySec: z.number().nonnegative(),
      })
      .strict(),
    /** Preference order: the first kernel whose format and shape fit a module serves it. */
    kernels: z.array(KernelFormat).min(1),
    /** Sparse fp16 outliers added by a side SpMM over (index, value) pairs (SpQR/SqueezeLLM-class). */
    sparseOutliers: z.boolean(),
    /** Online block fast Walsh–Hadamard transform of activations (QuaRot-class). */
    onlineHadamard: z.boolean(),
  })
  .strict();
export type HardwareProfile = z.infer<typeof HardwareProfile>;

/** An id that names no shipped hardware profile. */
export class UnknownHardwareError extends Error {
  override readonly name = FAILURE_TYPES.unknownHardware;
  readonly field = 'hardware';
  constructor(
    readonly profile: string,
    known: readonly string[],
  ) {
    super(`hardware: unknown profile "${profile}" (known: ${known.join(', ')})`);
  }
}
