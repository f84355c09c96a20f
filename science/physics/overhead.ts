// Runtime overhead per GPU, as named components a report lists one by one:
// - cuda-context: CUDA context, cuBLAS/CUTLASS handles and GEMM workspaces (0.75 GiB).
// - communication-buffers: NCCL / custom all-reduce buffers, only with more than one GPU (0.5 GiB).
// - allocator-reserve: caching-allocator fragmentation slack (0.5 GiB).
// - activation-workspace: the peak live activations of one forward pass over a prefill chunk of
//   min(batch × context, 8192) tokens (chunked prefill), in bf16: residual, norm output, attention
//   output and MLP output (4 × hidden), this GPU's q/k/v heads, and the MLP intermediates (MoE:
//   top-k × (gate, up and activation outputs of this GPU's expert slice + the down output of hidden width);
//   dense: gate, up and activation outputs of this GPU's slice), whichever layer kind is larger.
// - logits: fp32 logits and probabilities of this GPU's vocabulary slice for every sequence.
import type { OverheadComponent } from '../../schema/compile-report.js';
import type { Deployment } from '../../schema/deployment.js';
import type { ModelArchitecture } from '../../schema/model-config.js';
import { kvHeadsPerGpu } from './kv-cache.js';

const GIB = 2 ** 30;
export const CUDA_CONTEXT_BYTES = 0.75 * GIB;
export const COMM_BUFFER_BYTES = 0.5 * GIB;
export const ALLOCATOR_RESERVE_BYTES = 0.5 * GIB;
export const PREFILL_CHUNK_TOKENS = 8192;
const ACT_BYTES = 2;
const LOGIT_BYTES = 4;

/** bf16 elements of live activations per token on one GPU. */
function activationElementsPerToken(arch: ModelArchitecture, tp: number): number {
  const split = (n: number): number => Math.ceil(n / tp);
  const qkv = (Math.ceil(arch.numAttentionHeads / tp) + 2 * kvHeadsPerGpu(arch.numKeyValueHeads, tp)) * arch.headDim;
  let mlp = 0;
  if (arch.moe && arch.mlpKinds.includes('moe')) {
    const { numExpertsPerTok: k, expertIntermediateSize: f, sharedExpertIntermediateSize: sf } = arch.moe;
    mlp = k * (3 * split(f) + arch.hiddenSize) + 3 * split(sf);
  }
  if (arch.mlpKinds.includes('dense')) mlp = Math.max(mlp, 3 * split(arch.denseIntermediateSize));
  return 4 * arch.hiddenSize + qkv + mlp;
}

export function runtimeOverhead(arch: ModelArchitecture, d: Deployment): OverheadComponent[] {
  const tp = d.tensorParallel;
  const chunk = Math.min(d.batch * d.contextLength, PREFILL_CHUNK_TOKENS);
  const vocabSlice = Math.ceil(arch.vocabSize / tp);
  return [
    { name: 'cuda-context', bytesPerGpu: CUDA_CONTEXT_BYTES, note: 'CUDA context, cuBLAS/CUTLASS handles and GEMM workspaces' },
    { name: 'communication-buffers', bytesPerGpu: d.gpus > 1 ? COMM_BUFFER_BYTES : 0, note: 'NCCL / custom all-reduce buffers (only with more than one GPU)' },
    { name: 'allocator-reserve', bytesPerGpu: ALLOCATOR_RESERVE_BYTES, note: 'caching-allocator fragmentation slack' },
    {
      name: 'activation-workspace',
      bytesPerGpu: chunk * activationElementsPerToken(arch, tp) * ACT_BYTES,
      note: `bf16 activations of a ${chunk}-token prefill chunk (min(batch × context, ${PREFILL_CHUNK_TOKENS}))`,
    },
    { name: 'logits', bytesPerGpu: d.batch * vocabSlice * LOGIT_BYTES * 2, note: 'fp32 logits and probabilities of this GPU\'s vocabulary slice per sequence' },
  ];
}
