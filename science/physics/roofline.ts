// Roofline estimate of decode speed: one step decodes one token for every sequence of the batch.
// Per pipeline stage and per GPU, time = max(bytes read / HBM bandwidth, Σ FLOPs / tensor-core peak
// of their format) + communication. Bytes read are this GPU's shards of the attention, router,
// norm and lm_head weights, the expected share of experts the batch touches (uniform routing:
// each expert is touched with probability 1 − (1 − k/E)^batch), the batch's embedding rows, and the
// whole KV cache at the full context. Communication is a ring all-reduce of batch × hidden bf16
// activations after attention and after the MLP of every layer (plus one for the vocab-parallel
// embedding and one logits gather), each costing latency + 2(tp−1)/tp × bytes / link bandwidth,
// and one point-to-point send per pipeline boundary. Stages run one after another (a single
// sequence group in flight), so the step time is their sum: an upper bound on speed, not a benchmark.
import type { DecodeEstimate } from '../../schema/compile-report.js';
import type { ActivationFormat, HardwareProfile } from '../../schema/hardware.js';

export interface StageTraffic {
  /** Per GPU of the stage, bytes read from device memory per decode step. */
  weightBytesRead: number;
  kvBytesRead: number;
  /** Per GPU FLOPs per step, by the tensor-core format they run in. */
  flops: Record<ActivationFormat, number>;
  /** Tensor-parallel all-reduces per step. */
  allReduces: number;
}

export function emptyTraffic(): StageTraffic {
  return { weightBytesRead: 0, kvBytesRead: 0, flops: { bf16: 0, fp8: 0, int8: 0 }, allReduces: 0 };
}

export interface RooflineShape {
  tensorParallel: number;
  batch: number;
  hiddenSize: number;
}

/** Probability that one expert serves at least one of `batch` tokens routed top-k of E. */
export function expertTouchProbability(numExperts: number, topK: number, batch: number): number {
  return 1 - (1 - topK / numExperts) ** batch;
}

function peak(hw: HardwareProfile, f: ActivationFormat): number {
  // An fp8 GEMM on a GPU without fp8 tensor cores is already a kernel-unsupported violation;
  // timing it at the bf16 peak keeps the estimate finite.
  return f === 'fp8' ? (hw.peakFlops.fp8 ?? hw.peakFlops.bf16) : hw.peakFlops[f];
}

export function decodeRoofline(stages: readonly StageTraffic[], hw: HardwareProfile, s: RooflineShape): DecodeEstimate {
  const tp = s.tensorParallel;
  const link = hw.interconnect;
  const actBytes = s.batch * s.hiddenSize * 2;
  const allReduceSec = tp > 1 ? link.latencySec + ((2 * (tp - 1)) / tp) * (actBytes / link.bytesPerSecPerDirection) : 0;
  const sendSec = link.latencySec + actBytes / link.bytesPerSecPerDirection;
  let memorySeconds = 0;
  let computeSeconds = 0;
  let commSeconds = (stages.length - 1) * sendSec;
  let stepSeconds = commSeconds;
  let bytesPerStep = 0;
  let flopsPerStep = 0;
  for (const st of stages) {
    const bytes = st.weightBytesRead + st.kvBytesRead;
    const mem = bytes / hw.bandwidthBytesPerSec;
    const comp = (Object.keys(st.flops) as ActivationFormat[]).reduce((t, f) => t + st.flops[f] / peak(hw, f), 0);
    const comm = st.allReduces * allReduceSec;
    memorySeconds += mem;
    computeSeconds += comp;
    commSeconds += comm;
    stepSeconds += Math.max(mem, comp) + comm;
    bytesPerStep += bytes;
    flopsPerStep += st.flops.bf16 + st.flops.fp8 + st.flops.int8;
  }
  return {
    tokensPerSecond: stepSeconds > 0 ? s.batch / stepSeconds : 0,
    stepSeconds,
    memorySeconds,
    computeSeconds,
    commSeconds,
    bytesPerStep,
    flopsPerStep,
    boundBy: memorySeconds >= computeSeconds ? 'memory' : 'compute',
  };
}
