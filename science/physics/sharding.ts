// Tensor and pipeline parallel placement: the shard of each module one GPU holds, which layers a
// pipeline stage holds, and the split rules a model's shapes must obey.
//
// TP (Megatron style, as vLLM/SGLang shard): q/k/v, gate/up (experts, shared expert, dense MLP)
// split their output rows; o and down split their input columns; attention heads are split,
// KV heads replicated when tp > kv heads; embeddings and lm_head split the vocabulary (engines pad
// the vocabulary to the tile, so no vocab shape constraint); routers and norms are replicated.
// Every expert is split across all TP ranks (no expert parallelism). Uneven splits round up, so
// the GPU with rank 0 is the fullest. PP: gpus / tp stages take contiguous layer ranges
// [⌊s·L/pp⌋, ⌊(s+1)·L/pp⌋); stage 0 also holds the embeddings, the last stage the final norm and lm_head.
import type { Violation } from '../../schema/compile-report.js';
import type { ModelArchitecture } from '../../schema/model-config.js';
import type { ModuleRole } from '../../schema/recipe.js';
import { kvHeadsPerGpu } from './kv-cache.js';
import type { LinearModule } from './modules.js';

export interface Shard {
  inFeatures: number;
  outFeatures: number;
  biasParams: number;
}

export function shardOf(m: LinearModule, arch: ModelArchitecture, tp: number): Shard {
  const headsPerGpu = Math.ceil(arch.numAttentionHeads / tp);
  const split = (n: number): number => Math.ceil(n / tp);
  let inF = m.inFeatures;
  let outF = m.outFeatures;
  switch (m.parallel) {
    case 'column':
      if (m.projection === 'q') outF = headsPerGpu * arch.headDim;
      else if (m.projection === 'k' || m.projection === 'v') outF = kvHeadsPerGpu(arch.numKeyValueHeads, tp) * arch.headDim;
      else outF = split(outF);
      break;
    case 'row':
      inF = m.projection === 'o' ? headsPerGpu * arch.headDim : split(inF);
      break;
    case 'vocab':
      outF = split(outF);
      break;
    case 'replicated':
      break;
  }
  return { inFeatures: inF, outFeatures: outF, biasParams: m.biasParams > 0 ? outF : 0 };
}

export interface PipelineStage {
  stage: number;
  firstLayer: number;
  /** Exclusive. */
  endLayer: number;
}

export function pipelineLayout(numLayers: number, stages: number): PipelineStage[] {
  return Array.from({ length: stages }, (_, s) => ({
    stage: s,
    firstLayer: Math.floor((s * numLayers) / stages),
    endLayer: Math.floor(((s + 1) * numLayers) / stages),
  }));
}

export function stageOfModule(m: LinearModule, layout: readonly PipelineStage[]): number {
  if (m.layer === null) return m.projection === 'embed' ? 0 : layout.length - 1;
  return layout.findIndex((s) => m.layer! >= s.firstLayer && m.layer! < s.endLayer);
}

function shape(role: ModuleRole | undefined, message: string, detail: Violation['detail']): Violation {
  return role ? { code: 'shard-shape', message, role, detail } : { code: 'shard-shape', message, detail };
}

/** Split rules of the model's own shapes under tp × pp, independent of any recipe. */
export function parallelismViolations(arch: ModelArchitecture, tp: number, pp: number): Violation[] {
  const out: Violation[] = [];
  const heads = arch.numAttentionHeads;
  const kv = arch.numKeyValueHeads;
  if (heads % tp !== 0) {
    for (const role of ['attn_q', 'attn_o'] as const) {
      out.push(shape(role, `${role}: ${heads} attention heads do not split evenly over TP${tp}`, { dim: 'num_attention_heads', size: heads, tensorParallel: tp }));
    }
  }
  if (kv % tp !== 0 && tp % kv !== 0) {
    for (const role of ['attn_k', 'attn_v'] as const) {
      out.push(shape(role, `${role}: ${kv} KV heads neither split over nor replicate evenly across TP${tp}`, { dim: 'num_key_value_heads', size: kv, tensorParallel: tp }));
    }
  }
  const widths: Array<[ModuleRole[], string, number]> = [];
  if (arch.moe) {
    widths.push([['expert_gate', 'expert_up', 'expert_down'], 'moe_intermediate_size', arch.moe.expertIntermediateSize]);
    if (arch.moe.sharedExpertIntermediateSize > 0) widths.push([['shared_expert'], 'shared_expert_intermediate_size', arch.moe.sharedExpertIntermediateSize]);
  }
  if (arch.mlpKinds.includes('dense')) widths.push([['dense_mlp'], 'intermediate_size', arch.denseIntermediateSize]);
  for (const [roles, dim, size] of widths) {
    if (size % tp === 0) continue;
    for (const role of roles) out.push(shape(role, `${role}: ${dim} ${size} does not split evenly over TP${tp}`, { dim, size, tensorParallel: tp }));
  }
  if (pp > arch.numLayers) {
    out.push(shape(undefined, `pipeline: ${pp} stages for ${arch.numLayers} layers leaves stages empty`, { dim: 'num_hidden_layers', size: arch.numLayers, pipelineStages: pp }));
  }
  return out;
}
