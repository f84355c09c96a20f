// The kernel format tables: which weight format × bits × group size × activation format has a
// serving kernel on which GPU generation, and the shard shape each kernel needs.
//
// Tile constraints follow the kernels' published minimums: Marlin-class kernels (GPTQ/AWQ-Marlin,
// FP8-Marlin) need N % 64 and K % 128 (vLLM's GPTQ_MARLIN_MIN_THREAD_N / _K), which is why
// moe_intermediate 1536 / TP8 = 192 fails for a row-parallel down_proj. 2/3-bit weight-only
// layers run through Humming (below), which needs K to be a multiple of the group size like every
// grouped kernel.
import type { KernelFormat } from '../../schema/hardware.js';

const CUBLAS_BF16: KernelFormat = {
  id: 'cublas-bf16',
  description: 'cuBLAS/CUTLASS bf16 GEMM (unquantized weights)',
  weight: 'bf16',
  bits: [16],
  groupSizes: [],
  activations: 'bf16',
  zeroPoints: false,
  tileN: 1,
  tileK: 1,
};

const MARLIN_INT: KernelFormat = {
  id: 'marlin-int',
  description: 'GPTQ/AWQ-Marlin mixed-input GEMM (W4A16, W8A16; fused-MoE variant for experts)',
  weight: 'int',
  bits: [4, 8],
  groupSizes: [128, 'channel'],
  activations: 'bf16',
  zeroPoints: true,
  tileN: 64,
  tileK: 128,
};

const MARLIN_FP8: KernelFormat = {
  id: 'marlin-fp8',
  description: 'FP8-Marlin weight-only GEMM (FP8 e4m3 weights dequantized to bf16, W8A16)',
  weight: 'fp8',
  bits: [8],
  groupSizes: [128, 'channel'],
  activations: 'bf16',
  zeroPoints: false,
  tileN: 64,
  tileK: 128,
};

// vLLM 0.33.0 serves 2–8-bit weight-only layers through Humming (humming-kernels 0.1.19, a hard
// dependency of the wheel): HummingLinearKernel for ordinary linear layers
// (model_executor/kernels/linear/mixed_precision/humming.py, SM >= 7.5) and fused_humming_moe.py for
// experts. The wheel states no tile or group-size minimum beyond K being a multiple of the group.
const HUMMING_INT: KernelFormat = {
  id: 'humming-int',
  description: 'Humming mixed-input GEMM (W2/W3/W4/W8 A16, grouped or per-channel, with or without zero points; dense and fused-MoE)',
  weight: 'int',
  bits: [2, 3, 4, 8],
  groupSizes: [32, 64, 128, 256, 'channel'],
  activations: 'bf16',
  zeroPoints: true,
  tileN: 1,
  tileK: 1,
};

const CUTLASS_INT8_W8A8: KernelFormat = {
  id: 'cutlass-int8-w8a8',
  description: 'CUTLASS INT8 × INT8 scaled GEMM (per-channel symmetric weights, per-token activations)',
  weight: 'int',
  bits: [8],
  groupSizes: ['channel'],
  activations: 'int8',
  zeroPoints: false,
  tileN: 16,
  tileK: 16,
};

const CUTLASS_FP8_W8A8: KernelFormat = {
  id: 'cutlass-fp8-w8a8',
  description: 'CUTLASS FP8 × FP8 scaled GEMM (per-channel weight scales, per-token activation scales)',
  weight: 'fp8',
  bits: [8],
  groupSizes: ['channel'],
  activations: 'fp8',
  zeroPoints: false,
  tileN: 16,
  tileK: 16,
};

const FP8_BLOCK_W8A8: KernelFormat = {
  id: 'fp8-block-w8a8',
  description: 'Block-scaled FP8 GEMM (128-wide weight blocks, DeepSeek/Qwen3-FP8 style)',
  weight: 'fp8',
  bits: [8],
  groupSizes: [128],
  activations: 'fp8',
  zeroPoints: false,
  tileN: 128,
  tileK: 128,
};

/** SM 8.0 (A100): no FP8 tensor cores, so FP8 weights only run weight-only through FP8-Marlin. */
export const KERNELS_SM80: readonly KernelFormat[] = [CUBLAS_BF16, MARLIN_INT, MARLIN_FP8, HUMMING_INT, CUTLASS_INT8_W8A8];

/** SM 8.9 (Ada, L40S): FP8 tensor cores on top of everything SM 8.0 serves. */
export const KERNELS_SM89: readonly KernelFormat[] = [...KERNELS_SM80, CUTLASS_FP8_W8A8, FP8_BLOCK_W8A8];

/** SM 9.0 (Hopper, H100/H200): FP8 W8A8; Marlin-class kernels still serve the weight-only formats. */
export const KERNELS_SM90: readonly KernelFormat[] = [...KERNELS_SM80, CUTLASS_FP8_W8A8, FP8_BLOCK_W8A8];
