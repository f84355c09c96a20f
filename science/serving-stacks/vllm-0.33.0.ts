// vLLM 0.33.0, as read from its wheel (paths below are inside the `vllm` package). Every rule names
// the file that justifies it; re-read them when the pinned version moves.
import type { ServingStackTableInput, StackKernel } from '../../schema/serving-stack.js';

const Q = 'vllm/model_executor/layers/quantization';
const MOE = 'vllm/model_executor/layers/fused_moe';
// Read from the 0.33.0 wheel: Marlin takes zero points for uint4 only (AWQ style); int8 must be
// symmetric (uint8b128). Humming (a hard dependency, humming-kernels 0.1.19) takes 2–8 bits either way.
const MARLIN_SRC = {
  source: `${Q}/utils/marlin_utils.py`,
  evidence: 'query_marlin_supported_quant_types: uint4b8/uint8b128 symmetric, uint4 with zero points, none below SM 7.5; MARLIN_SUPPORTED_GROUP_SIZES [-1, 32, 64, 128]; min thread N 64, K 128',
};
const HUMMING_LINEAR_SRC = {
  source: 'vllm/model_executor/kernels/linear/mixed_precision/humming.py',
  evidence: 'HummingLinearKernel (SM >= 7.5), last in _POSSIBLE_KERNELS[CUDA] (kernels/linear/__init__.py); the WNA16 scheme takes 2–8 bits, with or without zero points (compressed_tensors/schemes/compressed_tensors_wNa16.py)',
};
const MARLIN_GROUPS: ['channel', 32, 64, 128] = ['channel', 32, 64, 128];

// compressed-tensors FP8 weights take per-channel, per-tensor or 128×128-block scales
// (compressed_tensors/utils.py STRATEGY_TO_WEIGHT_QUANT_KEY): evoquant's 1×g fp8 groups are none.
const BF16: StackKernel = {
  id: 'vllm-unquantized',
  weight: 'bf16',
  bits: [16],
  asymmetricBits: [],
  activations: ['bf16'],
  minSm: 0,
  nMultiple: 1,
  kMultiple: 1,
  provenance: { source: 'vllm/model_executor/layers/linear.py', evidence: 'UnquantizedLinearMethod' },
};

