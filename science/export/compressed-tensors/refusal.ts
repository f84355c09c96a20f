// What a compressed-tensors checkpoint cannot hold faithfully. Each refusal names a rule: the
// vLLM table's rule where one exists (compile refuses the same recipe for the same reason), else an
// export rule of its own.
import { ExportRefusedError as ExportRefused } from '../errors.js';

/** An export refusal that names its rule and the modules it hits. */
export class ExportRefusedError extends ExportRefused {
  constructor(
    readonly rule: string,
    readonly modules: readonly string[],
    why: string,
  ) {
    const shown = modules.length > 3 ? `${modules.slice(0, 3).join(', ')} and ${modules.length - 3} more` : modules.join(', ');
    super(`export compressed-tensors refused by rule ${rule}: ${why} (${shown})`);
  }
}

/** Rule ids; the vllm.* ones are rules of science/serving-stacks/vllm-0.33.0.ts. */
export const EXPORT_RULES = {
  outliers: 'vllm.outliers.none',
  awqShared: 'vllm.awq.fold-shared-input',
  router: 'vllm.kernels.router',
  embeddings: 'vllm.kernels.embeddings',
  /** evoquant's seeded block Hadamard is not compressed-tensors' transform_config (different matrices). */
  rotation: 'export.compressed-tensors.rotation',
  /** o_proj's input is the attention context: its AWQ scales fold into v_proj only if every q head of a kv group agrees. */
  awqAttentionOutput: 'export.compressed-tensors.awq-o-proj',
  /**
   * vLLM's compressed-tensors fp8 schemes take per-channel, per-tensor or 128×128-block scales
   * (compressed_tensors/utils.py STRATEGY_TO_WEIGHT_QUANT_KEY); evoquant's 1×g fp8 groups are none of them.
   */
  fp8Group: 'export.compressed-tensors.fp8-group',
  /** A group must tile the input: compressed-tensors' group strategy reshapes in_features by group_size. */
  groupTiling: 'export.compressed-tensors.group-tiling',
  /**
   * W8A8 recipes (activations fp8/int8) need input_activations schemes and int-/float-quantized
   * weights; the export writes weight-only (W·A16) schemes, so it refuses rather than drop the
   * activation format silently.
   */
  activations: 'export.compressed-tensors.weight-only',
  /** Mixtral always renormalises its top-k gates. */
  mixtralRouting: 'export.compressed-tensors.mixtral-routing',
} as const;