export const VLLM_0_33_0: ServingStackTableInput = {
  stack: 'vllm',
  version: '0.33.0',
  researchOnly: false,
  description: 'vLLM with compressed-tensors (pack-quantized) or GPTQ checkpoints',
  checkpoints: ['compressed-tensors', 'gptq'],
  rules: [
    {
      id: 'vllm.moe.one-scheme-per-layer',
      kind: 'same-scheme',
      group: 'layer-experts',
      provenance: {
        source: `${Q}/compressed_tensors/compressed_tensors_moe/compressed_tensors_moe.py`,
        evidence: 'get_moe_method reads expert 0\'s scheme and raises if gate/up/down differ; the WNA16 MoE method allocates every expert of a layer at one bit width',
      },
    },
    {
      id: 'vllm.fused-qkv.one-scheme',
      kind: 'same-scheme',
      group: 'qkv',
      provenance: { source: `${Q}/compressed_tensors/utils.py`, evidence: 'fused q/k/v projections must share one scheme' },
    },
    {
      id: 'vllm.fused-gate-up.one-scheme',
      kind: 'same-scheme',
      group: 'gate-up',
      provenance: { source: `${Q}/compressed_tensors/utils.py`, evidence: 'fused gate/up projections must share one scheme' },
    },
    {
      id: 'vllm.kernels.dense-linear',
      kind: 'kernels',
      moduleKind: 'dense-linear',
      provenance: { source: 'vllm/model_executor/kernels/linear/__init__.py', evidence: '_POSSIBLE_KERNELS[CUDA]: the mixed-precision (weight-only int) kernels in the order choose_mp_linear_kernel tries them' },
      kernels: [
        BF16,
        { id: 'marlin', weight: 'int', bits: [4, 8], groupSizes: MARLIN_GROUPS, asymmetricBits: [4], activations: ['bf16'], minSm: 75, nMultiple: 64, kMultiple: 128, provenance: MARLIN_SRC },
        { id: 'humming-linear', weight: 'int', bits: [2, 3, 4, 8], asymmetricBits: [2, 3, 4, 8], activations: ['bf16'], minSm: 75, provenance: HUMMING_LINEAR_SRC },
        {
          id: 'fp8-marlin',
          weight: 'fp8',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['bf16'],
          minSm: 80,
          nMultiple: 64,
          kMultiple: 128,
          provenance: { source: `${Q}/utils/marlin_utils_fp8.py`, evidence: 'FP8 weights dequantized in Marlin on GPUs without FP8 tensor cores' },
        },
        {
          id: 'cutlass-scaled-mm-fp8',
          weight: 'fp8',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['fp8'],
          minSm: 89,
          provenance: { source: 'vllm/model_executor/kernels/linear/scaled_mm/cutlass.py', evidence: 'CUTLASS scaled_mm: FP8 W8A8 on SM >= 8.9' },
        },
        {
          id: 'cutlass-scaled-mm-int8',
          weight: 'int',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['int8'],
          minSm: 75,
          provenance: { source: 'vllm/model_executor/kernels/linear/scaled_mm/cutlass.py', evidence: 'CUTLASS scaled_mm: INT8 W8A8, per-channel symmetric weights' },
        },
      ],
    },
    {
      id: 'vllm.kernels.moe-experts',
      kind: 'kernels',
      moduleKind: 'moe-experts',
      provenance: { source: `${MOE}/oracle/int_wna16.py`, evidence: 'selection order of the WNA16 fused-MoE kernels' },
      kernels: [
        { ...BF16, id: 'vllm-fused-moe-bf16', provenance: { source: `${MOE}/layer.py`, evidence: 'UnquantizedFusedMoEMethod' } },
        { id: 'marlin-moe', weight: 'int', bits: [4, 8], groupSizes: MARLIN_GROUPS, asymmetricBits: [4], activations: ['bf16'], minSm: 75, nMultiple: 64, kMultiple: 128, provenance: MARLIN_SRC },
        {
          id: 'humming-moe',
          weight: 'int',
          bits: [2, 3, 4, 8],
          asymmetricBits: [2, 3, 4, 8],
          activations: ['bf16'],
          minSm: 75,
          provenance: { source: `${MOE}/experts/fused_humming_moe.py`, evidence: '2–8-bit fused MoE on SM >= 7.5, chosen in fused_moe/oracle/int_wna16.py' },
        },
        {
          id: 'fp8-marlin-moe',
          weight: 'fp8',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['bf16'],
          minSm: 80,
          nMultiple: 64,
          kMultiple: 128,
          provenance: { source: `${Q}/utils/marlin_utils_fp8.py`, evidence: 'FP8 weight-only MoE through Marlin' },
        },
        {
          id: 'fused-moe-fp8-w8a8',
          weight: 'fp8',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['fp8'],
          minSm: 89,
          provenance: { source: `${Q}/compressed_tensors/compressed_tensors_moe/compressed_tensors_moe.py`, evidence: 'W8A8 FP8 MoE method' },
        },
        {
          id: 'fused-moe-int8-w8a8',
          weight: 'int',
          bits: [8],
          groupSizes: ['channel'],
          asymmetricBits: [],
          activations: ['int8'],
          minSm: 75,
          provenance: { source: `${Q}/compressed_tensors/compressed_tensors_moe/compressed_tensors_moe.py`, evidence: 'W8A8 INT8 MoE method' },
        },
      ],
    },
    {
      id: 'vllm.kernels.router',
      kind: 'kernels',
      moduleKind: 'router',
      provenance: {
        source: 'vllm/model_executor/models/mixtral.py',
        evidence: 'Mixtral builds its GateLinear without a quant_config; Qwen3-MoE passes one, but a quantized gate loses every specialised router kernel (fused_moe/router/gate_linear.py)',
      },
      kernels: [{ ...BF16, id: 'vllm-router-bf16' }],
    },
    {
      id: 'vllm.kernels.embeddings',
      kind: 'kernels',
      moduleKind: 'embeddings',
      provenance: { source: `${Q}/compressed_tensors/compressed_tensors.py`, evidence: 'VocabParallelEmbedding: unquantized, or weight-only INT group/channel (WNA16) through CompressedTensorsEmbeddingWNA16Int' },
      kernels: [
        { ...BF16, id: 'vllm-embedding-bf16', provenance: { source: 'vllm/model_executor/layers/vocab_parallel_embedding.py', evidence: 'VocabParallelEmbedding gathers unquantized rows' } },
        {
          id: 'ct-embedding-wna16',
          weight: 'int',
          bits: [2, 4, 8],
          asymmetricBits: [],
          activations: ['bf16'],
          minSm: 70,
          provenance: {
            source: `${Q}/compressed_tensors/compressed_tensors_embedding.py`,
            evidence: 'weight_packed (32 // bits codes per int32) and weight_scale only, no zero point: symmetric; a Triton dequant-gather (Triton needs SM >= 7.0)',
          },
        },
      ],
    },
    {
      id: 'vllm.transform.hadamard-linear-only',
      kind: 'unsupported',
      feature: 'rotation',
      moduleKinds: ['moe-experts', 'router', 'embeddings'],
      provenance: { source: `${Q}/compressed_tensors/transform/linear.py`, evidence: 'transform_config (online Hadamard) wraps ordinary linear methods only, not fused MoE experts' },
    },
    {
      id: 'vllm.outliers.none',
      kind: 'unsupported',
      feature: 'outliers',
      moduleKinds: ['dense-linear', 'moe-experts', 'router', 'embeddings'],
      provenance: { source: `${Q}/compressed_tensors/utils.py`, evidence: 'no scheme or format stores sparse fp16 outliers' },
    },
    {
      id: 'vllm.awq.fold-shared-input',
      kind: 'unsupported',
      feature: 'awq-unshared-scales',
      moduleKinds: ['dense-linear', 'moe-experts'],
      provenance: {
        source: `${Q}/compressed_tensors/schemes/compressed_tensors_wNa16.py`,
        evidence:
          'create_weights registers weight_packed, weight_scale, weight_zero_point and weight_shape only (the WNA16 MoE method its w13_/w2_ twins, auto_awq.py qweight/qzeros/scales): no per-input-channel scale tensor, so AWQ\'s s must fold into the op before the layer and the modules sharing an input norm (q/k/v; the router and every expert\'s gate/up) need one shared vector (method.scales: shared-input), as llm-compressor\'s AWQ mappings balance them',
      },
    },
    {
      id: 'vllm.awq.rotated-input',
      kind: 'unsupported',
      feature: 'awq-rotated',
      moduleKinds: ['dense-linear'],
      provenance: {
        source: `${Q}/compressed_tensors/transform/linear.py`,
        evidence: 'apply() runs input_transform(x) and then the quantized matmul directly: an AWQ s searched in the rotated basis has no op between the rotation and the weight to fold into',
      },
    },
    {
      id: 'vllm.awq.o-proj-gqa',
      kind: 'unsupported',
      feature: 'awq-gqa-output',
      moduleKinds: ['dense-linear'],
      provenance: {
        source: `${Q}/compressed_tensors/schemes/compressed_tensors_wNa16.py`,
        evidence:
          'no per-input-channel scale tensor, so attn_o\'s s must fold into v_proj\'s output rows; with grouped KV heads one v row feeds several o_proj inputs, so the fold does not exist (llm-compressor 0.14 modifiers/transform/awq/base.py skips v_proj→o_proj when v out ≠ o in, after llm-awq PR #67)',
      },
    },
    {
      // One --kv-cache-dtype for K and V of every layer; --kv-cache-dtype-skip-layers leaves chosen
      // layers unquantized. Its int8/int4_per_token_head dtypes are not the policy's int formats
      // (symmetric absmax with an fp32 scale per token and head; int4 pre-rotated by a random
      // Hadamard with a 4-bit zero hidden in the scale's mantissa), so no int policy maps onto them.
      id: 'vllm.kv-cache.dtypes',
      kind: 'kv-cache',
      storages: [
        { name: 'auto/bfloat16', format: 'bf16' },
        { name: 'fp8/fp8_e4m3', format: 'fp8_e4m3' },
        { name: 'fp8_e5m2', format: 'fp8_e5m2' },
      ],
      features: ['bf16-layers'],
      provenance: {
        source: 'vllm/config/cache.py',
        evidence:
          'CacheDType lists auto, bfloat16, fp8, fp8_e4m3, fp8_e5m2 (one per-layer k_scale/v_scale, model_executor/layers/quantization/kv_cache.py) and int8/int4_per_token_head (symmetric absmax, fp32 scale per token-head, v1/attention/ops/triton_reshape_and_cache_flash.py; int4 RHT-rotated, v1/attention/ops/int4_per_token_head.py); one cache_dtype for K and V; kv_cache_dtype_skip_layers; keys cached after rotary_emb (model_executor/models/llama.py: q, k = self.rotary_emb(positions, q, k) before self.attn); no full-precision windows or sinks',
      },
    },
    {
      id: 'vllm.checkpoint.compressed-tensors.evoquant',
      kind: 'checkpoint-limits',
      format: 'compressed-tensors',
      features: ['rotation', 'quantized-activations'],
      provenance: {
        source: 'science/export/compressed-tensors (evoquant\'s writer)',
        evidence: 'vLLM reads transforms as square matrices from the checkpoint (compressed_tensors/transform/module.py) and W8A8 as input_activations schemes; evoquant writes weight-only pack-quantized/float-quantized schemes and no transform_config yet',
      },
    },
    {
      // A uniformly pruned or merged model is a model with fewer experts: vLLM sizes each layer's
      // router and FusedMoE from one config count. evoquant's compressed-tensors writer stores the
      // reduced model (num_local_experts = the experts that remain, renumbered); its GPTQ export
      // is a GPTQModel config that quantizes the original model, with every expert.
      id: 'vllm.checkpoint.gptq.evoquant',
      kind: 'checkpoint-limits',
      format: 'gptq',
      features: ['expert-reduction'],
      provenance: {
        source: 'science/export/gptqmodel.ts (evoquant\'s writer)',
        evidence:
          'vLLM builds each layer\'s gate and FusedMoE from config.num_experts (model_executor/models/qwen3_moe.py Qwen3MoeSparseMoeBlock) or num_local_experts (models/mixtral.py), so a reduced checkpoint loads; evoquant\'s gptqmodel export tells GPTQModel to quantize the original model and carries no expert pruning or merging',
      },
    },
    {
      id: 'vllm.checkpoint.gptq',
      kind: 'checkpoint',
      format: 'gptq',
      bits: [4, 8],
      symmetricOnly: true,
      provenance: { source: `${Q}/auto_gptq.py`, evidence: 'GPTQ checkpoints: 4 or 8 bits, symmetric only (see also utils/gptq_utils.py)' },
    },
  ],
};
